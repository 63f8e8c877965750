/**
 * The cluster config: the format of the user guide (../shared/mission/ray-sge-guide.md), accepted
 * verbatim, plus several worker types in Ray's `available_node_types` style. Unknown keys are errors
 * (a typo must not pass silently); keys of Ray's own launcher that mean nothing here are accepted
 * and reported as ignored by normalise.ts.
 */
import { z } from "zod";

const memory = z
  .union([z.string(), z.number()])
  .refine((v) => (typeof v === "number" ? v > 0 : /^\s*\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?\s*$/.test(v)), {
    message: 'expected a memory size such as "16G", "512M" or a number of bytes',
  });

const runtime = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d{1,6}(:\d{1,2}){0,2}$/, "expected seconds or H:MM:SS such as 24:00:00"),
]);

const sgeOverrides = z.strictObject({
  queue: z.string().min(1).optional(),
  parallel_environment: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
  qsub_options: z.string().optional(),
  h_rt: runtime.optional(),
  s_rt: runtime.optional(),
});

/**
 * A node type's resources, in either form: ray-sge's (`slots`, `memory`, `gpus`, `custom: {...}`) or
 * Ray's own (`CPU`, `GPU`, `memory`, and any other name a custom Ray resource). Which form is told by
 * `slots` or `CPU` (one of them, not both); ray-sge's form takes no other names, so a typo there is an
 * error, while in Ray's form an unknown name is a custom resource (as Ray reads it) unless it looks
 * like a misspelt CPU, GPU or memory.
 */
const resources = z
  .object({
    slots: z.number().int().min(1).max(100_000).optional(),
    memory: memory.optional(),
    gpus: z.number().int().min(0).max(1024).optional(),
    /** Custom Ray resources, e.g. { "accelerator_x": 1 } (ray-sge's form). */
    custom: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, "expected a resource name"), z.number().nonnegative())
      .optional(),
    /** Ray's form: the node's CPUs for Ray (0 keeps work off it; its job still asks one slot). */
    CPU: z.number().int().min(0).max(100_000).optional(),
    /** Ray's form: GPUs. */
    GPU: z.number().int().min(0).max(1024).optional(),
  })
  .catchall(z.number().nonnegative())
  .superRefine((r, ctx) => {
    const extra = Object.keys(r).filter((k) => !["slots", "memory", "gpus", "custom", "CPU", "GPU"].includes(k));
    if (r.slots === undefined && r.CPU === undefined) {
      ctx.addIssue({
        code: "custom",
        message:
          "is required: slots (ray-sge's form: slots, memory, gpus, custom) or CPU (Ray's form: CPU, GPU, memory, custom names)",
        path: ["slots"],
      });
      return;
    }
    if (r.slots !== undefined && r.CPU !== undefined)
      ctx.addIssue({
        code: "custom",
        message: "give slots (ray-sge's form) or CPU (Ray's form), not both",
        path: ["CPU"],
      });
    if (r.slots !== undefined) {
      for (const k of ["GPU", ...extra])
        if (k in r)
          ctx.addIssue({
            code: "custom",
            params: { onKey: true },
            message: `unknown field "${k}" with slots (ray-sge's form: slots, memory, gpus, custom; Ray's form: CPU, GPU, memory, custom names)`,
            path: [k],
          });
    } else {
      if (r.gpus !== undefined)
        ctx.addIssue({ code: "custom", message: "Ray's form (CPU) says GPU, not gpus", path: ["gpus"] });
      if (r.custom !== undefined)
        ctx.addIssue({
          code: "custom",
          message: "Ray's form (CPU) names custom resources beside CPU, not under custom",
          path: ["custom"],
        });
      for (const k of extra) {
        if (/^(cpus?|gpus?|mem(ory)?|slots?)$/i.test(k))
          ctx.addIssue({
            code: "custom",
            params: { onKey: true },
            message: `"${k}": a typo? Ray's names are CPU, GPU and memory`,
            path: [k],
          });
        else if (!/^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(k))
          ctx.addIssue({
            code: "custom",
            params: { onKey: true },
            message: `"${k}": expected a resource name`,
            path: [k],
          });
      }
    }
  });

/** Ray node labels (`ray start --labels k=v,...`): no commas, `=` or spaces can be carried. */
const labels = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/, "expected a label name (letters, digits, _ . / -)"),
  z.string().regex(/^[A-Za-z0-9_.-]{0,63}$/, "expected a label value (letters, digits, _ . -)"),
);

const commands = z.array(z.string());

/** A node type: ray-sge's fields, and Ray's own (`node_config` holds the Grid Engine settings there). */
const nodeType = z.strictObject({
  resources,
  min_workers: z.number().int().min(0).default(0),
  max_workers: z.number().int().min(0).optional(),
  sge: sgeOverrides.optional(),
  /** Ray's name for what a node type asks of the provider: here the same settings as `sge`. */
  node_config: sgeOverrides.optional(),
  labels: labels.optional(),
  /** Ray's: this type's setup commands instead of setup_commands + worker_setup_commands. */
  worker_setup_commands: commands.optional(),
  // Ray's per-type keys with no meaning here: accepted, reported as ignored
  idle_timeout_s: z.number().nullable().optional(),
  priority: z.number().int().optional(),
  initialization_commands: z.unknown().optional(),
  docker: z.unknown().optional(),
});

