/**
 * The Ray node a batch job starts on each of its other hosts, through `qrsh -inherit HOST /bin/bash
 * JOB_DIR/node.sh HOST SLOTS HEAD_ADDRESS` (so it runs under that host's execd: qdel and the job's end
 * kill it). Pure renderer.
 *
 * Its stdin is a pipe from the job's master script, held open while the cluster should live: at EOF
 * (the master closed it, or died) the node stops its Ray gracefully, keeps Ray's logs and exits. Its
 * stdout (ray-sge's lines) goes back through qrsh to the job's stderr; `ray start`'s own output to
 * JOB_DIR/nodes/HOST.log.
 */
import { gpuGrantLines } from "../cluster/gpus.js";
import {
  dq,
  logFunctions,
  NODE_IP_LINES,
  NODE_PORT_FLAGS,
  pickPorts,
  privateDirLines,
  rayBinLines,
  saveRayLogs,
  setupLines,
} from "../cluster/script-parts.js";

export interface NodeScriptInput {
  rayExecutable: string;
  setupCommands: readonly string[];
  /** Further `ray start` flags from the config's worker start commands. */
  extraArgs: readonly string[];
  /** The GPU complex whose grant (SGE_HGR_<complex>) a node offers Ray, if any. */
  gpuComplex?: string;
  /** GPUs per slot asked with -l (a plain consumable): what a host offers when there is no RSMAP grant. */
  gpusPerSlot: number;
}

/** Runs with JOB_DIR set (the master writes it at the top of the file). */
export function renderNodeScript(i: NodeScriptInput): string {
  return `# Arguments: HOST (as in $PE_HOSTFILE) SLOTS HEAD_ADDRESS
set -uo pipefail
PE_HOST=$1; NODE_SLOTS=$2; HEAD_ADDR=$3
INSTANCE="$JOB_ID@$PE_HOST"
${logFunctions()}log "starting a Ray node with $NODE_SLOTS CPU(s) for batch job $JOB_ID"
${setupLines(i.setupCommands)}${rayBinLines(i.rayExecutable)}[ -r "$JOB_DIR/token" ] || fail "the job's token $JOB_DIR/token is not readable here: is $JOB_DIR on a filesystem shared with $(hostname)?"
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$JOB_DIR/token"
export RAY_CLOUD_INSTANCE_ID="$INSTANCE" RAY_NODE_TYPE_NAME=batch RAY_USAGE_STATS_ENABLED=0
export RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="\${RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S:-3}"
# a node whose head is gone ends 10 s after it (Ray's default waits 60 s for a lost GCS, holding the slots)
export RAY_gcs_rpc_server_reconnect_timeout_s="\${RAY_gcs_rpc_server_reconnect_timeout_s:-10}"
RSGE_NUM_GPUS=$((NODE_SLOTS * ${i.gpusPerSlot}))
${i.gpuComplex ? gpuGrantLines(i.gpuComplex) : ""}${NODE_IP_LINES}${privateDirLines(true)}${saveRayLogs('"$JOB_DIR/ray/$PE_HOST"')}
# this node starts while the head does: wait for its GCS (the master ends the job if it never answers);
# a master that ended the cluster meanwhile (EOF on stdin) means Ray is not started at all
until port_answers "\${HEAD_ADDR%:*}" "\${HEAD_ADDR##*:}"; do
  read -r -t 0.25 _; [ $? -eq 1 ] && { log "the job's master said stop before Ray started"; exit 0; }
done
read -r -t 0.01 _; [ $? -eq 1 ] && { log "the job's master said stop before Ray started"; exit 0; }
# ports are picked just before Ray binds them (a port free now may be taken seconds later)
${pickPorts()}RAY_ARGS=(start --block --disable-usage-stats --address="$HEAD_ADDR"
  --node-ip-address="$NODE_IP" --temp-dir="$RAY_TEMP" --num-cpus="$NODE_SLOTS" --num-gpus="$RSGE_NUM_GPUS"
  --labels=ray-sge.io/host="$PE_HOST"
  ${NODE_PORT_FLAGS}
  ${i.extraArgs.map(dq).join(" ")})
# Grid Engine signals the task's process group (qdel -notify, s_rt): Ray starts with them ignored and
# this shell stops it gracefully instead
trap '' USR1 USR2
"$RAY_BIN" "\${RAY_ARGS[@]}" </dev/null >> "$JOB_DIR/nodes/$PE_HOST.log" 2>&1 &
RAY_PID=$!
STOPPING=
stop_ray() { [ -n "$STOPPING" ] && return; STOPPING=$1; log "$1: stopping this node's Ray"; kill -TERM "$RAY_PID" 2>/dev/null; }
trap 'stop_ray "signal TERM"' TERM; trap 'stop_ray "signal USR1"' USR1; trap 'stop_ray "signal USR2"' USR2
log "joining $HEAD_ADDR from $NODE_IP (Ray's output: $JOB_DIR/nodes/$PE_HOST.log)"
# the master's pipe: EOF means the cluster ends
while kill -0 "$RAY_PID" 2>/dev/null; do
  read -r -t 1 _; r=$?
  [ "$r" -eq 0 ] || [ "$r" -gt 128 ] || { stop_ray "the job's master said stop"; break; }
done
while :; do
  wait "$RAY_PID"; rc=$?
  kill -0 "$RAY_PID" 2>/dev/null || break
done
[ -n "$STOPPING" ] && rc=0
log "Ray exited (code $rc)"
save_ray_logs
exit "$rc"
`;
}
