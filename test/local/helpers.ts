import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalDurableHost, OrchestrationStatus } from "../../src/local/durable-host";

/** A promise the test opens by hand: lets an activity block until the test has looked at something. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Resolves with the first status of `instanceId` (after an episode) that satisfies `predicate`. */
export function statusWhere(host: LocalDurableHost, instanceId: string, predicate: (s: OrchestrationStatus) => boolean): Promise<OrchestrationStatus> {
  return new Promise((resolve) => {
    const now = host.getStatus(instanceId);
    if (now && predicate(now)) return resolve(now);
    const stop = host.onStatusChange((s) => {
      if (s.instanceId === instanceId && predicate(s)) {
        stop();
        resolve(s);
      }
    });
  });
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export class VaultThrottledError extends Error {
  override name = "VaultThrottledError";
}
