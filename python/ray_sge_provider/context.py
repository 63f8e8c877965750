"""Which ``ray`` command runs this provider, and what of it ray-sge cannot do honestly.

Ray's launcher hands a provider only its ``provider:`` section and the cluster's name. The command
(``up``, ``exec``, ...), its options and the YAML's path are in click's context of the running
``ray`` command: ray-sge reads the original YAML itself, so Ray's rewritten view never reaches it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import click


@dataclass(frozen=True)
class RayCommand:
    """The ``ray`` command being run: its name ("up", "rsync-up", ...) and its options."""

    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def config_file(self) -> str | None:
        """The cluster YAML it was given, as an absolute path."""
        path = self.params.get("cluster_config_file")
        return os.path.abspath(os.path.expanduser(path)) if isinstance(path, str) and path else None


def current() -> RayCommand:
    """The running ``ray`` command, or an empty one when the provider is used outside Ray's CLI."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return RayCommand()
    return RayCommand(ctx.command.name or ctx.info_name, dict(ctx.params))


def refusal(cmd: RayCommand, cluster: str) -> str | None:
    """Why this command cannot be done here without SSH, and the ray-sge way; None when it can."""
    name, p = cmd.name, cmd.params
    if p.get("cluster_name"):
        return (
            "-n/--cluster-name is not supported with ray-sge: a cluster's jobs, state directory and token "
            "go by the YAML's cluster_name; copy the YAML and change cluster_name there"
        )
    if name == "up" and (p.get("min_workers") is not None or p.get("max_workers") is not None):
        return (
            "--min-workers/--max-workers are not supported with ray-sge: its autoscaler (in the head job) "
            "reads them from the YAML; change them there and run `ray up` again, or "
            f"`ray-sge scale {cluster} --workers N` for now"
        )
    if name == "attach":
        return (
            "ray attach needs SSH to the head's host; with ray-sge: "
            f'`eval "$(ray-sge env {cluster})"` gives this shell the cluster (ray status, ray job, '
            "ray.init()), `ray exec CONFIG CMD` runs a command in the head job, "
            f"`ray-sge logs {cluster} -f` follows the nodes"
        )
    if name in ("exec", "submit") and (p.get("screen") or p.get("tmux")):
        return (
            "--screen/--tmux need a terminal multiplexer on the head's host over SSH; with ray-sge the "
            "command runs in the cluster (Ray's Jobs API) and outlives your terminal anyway: "
            f"`ray-sge submit {cluster} --no-wait -- CMD`, then `ray-sge job logs {cluster} ID -f`"
        )
    if name in ("exec", "submit") and p.get("stop"):
        return (
            "--stop would run `ray stop` (every Ray of yours on the head's host) and shut the host down; "
            "run the command, then `ray down CONFIG`"
        )
    if name == "monitor":
        return (
            "ray monitor tails Ray's autoscaler log over SSH; ray-sge's own autoscaler says what it does in "
            f"`ray-sge status {cluster} --watch`, and every decision with its reason in the cluster's "
            "events.jsonl (`ray-sge status` names the state directory)"
        )
    if name == "kill-random-node":
        return (
            "ray kill-random-node runs `ray stop` on a worker's host (every Ray of yours there); "
            f"`ray-sge scale {cluster} --workers N` removes workers (idle ones first, --force for busy ones)"
        )
    if name == "down" and (p.get("workers_only") or p.get("keep_min_workers")):
        return (
            "--workers-only/--keep-min-workers: ray-sge's autoscaler keeps the workers between min_workers "
            f"and max_workers; `ray-sge scale {cluster} --workers N [--type T] [--force]` sets them by hand"
        )
    if name == "cluster-dump":
        return (
            "ray cluster-dump collects logs over SSH; `ray-sge logs "
            f"{cluster} --ray` has every node's Ray logs (kept when each job ended), `ray-sge status "
            f"{cluster} --json` the state of every node"
        )
    return None
