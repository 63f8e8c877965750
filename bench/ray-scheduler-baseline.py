"""Baseline for the planner benchmark: Ray's own autoscaler v2 scheduler (ResourceDemandScheduler)
on the same round (read as JSON on stdin: types, nodes, pending requests). Prints JSON timings.
Run with the testbed's Ray: python bench/ray-scheduler-baseline.py < round.json"""
import json, sys, time, statistics
from ray.autoscaler.v2.scheduler import ResourceDemandScheduler, SchedulingRequest
from ray.autoscaler.v2.instance_manager.config import NodeTypeConfig
from ray.autoscaler.v2.schema import AutoscalerInstance
from ray.core.generated.autoscaler_pb2 import NodeState, NodeStatus, ResourceRequest, ResourceRequestByCount

r = json.load(sys.stdin)
types = {
    t["name"]: NodeTypeConfig(name=t["name"], min_worker_nodes=t["minWorkers"], max_worker_nodes=t["maxWorkers"],
                              resources=t["resources"], labels=t["labels"])
    for t in r["types"]
}
instances = []
for n in r["nodes"]:
    ns = NodeState(node_id=bytes.fromhex(n["nodeId"]), instance_id=n["instanceId"], ray_node_type_name=n["nodeType"],
                   status=NodeStatus.RUNNING, idle_duration_ms=n["idleMs"])
    ns.total_resources.update(n["total"])
    ns.available_resources.update(n["available"])
    instances.append(AutoscalerInstance(cloud_instance_id=n["instanceId"], ray_node=ns))
requests = []
for p in r["pending"]:
    rr = ResourceRequest()
    rr.resources_bundle.update(p["request"]["resources"])
    requests.append(ResourceRequestByCount(request=rr, count=p["count"]))

def once():
    req = SchedulingRequest(disable_launch_config_check=True, node_type_configs=types, max_num_nodes=r["maxWorkers"],
                            idle_timeout_s=r["idleTimeoutS"], resource_requests=requests, current_instances=instances)
    t = time.perf_counter()
    reply = ResourceDemandScheduler().schedule(req)
    ms = (time.perf_counter() - t) * 1000
    cpus = sum(x.count * types[x.instance_type].resources.get("CPU", 0) for x in reply.to_launch)
    return ms, sum(x.count for x in reply.to_launch), cpus

once()
runs = [once() for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5)]
print(json.dumps({"ms": [x[0] for x in runs], "launched": runs[0][1], "cpus": runs[0][2]}))
