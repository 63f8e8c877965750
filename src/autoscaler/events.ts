/** The autoscaler's events log (events.jsonl in the state dir): one JSON object per line. */
import type { StateDir } from "../cluster/state-dir.js";

export interface AutoscalerEvent {
  time: string;
  event: string;
  [k: string]: unknown;
}

/** The last `n` events of a cluster's log (reads only the end of the file: it grows with the cluster's life). */
export async function recentEvents(state: StateDir, n = 10): Promise<AutoscalerEvent[]> {
  // a cut first line is not JSON: dropped below
  const lines = (await state.eventsTail()).trimEnd().split("\n").slice(-n);
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as AutoscalerEvent];
    } catch {
      return [];
    }
  });
}
