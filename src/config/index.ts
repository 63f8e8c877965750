import { ConfigError, loadConfigFile } from "./load.js";
import { type Normalised, type NormaliseOptions, normaliseConfig } from "./normalise.js";

export { configJsonSchema } from "./json-schema.js";
export { ConfigError, type ConfigIssue, formatIssue, loadConfigFile, parseConfig } from "./load.js";
export type { ClusterSpec, NodeTypeSpec, Normalised, SgeRequest } from "./normalise.js";
export { normaliseConfig } from "./normalise.js";

/** Read, validate and normalise a cluster config file. Throws ConfigError (file:line:col) on bad input. */
export async function loadClusterSpec(file: string, options: NormaliseOptions = {}): Promise<Normalised> {
  const raw = await loadConfigFile(file);
  try {
    return normaliseConfig(raw, options);
  } catch (e) {
    throw new ConfigError([{ file, line: 1, col: 1, path: "", message: (e as Error).message }]);
  }
}
