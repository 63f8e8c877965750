/**
 * The job script of a batch job: a whole Ray cluster inside one parallel Grid Engine job, then the
 * user's driver on it. Pure renderer; `ray-sge batch` submits it, `ray-sge script` prints it.
 *
 * On the master host: the head (this host's granted slots as CPUs). On every other granted host: one
 * `qrsh -inherit` running node.sh (node-script.ts), fed by a pipe this script holds open. A bounded
 * wait until every host's node is ALIVE in the GCS (a host that fails or does not join is named and
 * ends the job), then the driver, with RAY_ADDRESS and the token. The driver's end, a failed node or
 * head, qdel (-notify), s_rt and SIGTERM all end the cluster the same way: driver stopped (TERM, then
 * KILL after a grace), pipes closed (each node stops its Ray and keeps its logs), head stopped, the
 * exit code written to JOB_DIR/exit_code. Grid Engine's 99 (reschedule) and 100 (error state) are
 * never passed on raw.
 */
import { shellQuote } from "../base/shell.js";
import { gpuGrantLines } from "../cluster/gpus.js";
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
} from "../cluster/script-parts.js";
import { EXIT_FILE, mappedExitCode } from "./exit.js";
import { type NodeScriptInput, renderNodeScript } from "./node-script.js";

export interface BatchScriptInput {
  cluster: string;
  version: string;
  /** `#$` lines (request.ts directiveLines), so that the file can be submitted with plain qsub. */
  directives: string;
  /** The log root as bash sees it ("$HOME/.ray-sge/batch" or an absolute path). */
  logRoot: string;
  command: readonly string[];
  joinTimeoutSeconds: number;
  /** Start Ray's dashboard on the head (about 4 s of the head's start on a 2-core host, measured). */
  dashboard: boolean;
  head: { setupCommands: readonly string[]; extraArgs: readonly string[] };
  node: NodeScriptInput;
  /** Seconds the driver has after SIGTERM before SIGKILL. */
  driverGraceSeconds: number;
}

/** The waiter: every expected instance ALIVE in the GCS, each announced as it joins; exit 3 naming the rest. */
const WAIT_NODES = `import sys, time
from ray._raylet import GcsClient
prefix, addr, timeout, want = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
client = GcsClient(address=addr)
deadline, seen = time.time() + timeout, set()
while True:
    try:
        alive = {n.instance_id for n in client.get_all_node_info(timeout=5).values() if n.state == 0}
    except Exception:
        alive = set()
    for w in want:
        if w in alive and w not in seen:
            seen.add(w)
            print("[ray-sge %s %s] the Ray node on %s joined (%d/%d)" % (time.strftime("%H:%M:%S"), prefix,
                  w.split("@", 1)[-1], len(seen), len(want)), file=sys.stderr, flush=True)
    if len(seen) == len(want):
        sys.exit(0)
    if time.time() > deadline:
        print(" ".join(w.split("@", 1)[-1] for w in want if w not in seen))
        sys.exit(3)
    time.sleep(0.2)
`;

