/**
 * The command line. The only place where errors become exit codes and text.
 * Exit codes: 0 ok, 1 runtime failure (Grid Engine or Ray said no), 2 bad usage or input,
 * 3 Grid Engine unreachable, 130 interrupted.
 */
import { Command, CommanderError } from "commander";
import { SgeCommandError } from "../sge/errors.js";
import { VERSION } from "../version.js";
import type { BatchCliOptions } from "./batch.js";

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  interrupted: 130,
} as const;

/** Set by commands whose exit code is not just success (submit returns the driver's). */
let commandExitCode = 0;

export function buildProgram(): Command {
  const program = new Command("ray-sge")
    .description("Run Ray clusters on Grid Engine (SGE, Son of Grid Engine, Open Cluster Scheduler, Gridware)")
    .version(VERSION, "-V, --version", "print the version")
    .option("--verbose", "on failure, also the failing command, its exit code and output (any position)")
    .showHelpAfterError("(run ray-sge --help for usage)")
    .exitOverride();

  program
    .command("info")
    .description(
      "show what the Grid Engine cluster offers: execution hosts, queues and their states, parallel environments",
    )
    .option("--json", "print JSON for scripts")
    .action(async (opts: { json?: boolean }) => {
      // loaded on use, so `ray-sge --version` stays a cold start of commander alone
      const [{ SgeClient }, { gatherInfo, renderInfo }] = await Promise.all([
        import("../sge/client.js"),
        import("./info.js"),
      ]);
      const info = await gatherInfo(new SgeClient());
      process.stdout.write(opts.json ? `${JSON.stringify(info, null, 2)}\n` : renderInfo(info));
    });
  program
    .command("up")
    .argument("<config>", "the cluster config (YAML), or the name of a cluster brought up before")
    .description("start a Ray cluster as Grid Engine jobs (or reconcile a running one)")
    .option("--json", "print JSON for scripts")
    .option("--timeout <seconds>", "give up (and delete what was submitted) after this long", "600")
    .option("--autoscaler <mode>", "head (in the head job), local (on this host) or off; default: the config's")
    .action(async (config: string, opts: { json?: boolean; timeout?: string; autoscaler?: string }) =>
      (await import("./up.js")).upCommand(config, opts),
    );
  program
    .command("config")
    .argument("<config>", "a cluster config (YAML), or the name of a cluster brought up before")
    .description(
      "check a config and show what each node type asks of Grid Engine and Ray, with its warnings (nothing submitted)",
    )
    .option("--json", "print the normalised config as JSON for scripts")
    .action(async (config: string, opts: { json?: boolean }) =>
      (await import("./config.js")).configCommand(config, opts),
    );
  program
    .command("autoscaler")
    .argument("<cluster>", "cluster name, config file, or the spec.json in its state directory")
    .description(
      "run the autoscaler in the foreground until the head job ends (the head job runs it; see up --autoscaler)",
    )
    .option("--mode <words>", "how it says where it runs (autoscaler.json, events)")
    .option("--once", "plan and act once, print the round as JSON")
    .action(async (target: string, opts: { mode?: string; once?: boolean }) =>
      (await import("./autoscaler.js")).autoscalerCommand(target, opts),
    );
  program
    .command("down")
    .argument("<cluster>", "cluster name or config file")
    .description("delete every Grid Engine job of the cluster and wait until they are gone (logs are kept)")
    .option("--json", "print JSON for scripts")
    .option("--timeout <seconds>", "stop waiting for Grid Engine to remove the jobs after this long", "120")
    .action(async (target: string, opts: { json?: boolean; timeout?: string }) =>
      (await import("./down.js")).downCommand(target, opts),
    );
  program
    .command("status")
    .argument("<cluster>", "cluster name or config file")
    .description("each node's Grid Engine state, host and Ray state")
    .option("--json", "print JSON for scripts (with --watch: one document per line)")
    .option("-w, --watch [seconds]", "refresh until Ctrl-C (default every 2 s)")
    .action(async (target: string, opts: { json?: boolean; watch?: string | boolean }) =>
      (await import("./status.js")).statusCommand(target, opts),
    );
  program
    .command("env")
    .argument("<cluster>", "cluster name or config file")
    .description(
      "print the exports that connect this shell's drivers and Ray's CLI: eval \"$(ray-sge env CLUSTER)\", then ray.init()",
    )
    .option("--client", "connect drivers through Ray Client (starts nothing here; no Ray Data on Ray 2.58)")
    .option("--no-driver-node", "do not start a driver node on this host")
    .option("--json", "print JSON for scripts")
    .action(async (target: string, opts: { json?: boolean; client?: boolean; driverNode?: boolean }) =>
      (await import("./env.js")).envCommand(target, opts),
    );
  program
    .command("submit")
    .argument("<cluster>", "cluster name or config file")
    .argument("<command...>", "the driver to run, after --")
    .option("--working-dir <dir>", "upload DIR as the driver's working directory (Ray's runtime_env working_dir)")
    .option("--no-wait", "print the submission id and return; the driver keeps running")
    .option("--json", "print JSON for scripts (the driver's output then goes to stderr)")
    .description(
      "run a driver in the cluster (the head runs it, Ray's Jobs API), stream its output, exit with its exit code",
    )
    .action(
      async (target: string, command: string[], opts: { workingDir?: string; wait?: boolean; json?: boolean }) => {
        commandExitCode = await (await import("./submit.js")).submitCommand(target, command, opts);
      },
    );
  program
    .command("job")
    .argument("<action>", "list, status, logs or stop")
    .argument("<cluster>", "cluster name or config file")
    .argument("[id]", "the driver's submission id (from submit or job list)")
    .option("-f, --follow", "logs: keep printing until the driver ends (exits with its code)")
    .option("--json", "print JSON for scripts")
    .description("follow the drivers submitted to a cluster: list, status, logs [-f], stop")
    .action(
      async (action: string, target: string, id: string | undefined, opts: { json?: boolean; follow?: boolean }) => {
        commandExitCode = await (await import("./job.js")).jobCommand(action, target, id, opts);
      },
    );
  program
    .command("dashboard")
    .argument("<cluster>", "cluster name or config file")
    .option("--token", "print the token to paste into the dashboard's login")
    .option("--json", "print JSON for scripts")
    .description("where Ray's dashboard is and how to log in (it asks for the cluster's token)")
    .action(async (target: string, opts: { json?: boolean; token?: boolean }) =>
      (await import("./dashboard.js")).dashboardCommand(target, opts),
    );
  program
    .command("logs")
    .argument("<cluster>", "cluster name or config file")
    .description("the Grid Engine output of the cluster's jobs; with --ray, Ray's own logs the nodes kept")
    .option("--node <id>", "one node: its instance id from `ray-sge status` (e.g. 108.2) or job id")
    .option("--ray", "Ray's own logs (raylet, workers' output...) kept in the log dir when each node's job ended")
    .option("--file <glob>", "with --ray --node: print these files (e.g. 'worker-*.out')")
    .option("-f, --follow", "keep printing what is appended")
    .option("-n, --lines <n>", "lines of each log to print first", "40")
    .option("--json", "print JSON for scripts (not with --follow)")
    .action(
      async (
        target: string,
        opts: { node?: string; follow?: boolean; lines?: string; json?: boolean; ray?: boolean; file?: string },
      ) => (await import("./logs.js")).logsCommand(target, opts),
    );
  program
    .command("scale")
    .argument("<cluster>", "cluster name or config file")
    .requiredOption("--workers <n>", "the number of workers of the type")
    .option("--type <type>", "the worker type (needed when there are several)")
    .option("--force", "also remove busy nodes (their tasks are lost)")
    .option("--json", "print JSON for scripts")
    .description("grow (array jobs) or shrink (pending first, then idle nodes drained through Ray) a worker type")
    .action(async (target: string, opts: { workers: string; type?: string; force?: boolean; json?: boolean }) =>
      (await import("./scale.js")).scaleCommand(target, opts),
    );
  program
    .command("doctor")
    .argument(
      "[config]",
      "a cluster config: also check its queue, PE, complexes, memory, and probe Ray and the network with jobs",
    )
    .description("the guide's troubleshooting as checks, each with a fix; exit 1 if any check fails")
    .option("--no-probes", "skip the probe jobs")
    .option("--json", "print JSON for scripts")
    .action(async (config: string | undefined, opts: { json?: boolean; probes?: boolean }) => {
      commandExitCode = await (await import("./doctor.js")).doctorCommand(config, opts);
    });
  const batchOptions = (c: Command) =>
    c
      .requiredOption("--slots <n>", "slots of the parallel job (its hosts' slots become their Ray nodes' CPUs)")
      .option("--pe <name>", "the parallel environment (control_slaves TRUE); default: the config's")
      .option("--log-dir <dir>", "where output, exit code and Ray's logs go", "~/.ray-sge/batch")
      .option("--join-timeout <seconds>", "how long every host's Ray node may take to join", "120")
      .option("--dashboard", "start Ray's dashboard on the head (token-protected; its address in the log)");
  batchOptions(
    program
      .command("batch")
      .argument("<config>", "the cluster config (its sge section, setup commands and Ray)")
      .argument("<command...>", "the driver, after --")
      .description("run CMD as the driver of a Ray cluster inside one parallel Grid Engine job")
      .option("--wait", "show why it waits, stream the driver's output, exit with the driver's exit code")
      .option("--json", "print JSON for scripts (with --wait the driver's output goes to stderr)"),
  ).action(async (config: string, command: string[], opts: BatchCliOptions) => {
    commandExitCode = await (await import("./batch.js")).batchCommand(config, command, opts);
  });
  batchOptions(
    program
      .command("script")
      .argument("<config>", "the cluster config")
      .argument("<command...>", "the driver, after --")
      .description("print the batch job as a script with #$ lines, to edit and submit with qsub"),
  ).action(async (config: string, command: string[], opts: BatchCliOptions) =>
    (await import("./batch.js")).scriptCommand(config, command, opts),
  );
  program
    .command("list")
    .description("your clusters: jobs, head state, address")
    .option("--json", "print JSON for scripts")
    .action(async (opts: { json?: boolean }) => (await import("./list.js")).listCommand(opts));
  return program;
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof Error && e.name === "InterruptedError") return EXIT.interrupted;
  if (e instanceof Error && (e.name === "ConfigError" || e.name === "UsageError" || e.name === "PackageError"))
    return EXIT.usage;
  if (e instanceof SgeCommandError) {
    if (e.kind === "invalid-input") return EXIT.usage;
    if (e.kind === "qmaster-unreachable") return EXIT.unreachable;
    if (e.kind === "aborted") return EXIT.interrupted;
    return EXIT.failure;
  }
  return EXIT.failure;
}

