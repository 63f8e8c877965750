/**
 * The bash scripts that run a Ray head or worker as a Grid Engine job. Pure renderers: everything a
 * script needs comes in as data and every value from the config is shell-quoted, except the setup
 * commands, which are the user's own shell code (as in Ray's launcher).
 *
 * What every script does: setup commands first (a failure ends the job with a clear line); Ray's
 * temp dir under SGE's per-job $TMP (removed by execd even after qdel's SIGKILL) when its path is
 * short enough for unix sockets, else a private dir under /tmp removed on exit; free ports chosen on
 * the host; token auth (the token file is passed by path, never in argv or the environment list of
 * qsub); RAY_CLOUD_INSTANCE_ID=<job>.<task> and RAY_NODE_TYPE_NAME=<type> so SGE jobs and Ray nodes
 * match by id; SIGTERM/SIGUSR1/SIGUSR2 (qdel with -notify, s_rt) stop this job's Ray gracefully.
 * Never `ray stop`.
 */
import { shellQuote } from "../base/shell.js";
import { gpuGrantLines } from "./gpus.js";
import {
  dq,
  HEAD_PORTS,
  logFunctions,
  NODE_IP_LINES,
  NODE_PORT_FLAGS,
  pickPorts,
  privateDirLines,
  rayBinLines,
  saveRayLogs,
  setupLines,
} from "./script-parts.js";
import { LOG_NAMES, STATE_FILES } from "./state-dir.js";

export interface ScriptInput {
  cluster: string;
  /** The cluster's state directory on the shared filesystem. */
  stateDir: string;
  rayExecutable: string;
  nodeType: string;
  /** A Grid Engine job's Ray (head, worker), or the driver node `ray-sge env` starts on its own host. */
  role: "head" | "worker" | "driver";
  /** `ray start` resource flags for this node type (see rayResourceArgs). */
  resourceArgs: string[];
  /** The GPU complex, when this node type requests GPUs (the script reads its grant: gpus.ts). */
  gpuComplex?: string;
  /** Further `ray start` flags kept from the config. */
  extraArgs: string[];
  setupCommands: string[];
  /** Head only: pinned ports, else free ones are chosen on the host. */
  gcsPort?: number;
  dashboardPort?: number;
  /** Worker only: how long to wait for the head's address before giving up (seconds). */
  headWaitSeconds?: number;
  /** Driver node only: the GCS it joins and the object store it keeps for the drivers on its host. */
  driver?: { headIp: string; gcsPort: number; objectStoreBytes: number; instanceId: string };
  /** Head only: run ray-sge's autoscaler in the job (node and the CLI must be readable on the host). */
  autoscaler?: { node: string; cli: string; spec: string };
  version: string;
}

export interface NodeResources {
  slots: number;
  /** Ray's CPUs when they are not the slots granted (e.g. 0: a head that takes no work). */
  cpus?: number;
  memoryBytes?: number;
  gpus: number;
  customResources: Record<string, number>;
  labels?: Record<string, string>;
}

/** `ray start` flags for a node's resources; CPUs follow the slots SGE granted ($NSLOTS), GPUs its RSMAP grant. */
export function rayResourceArgs(r: NodeResources): string[] {
  const args = [r.cpus !== undefined ? `--num-cpus=${r.cpus}` : `--num-cpus=\${NSLOTS:-${r.slots}}`];
  if (r.memoryBytes !== undefined) args.push(`--memory=${r.memoryBytes}`);
  if (r.gpus > 0) args.push(`--num-gpus=\${RSGE_NUM_GPUS:-${r.gpus}}`);
  if (Object.keys(r.customResources).length > 0) args.push(`--resources=${JSON.stringify(r.customResources)}`);
  const labels = Object.entries(r.labels ?? {});
  if (labels.length > 0) args.push(`--labels=${labels.map(([k, v]) => `${k}=${v}`).join(",")}`);
  return args;
}

function header(i: ScriptInput): string {
  const where =
    i.role === "driver"
      ? "Runs on the host where `ray-sge env` ran, as a process of its user, until the cluster ends."
      : "Runs as a Grid Engine job; `ray-sge up` writes it anew, edits here are not kept.";
  // the instance id Ray shows for the node: <job>.<task> for Grid Engine jobs, driver-<host> here
  const instance =
    i.role === "driver"
      ? `JOB_ID=driver; TASK=0; INSTANCE=${shellQuote(i.driver?.instanceId ?? "driver")}`
      : // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, meant literally
        'TASK="${SGE_TASK_ID:-undefined}"; [ "$TASK" = undefined ] && TASK=0; INSTANCE="$JOB_ID.$TASK"';
  return `#!/bin/bash
# Ray ${i.role} (node type ${i.nodeType}) of ray-sge cluster ${i.cluster}; written by ray-sge ${i.version}.
# ${where}
set -uo pipefail
STATE_DIR=${shellQuote(i.stateDir)}
NODE_TYPE=${shellQuote(i.nodeType)}
${instance}
${logFunctions()}log "starting the Ray ${i.role === "driver" ? "driver node" : i.role} (node type $NODE_TYPE) of cluster ${i.cluster}"
`;
}