export function renderBatchScript(i: BatchScriptInput): string {
  const driver = i.command.map(shellQuote).join(" ");
  return `#!/bin/bash
# A Ray cluster inside one Grid Engine job, then a driver on it: ray-sge batch (config ${i.cluster}),
# written by ray-sge ${i.version}. Submit it with qsub; edit the #$ lines as you like (the PE must
# have control_slaves TRUE: Ray starts on the other hosts with qrsh -inherit).
${i.directives}set -uo pipefail
# stdout is the driver's alone: everything else (setup commands' output included) goes to stderr
exec {DRIVER_OUT}>&1 >&2
LOG_ROOT=${i.logRoot.replace(/^\$HOME/, '"$HOME"')}
JOB_DIR="$LOG_ROOT/$JOB_ID"
INSTANCE="$JOB_ID"
${logFunctions({ stderr: true })}# the driver (its words as given; edit them here): it runs on the head's host once every node joined
DRIVER=(${driver})
[ -n "\${PE_HOSTFILE:-}" ] && [ -r "$PE_HOSTFILE" ] || fail "not a parallel job: submit it with -pe PE SLOTS"
# this job's files: exit code, Ray's logs per host, token (0700; a job id Grid Engine used before moves aside)
mkdir -p -m 700 "$LOG_ROOT" || fail "cannot create $LOG_ROOT"
[ -e "$JOB_DIR" ] && mv "$JOB_DIR" "$JOB_DIR.before.$(date +%s)"
mkdir -m 700 "$JOB_DIR" && mkdir -m 700 "$JOB_DIR/nodes" "$JOB_DIR/ray" || fail "cannot create $JOB_DIR"
T0=$SECONDS
log "batch job $JOB_ID on $HOST: files in $JOB_DIR"
${setupLines(i.head.setupCommands)}${rayBinLines(i.node.rayExecutable)}${NODE_IP_LINES}${privateDirLines(true)}${saveRayLogs('"$JOB_DIR/ray/$MASTER"')}
# the cluster's token, made here and kept in the 0700 job dir (never in argv or the environment list)
(umask 077; "$RAY_PY" -c 'import secrets; print(secrets.token_hex(32))' > "$JOB_DIR/token") || fail "cannot write $JOB_DIR/token"
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$JOB_DIR/token" RAY_USAGE_STATS_ENABLED=0
export RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="\${RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S:-3}"
${hostLines()}${headLines(i)}${nodeLines(i)}${endLines(i)}${headWaitLines()}${waitLines(i)}
# the driver, on the head's host, with the cluster's address and token
export RAY_ADDRESS="$HEAD_ADDR"
log "cluster up in $((SECONDS - T0)) s: $((\${#HOSTS[@]})) host(s), $TOTAL_SLOTS CPU(s); driver: \${DRIVER[*]}"
# (a trapped signal is reset in a child: the driver gets USR1/USR2 ignored again, and TERM from here)
(trap '' USR1 USR2; close_ctl; exec "\${DRIVER[@]}" </dev/null >&"$DRIVER_OUT") &
DRIVER_PID=$!
while :; do
  if [ -n "$STOP_SIGNAL" ]; then end_cluster "" "signal $STOP_SIGNAL"; fi
  if ! kill -0 "$DRIVER_PID" 2>/dev/null; then
    wait "$DRIVER_PID"; rc=$?; DRIVER_PID=
    end_cluster "$rc" "the driver exited with code $rc"
  fi
  check_nodes "while the driver ran"
  sleep 0.2
done
`;
}

/** HOSTS (unique, master first), SLOTS_OF, MASTER: from $PE_HOSTFILE (a host may have a line per queue). */
function hostLines(): string {
  return `
# the hosts and slots Grid Engine granted ($PE_HOSTFILE: host slots queue processors, a line per queue)
declare -A SLOTS_OF=(); HOSTS=(); MASTER=; TOTAL_SLOTS=0
while read -r h s _; do
  [ -n "$h" ] || continue
  [ -n "\${SLOTS_OF[$h]:-}" ] || { HOSTS+=("$h"); SLOTS_OF[$h]=0; }
  SLOTS_OF[$h]=$((SLOTS_OF[$h] + s)); TOTAL_SLOTS=$((TOTAL_SLOTS + s))
  { [ "$h" = "$HOST" ] || [ "\${h%%.*}" = "\${HOST%%.*}" ]; } && MASTER=$h
done < "$PE_HOSTFILE"
[ -n "$MASTER" ] || MASTER=\${HOSTS[0]}
OTHERS=(); for h in "\${HOSTS[@]}"; do [ "$h" = "$MASTER" ] || OTHERS+=("$h"); done
granted=; for h in "\${HOSTS[@]}"; do granted="$granted $h:\${SLOTS_OF[$h]}"; done
log "granted:$granted (head on $MASTER)"
`;
}

