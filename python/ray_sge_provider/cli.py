"""The ray-sge command line, called once per question: the provider holds no second implementation.

Each call is ``ray-sge ARGS`` with an argv list (never a shell). Its stdout is the result (JSON with
``--json``); its stderr is ray-sge's progress (Grid Engine's reasons while a job waits, warnings),
passed through as it comes and kept, so that a failure carries ray-sge's own message and exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
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


class Running:
    """A ray-sge process started and not yet waited for: its stdout captured, its stderr passed on.

    It runs in a session of its own: a Ctrl-C here is passed to it exactly once and waited for, so that
    what ray-sge does on an interrupt (``up`` deletes the jobs it submitted, ``submit`` stops the driver)
    is done, and not cut short by a second signal, before the interrupt goes on here.
    """

    def __init__(self, args: Sequence[str], *, cwd: str | None, capture: bool, echo_stderr: bool) -> None:
        self.argv = [*command(), *args]
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else None,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as e:
            raise RaySgeError(f"cannot run {self.argv[0]}: {e.strerror}", 127, self.argv) from None
        self._interrupted = False
        self._kept: list[str] = []
        self._out: list[str] = []
        assert self.proc.stderr is not None
        self._threads = [threading.Thread(target=_pump, args=(self.proc.stderr, self._kept, echo_stderr), daemon=True)]
        if self.proc.stdout is not None:
            stdout = self.proc.stdout
            self._threads.append(threading.Thread(target=lambda: self._out.append(stdout.read()), daemon=True))
        for t in self._threads:
            t.start()

    def result(self) -> str:
        """Wait for it: its stdout, or RaySgeError with its message and exit code."""
        try:
            code = self.proc.wait()
        except KeyboardInterrupt:
            self._signal()
            self.proc.wait()
            raise
        finally:
            for t in self._threads:
                t.join()
        if code != 0:
            raise RaySgeError(
                error_message(self._kept) or f"{shlex.join(self.argv)} exited with code {code}", code, self.argv
            )
        return "".join(self._out)

    def _signal(self) -> None:
        if not self._interrupted and self.proc.poll() is None:
            self._interrupted = True
            self.proc.send_signal(signal.SIGINT)

    def interrupt(self) -> None:
        """End it as Ctrl-C would (``up`` then deletes what it submitted), and wait for that."""
        self._signal()
        with contextlib.suppress(RaySgeError):
            self.result()


def run(
    args: Sequence[str],
    *,
    cwd: str | None = None,
    capture: bool = True,
    echo_stderr: bool = True,
) -> str:
    """Run ray-sge and return its stdout (or "" when it went to ours); RaySgeError when it fails."""
    return Running(args, cwd=cwd, capture=capture, echo_stderr=echo_stderr).result()


def parse_json(args: Sequence[str], out: str) -> Any:
    """What ray-sge ARGS --json printed, parsed."""
    try:
        return json.loads(out)
    except ValueError:
        raise RaySgeError(
            f"ray-sge {' '.join(args)} --json printed no JSON (is {command()[0]} ray-sge?): {out[:200]!r}",
            1,
            [*command(), *args],
        ) from None


def run_json(args: Sequence[str], *, echo_stderr: bool = True, cwd: str | None = None) -> Any:
    """Run ray-sge with --json and return what it printed, parsed."""
    return parse_json(args, run([*args, "--json"], echo_stderr=echo_stderr, cwd=cwd))
