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
export { Autoscaler } from "./autoscaler/autoscaler.js";
export { recentEvents } from "./autoscaler/events.js";
export * as planner from "./autoscaler/planner/index.js";
export { plannerSettings, plannerTypes } from "./autoscaler/settings.js";
export {
  ClusterError,
  type ClusterStatus,
  type NodeStatus,
  RayClusterManager,
  type ScaleResult,
  type UpResult,
} from "./cluster/manager.js";
export type { HeadInfo } from "./cluster/state-dir.js";
export * from "./config/index.js";
export { GcsClient, GcsError } from "./ray/gcs.js";
export type * from "./ray/messages.js";
export type { RayNode } from "./ray/nodes.js";