function headLines(i: BatchScriptInput): string {
  return `
${pickPorts(HEAD_PORTS)}# the dashboard (token-protected, on this host's address) when asked for (--dashboard) and Ray here has
# it (ray[default]); off, the head starts about 4 s sooner (measured on the testbed)
if ${i.dashboard ? "" : "false && "}"$RAY_PY" -c 'import aiohttp, grpc' 2>/dev/null; then
  DASH=(--include-dashboard=true --dashboard-host="$NODE_IP" --dashboard-port="$PORT_dashboard")
else
  DASH=(--include-dashboard=false)${i.dashboard ? '; log "no dashboard: Ray here lacks ray[default]"' : ""}
fi
# Ray Client's server (started when Ray here has it) on a free port, not its fixed 10001
"$RAY_PY" -c 'import grpc' 2>/dev/null && DASH+=(--ray-client-server-port="$PORT_client")
# Grid Engine signals the whole process group (qdel -notify: USR2, s_rt: USR1): Ray and the driver
# start with them ignored; this shell ends the cluster in order instead
trap '' USR1 USR2
RSGE_NUM_GPUS=$((SLOTS_OF[$MASTER] * ${i.node.gpusPerSlot}))
${i.node.gpuComplex ? gpuGrantLines(i.node.gpuComplex) : ""}export RAY_CLOUD_INSTANCE_ID="$JOB_ID@$MASTER" RAY_NODE_TYPE_NAME=batch
RAY_ARGS=(start --head --block --disable-usage-stats --node-ip-address="$NODE_IP" --port="$PORT_gcs"
  --temp-dir="$RAY_TEMP" --num-cpus="\${SLOTS_OF[$MASTER]}" --num-gpus="$RSGE_NUM_GPUS"
  --labels=ray-sge.io/host="$MASTER" "\${DASH[@]}"
  ${NODE_PORT_FLAGS}
  ${i.head.extraArgs.map(dq).join(" ")})
"$RAY_BIN" "\${RAY_ARGS[@]}" </dev/null >> "$JOB_DIR/nodes/$MASTER.log" 2>&1 &
HEAD_PID=$!
unset RAY_CLOUD_INSTANCE_ID RAY_NODE_TYPE_NAME
HEAD_ADDR="$NODE_IP:$PORT_gcs"
STOP_SIGNAL=; DRIVER_PID=; WAITER_PID=
trap 'STOP_SIGNAL=TERM' TERM; trap 'STOP_SIGNAL=USR1' USR1; trap 'STOP_SIGNAL=USR2' USR2
`;
}

function nodeLines(i: BatchScriptInput): string {
  return `
# node.sh, for the other hosts (on the shared filesystem, where qrsh -inherit finds it)
{ printf 'JOB_DIR=%q\\n' "$JOB_DIR"; cat <<'RSGE_NODE_SCRIPT'
${renderNodeScript(i.node)}RSGE_NODE_SCRIPT
} > "$JOB_DIR/node.sh" || fail "cannot write $JOB_DIR/node.sh"
if [ \${#OTHERS[@]} -gt 0 ]; then
  QRSH=$(command -v qrsh || echo "\${SGE_ROOT:-/nonexistent}/bin/\${SGE_ARCH:-lx-amd64}/qrsh")
  [ -x "$QRSH" ] || fail "qrsh is not on PATH on $HOST (needed to start Ray on \${OTHERS[*]}): add Grid Engine's bin directory to PATH in setup_commands"
fi
# one qrsh -inherit per other host, its stdin a pipe held open here: closing it stops that node. Only
# this shell may hold the pipes' write ends (else a node never sees EOF): children close them first
QRSH_PIDS=(); CTL_FDS=()
close_ctl() { local fd; for fd in \${CTL_FDS[@]+"\${CTL_FDS[@]}"}; do exec {fd}>&-; done; }
for k in "\${!OTHERS[@]}"; do
  h=\${OTHERS[$k]}
  mkfifo "$RSGE_PRIVATE/ctl.$k" || fail "cannot create a pipe in $RSGE_PRIVATE"
  (close_ctl; exec "$QRSH" -inherit "$h" /bin/bash "$JOB_DIR/node.sh" "$h" "\${SLOTS_OF[$h]}" "$HEAD_ADDR") < "$RSGE_PRIVATE/ctl.$k" >&2 &
  QRSH_PIDS[$k]=$!
  exec {fd}> "$RSGE_PRIVATE/ctl.$k"; CTL_FDS[$k]=$fd
done
`;
}

