import * as df from "durable-functions";
import {
  ActivityNames,
  type BackupKeyBatchInput,
  type BackupSummary,
  type BatchCounts,
  type JobProgress,
  type KeyInventorySummary,
  type TakeKeyInventoryInput,
  type VaultBackupInput,
  type WriteBackupManifestInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { failureReason, toRetryOptions } from "./retry";

/**
 * Backs up every key of a vault: inventory → batches (a bounded number in flight) → manifest.
 * History holds counts and batch indexes only, so it stays small whatever the vault's size.
 */
export function* vaultBackupOrchestrator(context: df.OrchestrationContext): Generator<df.Task, BackupSummary, any> {
  const input = context.df.getInput<VaultBackupInput>();
  const jobId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const retry = toRetryOptions(input.retry);

  context.df.setCustomStatus(progress("inventory", 0, 0));
  const inventoryInput: TakeKeyInventoryInput = {
    jobId,
    vaultUrl: input.vaultUrl,
    include: input.include,
    exclude: input.exclude,
    startedAt,
    batchSize: input.tuning.batchSize,
    versionDetails: input.versionDetails !== false,
  };
  const inventory: KeyInventorySummary = yield context.df.callActivityWithRetry(ActivityNames.takeKeyInventory, retry, inventoryInput);

  let done = 0, failed = 0, bytes = 0, batchesDone = 0;
  const failedBatches: { batchIndex: number; reason: string }[] = [];
  const status = (phase: JobProgress["phase"]): JobProgress => ({
    phase,
    keysTotal: inventory.keysMatched,
    keysDone: done,
    keysFailed: failed,
    keysSkipped: inventory.keysSkipped,
    bytes,
    batchesDone,
    batchCount: inventory.batchCount,
    backupSetId: inventory.backupSetId,
  });
  context.df.setCustomStatus(status("backup"));

  yield* runBoundedBatches(context, {
    batchCount: inventory.batchCount,
    inFlight: input.tuning.batchesInFlight,
    schedule: (batchIndex) => {
      const batchInput: BackupKeyBatchInput = {
        jobId,
        backupSetId: inventory.backupSetId,
        vaultUrl: input.vaultUrl,
        batchIndex,
        keyConcurrency: input.tuning.keyConcurrency,
      };
      return context.df.callActivityWithRetry(ActivityNames.backupKeyBatch, retry, batchInput);
    },
    onFinished: (batchIndex, finished) => {
      batchesDone++;
      if (finished.isFaulted) {
        // Every retry failed: the manifest records this batch's keys as failed, with this reason.
        failedBatches.push({ batchIndex, reason: failureReason(finished) });
      } else {
        const counts = finished.result as BatchCounts;
        done += counts.succeeded + counts.failed;
        failed += counts.failed;
        bytes += counts.bytes;
      }
      context.df.setCustomStatus(status("backup"));
    },
  });

  context.df.setCustomStatus(status("manifest"));
  const manifestInput: WriteBackupManifestInput = {
    jobId,
    backupSetId: inventory.backupSetId,
    vaultUrl: input.vaultUrl,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
    failedBatches,
  };
  const summary: BackupSummary = yield context.df.callActivityWithRetry(ActivityNames.writeBackupManifest, retry, manifestInput);
  done = summary.keys.succeeded + summary.keys.failed;
  failed = summary.keys.failed;
  bytes = summary.bytes;
  context.df.setCustomStatus(status("done"));
  return summary;
}

function progress(phase: JobProgress["phase"], keysTotal: number, batchCount: number): JobProgress {
  return { phase, keysTotal, keysDone: 0, keysFailed: 0, keysSkipped: 0, bytes: 0, batchesDone: 0, batchCount };
}
