"""Shared by the provider's tests: Ray's real `ray` CLI run against a stand-in ray-sge (fake_ray_sge.py).

Each test gets its own HOME and TMPDIR (Ray's config cache goes there), a copy of an example YAML,
and a state file for the fake; `Launcher.ray(...)` runs `ray ARGS` as a user would and returns its
exit code and output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
# the working tree's provider, here and in the `ray` commands the tests run (not an older installed copy)
SOURCE = str(HERE.parent)
sys.path.insert(0, SOURCE)
EXAMPLES = HERE.parent.parent / "examples"
RAY = str(Path(sys.executable).with_name("ray"))


def spec_of(example: str, state_dir: Path) -> dict[str, Any]:
    """ray-sge's spec of an example (recorded with `ray-sge config --json`, checked by a TS unit test)."""
    spec = json.loads((HERE / "fixtures" / f"config-{example}.json").read_text())["spec"]
    spec["stateDir"] = str(state_dir)
    return spec


@dataclass
class Result:
    code: int
    out: str

    def __str__(self) -> str:
        return f"exit {self.code}:\n{self.out}"


class Launcher:
    def __init__(self, tmp: Path, example: str) -> None:
        self.home = tmp / "home"
        self.tmpdir = tmp / "tmp"
        self.work = self.home / "work"
        for d in (self.home, self.tmpdir, self.work):
            d.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.home / ".ray-sge" / "clusters" / "c"
        self.yaml = self.work / f"{example}.yaml"
        shutil.copy(EXAMPLES / f"{example}.yaml", self.yaml)
        self.state_file = tmp / "fake-state.json"
        self.write({"spec": spec_of(example, self.state_dir), "nodes": [], "calls": []})

    def read(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def write(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    def update(self, **changes: Any) -> None:
        s = self.read()
        s.update(changes)
        self.write(s)

    def calls(self, name: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.read()["calls"] if name is None or c["argv"][:1] == [name]]

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(self.home),
            "TMPDIR": str(self.tmpdir),
            "RAY_SGE_CLI": f"{sys.executable} {HERE / 'fake_ray_sge.py'}",
            "FAKE_RAY_SGE_STATE": str(self.state_file),
            "PYTHONPATH": SOURCE,
            "RAY_UP_enable_autoscaler_v2": "1",
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def popen(self, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [RAY, *args],
            cwd=cwd or self.work,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def ray(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> Result:
        p = self.popen(*args, cwd=cwd)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            raise
        return Result(p.returncode, out)


@pytest.fixture
def guide(tmp_path: Path) -> Launcher:
    """The guide's YAML as shipped (examples/ray-sge-cluster.yaml) with the fake."""
    return Launcher(tmp_path, "ray-sge-cluster")


@pytest.fixture
def rayform(tmp_path: Path) -> Launcher:
    """The same cluster in Ray's own form (examples/ray-cluster.yaml) with the fake."""
    return Launcher(tmp_path, "ray-cluster")
