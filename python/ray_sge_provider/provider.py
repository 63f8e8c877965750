"""``SGENodeProvider``: Ray's launcher (``ray up``, ``ray down``, ``ray exec``, ...) onto ray-sge.

Every question Ray's launcher asks becomes one ``ray-sge ... --json`` call: the nodes are the
cluster's Grid Engine jobs as ``ray-sge status`` sees them (node id = ``<job>.<task>``, the head
``<job>.0``), the head is made by ``ray-sge up`` and the cluster ended by ``ray-sge down``. Workers
are ray-sge's autoscaler's (it reads Grid Engine's queue, Ray's does not): a worker launch asked of
this provider, as a Ray monitor would, is refused with that explanation.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import stat
import sys
import threading
import time
from typing import Any

import click
from ray.autoscaler._private.constants import AUTOSCALER_NODE_START_WAIT_S
from ray.autoscaler._private.util import hash_launch_conf
from ray.autoscaler.node_provider import NodeProvider
from ray.autoscaler.tags import (
    NODE_KIND_HEAD,
    NODE_KIND_WORKER,
    STATUS_UNINITIALIZED,
    STATUS_UP_TO_DATE,
    STATUS_UPDATE_FAILED,
    STATUS_WAITING_FOR_SSH,
    TAG_RAY_LAUNCH_CONFIG,
    TAG_RAY_NODE_KIND,
    TAG_RAY_NODE_NAME,
    TAG_RAY_NODE_STATUS,
    TAG_RAY_USER_NODE_TYPE,
)

from . import cli, context, tags
from .ray_view import HEAD_TYPE, ray_view

#: How long one `ray-sge status` answers the questions Ray asks in a row (node_tags, is_running ...).
STATUS_TTL_S = 2.0

#: The head's launch hash in Ray's view (ray_view.py: no node_config, no auth): always the same, so
#: Ray's launcher never relaunches a live head; `ray up` on a live cluster reconciles (runner.py).
HEAD_LAUNCH_HASH = hash_launch_conf({}, {})


def say(line: str) -> None:
    """A line of ray-sge's among Ray's output (stderr, as ray-sge's own progress)."""
    sys.stderr.write(f"ray-sge: {line}\n")
    sys.stderr.flush()


class SGENodeProvider(NodeProvider):
    """Ray's node provider for Grid Engine: the nodes are ray-sge's jobs, asked through its CLI."""

    def __init__(self, provider_config: dict[str, Any], cluster_name: str) -> None:
        super().__init__(provider_config, cluster_name)
        self.command = context.current()
        why = context.refusal(self.command, cluster_name)
        if why:
            raise click.ClickException(why)
        if not self.command.params.get("no_config_cache"):
            check_config_cache(provider_config.get("_config_cache_path"))
        #: what ray-sge commands are given: the YAML Ray was given, else the cluster's name
        self.target = self.command.config_file or cluster_name
        self._lock = threading.RLock()
        self._status: dict[str, Any] | None = None
        self._status_at = 0.0
        #: tags set by this `ray` command, status included (kept ones are in the state directory)
        self._set: dict[str, dict[str, str]] = {}
        #: the head this `ray` command brought up (its setup and start already ran in its job)
        self.created_head: str | None = None
        #: files `ray submit` asked to copy, by target: run where they are (runner.py)
        self.staged: dict[str, str] = {}
        self._said: set[str] = set()
        #: `ray up -y` ends in one `ray-sge up` whatever it finds (it makes the head, or reconciles a
        #: live cluster): it is started now, beside Ray's own first questions (up_result)
        self._up: cli.Running | None = None
        self._up_result: dict[str, Any] | None = None
        p = self.command.params
        if self.command.name == "up" and p.get("yes") and not p.get("no_restart") and self.command.config_file:
            self._up = cli.Running(self.up_args(), cwd=None, capture=True, echo_stderr=True)
            atexit.register(self._up_unused)

    # -- the config Ray's launcher validates --------------------------------------------------------

    @staticmethod
    def fillout_available_node_types_resources(cluster_config: dict[str, Any]) -> dict[str, Any]:
        """Ray's view of the YAML (ray_view.py), from ray-sge's reading of the original file.

        Runs before Ray validates the YAML, so a config ray-sge refuses ends the command here with
        ray-sge's file:line:col message and its exit code, before anything is submitted.
        """
        path = context.current().config_file
        if path is None:
            raise click.ClickException("ray_sge_provider: the cluster YAML's path is unknown outside Ray's CLI")
        # what runs is asked at the same time: the provider's first question (status.py) is this one
        _prefetch(path)
        try:
            view = cli.run_json(["config", path], echo_stderr=False)
        except cli.RaySgeError as e:
            sys.stderr.write(f"{e.message}\n")
            # not an Exception: Ray's launcher would only warn about one and go on to its own schema
            raise SystemExit(e.exit_code or 2) from None
        return ray_view(cluster_config, view["spec"])

    @staticmethod
    def bootstrap_config(cluster_config: dict[str, Any]) -> dict[str, Any]:
        return cluster_config

    # -- what runs: the cluster's jobs as ray-sge status sees them ---------------------------------

    def status(self, fresh: bool = False) -> dict[str, Any]:
        """`ray-sge status --json`, asked again when older than STATUS_TTL_S (or fresh)."""
        with self._lock:
            if fresh or self._status is None or time.monotonic() - self._status_at > STATUS_TTL_S:
                early = None if fresh or self._status is not None else _prefetched(self.target)
                if early is not None:
                    self._status, self._status_at = early
                    return self._status
                try:
                    self._status = cli.run_json(["status", self.target], echo_stderr=False)
                except cli.RaySgeError as e:
                    # a failed qstat is never "no nodes": the command stops here
                    raise click.ClickException(f"ray-sge status {self.cluster_name}: {e.message}") from None
                self._status_at = time.monotonic()
            return self._status

    def _nodes(self) -> dict[str, dict[str, Any]]:
        return {n["instanceId"]: n for n in self.status().get("nodes", [])}

    def _node(self, node_id: str) -> dict[str, Any] | None:
        return self._nodes().get(node_id)

    def _matches(self, node_id: str, tag_filters: dict[str, str]) -> bool:
        t = self.node_tags(node_id)
        return all(t.get(k) == v for k, v in tag_filters.items())

    def non_terminated_nodes(self, tag_filters: dict[str, str]) -> list[str]:
        # a job in error state will not run: Ray treats it as gone (`ray up` makes a new head, and
        # ray-sge up removes the failed one); `ray down` still deletes it (nodes_for_teardown)
        return [
            i
            for i, n in self._nodes().items()
            if n["sgeStatus"] not in ("deleting", "error") and self._matches(i, tag_filters)
        ]

    def nodes_for_teardown(self, tag_filters: dict[str, str]) -> list[str]:
        return [i for i, n in self._nodes().items() if n["sgeStatus"] != "deleting" and self._matches(i, tag_filters)]

    def is_running(self, node_id: str) -> bool:
        n = self._node(node_id)
        return n is not None and n["sgeStatus"] == "running"

    def is_terminated(self, node_id: str) -> bool:
        n = self._node(node_id)
        if n is not None and n["sgeStatus"] == "error" and f"error:{node_id}" not in self._said:
            self._said.add(f"error:{node_id}")
            say(f"job {n['jobId']} is in error state: {n.get('waitingBecause') or 'see qstat -j ' + str(n['jobId'])}")
        return n is None or n["sgeStatus"] in ("deleting", "error")

    def node_tags(self, node_id: str) -> dict[str, str]:
        n = self._node(node_id)
        kept = tags.load(self.status().get("stateDir", "")) if n is not None else {}
        out: dict[str, str] = {}
        if n is not None:
            head = n["role"] == "head"
            out = {
                TAG_RAY_NODE_KIND: NODE_KIND_HEAD if head else NODE_KIND_WORKER,
                TAG_RAY_USER_NODE_TYPE: HEAD_TYPE if head else n["nodeType"],
                TAG_RAY_NODE_NAME: f"ray-{self.cluster_name}-{'head' if head else 'worker'}",
                TAG_RAY_NODE_STATUS: node_status(n),
            }
            if head:
                out[TAG_RAY_LAUNCH_CONFIG] = HEAD_LAUNCH_HASH
            out.update(kept.get(node_id, {}))
        out.update(self._set.get(node_id, {}))
        return out

    def external_ip(self, node_id: str) -> str:
        n = self._node(node_id)
        return (n or {}).get("ip") or ""

    def internal_ip(self, node_id: str) -> str:
        return self.external_ip(node_id)

    def set_node_tags(self, node_id: str, tags_: dict[str, str]) -> None:
        with self._lock:
            self._set.setdefault(node_id, {}).update(tags_)
            state_dir = self.status().get("stateDir")
            if state_dir:
                kept = tags.load(state_dir)
                kept.setdefault(node_id, {}).update(tags_)
                tags.save(state_dir, kept, live=self._nodes().keys())

    # -- changes: the head through ray-sge up and down, workers by ray-sge's autoscaler ------------

    def create_node(self, node_config: dict[str, Any], tags_: dict[str, str], count: int) -> dict | None:
        if tags_.get(TAG_RAY_NODE_KIND) != NODE_KIND_HEAD:
            raise click.ClickException(
                "ray_sge_provider does not launch workers for Ray's autoscaler: ray-sge's own autoscaler in "
                "the head job does (it reads Grid Engine's queue and Ray's demand); start the head with "
                f"`ray up` or `ray-sge up`, and `ray-sge scale {self.cluster_name} --workers N` by hand"
            )
        if self.command.config_file is None:
            raise click.ClickException("ray_sge_provider: `ray up` needs the cluster YAML's path")
        try:
            up = self.up_result()
        except cli.RaySgeError as e:
            raise click.ClickException(f"ray-sge up failed (exit {e.exit_code}): {e.message}") from None
        info = up["head"]
        head = f"{info['job_id']}.0"
        with self._lock:
            self.created_head = head
            self._set[head] = dict(tags_)
            # what ray-sge up just said (its head's Ray is alive, its workers joined) is what the rest
            # of `ray up` asks about: no second look (the next `ray` command asks Grid Engine afresh)
            self._status = {
                "name": self.cluster_name,
                "stateDir": up.get("stateDir") or (self._status or {}).get("stateDir"),
                "head": info,
                "nodes": [
                    {
                        "instanceId": head,
                        "jobId": int(info["job_id"]),
                        "role": "head",
                        "nodeType": HEAD_TYPE,
                        "sgeStatus": "running",
                        "sgeState": "r",
                        "host": info["host"],
                        "ip": info["ip"],
                        "ray": "ALIVE",
                    }
                ],
            }
            self._status_at = time.monotonic()
        return {head: {}}

    def create_node_with_resources_and_labels(
        self,
        node_config: dict[str, Any],
        tags_: dict[str, str],
        count: int,
        resources: dict[str, float],
        labels: dict[str, str],
    ) -> dict | None:
        return self.create_node(node_config, tags_, count)

    def terminate_node(self, node_id: str) -> dict | None:
        return self.terminate_nodes([node_id])

    def terminate_nodes(self, node_ids: list[str]) -> dict | None:
        """The whole cluster through `ray-sge down`; a part of it is ray-sge's autoscaler's to judge."""
        nodes = self._nodes()
        live = {i for i, n in nodes.items() if n["sgeStatus"] != "deleting"}
        has_head = any(nodes.get(i, {}).get("role") == "head" for i in node_ids)
        if not has_head and not live.issubset(node_ids):
            raise click.ClickException(
                "ray_sge_provider removes workers only with the whole cluster: ray-sge's autoscaler drains "
                f"idle ones; `ray-sge scale {self.cluster_name} --workers N [--force]` removes some by hand"
            )
        try:
            cli.run_json(["down", self.cluster_name if self.command.config_file is None else self.target])
        except cli.RaySgeError as e:
            # jobs Grid Engine cannot remove yet are named by ray-sge, with why: `ray down` ends here
            raise click.ClickException(f"ray-sge down failed (exit {e.exit_code}): {e.message}") from None
        finally:
            self.status(fresh=True)
        return None

    def get_command_runner(
        self,
        log_prefix: str,
        node_id: str,
        auth_config: dict[str, Any],
        cluster_name: str,
        process_runner: Any,
        use_internal_ip: bool,
        docker_config: dict[str, Any] | None = None,
    ) -> Any:
        from .runner import SGECommandRunner

        return SGECommandRunner(self, node_id)

    def up_args(self) -> list[str]:
        # Ray's own patience with a node that is not up yet (900 s; AUTOSCALER_NODE_START_WAIT_S)
        # rather than ray-sge's (600 s): then ray-sge up gives up and deletes what it submitted
        return ["up", self.command.config_file or self.target, "--timeout", str(AUTOSCALER_NODE_START_WAIT_S), "--json"]

    def up_result(self) -> dict[str, Any]:
        """`ray-sge up`'s answer: the one started with this `ray up`, else one run now (once either way)."""
        with self._lock:
            if self._up_result is None:
                running = self._up or cli.Running(self.up_args(), cwd=None, capture=True, echo_stderr=True)
                self._up = None
                self._up_result = cli.parse_json(self.up_args(), running.result())
            return self._up_result

    def _up_unused(self) -> None:
        """`ray up` ended before it asked for the `ray-sge up` started for it: undo that, as Ctrl-C would."""
        if self._up is not None:
            self._up.interrupt()

    def say_once(self, key: str, line: str) -> None:
        """A line of ray-sge's, once per `ray` command."""
        if key not in self._said:
            self._said.add(key)
            say(line)


def check_config_cache(path: str | None) -> None:
    """Refuse Ray's cached view of the YAML when another user could have written it.

    Ray keeps it in the shared temp dir as ray-config-<hash of the YAML> and reads it instead of the
    YAML when it is there: on a shared login node another user who can read your YAML can plant one.
    """
    if not path or not os.path.exists(path):
        return
    st = os.stat(path)
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise click.ClickException(
            f"Ray's cached config {path} is not yours alone (owner uid {st.st_uid}, mode "
            f"{stat.S_IMODE(st.st_mode):o}): another user could have planted it. Remove it if you can, and run "
            "`ray` with --no-config-cache or with TMPDIR set to a directory of your own"
        )


_early: dict[str, tuple[float, threading.Thread, list[dict[str, Any]]]] = {}


def _prefetch(target: str) -> None:
    """Ask `ray-sge status` in the background (the config check and it take turns otherwise)."""
    got: list[dict[str, Any]] = []

    def ask() -> None:
        # on an error it is asked again, and its error shown, when the provider needs it
        with contextlib.suppress(cli.RaySgeError):
            got.append(cli.run_json(["status", target], echo_stderr=False))

    t = threading.Thread(target=ask, daemon=True)
    _early[target] = (time.monotonic(), t, got)
    t.start()


def _prefetched(target: str) -> tuple[dict[str, Any], float] | None:
    """The background answer for target, when it was asked less than STATUS_TTL_S ago and came."""
    asked, t, got = _early.pop(target, (0.0, None, []))
    if t is None or time.monotonic() - asked > STATUS_TTL_S:
        return None
    t.join()
    return (got[0], asked) if got else None


def node_status(n: dict[str, Any]) -> str:
    """Ray's node status word for a job, from Grid Engine's and Ray's state."""
    if n["sgeStatus"] == "running":
        return STATUS_UP_TO_DATE if n.get("ray") == "ALIVE" else STATUS_WAITING_FOR_SSH
    if n["sgeStatus"] == "error":
        return STATUS_UPDATE_FAILED
    return STATUS_UNINITIALIZED
