"""A stand-in for the ray-sge CLI, for the provider's unit tests only (mapping and error paths).

It keeps a cluster in a JSON file ($FAKE_RAY_SGE_STATE), records every call (argv and cwd), and
answers as ray-sge's --json would. Knobs in the state file: "config_error" (config refused),
"up_error", "up_delay" (seconds; a Ctrl-C then is recorded in STATE.interrupted),
"status_error" (exit 3, as with the qmaster down), "down_stuck" (down exits 1 naming a job),
"pending_polls" (status shows the head queued for that many more calls), "spec" (what `config`
answers). Never evidence that a feature works:
test/integration/ray-launcher.test.ts runs the real ray-sge on a real Grid Engine.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save(path: str, state: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)


def fail(message: str, code: int) -> None:
    sys.stderr.write(f"ray-sge: {message}\n")
    sys.exit(code)


def main(argv: list[str]) -> None:
    path = os.environ["FAKE_RAY_SGE_STATE"]
    # one call at a time (the provider asks status while config runs): the state file is read and written whole
    lock = open(f"{path}.lock", "w")  # noqa: SIM115 - held until this process ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    state = load(path)
    state.setdefault("calls", []).append({"argv": argv, "cwd": os.getcwd()})
    save(path, state)
    cmd = argv[0] if argv else ""
    spec = state["spec"]
    if cmd == "config":
        if state.get("config_error"):
            fail(state["config_error"], 2)
        print(json.dumps({"file": argv[1], "cluster": spec["name"], "stateDir": spec["stateDir"], "spec": spec}))
    elif cmd == "status":
        if state.get("status_error"):
            fail(state["status_error"], 3)
        nodes = state.get("nodes", [])
        if state.get("pending_polls", 0) > 0:
            state["pending_polls"] -= 1
            nodes = [dict(n, sgeStatus="pending", sgeState="qw", ray="not registered") for n in nodes]
            for n in nodes:
                n.pop("ip", None)
                n["waitingBecause"] = "cannot run in queue all.q because it offers only hc:slots=0"
            save(path, state)
        print(
            json.dumps({"name": spec["name"], "stateDir": spec["stateDir"], "head": state.get("head"), "nodes": nodes})
        )
    elif cmd == "up":
        if state.get("up_error"):
            fail(state["up_error"], 1)
        if state.get("up_delay"):
            # a slow up (a head in the queue): Ctrl-C is recorded and ends it, as ray-sge up deletes what it made
            fcntl.flock(lock, fcntl.LOCK_UN)

            def interrupted(*_: object) -> None:
                with open(f"{path}.interrupted", "w") as f:
                    f.write("up")
                sys.exit(130)

            signal.signal(signal.SIGINT, interrupted)
            time.sleep(state["up_delay"])
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = load(path)
        sys.stderr.write("ray-sge: head job 100 submitted\n")
        if not state.get("nodes"):
            state["head"] = {"job_id": "100", "host": "node1", "ip": "10.77.0.11", "dashboard_port": 31000}
            state["nodes"] = [
                {"instanceId": "100.0", "jobId": 100, "role": "head", "nodeType": "head", "sgeStatus": "running"}
                | {"sgeState": "r", "host": "node1", "ip": "10.77.0.11", "ray": "ALIVE"}
            ]
            for t in spec["workerTypes"]:
                for i in range(1, t["minWorkers"] + 1):
                    state["nodes"].append(
                        {"instanceId": f"101.{i}", "jobId": 101, "taskId": i, "role": "worker", "nodeType": t["name"]}
                        | {"sgeStatus": "running", "sgeState": "r", "host": f"node{i + 1}", "ip": f"10.77.0.1{i + 1}"}
                        | {"ray": "ALIVE"}
                    )
            save(path, state)
        alive = len(state["nodes"]) - 1
        print(
            json.dumps(
                {"cluster": spec["name"], "stateDir": spec["stateDir"], "head": state["head"], "workersAlive": alive}
            )
        )
    elif cmd == "down":
        if state.get("down_stuck"):
            fail("job 101.1 (dr on node2) still in Grid Engine 120 s after qdel: the execution daemon ...", 1)
        deleted = sorted({n["jobId"] for n in state.get("nodes", [])})
        state["nodes"] = []
        state["head"] = None
        save(path, state)
        print(json.dumps({"cluster": spec["name"], "deleted": deleted}))
    elif cmd == "submit":
        words = argv[argv.index("--") + 1 :]
        sys.stderr.write("ray-sge: driver raysubmit_1 submitted\n")
        sys.stdout.flush()
        fcntl.flock(lock, fcntl.LOCK_UN)
        sys.exit(subprocess.run(words, check=False).returncode)
    else:
        fail(f"the fake has no command {cmd!r}", 2)


if __name__ == "__main__":
    main(sys.argv[1:])
