// The cluster lock on a real filesystem: one holder at a time, stale locks taken over, never another's
// lock removed. (Across hosts and processes for real: test/integration/faults.test.ts, two `up`.)
import { mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isStale, LockTimeoutError, STALE_MS, withClusterLock } from "../../src/cluster/lock.js";
import { STATE_FILES, StateDir } from "../../src/cluster/state-dir.js";

const LOCK_FILE = STATE_FILES.lock;

const dir = () => mkdtempSync(join(tmpdir(), "lock-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("isStale", () => {
  const here = { host: "login1" };
  const owner = (host: string, pid: number) => ({ host, pid, op: "up", since: 0 });
  it("an old lock is stale wherever its owner was; a fresh one only if its owner died on this host", () => {
    expect(isStale(owner("login2", 5), STALE_MS + 1, here, () => true)).toBe(true);
    expect(isStale(owner("login2", 5), 1000, here, () => false)).toBe(false);
    expect(isStale(owner("login1", 5), 1000, here, () => false)).toBe(true);
    expect(isStale(owner("login1", 5), 1000, here, () => true)).toBe(false);
    expect(isStale(undefined, 1000, here, () => false)).toBe(false);
  });
});

describe("withClusterLock", () => {
  it("serialises holders: the second waits (and says who it waits for), then runs", async () => {
    const d = dir();
    const order: string[] = [];
    const said: string[] = [];
    const a = withClusterLock(new StateDir(d), "up", async () => {
      order.push("a start");
      await sleep(700);
      order.push("a end");
    });
    await sleep(50);
    const b = withClusterLock(
      new StateDir(d),
      "down",
      async () => {
        order.push("b");
      },
      { log: (l) => said.push(l) },
    );
    await Promise.all([a, b]);
    expect(order).toEqual(["a start", "a end", "b"]);
    expect(said.join()).toMatch(
      new RegExp(`ray-sge up \\(pid ${process.pid} on ${hostname()}, since .*\\) is changing this cluster: waiting`),
    );
  });

  it("gives up after its timeout, naming the holder", async () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ host: "elsewhere", pid: 1, op: "scale", since: Date.now() }));
    await expect(withClusterLock(new StateDir(d), "up", async () => 1, { timeoutMs: 300 })).rejects.toThrow(
      LockTimeoutError,
    );
    await expect(withClusterLock(new StateDir(d), "up", async () => 1, { timeoutMs: 300 })).rejects.toThrow(
      /ray-sge scale \(pid 1 on elsewhere, .*\) is still changing this cluster/,
    );
  });

  it("takes over a lock whose owner died on this host, or that nobody refreshed for 30 s", async () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ host: hostname(), pid: 2 ** 22 + 7, op: "up", since: 0 }));
    expect(await withClusterLock(new StateDir(d), "up", async () => "ran")).toBe("ran");
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ host: "elsewhere", pid: 1, op: "up", since: 0 }));
    const old = (Date.now() - STALE_MS - 5000) / 1000;
    utimesSync(join(d, LOCK_FILE), old, old);
    expect(await withClusterLock(new StateDir(d), "down", async () => "ran")).toBe("ran");
  });

  it("removes only its own lock", async () => {
    const d = dir();
    await withClusterLock(new StateDir(d), "up", async () => {
      // taken over by another (we stalled): not ours to remove at the end
      writeFileSync(join(d, LOCK_FILE), JSON.stringify({ host: "elsewhere", pid: 9, op: "up", since: 1 }));
    });
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), "utf8")).host).toBe("elsewhere");
  });

  it("with no state directory, runs unlocked (Grid Engine decides)", async () => {
    expect(await withClusterLock(new StateDir(join(dir(), "gone")), "down", async () => "ran")).toBe("ran");
  });
});

describe("StateDir.ensure", () => {
  // (the race itself showed across processes: two `up` at once, one failed with EEXIST; faults.test.ts)
  it("many at once make one token, whole, and every caller reads it", async () => {
    const path = join(dir(), "c");
    const results = await Promise.all(Array.from({ length: 50 }, () => new StateDir(path).ensure()));
    expect(results.filter(Boolean)).toHaveLength(1);
    const token = readFileSync(join(path, "token"), "utf8");
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(path).sort()).toEqual(["logs", "token"]);
  });
});
