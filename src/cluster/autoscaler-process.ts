/**
 * Where the autoscaler runs, as configured: in the head job (the head says whether it could start
 * it there; if not, it runs here instead, and we say so), here on this host, or off. Judged by its
 * heartbeat, never by what head.json once said.
 */
import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import { sleep } from "../base/sleep.js";
import type { ClusterHandle } from "./handle.js";
import { CLI_PATH } from "./requests.js";
import { type HeadInfo, LOG_NAMES } from "./state-dir.js";

/** Start `ray-sge autoscaler` on this host, detached, its output in the cluster's logs. */
export async function startLocalAutoscaler(h: ClusterHandle): Promise<number> {
  const log = await open(h.state.log(LOG_NAMES.localAutoscaler), "a", 0o600);
  try {
    const child = spawn(process.execPath, [CLI_PATH, "autoscaler", h.state.specPath, "--mode", "local"], {
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
    });
    child.unref();
    return child.pid ?? 0;
  } finally {
    await log.close();
  }
}

/** Make sure the autoscaler runs as configured; says where, in words. */
export async function ensureAutoscaler(h: ClusterHandle, info: HeadInfo): Promise<string> {
  if (h.autoscalerMode === "off") return "off";
  // the head job's one (re)starts on its own within seconds (up removed any stop file a failed down left)
  const inHead = h.autoscalerMode === "head" && info.autoscaler === "head";
  const deadline = Date.now() + (inHead ? 20_000 : 0);
  for (;;) {
    const running = await h.autoscalerInfo();
    if (running) return `${running.mode} (pid ${running.pid} on ${running.host})`;
    if (Date.now() >= deadline) break;
    await sleep(500);
  }
  if (inHead)
    h.log("the autoscaler in the head job does not answer (no heartbeat for 20 s): running it on this host instead");
  else if (h.autoscalerMode === "head")
    h.log(
      `the autoscaler cannot run in the head job (${info.autoscaler ?? "unknown"}): running it on this host instead`,
    );
  return `locally (pid ${await startLocalAutoscaler(h)}; it stops when the head job ends)`;
}
