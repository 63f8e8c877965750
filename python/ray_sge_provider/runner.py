"""``SGECommandRunner``: what Ray's launcher would do over SSH, done honestly through ray-sge.

Two kinds of calls reach it. Ray's node updater (``ray up``, in a thread of its own) asks to wait for
the head, copy Ray's config to it and run the setup and start commands: a ray-sge head job has done
all of that itself before it was called up, so the runner says so instead of pretending; on a live
cluster it reconciles with ``ray-sge up`` (never a second head, never a restart of the live one).
Commands a user runs (``ray exec``, ``ray submit``, ``ray dashboard``, ``ray rsync-*``) run in the
main thread: a command runs in the head job through Ray's Jobs API (``ray-sge submit``), output and
exit code coming back; files are copied within the shared home; the dashboard is forwarded locally.
``ray stop`` (``ray down``) is never run: it would stop every Ray of the user on the head's host.
"""

from __future__ import annotations

import os
import shlex
import shutil
import threading
from typing import TYPE_CHECKING, Any

from ray.autoscaler._private.subprocess_output_util import ProcessRunnerError
from ray.autoscaler.command_runner import CommandRunnerInterface

from . import cli
from .forward import Forward, open_forward

if TYPE_CHECKING:
    from .provider import SGENodeProvider

#: Ray's own copy of its config for a monitor in the head: ray-sge runs none (its autoscaler reads
#: the state directory), and one such file in a shared home would be every cluster's.
BOOTSTRAP_FILES = ("~/ray_bootstrap_config.yaml", "~/ray_bootstrap_key.pem")


