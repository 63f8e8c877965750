/**
 * What the guide's command lines and qsub options say: `*_start_ray_commands` read for intent (extra
 * `ray start` options kept, the naive parts dropped with a warning) and `qsub_options` split into
 * `-l` requests and the rest. Pure.
 */

import { FieldError } from "./field-error.js";
import { shellWords } from "./shell-words.js";

const OURS = new Set([
  "--head",
  "--block",
  "--address",
  "--temp-dir",
  "--node-ip-address",
  "--num-cpus",
  "--memory",
  "--num-gpus",
  "--resources",
  "--labels",
]);
const PORT_FLAGS = new Set([
  "--port",
  "--dashboard-port",
  "--ray-client-server-port",
  "--node-manager-port",
  "--object-manager-port",
  "--dashboard-agent-listen-port",
  "--dashboard-agent-grpc-port",
  "--runtime-env-agent-port",
  "--metrics-export-port",
]);

function splitFlag(word: string, next: string | undefined): { flag: string; value?: string; consumed: number } {
  const eq = word.indexOf("=");
  if (eq > 0) return { flag: word.slice(0, eq), value: word.slice(eq + 1), consumed: 1 };
  if (next !== undefined && !next.startsWith("--")) return { flag: word, value: next, consumed: 2 };
  return { flag: word, consumed: 1 };
}

/** Keep the intent of `*_start_ray_commands`, drop what ray-sge does itself or does better. */
export function startCommands(
  field: string,
  commands: readonly string[],
  warnings: string[],
): { rayStartArgs: string[]; setupCommands: string[] } {
  const rayStartArgs: string[] = [];
  const setupCommands: string[] = [];
  commands.forEach((command, i) => {
    const where = `${field}[${i}]`;
    const trimmed = command.trim();
    if (/^ray\s+stop\b/.test(trimmed)) {
      warnings.push(
        `${where}: "ray stop" is dropped: it stops every Ray on the host, other users' and other clusters' too. ray-sge stops only this job's Ray when the job ends.`,
      );
      return;
    }
    if (/^sleep\s+\d+/.test(trimmed)) {
      warnings.push(
        `${where}: "${trimmed}" is dropped: workers wait for the head's published address instead of a fixed delay.`,
      );
      return;
    }
    if (!/^ray\s+start\b/.test(trimmed)) {
      setupCommands.push(command);
      return;
    }
    let words: string[];
    try {
      words = shellWords(trimmed, { keepDollar: true }).slice(2);
    } catch (e) {
      warnings.push(`${where}: cannot read this ray start line (${(e as Error).message}); its options are ignored.`);
      return;
    }
    for (let k = 0; k < words.length; ) {
      const { flag, value, consumed } = splitFlag(words[k] as string, words[k + 1]);
      k += consumed;
      if (flag === "--dashboard-host") {
        if (value !== "127.0.0.1" && value !== "localhost") {
          warnings.push(
            `${where}: --dashboard-host=${value} is not used: the dashboard listens on the head's own address, never on every interface, and answers only with the cluster's token (anyone on the network could otherwise run code on the cluster); \`ray-sge dashboard NAME\` says how to open it.`,
          );
        }
      } else if (PORT_FLAGS.has(flag)) {
        warnings.push(
          `${where}: ${flag}=${value} is not used: fixed ports collide when several users or clusters share a host, so ray-sge picks free ports on the host and publishes them${flag === "--port" ? " (pin the GCS port with ray.gcs_port if you must)" : ""}.`,
        );
      } else if (flag === "--autoscaling-config") {
        warnings.push(`${where}: --autoscaling-config is not used: ray-sge runs its own autoscaler from this config.`);
      } else if (flag === "--address") {
        warnings.push(
          `${where}: --address is not used: workers read the head's address from the cluster's state directory.`,
        );
      } else if (flag === "--head" || flag === "--block") {
        // what these ask for is what ray-sge does anyway: nothing to say
      } else if (OURS.has(flag)) {
        warnings.push(
          `${where}: ${flag} is set by ray-sge (from the node type's resources, or per job) and is ignored here.`,
        );
      } else {
        rayStartArgs.push(value === undefined ? flag : `${flag}=${value}`);
      }
    }
  });
  return { rayStartArgs, setupCommands };
}

/** -l requests out of qsub_options (name=value, comma lists), and the rest as native arguments. */
export function qsubOptions(
  field: string,
  text: string | undefined,
): { resources: Record<string, string>; nativeArgs: string[] } {
  const resources: Record<string, string> = {};
  const nativeArgs: string[] = [];
  if (!text) return { resources, nativeArgs };
  let words: string[];
  try {
    words = shellWords(text);
  } catch (e) {
    throw new FieldError(field, (e as Error).message);
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === "-l" || w === "-hard") {
      if (w === "-hard") continue;
      const list = words[++i];
      if (list === undefined) throw new FieldError(field, "-l needs name=value");
      for (const pair of list.split(",")) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new FieldError(field, `"-l ${list}": expected name=value`);
        resources[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    } else if (["-N", "-o", "-e", "-j", "-S", "-t", "-terse", "-C", "-b", "-sync", "-cwd", "-wd"].includes(w)) {
      throw new FieldError(field, `${w} is set by ray-sge for its jobs and cannot be given in qsub_options`);
    } else nativeArgs.push(w);
  }
  return { resources, nativeArgs };
}
