"""Ray's in-memory view of a cluster YAML, made from what ray-sge read in it.

Ray's launcher validates the YAML against its own schema (no ``sge:`` section, integer resources, ...)
after the provider's ``fillout_available_node_types_resources`` hook. The hook hands Ray this view:
the node types as ray-sge understood them (``ray-sge config --json``), Ray's command lists as written,
and nothing that would make Ray read an SSH key or copy files. ray-sge itself always reads the
original file, so this view is only what Ray's launcher works with. Pure.
"""

from __future__ import annotations

import math
from typing import Any

#: The head's node type in Ray's view (and in Ray's own node type tags of the head job).
HEAD_TYPE = "head"

#: Keys of the YAML that Ray's launcher gets as written.
PASSED_THROUGH = (
    "cluster_name",
    "provider",
    "setup_commands",
    "head_setup_commands",
    "worker_setup_commands",
    "head_start_ray_commands",
    "worker_start_ray_commands",
    "rsync_exclude",
    "rsync_filter",
    "no_restart",
)


def _amount(v: float) -> int:
    """Ray's schema wants whole resource amounts: a fraction is rounded up (the view is Ray's only)."""
    return int(v) if float(v).is_integer() else math.ceil(v)


def node_type(t: dict[str, Any], head: bool) -> dict[str, Any]:
    """One node type of ray-sge's spec as Ray's launcher describes it."""
    resources = {"CPU": t.get("cpus", t["slots"])}
    if t.get("gpus"):
        resources["GPU"] = t["gpus"]
    if t.get("memoryBytes") is not None:
        resources["memory"] = t["memoryBytes"]
    resources.update(t.get("customResources", {}))
    out: dict[str, Any] = {
        # empty: the head's launch hash stays the same whatever the Grid Engine settings say, so that
        # Ray's `ray up` never relaunches a live head (ray-sge reconciles instead: provider.py)
        "node_config": {},
        "resources": {k: _amount(v) for k, v in resources.items()},
        "min_workers": 0 if head else t["minWorkers"],
        "max_workers": 0 if head else t["maxWorkers"],
    }
    if t.get("labels"):
        out["labels"] = dict(t["labels"])
    return out


def ray_view(config: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Ray's view of a prepared config: ``config`` as Ray prepared it, ``spec`` ray-sge's spec of it."""
    view: dict[str, Any] = {k: config[k] for k in PASSED_THROUGH if k in config}
    types = {HEAD_TYPE: node_type(spec["head"], head=True)}
    for t in spec["workerTypes"]:
        types[t["name"]] = node_type(t, head=False)
    view.update(
        {
            "max_workers": spec["maxWorkers"],
            "upscaling_speed": spec["autoscaler"]["upscalingSpeed"],
            "idle_timeout_minutes": spec["idleTimeoutMinutes"],
            "available_node_types": types,
            "head_node_type": HEAD_TYPE,
            # no SSH: no key is read, hashed or copied to the head
            "auth": {},
            # the nodes share the filesystem: nothing to copy (ray-sge warns about mounts it ignores)
            "file_mounts": {},
            "cluster_synced_files": [],
            "file_mounts_sync_continuously": False,
            "initialization_commands": [],
        }
    )
    for key in ("setup_commands", "head_setup_commands", "worker_setup_commands"):
        view.setdefault(key, [])
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        view.setdefault(key, [])
    return view