/** Ray's per-type keys that ray-sge accepts and ignores (with a warning). */
export const IGNORED_TYPE_KEYS = ["idle_timeout_s", "priority", "initialization_commands", "docker"] as const;

/** The config's sge section (or the same keys under provider). */
const globalSge = sgeOverrides.extend({
  /** The complex used for memory requests (default mem_free), and whether it is per slot. */
  memory_complex: z.string().min(1).optional(),
  memory_per_slot: z.boolean().optional(),
  /** The complex used for GPU requests (default gpu). */
  gpu_complex: z.string().min(1).optional(),
});

/** What a cluster may be called (it becomes part of job names and paths). */
export const CLUSTER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;

/** Where clusters' state directories live unless the config says (state_dir). */
export const DEFAULT_STATE_ROOT = "~/.ray-sge/clusters";

export const configSchema = z
  .strictObject({
    cluster_name: z.string().regex(CLUSTER_NAME, "expected 1-40 letters, digits, _ or -, starting with a letter"),
    max_workers: z.number().int().min(0).max(10_000).optional(),
    idle_timeout_minutes: z.number().positive().max(100_000).optional(),
    /**
     * Ray's launcher reads this (`ray up`: module ray_sge_provider.SGENodeProvider); the Grid Engine
     * settings of the sge section may stand here instead, as Ray's own providers keep theirs.
     */
    provider: globalSge
      .extend({
        type: z.literal("external"),
        module: z.string().min(1),
      })
      .optional(),
    /** SSH settings of Ray's own launcher: not needed here (jobs start through Grid Engine). */
    auth: z.record(z.string(), z.unknown()).optional(),
    sge: globalSge.optional(),
    ray: z
      .strictObject({
        /** The `ray` executable on the execution hosts. */
        ray_executable: z.string().min(1).optional(),
        /** Pin the GCS / dashboard ports (default: free ports chosen on the head's host). */
        gcs_port: z.number().int().min(1024).max(65535).optional(),
        dashboard_port: z.number().int().min(1024).max(65535).optional(),
        /**
         * Object store of the driver node `ray-sge env` starts where drivers run (bytes, or "2G");
         * default 1G. What a driver there gets back from the cluster lands in it (spilled to disk beyond).
         */
        driver_object_store_memory: z
          .union([
            z
              .number()
              .int()
              .min(75 * 1024 * 1024),
            z.string().min(1),
          ])
          .optional(),
      })
      .optional(),
    /** ray-sge's autoscaler (Ray's demand -> Grid Engine jobs). */
    autoscaler: z
      .strictObject({
        /** head: runs inside the head job (default); local: on the host that ran `up`; off: none. */
        mode: z.enum(["head", "local", "off"]).optional(),
        /** Seconds between rounds (default 1). */
        interval_seconds: z.number().min(0.1).max(600).optional(),
        /** Drain a node this long before its h_rt (default: a tenth of h_rt, at most 300 s). */
        walltime_margin_seconds: z.number().min(0).max(86_400).optional(),
        /** A queued worker whose demand is gone is deleted after this long (default 30). */
        queued_grace_seconds: z.number().min(0).max(86_400).optional(),
        /** Wait after a failed worker before the next of its type, doubling per failure (default 30). */
        failure_backoff_seconds: z.number().min(0).max(86_400).optional(),
        /**
         * Launch for waiting tasks and actors only when the cluster will not drain them before a new
         * worker could arrive (default true); false: at once, for any waiting work.
         */
        wait_for_bursts: z.boolean().optional(),
      })
      .optional(),
    /** Where the cluster's state lives on the shared filesystem (default ~/.ray-sge/clusters). */
    state_dir: z.string().min(1).optional(),
    /** The guide's head (or Ray's form: head_node_type naming one of available_node_types). */
    head_node: z
      .strictObject({
        resources,
        sge: sgeOverrides.optional(),
        labels: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    head_node_type: z.string().min(1).optional(),
    worker_nodes: nodeType.optional(),
    available_node_types: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,39}$/, "expected a node type name"), nodeType)
      .optional(),
    setup_commands: commands.optional(),
    head_setup_commands: commands.optional(),
    worker_setup_commands: commands.optional(),
    head_start_ray_commands: commands.optional(),
    worker_start_ray_commands: commands.optional(),
    // keys of Ray's own launcher that have no meaning under Grid Engine: accepted, reported as ignored
    file_mounts: z.unknown().optional(),
    cluster_synced_files: z.unknown().optional(),
    rsync_exclude: z.unknown().optional(),
    rsync_filter: z.unknown().optional(),
    initialization_commands: z.unknown().optional(),
    docker: z.unknown().optional(),
    metadata: z.unknown().optional(),
    file_mounts_sync_continuously: z.unknown().optional(),
    no_restart: z.unknown().optional(),
    /** Ray's: workers on their way at once, at most max(5, this x the nodes alive) (default 1). */
    upscaling_speed: z.number().min(0).max(1000).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.head_node === undefined && c.head_node_type === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["head_node"],
        message:
          "is required: the head's resources (head_node, or Ray's head_node_type naming one of available_node_types)",
      });
  });

export type RawConfig = z.infer<typeof configSchema>;

export const IGNORED_RAY_KEYS = [
  "file_mounts",
  "cluster_synced_files",
  "rsync_exclude",
  "rsync_filter",
  "initialization_commands",
  "docker",
  "metadata",
  "file_mounts_sync_continuously",
  "no_restart",
] as const;
