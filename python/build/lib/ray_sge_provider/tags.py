"""What the provider remembers between ``ray`` commands: the tags Ray's launcher set on the head.

Ray compares them on the next ``ray up`` (``ray-runtime-config``: were the setup commands changed?).
They live in the cluster's state directory (mode 0700) in ``ray-tags.json`` (0600), replaced
atomically, pruned to nodes that still exist. The node status tag is never kept: it is read from
Grid Engine and Ray each time (provider.py), or set by the running ``ray`` command itself.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable

from ray.autoscaler.tags import TAG_RAY_NODE_STATUS

FILE = "ray-tags.json"

Tags = dict[str, str]


def load(state_dir: str) -> dict[str, Tags]:
    """Every node's kept tags; none when the file is missing or not ours to read."""
    try:
        with open(os.path.join(state_dir, FILE), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(node): {str(k): str(v) for k, v in tags.items()} for node, tags in data.items() if isinstance(tags, dict)
    }


def save(state_dir: str, tags: dict[str, Tags], live: Iterable[str]) -> None:
    """Keep the tags of live nodes (status left out), 0600, replacing the file in one step."""
    alive = set(live)
    kept = {
        node: {k: v for k, v in t.items() if k != TAG_RAY_NODE_STATUS}
        for node, t in sorted(tags.items())
        if node in alive
    }
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ray-tags.", dir=state_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(kept, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, os.path.join(state_dir, FILE))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
