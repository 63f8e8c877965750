"""The ray-sge command line, called once per question: the provider holds no second implementation.

Each call is ``ray-sge ARGS`` with an argv list (never a shell). Its stdout is the result (JSON with
``--json``); its stderr is ray-sge's progress (Grid Engine's reasons while a job waits, warnings),
passed through as it comes and kept, so that a failure carries ray-sge's own message and exit code.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

#: Names the ray-sge executable (words, e.g. "node /opt/ray-sge/bin/ray-sge.js"); else PATH's ray-sge.
CLI_ENV = "RAY_SGE_CLI"


class RaySgeError(Exception):
    """ray-sge said no: its message (what it printed last on stderr) and its exit code.

    Exit codes are ray-sge's: 1 Grid Engine, Ray or the command failed, 2 bad usage or config,
    3 the qmaster is unreachable, 130 interrupted; a driver's own code for ``submit``.
    """

    def __init__(self, message: str, exit_code: int, argv: Sequence[str]) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.argv = list(argv)


def command() -> list[str]:
    """The words that run ray-sge: $RAY_SGE_CLI, else ray-sge on PATH."""
    named = os.environ.get(CLI_ENV, "").strip()
    if named:
        return shlex.split(named)
    found = shutil.which("ray-sge")
    if found:
        return [found]
    raise RaySgeError(
        "ray-sge is not on PATH: install it (see ray-sge's README, 'Using it on your cluster') "
        f"or set {CLI_ENV} to the command that runs it",
        127,
        ["ray-sge"],
    )


def error_message(stderr_lines: Sequence[str]) -> str:
    """ray-sge's own error: its last ``ray-sge: `` line and what follows it (one issue per line)."""
    lines = [line.rstrip("\n") for line in stderr_lines if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("ray-sge: ")]
    if not starts:
        return "\n".join(lines[-5:])
    return "\n".join(lines[starts[-1] :])


def _pump(stream: IO[str], kept: list[str], echo: bool) -> None:
    for line in stream:
        kept.append(line)
        if echo:
            sys.stderr.write(line)
            sys.stderr.flush()


def run(
    args: Sequence[str],
    *,
    cwd: str | None = None,
    capture: bool = True,
    echo_stderr: bool = True,
) -> str:
    """Run ray-sge and return its stdout (or "" when it went to ours); RaySgeError when it fails.

    A Ctrl-C reaches ray-sge too (one process group): it is waited for, so that what it does on an
    interrupt (``up`` deletes the jobs it submitted) is done before the interrupt goes on here.
    """
    argv = [*command(), *args]
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as e:
        raise RaySgeError(f"cannot run {argv[0]}: {e.strerror}", 127, argv) from None
    kept: list[str] = []
    assert proc.stderr is not None
    pump = threading.Thread(target=_pump, args=(proc.stderr, kept, echo_stderr), daemon=True)
    pump.start()
    try:
        out = proc.stdout.read() if proc.stdout is not None else ""
        code = proc.wait()
    except KeyboardInterrupt:
        proc.wait()
        pump.join()
        raise
    pump.join()
    if code != 0:
        raise RaySgeError(error_message(kept) or f"{shlex.join(argv)} exited with code {code}", code, argv)
    return out


def run_json(args: Sequence[str], *, echo_stderr: bool = True, cwd: str | None = None) -> Any:
    """Run ray-sge with --json and return what it printed, parsed."""
    out = run([*args, "--json"], echo_stderr=echo_stderr, cwd=cwd)
    try:
        return json.loads(out)
    except ValueError:
        raise RaySgeError(
            f"ray-sge {' '.join(args)} --json printed no JSON (is {command()[0]} ray-sge?): {out[:200]!r}",
            1,
            [*command(), *args],
        ) from None