function rayEnvironment(i: ScriptInput): string {
  return `
${rayBinLines(i.rayExecutable)}[ -r "$STATE_DIR/${STATE_FILES.token}" ] || fail "the cluster's token $STATE_DIR/${STATE_FILES.token} is not readable here: is $STATE_DIR on a filesystem shared with $(hostname)?"
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$STATE_DIR/${STATE_FILES.token}"
export RAY_CLOUD_INSTANCE_ID="$INSTANCE" RAY_NODE_TYPE_NAME="$NODE_TYPE"
export RAY_USAGE_STATS_ENABLED=0
${i.gpuComplex ? gpuGrantLines(i.gpuComplex) : ""}# on SIGTERM Ray drains for up to 30 s before it stops; qdel's SIGKILL follows the notify signal after
# the queue's notify time (often 60 s, less on some sites): stop soon, so the logs are kept in time
export RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="\${RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S:-3}"
${
  i.role === "head"
    ? `# the GCS asks each raylet for its queue every 250 ms (Ray's default: 1 s), so the autoscaler sees
# demand, and how fast it drains, soon enough to tell a short burst from work worth a new job
export RAY_gcs_pull_resource_loads_period_milliseconds="\${RAY_gcs_pull_resource_loads_period_milliseconds:-250}"
`
    : `# a node whose head is gone ends 10 s after it (Ray's default waits 60 s for a lost GCS, holding the slots)
export RAY_gcs_rpc_server_reconnect_timeout_s="\${RAY_gcs_rpc_server_reconnect_timeout_s:-10}"
`
}${NODE_IP_LINES}${privateDirLines(i.role !== "driver")}`;
}

function runRay(): string {
  return `${saveRayLogs(`"$STATE_DIR/${STATE_FILES.logs}/${LOG_NAMES.ray}/$INSTANCE"`)}
RAY_PID=; AUTOSCALER_PID=
stop_ray() {
  STOP_SIGNAL=$1
  log "signal $1: stopping this job's Ray (gracefully)"
  [ -n "$AUTOSCALER_PID" ] && kill -TERM "$AUTOSCALER_PID" 2>/dev/null
  [ -n "$RAY_PID" ] && kill -TERM "$RAY_PID" 2>/dev/null
}
# Grid Engine signals the whole process group (SIGUSR2 at qdel -notify, SIGUSR1 at s_rt): Ray's own
# processes would die of them at once (measured: exit 140, no graceful stop). They start with both
# ignored (an ignored signal stays ignored across exec); this shell catches them and stops Ray itself.
trap '' USR1 USR2
"$RAY_BIN" "\${RAY_ARGS[@]}" &
RAY_PID=$!
trap 'stop_ray TERM' TERM; trap 'stop_ray USR1' USR1; trap 'stop_ray USR2' USR2
`;
}

/**
 * Bash that sets RSGE_AUTOSCALER to "head" when ray-sge's autoscaler can run on this host (node, the
 * CLI and Grid Engine's commands are here), else to "unavailable: why". The head job runs it, and
 * `doctor` runs the same text in a probe job.
 */
export function autoscalerCheck(a: { node: string; cli: string }): string {
  return `RSGE_NODE=${shellQuote(a.node)}; RSGE_CLI=${shellQuote(a.cli)}
if [ ! -x "$RSGE_NODE" ]; then RSGE_AUTOSCALER="unavailable: $RSGE_NODE is not executable on $(hostname)"
elif [ ! -r "$RSGE_CLI" ]; then RSGE_AUTOSCALER="unavailable: $RSGE_CLI is not readable on $(hostname)"
elif ! command -v qsub >/dev/null; then RSGE_AUTOSCALER="unavailable: qsub is not on PATH on $(hostname)"
elif ! qstat -j "$JOB_ID" >/dev/null 2>&1; then RSGE_AUTOSCALER="unavailable: Grid Engine refuses commands from $(hostname) (not a submit host?)"
else RSGE_AUTOSCALER=head; fi
`;
}

