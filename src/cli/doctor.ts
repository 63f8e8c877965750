/** `ray-sge doctor [CONFIG]`: the checks `up` runs, all of them, plus probe jobs; exit 1 on a failure. */
import { checkCluster, gatherFacts } from "../cluster/checks.js";
import { probeAutoscaler, probeNetwork, probeRay, probeSubmitHostReach } from "../cluster/doctor.js";
import { CLI_PATH } from "../cluster/requests.js";
import { StateDir } from "../cluster/state-dir.js";
import { SgeClient } from "../sge/client.js";
import { progress, specFrom } from "./common.js";

export async function doctorCommand(
  config: string | undefined,
  opts: { json?: boolean; probes?: boolean },
): Promise<number> {
  const sge = new SgeClient();
  const spec = config ? (await specFrom(config)).spec : undefined;
  const facts = await gatherFacts(sge);
  const checks = checkCluster(facts, spec);
  if (spec && opts.probes !== false) {
    // the probe jobs write their output into the cluster's log dir
    const state = new StateDir(spec.stateDir);
    await state.ensure();
    progress(
      "probing: a job checks Ray on an execution host, two jobs check the network between hosts, one the way back to this host, one the autoscaler's needs",
    );
    const [ray, net, back, auto] = await Promise.all([
      probeRay(sge, spec, state.logDir),
      probeNetwork(sge, spec, state.logDir, facts),
      probeSubmitHostReach(sge, spec, state.logDir, facts),
      probeAutoscaler(sge, spec, state.logDir, { node: process.execPath, cli: CLI_PATH }),
    ]);
    checks.push(ray, net, back, auto);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  else {
    const mark = { ok: "ok  ", warn: "WARN", fail: "FAIL" } as const;
    for (const c of checks) {
      process.stdout.write(`${mark[c.status]} ${c.name}: ${c.detail}\n`);
      if (c.fix) process.stdout.write(`     fix: ${c.fix}\n`);
    }
  }
  return checks.some((c) => c.status === "fail") ? 1 : 0;
}
