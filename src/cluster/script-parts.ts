/**
 * Bash fragments every Ray job script is made of: the cluster's node jobs (jobscript.ts) and the
 * one-job clusters of batch mode (src/batch). Pure renderers; the text they return is bash that
 * expects `log` and `fail` (logFunctions) to be defined before it.
 */
import { shellQuote } from "../base/shell.js";

/** HOST, and `log`/`fail`, which print `[ray-sge TIME HOST INSTANCE] ...` (to stderr when asked). */
export function logFunctions(opts: { stderr?: boolean } = {}): string {
  return `# no command substitution in log: it runs in signal traps, where bash 5.2 fails to parse one while the
# shell waits ("unexpected EOF while looking for matching )", measured in a job at qdel -notify)
HOST=$(hostname)
log() { printf '[ray-sge %(%T)T %s %s] %s\\n' -1 "$HOST" "$INSTANCE" "$*"${opts.stderr ? " >&2" : ""}; }
fail() { log "ERROR: $*"; exit 1; }
`;
}

/** A job script's own last words for why it stopped (the text of its last `fail` line), if any. */
export function lastScriptError(log: string): string | undefined {
  return log
    .split("\n")
    .filter((l) => l.includes("] ERROR: "))
    .at(-1)
    ?.replace(/^.*\] ERROR: /, "");
}

/** The user's setup commands, each in a group whose failure ends the script with a clear line. */
export function setupLines(commands: readonly string[]): string {
  const n = commands.length;
  return commands
    .map(
      (c, k) => `log ${shellQuote(`setup ${k + 1}/${n}: ${c}`)}
{
${c}
} || fail ${shellQuote(`setup command ${k + 1}/${n} failed: ${c}`)}" (exit $?)"
`,
    )
    .join("");
}

/** RAY_BIN (the ray executable found on PATH) and RAY_PY (its interpreter, for ports and JSON). */
export function rayBinLines(rayExecutable: string): string {
  return `RAY_BIN=$(command -v ${shellQuote(rayExecutable)}) || fail ${shellQuote(`${rayExecutable} is not on PATH here: install Ray on the execution hosts, or set ray.ray_executable, or activate its environment in setup_commands`)}
# Ray's own interpreter (the ray script's #! line) picks ports and reads JSON: no other dependency
RAY_PY=$(sed -n '1s/^#![[:space:]]*//p' "$RAY_BIN" | cut -d' ' -f1)
[ -x "$RAY_PY" ] || RAY_PY=$(command -v python3) || fail "no Python found next to $RAY_BIN"
`;
}

/** NODE_IP: the address other hosts reach this one at. */
export const NODE_IP_LINES = `# the address other hosts reach this one at: what Grid Engine resolves the host name to. IPv4 only:
# \`getent hosts\` asks for IPv6 first, which costs a DNS timeout where no AAAA record exists (10 s, measured)
NODE_IP=$(getent ahostsv4 "$(hostname)" | awk 'NR==1{print $1}')
case "$NODE_IP" in ""|127.*) NODE_IP=$(hostname -I 2>/dev/null | awk '{print $1}');; esac
[ -n "$NODE_IP" ] || fail "cannot tell this host's IP address"
`;

/** $TMP longer than this is not used: Ray's longest socket path is its temp dir ($TMP/p/ray) + ~69 bytes, of 107. */
export const MAX_TMP_LENGTH = 32;

/**
 * RSGE_PRIVATE (0700, ours), RAY_TEMP inside it, TMPDIR inside it; and free_ports N. `useJobTmp`:
 * in Grid Engine's per-job $TMP when it can be, else (and always when false) a fresh dir under /tmp
 * removed when the script exits.
 */
