/**
 * `ray-sge doctor`: the user guide's troubleshooting section as checks, each with a fix. The checks
 * over Grid Engine's state are pure (`checkCluster`); the probes run real jobs (`probeRay`,
 * `probeNetwork`).
 */
import { join } from "node:path";
import { shellQuote } from "../base/shell.js";
import type { ClusterSpec } from "../config/normalise.js";
import type { Queue, SgeClient } from "../sge/client.js";
import type { QueueInstance } from "../sge/qconf.js";
import type { ExecHost } from "../sge/qhost.js";
import type { Check, ClusterFacts } from "./checks.js";
import { autoscalerCheck } from "./jobscript.js";

interface ProbeRun {
  jobId: number;
  output: string;
  /** Whether it ran at all (it has an accounting record): a job that never started says nothing of the network. */
  ran: boolean;
  exitStatus?: number;
  host?: string;
}

/**
 * Hosts a probe job can start on now, most free slots first: the queue's usable instances with a
 * free slot (a probe pinned to a full host waits in the queue, and proves nothing).
 */
export function probeHosts(queues: readonly Queue[], queue: string, hosts: readonly ExecHost[]): string[] {
  const reporting = new Set(hosts.filter((h) => h.reporting).map((h) => h.name));
  const free = (i: QueueInstance) => i.slotsTotal - i.slotsUsed - i.slotsReserved;
  return (queues.find((q) => q.name === queue)?.instances ?? [])
    .filter((i) => i.usable && free(i) > 0 && reporting.has(i.host))
    .sort((a, b) => free(b) - free(a) || a.host.localeCompare(b.host))
    .map((i) => i.host);
}

const notStarted = (name: string, jobs: ProbeRun[]): Check => ({
  name,
  status: "warn",
  detail: `probe job(s) ${jobs.map((j) => j.jobId).join(", ")} did not start within 120 s (busy hosts?): not probed`,
});