function endLines(i: BatchScriptInput): string {
  return `
# end_cluster DRIVER_CODE WHY: stop the driver (if it runs), every node, the head; write the exit code
end_cluster() {
  local code=$1 why=$2 k waited
  trap '' TERM USR1 USR2
  log "ending the cluster: $why"
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null
    for _ in $(seq 1 $((${i.driverGraceSeconds} * 5))); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DRIVER_PID" 2>/dev/null
    wait "$DRIVER_PID"; local drc=$?
    [ -n "$code" ] || code=$drc
    log "the driver was stopped (exit code $drc)"
  fi
  [ -n "$WAITER_PID" ] && kill "$WAITER_PID" 2>/dev/null
  close_ctl
  kill -TERM "$HEAD_PID" 2>/dev/null
  # a graceful stop takes Ray 1-5 s; a head or node still starting may not heed TERM: after 15 s what
  # is left is killed (the job's end would kill it anyway, and no Ray process may outlive the job)
  local left
  for waited in $(seq 1 75); do
    left=
    for k in "\${!QRSH_PIDS[@]}"; do kill -0 "\${QRSH_PIDS[$k]}" 2>/dev/null && left="$left \${QRSH_PIDS[$k]}"; done
    kill -0 "$HEAD_PID" 2>/dev/null && left="$left $HEAD_PID"
    [ -z "$left" ] && break
    sleep 0.2
  done
  if [ -n "$left" ]; then
    log "still running after 15 s, killed:$left"
    for k in $left; do kill -KILL "$k" 2>/dev/null; done
  fi
  save_ray_logs
  [ -n "$code" ] || code=1
  local job; job=$(${mappedExitCode()})
  [ "$job" = "$code" ] || log "the driver's exit code $code would make Grid Engine $( [ "$code" = 99 ] && echo reschedule || echo 'put the job in error state' ) it: the job exits $job instead ($JOB_DIR/${EXIT_FILE} has $code)"
  printf '{"driver_exit_code": %s, "job_exit_code": %s, "why": "%s", "seconds": %s}\\n' "$code" "$job" "\${why//\\"/\\'}" "$((SECONDS - T0))" > "$JOB_DIR/${EXIT_FILE}"
  log "done in $((SECONDS - T0)) s: exit code $job"
  exit "$job"
}
# check_nodes WHEN: a node or the head that exited ends the cluster (naming its host)
check_nodes() {
  local k h rc
  kill -0 "$HEAD_PID" 2>/dev/null || { wait "$HEAD_PID"; rc=$?; end_cluster 1 "the head on $MASTER exited (code $rc) $1; its output: $JOB_DIR/nodes/$MASTER.log"; }
  for k in "\${!QRSH_PIDS[@]}"; do
    kill -0 "\${QRSH_PIDS[$k]}" 2>/dev/null && continue
    h=\${OTHERS[$k]}; wait "\${QRSH_PIDS[$k]}"; rc=$?
    local out="$JOB_DIR/nodes/$h.log"; [ -s "$out" ] || out="the lines of $h above"
    end_cluster 1 "the Ray node on $h exited (code $rc) $1; its output: $out"
  done
}
`;
}

/** Until the head's GCS answers (the other hosts' nodes start meanwhile, and wait for it themselves). */
function headWaitLines(): string {
  return `
HEAD_OK=
for _ in $(seq 1 240); do
  kill -0 "$HEAD_PID" 2>/dev/null || { wait "$HEAD_PID"; end_cluster 1 "ray start --head exited with code $? before its GCS answered; its output: $(tail -n 5 "$JOB_DIR/nodes/$MASTER.log" | tr '\\n' ' ')"; }
  port_answers "$NODE_IP" "$PORT_gcs" && { HEAD_OK=1; break; }
  [ -n "$STOP_SIGNAL" ] && break
  sleep 0.25
done
[ -n "$HEAD_OK" ] || [ -n "$STOP_SIGNAL" ] || end_cluster 1 "the head's GCS did not answer within 60 s; its output: $JOB_DIR/nodes/$MASTER.log"
printf '{"job_id": "%s", "host": "%s", "ip": "%s", "gcs_port": %s, "dashboard_port": %s}\\n' \\
  "$JOB_ID" "$MASTER" "$NODE_IP" "$PORT_gcs" "$PORT_dashboard" > "$JOB_DIR/head.json"
log "head up on $MASTER: GCS $HEAD_ADDR$( [ "\${DASH[0]}" = --include-dashboard=true ] && echo ", dashboard http://$NODE_IP:$PORT_dashboard (token: $JOB_DIR/token)")"
`;
}

function waitLines(i: BatchScriptInput): string {
  return `
# a bounded wait until every host's node is ALIVE in the GCS
WANT=(); for h in "\${HOSTS[@]}"; do WANT+=("$JOB_ID@$h"); done
(close_ctl; exec "$RAY_PY" - "$HOST $INSTANCE" "$HEAD_ADDR" ${i.joinTimeoutSeconds} "\${WANT[@]}" > "$RSGE_PRIVATE/missing") <<'RSGE_WAIT' &
${WAIT_NODES}RSGE_WAIT
WAITER_PID=$!
while kill -0 "$WAITER_PID" 2>/dev/null; do
  [ -n "$STOP_SIGNAL" ] && { kill "$WAITER_PID" 2>/dev/null; end_cluster "" "signal $STOP_SIGNAL before the driver started"; }
  check_nodes "before it joined"
  sleep 0.2
done
wait "$WAITER_PID" || end_cluster 1 "Ray node(s) on $(cat "$RSGE_PRIVATE/missing") did not join within ${i.joinTimeoutSeconds} s; their output: $JOB_DIR/nodes/"
`;
}