/**
 * Grid Engine signals a job's whole process group: SIGUSR2 at qdel with -notify, SIGUSR1 at s_rt.
 * The job script handles them (it stops Ray, then the autoscaler with SIGTERM); ray-sge itself must
 * not die of them, and above all Node must not take SIGUSR1 as "start the inspector", which would open
 * a debugger on 127.0.0.1:9229 that any user of the host could use to run code as the cluster's owner.
 */
export function installSignalGuards(): void {
  for (const sig of ["SIGUSR1", "SIGUSR2"] as const) if (process.listenerCount(sig) === 0) process.on(sig, () => {});
}

export async function main(argv: string[]): Promise<number> {
  installSignalGuards();
  const program = buildProgram();
  commandExitCode = 0;
  // --verbose may stand anywhere before `--` (after it, the words belong to the driver's command)
  const sep = argv.indexOf("--");
  const ours = sep < 0 ? argv : argv.slice(0, sep);
  const verbose = ours.includes("--verbose") || process.env.RAY_SGE_DEBUG === "1";
  const args = [...ours.filter((a) => a !== "--verbose"), ...(sep < 0 ? [] : argv.slice(sep))];
  try {
    await program.parseAsync(args, { from: "user" });
    return commandExitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit through here with code 0; usage errors were already printed
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`ray-sge: ${e instanceof SgeCommandError && verbose ? e.details() : (e as Error).message}\n`);
    return exitCodeFor(e);
  }
}
