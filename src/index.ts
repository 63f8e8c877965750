/**
 * ray-sge: Ray clusters on Grid Engine.
 *
 * `sge` is a ready Grid Engine client using this process's environment; build an `SgeClient` for
 * other settings (a command prefix, timeouts, environment).
 */
import { SgeClient } from "./sge/client.js";

export * from "./sge/index.js";
export { VERSION } from "./version.js";

export const sge: SgeClient = new SgeClient();
