import * as df from "durable-functions";
import {
  ActivityNames,
  type BackupSummary,
  type TakeKeyInventoryInput,
  type VaultBackupInput,
  type WriteBackupManifestInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { KeyTally, emptyProgress } from "./progress";
import { callActivity } from "./retry";

/**
 * Backs up every key of a vault: inventory → batches (a bounded number in flight) → manifest.
 * History holds counts and batch indexes only, so it stays small whatever the vault's size.
 */
export function* vaultBackupOrchestrator(context: df.OrchestrationContext): Generator<df.Task, BackupSummary, unknown> {
  const input = context.df.getInput<VaultBackupInput>();
  const jobId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime.toISOString();

  context.df.setCustomStatus(emptyProgress("inventory"));
  const inventoryInput: TakeKeyInventoryInput = {
    jobId,
    vaultUrl: input.vaultUrl,
    include: input.include,
    exclude: input.exclude,
    startedAt,
    batchSize: input.tuning.batchSize,
    versionDetails: input.versionDetails !== false,
  };
  const inventory = yield* callActivity(context, ActivityNames.takeKeyInventory, inventoryInput, input.retry);

  // Every key is pending until its batch reports it; certificate-backed keys are skipped from the start.
  const keys = new KeyTally(inventory.keysMatched, 0, inventory.keysSkipped, inventory.keysToBackUp, inventory.batchCount, inventory.backupSetId);
  // An inventory result recorded before it carried batchSize (a job resumed from older state) had the job's own.
  const batchSize = inventory.batchSize ?? input.tuning.batchSize;
  context.df.setCustomStatus(keys.progress("backup"));

  yield* runBoundedBatches(context, {
    batchCount: inventory.batchCount,
    inFlight: input.tuning.batchesInFlight,
    activity: ActivityNames.backupKeyBatch,
    retry: input.retry,
    input: (batchIndex) => ({
      jobId,
      backupSetId: inventory.backupSetId,
      vaultUrl: input.vaultUrl,
      batchIndex,
      keyConcurrency: input.tuning.keyConcurrency,
    }),
    onFinished: (batchIndex, outcome) => {
      const size = Math.min(batchSize, inventory.keysToBackUp - batchIndex * batchSize);
      if (!outcome.ok) keys.batchFailed(batchIndex, size, outcome.reason);
      else {
        const counts = outcome.result;
        // A batch result recorded before it counted skipped keys (older state) leaves them to be inferred.
        keys.batchDone(size, { ...counts, skipped: counts.skipped ?? size - counts.succeeded - counts.failed });
      }
      context.df.setCustomStatus(keys.progress("backup"));
    },
  });

  context.df.setCustomStatus(keys.progress("manifest"));
  const manifestInput: WriteBackupManifestInput = {
    jobId,
    backupSetId: inventory.backupSetId,
    vaultUrl: input.vaultUrl,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
    failedBatches: keys.failedBatches,
  };
  const summary = yield* callActivity(context, ActivityNames.writeBackupManifest, manifestInput, input.retry);
  keys.settle(summary.keys, summary.bytes);
  context.df.setCustomStatus(keys.progress("done"));
  return summary;
}