async function runProbeJob(
  sge: SgeClient,
  name: string,
  script: string,
  dir: string,
  opts: { queue?: string; extra?: Partial<Parameters<SgeClient["submit"]>[0]>; timeoutMs?: number },
): Promise<ProbeRun> {
  const out = join(dir, `${name}.$JOB_ID.out`);
  const { jobId } = await sge.submit({
    name,
    scriptText: script,
    shell: "/bin/bash",
    cwd: dir,
    stdoutPath: out,
    joinOutput: true,
    ...(opts.queue ? { queue: opts.queue } : {}),
    ...(opts.extra ?? {}),
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const since = Date.now() - 1000;
  try {
    while (Date.now() < deadline) {
      if ((await sge.listJobs({ jobIds: [jobId] })).length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await sge.deleteJobs([jobId]).catch(() => undefined);
  }
  const { readFile } = await import("node:fs/promises");
  const output = await readFile(out.replace("$JOB_ID", String(jobId)), "utf8").catch(() => "");
  const acct = await sge.accounting(jobId, { since, name }).catch(() => []);
  const r: ProbeRun = { jobId, output, ran: acct.length > 0 };
  if (acct[0]) {
    r.exitStatus = acct[0].exitStatus;
    r.host = acct[0].host;
  }
  return r;
}

/**
 * A job runs the worker's setup commands and `ray --version`: is Ray there on an execution host, with
 * ray[default] (grpcio and aiohttp: the head's Ray Client server, dashboard and Jobs API need them)?
 */
export async function probeRay(sge: SgeClient, spec: ClusterSpec, dir: string): Promise<Check> {
  const type = spec.workerTypes[0] ?? spec.head;
  const ray = shellQuote(spec.rayExecutable);
  const script = `${type.setupCommands.join("\n")}
${ray} --version
PY=$(sed -n '1s/^#![[:space:]]*//p' "$(command -v ${ray})" | cut -d' ' -f1)
"$PY" -c 'import grpc, aiohttp' 2>/dev/null && echo "RSGE: ray[default] OK" || echo "RSGE: ray[default] missing"
`;
  const r = await runProbeJob(
    sge,
    `rsge-${spec.name}-probe-ray`,
    script,
    dir,
    type.sge.queue ? { queue: type.sge.queue } : {},
  );
  const version = /ray, version (\S+)/.exec(r.output)?.[1];
  const name = "Ray on an execution host";
  if (!version)
    return {
      name,
      status: "fail",
      detail: `the probe job ${r.jobId}${r.host ? ` on ${r.host}` : ""} could not run ${spec.rayExecutable}: ${r.output.trim().split("\n").slice(-2).join(" | ") || "no output"}`,
      fix: "install Ray on the execution hosts, or activate its environment in setup_commands, or set ray.ray_executable",
    };
  if (!/RSGE: ray\[default\] OK/.test(r.output))
    return {
      name,
      status: "fail",
      detail: `ray ${version} on ${r.host ?? "?"} (job ${r.jobId}) lacks ray[default] (grpcio, aiohttp): the head's Ray Client server, dashboard and Jobs API cannot start`,
      fix: `pip install "ray[default]==${version}" in that environment (ray[data,tune] alone is not enough)`,
    };
  return { name, status: "ok", detail: `ray ${version} with ray[default] on ${r.host ?? "?"} (job ${r.jobId})` };
}

/**
 * Can the autoscaler run inside the head job? It needs node and the ray-sge CLI readable there, and
 * Grid Engine's commands answering (an execution host that is also a submit host). If not, `up` runs it
 * on the submit host instead: a warning, not a failure.
 */
export async function probeAutoscaler(
  sge: SgeClient,
  spec: ClusterSpec,
  dir: string,
  paths: { node: string; cli: string },
): Promise<Check> {
  const name = "autoscaler in the head job";
  if (spec.autoscaler.mode !== "head")
    return { name, status: "ok", detail: `not asked for (autoscaler.mode: ${spec.autoscaler.mode})` };
  // the very check the head job runs (jobscript.ts), so the probe tests the script that will run
  const script = `${autoscalerCheck(paths)}echo "RSGE: $RSGE_AUTOSCALER"\n`;
  const r = await runProbeJob(
    sge,
    `rsge-${spec.name}-probe-as`,
    script,
    dir,
    spec.head.sge.queue ? { queue: spec.head.sge.queue } : {},
  );
  const said = /RSGE: (.*)/.exec(r.output)?.[1];
  return said === "head"
    ? {
        name,
        status: "ok",
        detail: `node, the CLI and Grid Engine's commands work on ${r.host ?? "?"} (job ${r.jobId})`,
      }
    : {
        name,
        status: "warn",
        detail: `on ${r.host ?? "?"} (job ${r.jobId}): ${said ?? (r.output.trim().split("\n").at(-1) || "no output")}; \`up\` will run the autoscaler on this host instead`,
        fix: "install node and ray-sge on a filesystem the execution hosts share and make them submit hosts (qconf -as HOST), or set autoscaler.mode: local",
      };
}

/** A listener job on one host, a connecting job on another: can workers reach a port on the head's host? */
export async function probeNetwork(
  sge: SgeClient,
  spec: ClusterSpec,
  dir: string,
  facts: ClusterFacts,
): Promise<Check> {
  const queue = spec.head.sge.queue ?? "all.q";
  const usable = probeHosts(facts.queues, queue, facts.hosts);
  if (usable.length < 2)
    return {
      name: "network between hosts",
      status: "warn",
      detail: `fewer than 2 execution hosts with a free slot in ${queue}: not probed`,
    };
  const [a, b] = usable as [string, string];
  const port = join(dir, "probe-port");
  const py = `PY=$(sed -n '1s/^#![[:space:]]*//p' "$(command -v ${shellQuote(spec.rayExecutable)})" | cut -d' ' -f1); [ -x "$PY" ] || PY=python3`;
  const setup = spec.head.setupCommands.join("\n");
  const listener = `${setup}\n${py}\n"$PY" - ${shellQuote(port)} <<'EOF'
import socket, sys, os
s = socket.socket(); s.bind(("", 0)); s.listen(1); s.settimeout(90)
ip = socket.gethostbyname(socket.gethostname())
open(sys.argv[1] + ".tmp", "w").write("%s %d" % (ip, s.getsockname()[1])); os.replace(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = s.accept(); c.sendall(b"ray-sge"); c.close(); print("accepted")
EOF
`;
  const client = `${setup}\n${py}\nfor i in $(seq 90); do [ -s ${shellQuote(port)} ] && break; sleep 1; done
"$PY" - ${shellQuote(port)} <<'EOF'
import socket, sys
ip, port = open(sys.argv[1]).read().split()
print(socket.create_connection((ip, int(port)), 10).recv(16).decode(), "from", ip, port)
EOF
`;
  const { rm } = await import("node:fs/promises");
  await rm(port, { force: true });
  const [l, c] = await Promise.all([
    runProbeJob(sge, `rsge-${spec.name}-probe-listen`, listener, dir, { queue: `${queue}@${a}` }),
    runProbeJob(sge, `rsge-${spec.name}-probe-connect`, client, dir, { queue: `${queue}@${b}` }),
  ]);
  await rm(port, { force: true });
  if (!l.ran || !c.ran)
    return notStarted(
      "network between hosts",
      [l, c].filter((j) => !j.ran),
    );
  return /ray-sge from/.test(c.output) && /accepted/.test(l.output)
    ? { name: "network between hosts", status: "ok", detail: `a job on ${b} reached a free port of a job on ${a}` }
    : {
        name: "network between hosts",
        status: "fail",
        detail: `a job on ${b} could not reach a port on ${a}: ${c.output.trim().split("\n").at(-1) ?? "no output"}`,
        fix: "Ray needs TCP between execution hosts on any port (GCS, raylet, object manager): open them between the hosts",
      };
}

/**
 * A job on an execution host connects to a port of this host: can the cluster reach a driver node
 * here (`ray-sge env`)? Ray's nodes call a driver's host back (object transfers, health checks). A
 * warning only: `ray-sge submit` and `ray-sge env --client` need no connection that way.
 */
export async function probeSubmitHostReach(
  sge: SgeClient,
  spec: ClusterSpec,
  dir: string,
  facts: ClusterFacts,
): Promise<Check> {
  const name = "execution hosts reach this host";
  const queue = spec.head.sge.queue ?? "all.q";
  const target = probeHosts(facts.queues, queue, facts.hosts)[0];
  if (!target) return { name, status: "warn", detail: `no execution host with a free slot in ${queue}: not probed` };
  const { lookup } = await import("node:dns/promises");
  const { createServer } = await import("node:net");
  const { localAddressTowards } = await import("./driver-node.js");
  const local = await localAddressTowards((await lookup(target, { family: 4 })).address, 9);
  let accepted = false;
  const server = createServer((sock) => {
    accepted = true;
    sock.end("ray-sge");
  });
  await new Promise<void>((r) => server.listen(0, local, r));
  const port = (server.address() as { port: number }).port;
  const py = `PY=$(sed -n '1s/^#![[:space:]]*//p' "$(command -v ${shellQuote(spec.rayExecutable)})" | cut -d' ' -f1); [ -x "$PY" ] || PY=python3`;
  const script = `${spec.head.setupCommands.join("\n")}\n${py}\n"$PY" -c 'import socket,sys; print(socket.create_connection((sys.argv[1], int(sys.argv[2])), 10).recv(16).decode(), "reached")' ${local} ${port}\n`;
  try {
    const r = await runProbeJob(sge, `rsge-${spec.name}-probe-back`, script, dir, {
      queue: `${queue}@${target}`,
    });
    if (!r.ran) return notStarted(name, [r]);
    return /ray-sge reached/.test(r.output) && accepted
      ? {
          name,
          status: "ok",
          detail: `a job on ${target} reached ${local}:${port} here (drivers here can use a driver node)`,
        }
      : {
          name,
          status: "warn",
          detail: `a job on ${target} could not reach ${local}:${port} here: ${r.output.trim().split("\n").at(-1) ?? "no output"}`,
          fix: "drivers here need TCP from the execution hosts to this host (ray-sge env starts a Ray node here); else use ray-sge submit, or ray-sge env --client",
        };
  } finally {
    server.close();
  }
}