export function privateDirLines(useJobTmp: boolean): string {
  return `# Ray makes every directory it creates world-writable (0777): its temp dir (sessions, logs, sockets,
# runtime_resources) goes inside a 0700 directory of ours that Ray never touches, so no other user can
# reach anything below it. In SGE's per-job $TMP when it is ours and short enough (unix socket paths
# must stay under 107 bytes: Ray adds up to ~70), else a fresh private one under /tmp.
RSGE_PRIVATE=
if ${useJobTmp ? "" : "false && "}[ -n "\${TMP:-}" ] && [ -d "$TMP" ] && [ -O "$TMP" ] && [ \${#TMP} -le ${MAX_TMP_LENGTH} ]; then
  RSGE_PRIVATE="$TMP/p"; mkdir -p -m 700 "$RSGE_PRIVATE" || fail "cannot create $RSGE_PRIVATE"
else
  RSGE_PRIVATE=$(mktemp -d /tmp/rsge.XXXXXX) || fail "cannot create a private directory under /tmp"
  trap 'rm -rf "$RSGE_PRIVATE"' EXIT
fi
chmod 700 "$RSGE_PRIVATE" && [ -O "$RSGE_PRIVATE" ] || fail "$RSGE_PRIVATE is not a private directory of $(id -un)"
RAY_TEMP="$RSGE_PRIVATE/ray"
# what the driver and tasks write with Python's tempfile (or any TMPDIR user) stays private too
export TMPDIR="$RSGE_PRIVATE/tmp"
mkdir -p "$RAY_TEMP" "$TMPDIR" || fail "cannot create $RAY_TEMP"
# free ports on this host (several clusters and users may share it). Ray's workers bind ports the OS
# picks (--min-worker-port=0 --max-worker-port=0): from Ray's default range (10002-19999) each raylet
# hands out ports without looking, so two clusters on one host collide (measured: a driver died of it)
# Ours come from below the kernel's ephemeral range (where the OS picks ports for Ray's workers and
# every client) and above Ray's default worker range, so the OS does not hand a port chosen here to
# another socket before Ray binds it (measured: a raylet died of "Address already in use" on a port
# picked with bind(0)); another job's own pick in the same second can still take it. A range too
# small (ip_local_port_range starting near 20000) falls back to ports the OS picks.
free_ports() { "$RAY_PY" -c 'import random,socket,sys
n=int(sys.argv[1]); lo=20000
try: hi=int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception: hi=32768
pool=range(lo, max(lo, hi)); ss=[]
for p in random.sample(pool, min(len(pool), 400)):
    s=socket.socket()
    try: s.bind(("", p))
    except OSError: s.close(); continue
    ss.append(s)
    if len(ss) == n: break
while len(ss) < n:
    s=socket.socket(); s.bind(("", 0)); ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
# port_answers HOST PORT: does something accept connections there (a GCS that is up)?
port_answers() { "$RAY_PY" -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' "$1" "$2" 2>/dev/null; }
`;
}

/** The ports every Ray node binds: picked by free_ports (pickPorts), passed by NODE_PORT_FLAGS. */
const NODE_PORTS = ["agent_listen", "agent_grpc", "runtime_env", "metrics", "node_manager", "object_manager"];
/** A head's: the GCS, dashboard and Ray Client servers, then a node's. */
export const HEAD_PORTS = ["gcs", "dashboard", "client", ...NODE_PORTS];

/** Bash: PORT_<name> for each name, picked free on this host. */
export function pickPorts(names: readonly string[] = NODE_PORTS): string {
  return `read -r ${names.map((p) => `PORT_${p}`).join(" ")} < <(free_ports ${names.length}) || fail "cannot pick free ports"\n`;
}

/** The \`ray start\` flags for a node's own ports (PORT_* from pickPorts); Ray's workers' are the OS's. */
export const NODE_PORT_FLAGS = `--dashboard-agent-listen-port="$PORT_agent_listen" --dashboard-agent-grpc-port="$PORT_agent_grpc"
  --runtime-env-agent-port="$PORT_runtime_env" --metrics-export-port="$PORT_metrics"
  --node-manager-port="$PORT_node_manager" --object-manager-port="$PORT_object_manager" --min-worker-port=0 --max-worker-port=0`;

/** Bytes of Ray's own logs kept per node in the log dir when its job ends (newest first). */
export const KEPT_RAY_LOG_BYTES = 64 * 1024 ** 2;

/**
 * save_ray_logs: when Ray has exited (by itself, or stopped by a signal: qdel with -notify, s_rt,
 * down), copy its logs from the job's private temp dir, which execd deletes with the job, to `dst`
 * (a bash word, e.g. "$STATE_DIR/logs/ray/$INSTANCE"): newest files first, at most
 * KEPT_RAY_LOG_BYTES, a file that does not fit whole keeps its end.
 */
export function saveRayLogs(dst: string): string {
  return `save_ray_logs() {
  local src="$RAY_TEMP/session_latest/logs" dst=${dst}
  [ -d "$src" ] || return 0
  "$RAY_PY" - "$src" "$dst" ${KEPT_RAY_LOG_BYTES} <<'SAVE' && log "Ray's logs kept in $dst" || log "could not keep Ray's logs in $dst"
import os, sys
src, dst, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = []
for root, _, names in os.walk(src):
    for n in names:
        p = os.path.join(root, n)
        try:
            st = os.stat(p)
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, p))
os.makedirs(dst, mode=0o700, exist_ok=True)
for _, size, p in sorted(files, reverse=True):
    if budget <= 0:
        break
    out = os.path.join(dst, os.path.relpath(p, src))
    os.makedirs(os.path.dirname(out), mode=0o700, exist_ok=True)
    with open(p, "rb") as f, open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as o:
        if size > budget:
            f.seek(size - budget)
        data = f.read(budget)
        o.write(data)
        budget -= len(data)
SAVE
}
`;
}

/** Double-quote a resource flag: it may refer to $NSLOTS or $RSGE_NUM_GPUS; everything else is escaped. */
export function dq(word: string): string {
  const m = /\$\{(NSLOTS|RSGE_NUM_GPUS):-/.exec(word);
  const i = m ? m.index : -1;
  const esc = (s: string) => s.replace(/(["\\$`])/g, "\\$1");
  if (i < 0) return `"${esc(word)}"`;
  const end = word.indexOf("}", i);
  return `"${esc(word.slice(0, i))}${word.slice(i, end + 1)}${esc(word.slice(end + 1))}"`;
}
