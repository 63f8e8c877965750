/** The planner (pure): plan() and its types. The phases are in this folder, one file each. */
export { recordFailure } from "./failures.js";
export { plan } from "./plan.js";
export * from "./types.js";
