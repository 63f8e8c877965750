import { readFile } from "node:fs/promises";
import { ConfigError, loadConfigFile, locateField } from "./load.js";
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
    // normalise's errors name the field first ("field.path: message"): point at it in the file
    const message = (e as Error).message;
    const field = /^([A-Za-z_][\w.[\]-]*): /.exec(message)?.[1];
    const pos = field ? locateField(await readFile(file, "utf8"), field) : { line: 1, col: 1 };
    throw new ConfigError([
      { file, ...pos, path: field ?? "", message: field ? message.slice(field.length + 2) : message },
    ]);
  }
}
