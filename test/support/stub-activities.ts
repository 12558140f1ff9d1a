import type { InvocationContext } from "@azure/functions";
import type { ActivityInput, ActivityName, ActivityOutput, CountsByKind, InventorySummary, ObjectCounts } from "../../src/contracts";
import type { ActivityFunction } from "../../src/local/durable-host";

/**
 * Stand-ins for kvbackup's activities on the in-process host, each typed by its activity's contract
 * (src/contracts.ts): a stub that takes another input or returns less than its activity's output does not
 * compile, so the orchestrators are tested against the shapes the real activities produce.
 */
export type StubActivities = {
  readonly [N in ActivityName]?: (input: ActivityInput<N>, context: InvocationContext) => Promise<ActivityOutput<N>>;
};

/** The stubs as the host takes them (by name, input as delivered). */
export function stubActivities(stubs: StubActivities): Record<string, ActivityFunction> {
  return stubs as Record<string, ActivityFunction>;
}

/** Counts of a job that had keys only, as the summaries give them (every object, the keys, each kind). */
export function keysOnly(keys: ObjectCounts): { objects: ObjectCounts; keys: ObjectCounts; kinds: CountsByKind } {
  const none = { total: 0, succeeded: 0, failed: 0, skipped: 0 };
  return { objects: keys, keys, kinds: { keys, secrets: none, certificates: none } };
}

/** The inventory of a job that found keys only. */
export function keysInventory(backupSetId: string, batchCount: number, toBackUp: number, skipped = 0, batchSize = 100): InventorySummary {
  return {
    backupSetId,
    objectsMatched: toBackUp + skipped,
    objectsToBackUp: toBackUp,
    objectsSkipped: skipped,
    objectsWithCertificate: 0,
    matchedByKind: { key: toBackUp + skipped },
    toBackUpByKind: { key: toBackUp },
    skippedByKind: { key: skipped },
    withCertificateByKind: {},
    batchCount,
    batchSize,
  };
}
