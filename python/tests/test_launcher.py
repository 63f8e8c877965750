"""Ray's real `ray` CLI with ray_sge_provider and a stand-in ray-sge: what each command asks of ray-sge.

Real Grid Engine and Ray are in test/integration/ray-launcher.test.ts; here, the mapping and every
refusal and error path.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import RAY, Launcher


def test_up_asks_ray_sge_up_once_and_keeps_ray_s_tags_private(guide: Launcher) -> None:
    r = guide.ray("up", "-y", str(guide.yaml))
    assert r.code == 0, r
    ups = guide.calls("up")
    assert [c["argv"] for c in ups] == [["up", str(guide.yaml), "--timeout", "900", "--json"]]
    assert "Ray was started by the head job 100 itself" in r.out
    assert "setup commands run inside each Grid Engine job" in r.out
    assert "Ray's config is not copied to the head" in r.out
    # the ray-sge block comes before Ray's own closing text
    assert r.out.index("no SSH is involved") < r.out.index("Useful commands")
    # nothing of Ray's launcher lands in the shared home: no bootstrap config, no key
    assert not (guide.home / "ray_bootstrap_config.yaml").exists()
    tags = guide.state_dir / "ray-tags.json"
    assert stat.S_IMODE(tags.stat().st_mode) == 0o600
    kept = json.loads(tags.read_text())
    assert "ray-runtime-config" in kept["100.0"]
    assert "ray-node-status" not in kept["100.0"]


def test_up_of_the_ray_form_yaml(rayform: Launcher) -> None:
    r = rayform.ray("up", "-y", str(rayform.yaml))
    assert r.code == 0, r
    assert len(rayform.calls("up")) == 1


def test_second_up_reconciles_and_never_relaunches_the_head(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    r = guide.ray("up", "-y", str(guide.yaml))
    assert r.code == 0, r
    assert "reconciling it with `ray-sge up`" in r.out
    assert "Relaunching" not in r.out and "Launched a new head" not in r.out
    assert "Configuration already up to date" in r.out
    assert len(guide.calls("up")) == 2
    assert next(n["instanceId"] for n in guide.read()["nodes"]) == "100.0"


def test_up_adopts_a_cluster_that_ray_sge_up_started(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    (guide.state_dir / "ray-tags.json").unlink()  # as if `ray-sge up` had made it
    r = guide.ray("up", "-y", "--no-config-cache", str(guide.yaml))
    assert r.code == 0, r
    assert "No head node found" not in r.out and "Relaunching" not in r.out
    assert "reconciling" in r.out


def test_up_shows_why_the_head_waits_then_goes_on(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    # the first answer of the second `ray up` (its head lookup) and the first `uptime` see it queued
    guide.update(pending_polls=2)
    r = guide.ray("up", "-y", "--no-config-cache", str(guide.yaml))
    assert r.code == 0, r
    assert "job 100 is qw: cannot run in queue all.q because it offers only hc:slots=0" in r.out


def test_a_config_ray_sge_refuses_ends_ray_up_with_its_message_and_nothing_submitted(guide: Launcher) -> None:
    where = f"{guide.yaml}:49:12: worker_nodes.resources.slots: expected number, received string"
    guide.update(config_error=where)
    r = guide.ray("up", "-y", str(guide.yaml))
    assert r.code == 2, r
    assert where in r.out
    assert guide.calls("up") == []  # read-only calls only (config, status)


def test_a_failed_ray_sge_up_is_an_error_with_its_message(guide: Launcher) -> None:
    guide.update(up_error="preflight: queue all.q has no usable instance")
    r = guide.ray("up", "-y", str(guide.yaml))
    assert r.code == 1, r
    assert "Error: ray-sge up failed (exit 1): ray-sge: preflight: queue all.q has no usable instance" in r.out


def test_get_head_ip_and_worker_ips(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    r = guide.ray("get-head-ip", str(guide.yaml))
    assert r.code == 0 and r.out.strip().splitlines()[-1] == "10.77.0.11", r
    r = guide.ray("get-worker-ips", str(guide.yaml))
    assert r.code == 0 and r.out.strip().splitlines()[-2:] == ["10.77.0.12", "10.77.0.13"], r


def test_exec_runs_in_the_head_job_with_output_and_exit_code(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    r = guide.ray("exec", str(guide.yaml), "echo from-the-head; exit 7")
    assert r.code == 7, r
    assert "from-the-head" in r.out
    (call,) = guide.calls("submit")
    assert call["argv"] == ["submit", str(guide.yaml), "--", "bash", "-c", "echo from-the-head; exit 7"]
    assert call["cwd"] == str(guide.home)


def test_submit_runs_the_script_in_place_and_overwrites_nothing_in_home(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    (guide.work / "app.py").write_text("import sys; print('app', sys.argv[1:])\n")
    (guide.home / "app.py").write_text("# the user's own, other file\n")
    r = guide.ray("submit", str(guide.yaml), "app.py", "--", "a", "b")
    assert r.code == 0, r
    assert "app ['a', 'b']" in r.out
    assert (guide.home / "app.py").read_text() == "# the user's own, other file\n"
    (call,) = guide.calls("submit")
    assert call["argv"][-1] == f"python {guide.work / 'app.py'} a b"
    assert call["cwd"] == str(guide.work)


def test_down_never_runs_ray_stop_and_deletes_through_ray_sge(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    r = guide.ray("down", "-y", str(guide.yaml))
    assert r.code == 0, r
    assert "not running `ray stop`" in r.out
    assert [c["argv"][0] for c in guide.calls()].count("down") == 1
    assert guide.calls("submit") == []
    assert "No nodes remaining" in r.out


def test_down_that_grid_engine_cannot_finish_ends_with_why(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    guide.update(down_stuck=True)
    r = guide.ray("down", "-y", str(guide.yaml), timeout=60)
    assert r.code == 1, r
    assert "job 101.1 (dr on node2) still in Grid Engine" in r.out


def test_a_qmaster_that_does_not_answer_is_never_no_nodes(guide: Launcher) -> None:
    # the fake exits 3 for status, as ray-sge does when the qmaster is unreachable
    fake = guide.home / "ray-sge-down"
    fake.write_text("#!/bin/sh\necho 'ray-sge: cannot reach the qmaster (commlib error)' >&2\nexit 3\n")
    fake.chmod(0o755)
    env = guide.env()
    env["RAY_SGE_CLI"] = str(fake)
    p = subprocess.run(
        [RAY, "get-head-ip", str(guide.yaml)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 1
    assert "cannot reach the qmaster" in p.stderr + p.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["attach", "{yaml}"], "ray attach needs SSH"),
        (["exec", "--screen", "{yaml}", "ls"], "--screen/--tmux need"),
        (["exec", "--tmux", "{yaml}", "ls"], "--screen/--tmux need"),
        (["exec", "--stop", "{yaml}", "ls"], "--stop would run `ray stop`"),
        (["submit", "--tmux", "{yaml}", "app.py"], "--screen/--tmux need"),
        (["monitor", "{yaml}"], "ray-sge status ray-sge-cluster --watch"),
        (["kill-random-node", "-y", "{yaml}"], "`ray-sge scale ray-sge-cluster --workers N`"),
        (["down", "-y", "--workers-only", "{yaml}"], "--workers-only/--keep-min-workers"),
        (["down", "-y", "--keep-min-workers", "{yaml}"], "--workers-only/--keep-min-workers"),
        (["up", "-y", "--min-workers", "3", "{yaml}"], "--min-workers/--max-workers are not supported"),
        (["up", "-y", "-n", "other", "{yaml}"], "-n/--cluster-name is not supported"),
        (["exec", "-n", "other", "{yaml}", "ls"], "-n/--cluster-name is not supported"),
    ],
)
def test_what_needs_ssh_fails_at_once_with_the_ray_sge_way(guide: Launcher, argv: list[str], says: str) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    before = [c["argv"][0] for c in guide.calls()]
    r = guide.ray(*[a.replace("{yaml}", str(guide.yaml)) for a in argv])
    assert r.code == 1, r
    assert says in r.out
    after = [c["argv"][0] for c in guide.calls()]
    # nothing was changed or run: at most the config and the status were read
    assert [a for a in after[len(before) :] if a not in ("config", "status")] == []


def test_rsync_up_and_down_copy_within_the_shared_home_only(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    (guide.work / "data.txt").write_text("x")
    r = guide.ray("rsync-up", str(guide.yaml), str(guide.work / "data.txt"), "~/copied/")
    assert r.code == 0, r
    assert (guide.home / "copied" / "data.txt").read_text() == "x"
    r = guide.ray("rsync-down", str(guide.yaml), "~/copied/data.txt", str(guide.work / "back.txt"))
    assert r.code == 0 and (guide.work / "back.txt").read_text() == "x", r
    r = guide.ray("rsync-up", str(guide.yaml), str(guide.work / "data.txt"), "/tmp/elsewhere.txt")
    assert r.code != 0, r
    assert "outside your home" in r.out
    assert not os.path.exists("/tmp/elsewhere.txt")


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"dashboard page")

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_forwards_a_local_port_to_the_port_the_head_picked(guide: Launcher) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    s = guide.read()
    s["head"]["dashboard_port"] = server.server_address[1]
    s["nodes"][0]["ip"] = "127.0.0.1"
    guide.write(s)
    local = _free_port()
    p = guide.popen("dashboard", "-p", str(local), str(guide.yaml))
    try:
        body = b""
        for _ in range(100):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        assert body == b"dashboard page"
    finally:
        os.killpg(p.pid, signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        server.shutdown()
    assert p.returncode == 0, out
    assert f"forwarding 127.0.0.1:{local} to 127.0.0.1:{server.server_address[1]}" in out
    assert "the page asks for the cluster's token" in out


def test_exec_port_forward_reaches_the_head_while_the_command_runs(guide: Launcher) -> None:
    # the "head" listens on another loopback address, so the local forward can take the same port
    server = HTTPServer(("127.0.0.2", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    s = guide.read()
    s["nodes"][0]["ip"] = "127.0.0.2"
    guide.write(s)
    fetch = f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{port}/').read().decode())"
    r = guide.ray("exec", "--port-forward", str(port), str(guide.yaml), f'python3 -c "{fetch}"')
    server.shutdown()
    assert r.code == 0, r
    assert "dashboard page" in r.out
    assert f"forwarding 127.0.0.1:{port} to 127.0.0.2:{port}" in r.out


def test_a_config_cache_someone_else_could_have_written_is_refused(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    (cache,) = guide.tmpdir.glob("ray-config-*")
    cache.chmod(0o666)  # as a file planted by another user would be: not ours alone
    r = guide.ray("exec", str(guide.yaml), "echo ran")
    assert r.code == 1, r
    assert "is not yours alone" in r.out and "--no-config-cache" in r.out
    assert guide.calls("submit") == []
    r = guide.ray("exec", "--no-config-cache", str(guide.yaml), "echo ran")
    assert r.code == 0 and "ran" in r.out, r


def test_ray_up_copies_no_file_mount(guide: Launcher) -> None:
    text = guide.yaml.read_text()
    (guide.home / "secret").write_text("s")
    guide.yaml.write_text(text + '\nfile_mounts: {"~/public/copy": "~/secret"}\n')
    r = guide.ray("up", "-y", str(guide.yaml))
    assert r.code == 0, r
    assert not (guide.home / "public").exists()


def test_up_without_restart_on_a_live_cluster_asks_nothing_of_ray_sge_up(guide: Launcher) -> None:
    assert guide.ray("up", "-y", str(guide.yaml)).code == 0
    r = guide.ray("up", "-y", "--no-restart", str(guide.yaml))
    assert r.code == 0, r
    assert len(guide.calls("up")) == 1


def test_a_ray_up_that_fails_early_interrupts_the_ray_sge_up_it_started(guide: Launcher) -> None:
    # `ray up -y` starts ray-sge up beside its first questions; when Ray gives up before it asks for the
    # answer (here: Grid Engine cannot be asked), that up is ended as Ctrl-C would end it
    guide.update(up_delay=30, status_error="cannot reach the qmaster (commlib error)")
    r = guide.ray("up", "-y", str(guide.yaml), timeout=60)
    assert r.code == 1, r
    assert "cannot reach the qmaster" in r.out
    assert (guide.state_file.parent / (guide.state_file.name + ".interrupted")).read_text() == "up"
    assert guide.read()["nodes"] == []


def test_ctrl_c_during_ray_up_reaches_ray_sge_up_once_and_waits_for_it(guide: Launcher) -> None:
    guide.update(up_delay=30)
    p = guide.popen("up", "-y", str(guide.yaml))
    marker = guide.state_file.parent / (guide.state_file.name + ".interrupted")
    for _ in range(100):
        if guide.calls("up"):
            break
        time.sleep(0.1)
    time.sleep(1)
    os.killpg(p.pid, signal.SIGINT)  # the terminal's Ctrl-C: ray's process group
    out, _ = p.communicate(timeout=60)
    assert p.returncode != 0, out
    assert marker.read_text() == "up"
    assert guide.read()["nodes"] == []
