/** What went wrong with a cluster operation, in words for its user (the CLI maps it to exit code 1). */
export class ClusterError extends Error {
  override readonly name = "ClusterError";
}
