import { readFile } from "node:fs/promises";
import { ConfigError, loadConfigFile, locateField } from "./load.js";
import { FieldError, type Normalised, type NormaliseOptions, normaliseConfig } from "./normalise.js";

export { configJsonSchema } from "./json-schema.js";
export { ConfigError, type ConfigIssue, formatIssue, loadConfigFile, parseConfig } from "./load.js";
export type { ClusterSpec, NodeTypeSpec, Normalised, SgeRequest } from "./normalise.js";
export { FieldError, normaliseConfig } from "./normalise.js";

/** Read, validate and normalise a cluster config file. Throws ConfigError (file:line:col) on bad input. */
export async function loadClusterSpec(file: string, options: NormaliseOptions = {}): Promise<Normalised> {
  const raw = await loadConfigFile(file);
  try {
    return normaliseConfig(raw, options);
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    // point at the wrong field in the file (or at its nearest parent when it is missing)
    const pos = locateField(await readFile(file, "utf8"), e.field);
    throw new ConfigError([{ file, ...pos, path: e.field, message: e.detail }]);
  }
}
