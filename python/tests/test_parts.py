"""The provider's pure parts on data: Ray's view of a YAML, tags, copies, messages, refusals."""

from __future__ import annotations

import copy
import os
import stat
from pathlib import Path

import click
import pytest
import yaml
from conftest import EXAMPLES, spec_of
from ray.autoscaler._private.util import hash_launch_conf, prepare_config, validate_config

from ray_sge_provider import SGENodeProvider, cli, context, tags
from ray_sge_provider.provider import HEAD_LAUNCH_HASH, node_status
from ray_sge_provider.ray_view import ray_view
from ray_sge_provider.runner import copy_within_home


@pytest.mark.parametrize("example", ["ray-sge-cluster", "ray-cluster"])
def test_ray_view_passes_ray_s_own_validation(example: str, tmp_path: Path) -> None:
    raw = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    prepared = prepare_config(copy.deepcopy(raw))
    if example == "ray-sge-cluster":
        # the guide's YAML as it is: Ray's schema refuses it (sge:, slots, "16G"), hence the view
        with pytest.raises(Exception, match="Additional properties are not allowed"):
            validate_config(copy.deepcopy(prepared))
    else:
        validate_config(copy.deepcopy(prepared))  # Ray's own form passes Ray's schema as written
    view = ray_view(prepared, spec_of(example, tmp_path))
    validate_config(view)
    assert view["head_node_type"] == "head"
    assert view["auth"] == {} and view["file_mounts"] == {}
    head = view["available_node_types"]["head"]
    assert head["resources"] == {"CPU": 4, "memory": 16 * 1024**3}
    assert head["max_workers"] == 0
    workers = {k: v for k, v in view["available_node_types"].items() if k != "head"}
    ((name, worker),) = workers.items()
    assert name == ("worker" if example == "ray-sge-cluster" else "ray.worker.default")
    assert worker["resources"] == {"CPU": 2, "memory": 8 * 1024**3}
    assert (worker["min_workers"], worker["max_workers"]) == (2, 10)
    # Ray's commands as written, for its runtime hash (a changed setup command: "Updating ...")
    assert view["setup_commands"] == raw["setup_commands"]


def test_the_head_launch_hash_is_the_one_ray_up_computes_from_the_view(tmp_path: Path) -> None:
    raw = yaml.safe_load((EXAMPLES / "ray-sge-cluster.yaml").read_text())
    view = ray_view(prepare_config(raw), spec_of("ray-sge-cluster", tmp_path))
    # as get_or_create_head_node does it
    head_config = copy.deepcopy(view.get("head_node", {}))
    head_config.update(view["available_node_types"][view["head_node_type"]]["node_config"])
    assert hash_launch_conf(head_config, view["auth"]) == HEAD_LAUNCH_HASH


def test_ray_view_of_a_head_without_cpus_and_fractional_resources(tmp_path: Path) -> None:
    spec = spec_of("ray-cluster", tmp_path)
    spec["head"]["cpus"] = 0
    spec["workerTypes"][0]["customResources"] = {"accel": 0.5, "licence": 2}
    spec["workerTypes"][0]["gpus"] = 1
    view = ray_view({"cluster_name": "x", "provider": {"type": "external"}}, spec)
    assert view["available_node_types"]["head"]["resources"]["CPU"] == 0
    w = view["available_node_types"]["ray.worker.default"]["resources"]
    assert (w["accel"], w["licence"], w["GPU"]) == (1, 2, 1)


