import * as df from "durable-functions";
import {
  ActivityNames,
  OBJECT_KINDS,
  type BackupSummary,
  type InventorySummary,
  type ObjectKind,
  type TakeInventoryInput,
  type VaultBackupInput,
  type WriteBackupManifestInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { ObjectTally, emptyProgress, type KindStart } from "./progress";
import { callActivity } from "./retry";

/**
 * Backs up the objects of a vault, of every kind the job names: inventory → batches (a bounded number in
 * flight) → manifest. History holds counts and batch indexes only, so it stays small whatever the vault's size.
 */
export function* vaultBackupOrchestrator(context: df.OrchestrationContext): Generator<df.Task, BackupSummary, unknown> {
  const input = context.df.getInput<VaultBackupInput>();
  const jobId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime.toISOString();

  context.df.setCustomStatus(emptyProgress("inventory"));
  const inventoryInput: TakeInventoryInput = {
    jobId,
    vaultUrl: input.vaultUrl,
    // An input recorded before kinds existed backed up keys.
    kinds: input.kinds ?? ["key"],
    include: input.include,
    exclude: input.exclude,
    startedAt,
    batchSize: input.tuning.batchSize,
    versionDetails: input.versionDetails !== false,
  };
  const inventory = byKind(yield* callActivity(context, ActivityNames.takeInventory, inventoryInput, input.retry));

  // Every object is pending until its batch reports it (a certificate's key and secret: until the
  // manifest); those the inventory skipped are settled from the start.
  const start: { [K in ObjectKind]?: KindStart } = {};
  for (const kind of OBJECT_KINDS) {
    const skipped = inventory.skippedByKind[kind] ?? 0;
    start[kind] = { total: inventory.matchedByKind[kind] ?? 0, failed: 0, skipped, pending: (inventory.matchedByKind[kind] ?? 0) - skipped };
  }
  // An inventory result recorded before it carried batchSize (a job resumed from older state) had the job's own.
  const batchSize = inventory.batchSize ?? input.tuning.batchSize;
  const objects = new ObjectTally(start, inventory.toBackUpByKind, batchSize, inventory.batchCount, inventory.backupSetId);
  context.df.setCustomStatus(objects.progress("backup"));

  yield* runBoundedBatches(context, {
    batchCount: inventory.batchCount,
    inFlight: input.tuning.batchesInFlight,
    activity: ActivityNames.backupObjectBatch,
    retry: input.retry,
    input: (batchIndex) => ({
      jobId,
      backupSetId: inventory.backupSetId,
      vaultUrl: input.vaultUrl,
      batchIndex,
      keyConcurrency: input.tuning.keyConcurrency,
    }),
    onFinished: (batchIndex, outcome) => {
      if (!outcome.ok) objects.batchFailed(batchIndex, outcome.reason);
      else {
        const counts = outcome.result;
        const size = objects.sizesOf(batchIndex).reduce((n, s) => n + s.size, 0);
        // A batch result recorded before it counted skipped keys (older state) leaves them to be inferred.
        objects.batchDone(batchIndex, { ...counts, skipped: counts.skipped ?? size - counts.succeeded - counts.failed }, counts.byKind);
      }
      context.df.setCustomStatus(objects.progress("backup"));
    },
  });

  context.df.setCustomStatus(objects.progress("manifest"));
  const manifestInput: WriteBackupManifestInput = {
    jobId,
    backupSetId: inventory.backupSetId,
    vaultUrl: input.vaultUrl,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
    failedBatches: objects.failedBatches,
  };
  const summary = yield* callActivity(context, ActivityNames.writeBackupManifest, manifestInput, input.retry);
  objects.settle(summary.kinds, summary.bytes);
  context.df.setCustomStatus(objects.progress("done"));
  return summary;
}

/** An inventory result recorded before kinds (a job resumed from older state) counted keys. */
function byKind(inventory: InventorySummary): InventorySummary {
  const recorded = inventory as Partial<InventorySummary> & { keysMatched?: number; keysToBackUp?: number; keysSkipped?: number };
  if (recorded.toBackUpByKind !== undefined) return inventory;
  const matched = recorded.keysMatched ?? 0, toBackUp = recorded.keysToBackUp ?? 0, skipped = recorded.keysSkipped ?? 0;
  return {
    ...inventory,
    objectsMatched: matched,
    objectsToBackUp: toBackUp,
    objectsSkipped: skipped,
    objectsWithCertificate: 0,
    matchedByKind: { key: matched },
    toBackUpByKind: { key: toBackUp },
    skippedByKind: { key: skipped },
    withCertificateByKind: {},
  };
}