function startAutoscalerCheck(i: ScriptInput): string {
  if (!i.autoscaler)
    return `export RSGE_AUTOSCALER=off
`;
  return `
# ray-sge's autoscaler runs in this job when node, the CLI and Grid Engine's commands are here
${autoscalerCheck(i.autoscaler)}export RSGE_AUTOSCALER
`;
}

function startAutoscaler(i: ScriptInput): string {
  if (!i.autoscaler) return "";
  // supervised: restarted 5 s after a crash (its state is in Grid Engine and the GCS, so a restart is
  // safe); it ends by itself (exit 0) when the head goes or \`down\` asks (then it waits until the stop
  // file is withdrawn); TERM ends both
  return `if [ "$RSGE_AUTOSCALER" = head ]; then
  (
    child=
    # the notify and s_rt signals reach this subshell too: the head's shell stops it with TERM instead
    trap '' USR1 USR2
    trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 0' TERM
    while :; do
      "$RSGE_NODE" "$RSGE_CLI" autoscaler ${shellQuote(i.autoscaler.spec)} --mode "head job $JOB_ID" >> "$STATE_DIR/${STATE_FILES.logs}/${LOG_NAMES.headAutoscaler("$JOB_ID")}" 2>&1 &
      child=$!; wait "$child"; rc=$?
      kill -0 "$RAY_PID" 2>/dev/null || break
      if [ "$rc" -eq 0 ]; then
        # it stopped because \`down\` asked: it stays stopped while the stop file is there, and runs
        # again once it is gone (a down that failed, or an up, removes it)
        while [ -e "$STATE_DIR/${STATE_FILES.stop}" ] && kill -0 "$RAY_PID" 2>/dev/null; do sleep 1; done
        kill -0 "$RAY_PID" 2>/dev/null || break
        log "autoscaler: the stop was withdrawn, starting it again"
      else
        log "autoscaler exited with code $rc: restarting it in 5 s"; sleep 5
      fi
    done
  ) &
  AUTOSCALER_PID=$!
  log "autoscaler started, log: $STATE_DIR/${STATE_FILES.logs}/${LOG_NAMES.headAutoscaler("$JOB_ID")}"
else
  log "autoscaler: $RSGE_AUTOSCALER"
fi
`;
}

const WAIT_RAY = `
while :; do
  wait "$RAY_PID"; rc=$?
  kill -0 "$RAY_PID" 2>/dev/null || break   # a trapped signal interrupts wait: wait again
done
log "Ray exited with code $rc"
[ -n "$AUTOSCALER_PID" ] && kill -TERM "$AUTOSCALER_PID" 2>/dev/null
save_ray_logs
# qdel (-notify sends SIGUSR2): the job ends as a job killed by SIGUSR2 would (128 + 12), so accounting
# says it was deleted, not that it failed (the autoscaler reads it so)
[ "\${STOP_SIGNAL:-}" = USR2 ] && rc=140
exit "$rc"
`;

export function renderHeadScript(i: ScriptInput): string {
  const pinned = (name: string, port: number | undefined) => (port === undefined ? "" : `PORT_${name}=${port}\n`);
  return `${header(i)}${setupLines(i.setupCommands)}${rayEnvironment(i)}
# drivers from the submit host come through Ray Client, the Jobs API and the dashboard: ray[default]
if ! "$RAY_PY" -c 'import grpc, aiohttp' 2>/dev/null; then
  fail "Ray here ($RAY_BIN, $("$RAY_PY" -c 'import ray; print(ray.__version__)' 2>/dev/null)) lacks ray[default] (grpcio, aiohttp), which the head's Ray Client server, dashboard and Jobs API need: pip install 'ray[default]==VERSION' in that environment"
fi
${pickPorts(HEAD_PORTS)}${pinned("gcs", i.gcsPort)}${pinned("dashboard", i.dashboardPort)}${startAutoscalerCheck(i)}export RAY_enable_autoscaler_v2=1
RAY_ARGS=(start --head --block --disable-usage-stats --no-monitor
  --node-ip-address="$NODE_IP" --port="$PORT_gcs" --temp-dir="$RAY_TEMP"
  --dashboard-host="$NODE_IP" --dashboard-port="$PORT_dashboard" --ray-client-server-port="$PORT_client"
  ${NODE_PORT_FLAGS}
  ${[...i.resourceArgs.map(dq), ...i.extraArgs.map(shellQuote)].join(" ")})
${runRay()}
# publish the address once the GCS answers (workers and ray-sge read it from the shared state dir)
for _ in $(seq 1 240); do
  kill -0 "$RAY_PID" 2>/dev/null || { wait "$RAY_PID"; fail "ray start --head exited with code $? before the GCS answered"; }
  port_answers "$NODE_IP" "$PORT_gcs" && break
  sleep 0.5
done
"$RAY_PY" - "$STATE_DIR/${STATE_FILES.head}" <<PUBLISH || fail "cannot write $STATE_DIR/${STATE_FILES.head}"
import json, os, sys, time
info = {"cluster": ${JSON.stringify(i.cluster)}, "job_id": "$JOB_ID", "host": "$(hostname)", "ip": "$NODE_IP",
        "gcs_port": $PORT_gcs, "dashboard_port": $PORT_dashboard, "client_port": $PORT_client,
        "agent_port": $PORT_agent_listen, "metrics_port": $PORT_metrics,
        "temp_dir": "$RAY_TEMP", "ray_python": "$RAY_PY", "started_at": time.time(),
        "autoscaler": os.environ.get("RSGE_AUTOSCALER", "off")}
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f: json.dump(info, f)
os.replace(tmp, sys.argv[1])
PUBLISH
log "head up: GCS $NODE_IP:$PORT_gcs, dashboard http://$NODE_IP:$PORT_dashboard, Ray Client ray://$NODE_IP:$PORT_client"
${startAutoscaler(i)}${WAIT_RAY}`;
}