def test_tags_are_private_pruned_and_never_keep_a_status(tmp_path: Path) -> None:
    state = tmp_path / "state"
    tags.save(str(state), {"1.0": {"a": "1", "ray-node-status": "up-to-date"}, "2.1": {"b": "2"}}, live=["1.0"])
    assert stat.S_IMODE((state / tags.FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert tags.load(str(state)) == {"1.0": {"a": "1"}}
    (state / tags.FILE).write_text("not json")
    assert tags.load(str(state)) == {}
    assert tags.load(str(tmp_path / "missing")) == {}


def test_copies_stay_within_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "a").mkdir(parents=True)
    (home / "a" / "f.txt").write_text("x")
    monkeypatch.setenv("HOME", str(home))
    copy_within_home("~/a/f.txt", "~/b/")
    assert (home / "b" / "f.txt").read_text() == "x"
    copy_within_home("~/a", "~/c")
    assert (home / "c" / "f.txt").read_text() == "x"
    copy_within_home("~/a/f.txt", "~/a/f.txt")  # the same file: nothing to do
    with pytest.raises(Exception, match="outside your home"):
        copy_within_home("~/a/f.txt", str(tmp_path / "elsewhere.txt"))
    with pytest.raises(Exception, match="outside your home"):
        copy_within_home("/etc/hostname", "~/h")


def test_error_message_is_ray_sge_s_last_error_with_its_lines() -> None:
    lines = [
        "ray-sge: warning: auth: not needed\n",
        "ray-sge: head job 5 submitted\n",
        "ray-sge: c.yaml:3:5: cluster_name: bad\n",
        "c.yaml:9:1: head_node: is required\n",
    ]
    assert cli.error_message(lines) == "ray-sge: c.yaml:3:5: cluster_name: bad\nc.yaml:9:1: head_node: is required"
    assert cli.error_message(["Traceback\n", "boom\n"]) == "Traceback\nboom"


def test_the_cli_is_found_by_its_variable_or_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cli.CLI_ENV, "node '/opt/my dir/ray-sge.js'")
    assert cli.command() == ["node", "/opt/my dir/ray-sge.js"]
    monkeypatch.delenv(cli.CLI_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(cli.RaySgeError, match="ray-sge is not on PATH") as e:
        cli.command()
    assert e.value.exit_code == 127
    exe = tmp_path / "ray-sge"
    exe.write_text("#!/bin/sh\necho '{\"ok\": 1}'\n")
    exe.chmod(0o755)
    assert cli.command() == [str(exe)]
    assert cli.run_json(["anything"]) == {"ok": 1}
    exe.write_text("#!/bin/sh\necho 'ray-sge: no such cluster' >&2\nexit 2\n")
    with pytest.raises(cli.RaySgeError) as e:
        cli.run_json(["status", "x"], echo_stderr=False)
    assert (e.value.exit_code, e.value.message) == (2, "ray-sge: no such cluster")


def test_a_worker_launch_is_refused_with_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli.CLI_ENV, "/bin/false")
    p = SGENodeProvider({"type": "external", "module": "ray_sge_provider.SGENodeProvider"}, "c1")
    with pytest.raises(click.ClickException, match="does not launch workers for Ray's autoscaler"):
        p.create_node({}, {"ray-node-kind": "worker", "ray-user-node-type": "worker"}, 2)
    with pytest.raises(click.ClickException, match="does not launch workers"):
        p.create_node_with_resources_and_labels({}, {"ray-node-kind": "worker"}, 1, {"CPU": 2}, {})


@pytest.mark.parametrize(
    ("node", "status"),
    [
        ({"sgeStatus": "running", "ray": "ALIVE"}, "up-to-date"),
        ({"sgeStatus": "running", "ray": "not registered"}, "waiting-for-ssh"),
        ({"sgeStatus": "pending", "ray": "not registered"}, "uninitialized"),
        ({"sgeStatus": "error", "ray": "unknown"}, "update-failed"),
    ],
)
def test_node_status_from_grid_engine_and_ray(node: dict, status: str) -> None:
    assert node_status(node) == status


def test_refusals_outside_ray_s_cli_and_for_what_works() -> None:
    assert context.current() == context.RayCommand()
    for name in ("up", "down", "exec", "submit", "get-head-ip", "dashboard", "rsync-up"):
        assert context.refusal(context.RayCommand(name, {"cluster_config_file": "c.yaml"}), "c") is None
    cmd = context.RayCommand("exec", {"cluster_config_file": "~/c.yaml", "port_forward": (8080,)})
    assert context.refusal(cmd, "c") is None
    assert cmd.config_file == os.path.expanduser("~/c.yaml")
