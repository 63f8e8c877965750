/**
 * Why a node's Ray died, in plain words, from the Ray logs its job kept (logs/ray/<instance>/). Ray
 * says it deep in raylet.out among thousands of lines, and `ray start` itself only says "The current
 * node timed out during startup" 30 s later. Pure: the caller reads the files.
 */

const GiB = 1024 ** 3;

interface Known {
  /** Matches a line of the named log. */
  file: RegExp;
  line: RegExp;
  say: (all: string) => string;
}

const KNOWN: Known[] = [
  {
    // raylet.out, measured on the testbed with -l h_vmem=3G: "create_and_mmap_buffer(7177502728, /dev/shm/...)",
    // then "mmap failed with error: Cannot allocate memory", then "PlasmaAllocator initialization failed"
    file: /^raylet\.(out|err)$/,
    line: /mmap failed with error: Cannot allocate memory|PlasmaAllocator initialization failed/,
    say: (all) => {
      const bytes = Number(/create_and_mmap_buffer\((\d+),/.exec(all)?.[1]);
      const size = Number.isFinite(bytes) && bytes > 0 ? ` of ${(bytes / GiB).toFixed(1)} GiB` : "";
      return `Ray's object store could not get its memory${size} (Cannot allocate memory): the job's memory limit (h_vmem) or /dev/shm is smaller than what Ray asked for`;
    },
  },
  {
    file: /^gcs_server\.(out|err)$/,
    line: /Failed to (bind|listen)|Address already in use/,
    say: () => "Ray's GCS could not take its port (Address already in use)",
  },
];

/** The first known cause found in a node's kept Ray logs, or undefined. */
export function explainRayFailure(files: readonly { name: string; text: string }[]): string | undefined {
  for (const k of KNOWN) {
    // the cause and its details may be in different files (raylet.err says the failure, raylet.out the size)
    const all = files
      .filter((f) => k.file.test(f.name))
      .map((f) => f.text)
      .join("\n");
    if (k.line.test(all)) return k.say(all);
  }
  return undefined;
}