class SGECommandRunner(CommandRunnerInterface):
    """Runs what Ray's launcher asks on a node of a ray-sge cluster (in practice, its head)."""

    def __init__(self, provider: SGENodeProvider, node_id: str) -> None:
        self.provider = provider
        self.node_id = node_id
        self.name = provider.cluster_name
        self._started = False

    # -- Ray's node updater (ray up) --------------------------------------------------------------

    def _updater_run(self, cmd: str, environment_variables: dict[str, Any] | None) -> str:
        p = self.provider
        if cmd.strip() == "uptime":
            # the head this `ray up` made is up: ray-sge up returned once its Ray was alive
            if p.created_head != self.node_id:
                self._head_ready()
            return ""
        if cmd.strip().startswith("mkdir -p "):
            return ""
        if environment_variables is None:
            # a setup command (setup_commands, head_setup_commands): they ran in the head job
            p.say_once(
                "setup",
                "setup commands run inside each Grid Engine job before its Ray starts, not from here "
                f"(their output: ray-sge logs {self.name})",
            )
            return ""
        # a start command (Ray passes them their environment): once per `ray up`
        if self._started:
            return ""
        self._started = True
        if p.created_head == self.node_id:
            p.say_once("start", f"Ray was started by the head job {self.node_id.split('.')[0]} itself")
            self._next_steps()
            return ""
        p.say_once(
            "start",
            "the cluster is live: reconciling it with `ray-sge up` (workers topped up to min_workers, the "
            "autoscaler started if it is not running); its head is not restarted (ray-sge never restarts a "
            "live head: `ray down` then `ray up` to apply a changed head)",
        )
        try:
            p.up_result()
        except cli.RaySgeError as e:
            raise ProcessRunnerError(e.message, "ssh_command_failed", code=e.exit_code, command="ray-sge up") from None
        self._next_steps()
        return ""

    def _next_steps(self) -> None:
        """What of Ray's closing "Useful commands" (which follow, and a provider cannot change) apply."""
        cfg = self.provider.command.config_file or "CONFIG"
        n = self.name
        lines = [
            f"cluster {n} runs as Grid Engine jobs; no SSH is involved. Of Ray's commands below:",
            f"  ray exec {cfg} CMD       runs CMD in the head job (Ray's Jobs API); output and exit code come back",
            f"  ray submit {cfg} app.py  runs app.py where it is, from this directory, on the head",
            f"  ray dashboard {cfg}      forwards a local port to the dashboard; the page asks for the token",
            f"                           (`ray-sge dashboard {n} --token` prints it)",
            f'  eval "$(ray-sge env {n})"   then ray status, ray job submit ..., ray.init(): no port-forward needed',
            f"  ray attach and the monitor log are not here: `ray-sge status {n} --watch` shows the nodes and the",
            "  autoscaler's decisions; `ray down` deletes every job of the cluster",
        ]
        self.provider.say_once("next", "\n         ".join(lines))

    def _head_ready(self) -> None:
        """Ray's `uptime`: fine once the job runs and its Ray is alive; else why not (Ray retries)."""
        n = self.provider._node(self.node_id) if self.provider.status(fresh=True) else None
        if n is None:
            raise ProcessRunnerError(f"job {self.node_id} is gone", "ssh_command_failed", command="uptime")
        if n["sgeStatus"] == "running" and n.get("ray") == "ALIVE":
            return
        job = n["jobId"]
        if n["sgeStatus"] == "running":
            raise RuntimeError(f"job {job} runs on {n.get('host')}, its Ray is starting")
        raise RuntimeError(f"job {job} is {n['sgeState']}: {n.get('waitingBecause') or 'waiting in the queue'}")

    # -- what users run: ray exec, ray submit, ray dashboard ---------------------------------------

    def _exec_run(
        self,
        cmd: str | None,
        exit_on_fail: bool,
        port_forward: Any,
        with_output: bool,
    ) -> str:
        p = self.provider
        forwards = self._forwards(port_forward)
        try:
            if not cmd:
                # `ray dashboard` (or a bare forward): until Ctrl-C
                return self._hold(forwards)
            if cmd.strip() == "ray stop":
                p.say_once(
                    "stop",
                    "not running `ray stop` on the head's host (it stops every Ray of yours there); "
                    "deleting the cluster's jobs stops their Ray",
                )
                return ""
            return self._in_head_job(cmd, exit_on_fail, with_output)
        finally:
            for f in forwards:
                f.close()

    def _in_head_job(self, cmd: str, exit_on_fail: bool, with_output: bool) -> str:
        p = self.provider
        cwd = os.path.expanduser("~")
        words = shlex.split(cmd) if p.staged else []
        if len(words) >= 2 and words[1] in p.staged:
            # `ray submit`: the script runs where it is, from where `ray submit` ran (see run_rsync_up)
            cmd = shlex.join(["python", p.staged[words[1]]]) + cmd.split(words[1], 1)[1]
            cwd = os.getcwd()
        args = ["submit", p.target, "--", "bash", "-c", cmd]
        try:
            out = cli.run(args, cwd=cwd, capture=with_output)
        except cli.RaySgeError as e:
            if exit_on_fail:
                # the command's own exit code, as it would be over SSH (Ray's SSH runner says 1)
                raise SystemExit(e.exit_code) from None
            raise ProcessRunnerError("Command failed", "ssh_command_failed", code=e.exit_code, command=cmd) from None
        return out

    def _forwards(self, port_forward: Any) -> list[Forward]:
        if not port_forward:
            return []
        pairs = [port_forward] if isinstance(port_forward, tuple) else list(port_forward)
        ip = self.provider.external_ip(self.node_id)
        dash = self.provider.status().get("head") or {}
        out: list[Forward] = []
        for local, remote in pairs:
            if self.provider.command.name == "dashboard":
                # Ray asks for its default port 8265; the head picked a free one: forward to that
                remote = dash.get("dashboard_port", remote)
            f = open_forward(int(local), ip, int(remote))
            out.append(f)
            where = f"http://127.0.0.1:{f.local_port}/" if self.provider.command.name == "dashboard" else ""
            cli_note = "" if f.local_port == int(local) else f" (port {local} is taken here)"
            self.provider.say_once(
                f"fwd{local}",
                f"forwarding 127.0.0.1:{f.local_port}{cli_note} to {ip}:{remote}"
                + (
                    f"; open {where}: the page asks for the cluster's token "
                    f"(`ray-sge dashboard {self.name} --token` prints it)"
                    if where
                    else ""
                ),
            )
        return out

    def _hold(self, forwards: list[Forward]) -> str:
        if not forwards:
            return ""
        self.provider.say_once("hold", "Ctrl-C ends the forward")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.provider.say_once("held", "forward ended")
            raise SystemExit(0) from None
        return ""

    # -- the CommandRunnerInterface ----------------------------------------------------------------

    def run(
        self,
        cmd: str | None = None,
        timeout: int = 120,
        exit_on_fail: bool = False,
        port_forward: Any = None,
        with_output: bool = False,
        environment_variables: dict[str, Any] | None = None,
        run_env: str = "auto",
        ssh_options_override_ssh_key: str = "",
        shutdown_after_run: bool = False,
    ) -> str:
        if threading.current_thread() is not threading.main_thread():
            # Ray's node updater runs in a thread of its own; users' commands in the main one
            return self._updater_run(cmd or "", environment_variables)
        return self._exec_run(cmd, exit_on_fail, port_forward, with_output)

    def run_rsync_up(self, source: str, target: str, options: dict[str, Any] | None = None) -> None:
        if target in BOOTSTRAP_FILES:
            self.provider.say_once(
                "bootstrap",
                "Ray's config is not copied to the head: ray-sge runs its own autoscaler, which reads the "
                "cluster's state directory",
            )
            return
        if threading.current_thread() is not threading.main_thread():
            # Ray's updater syncing file_mounts: the nodes share your home, and ray-sge ignores them (it
            # says so at up); nothing is copied on behalf of a config Ray may have read from its cache
            self.provider.say_once("mounts", f"file_mounts are not copied: the nodes share your home ({target})")
            return
        if self.provider.command.name == "submit":
            # Ray copies the script to ~/NAME on the head; here ~ is your own home: run it in place
            script = os.path.abspath(os.path.expanduser(source))
            self.provider.staged[target] = script
            self.provider.say_once(
                "staged",
                f"ray submit runs {script} where it is, from {os.getcwd()} (not copied to {target}: "
                "your home is the cluster's, and a copy would overwrite your own file there)",
            )
            return
        copy_within_home(source, target)

    def run_rsync_down(self, source: str, target: str, options: dict[str, Any] | None = None) -> None:
        copy_within_home(source, target)

    def remote_shell_command_str(self) -> str:
        return f'eval "$(ray-sge env {self.name})"'

    def run_init(self, *, as_head: bool, file_mounts: dict[str, str], sync_run_yet: bool) -> bool | None:
        return None


def copy_within_home(source: str, target: str) -> None:
    """rsync's copy where both ends are the same shared home: a file, or a directory's contents."""
    home = os.path.realpath(os.path.expanduser("~"))
    src = os.path.realpath(os.path.expanduser(source))
    dst = os.path.realpath(os.path.expanduser(target))
    for path, what in ((src, source), (dst, target)):
        if path != home and not path.startswith(home + os.sep):
            raise ProcessRunnerError(
                f"{what} is outside your home ({home}), the filesystem the cluster's hosts share with this "
                "one: ray-sge copies only within it (the head's /tmp is not this host's)",
                "ssh_command_failed",
                command="rsync",
            )
    if src == dst:
        return
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        if target.endswith("/") or os.path.isdir(dst):
            dst = os.path.join(dst, os.path.basename(src))
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        shutil.copy2(src, dst)