export function renderWorkerScript(i: ScriptInput): string {
  const wait = i.headWaitSeconds ?? 600;
  return `${header(i)}${setupLines(i.setupCommands)}${rayEnvironment(i)}
# wait for the head's published address, for a bounded time
waited=0
until [ -s "$STATE_DIR/${STATE_FILES.head}" ]; do
  [ "$waited" -ge ${wait} ] && { log "no head address after ${wait} s (head job gone or still queued?): giving up"; exit 0; }
  sleep 1; waited=$((waited + 1))
done
HEAD_ADDR=$("$RAY_PY" -c 'import json,sys; h=json.load(open(sys.argv[1])); print("%s:%d" % (h["ip"], h["gcs_port"]))' "$STATE_DIR/${STATE_FILES.head}") || fail "cannot read $STATE_DIR/${STATE_FILES.head}"
${pickPorts()}log "joining the head at $HEAD_ADDR"
RAY_ARGS=(start --block --disable-usage-stats --address="$HEAD_ADDR"
  --node-ip-address="$NODE_IP" --temp-dir="$RAY_TEMP"
  ${NODE_PORT_FLAGS}
  ${[...i.resourceArgs.map(dq), ...i.extraArgs.map(shellQuote)].join(" ")})
${runRay()}${WAIT_RAY}`;
}

/**
 * The driver node: a Ray node with no CPUs, GPUs or memory to offer, on the host where `ray-sge env`
 * ran, so that drivers there are real Ray drivers with a local raylet and object store (Ray Data runs
 * its executor in the driver, which Ray Client cannot do) and register with this host's own address.
 * Same privacy as the jobs: a fresh 0700 directory under /tmp, free ports, token auth. It ends with
 * the cluster (10 s after the GCS is gone), on SIGTERM/SIGHUP (`ray-sge down`), and keeps its logs.
 */
export function renderDriverNodeScript(i: ScriptInput): string {
  const d = i.driver;
  if (!d) throw new Error("renderDriverNodeScript needs driver settings");
  return `${header(i)}${setupLines(i.setupCommands)}${rayEnvironment(i)}
# this host's address towards the head (what ray.init() here will use too)
NODE_IP=$("$RAY_PY" -c 'import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((sys.argv[1], int(sys.argv[2]))); print(s.getsockname()[0])' ${shellQuote(d.headIp)} ${d.gcsPort}) || fail "cannot tell this host's address towards ${d.headIp}"
${pickPorts()}RAY_ARGS=(start --block --disable-usage-stats --address=${shellQuote(`${d.headIp}:${d.gcsPort}`)}
  --node-ip-address="$NODE_IP" --temp-dir="$RAY_TEMP"
  --num-cpus=0 --num-gpus=0 --memory=0 --object-store-memory=${d.objectStoreBytes}
  --labels=ray-sge.io/driver-node="$(hostname | tr -c 'A-Za-z0-9_.\\n-' _)"
  ${NODE_PORT_FLAGS})
log "joining ${d.headIp}:${d.gcsPort} as driver node $INSTANCE ($NODE_IP), Ray's temp dir $RAY_TEMP"
${runRay()}trap 'stop_ray HUP' HUP
${WAIT_RAY}`;
}
