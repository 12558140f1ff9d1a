import * as df from "durable-functions";
import {
  ActivityNames,
  type BackupSummary,
  type JobProgress,
  type TakeKeyInventoryInput,
  type VaultBackupInput,
  type WriteBackupManifestInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
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
  const keys = { succeeded: 0, failed: 0, skipped: inventory.keysSkipped, pending: inventory.keysToBackUp };
  // An inventory result recorded before it carried batchSize (a job resumed from older state) had the job's own.
  const batchSize = inventory.batchSize ?? input.tuning.batchSize;
  let bytes = 0, batchesDone = 0;
  const failedBatches: { batchIndex: number; reason: string }[] = [];
  const status = (phase: JobProgress["phase"]): JobProgress => ({
    phase,
    keysTotal: inventory.keysMatched,
    keysSucceeded: keys.succeeded,
    keysFailed: keys.failed,
    keysSkipped: keys.skipped,
    keysPending: keys.pending,
    bytes,
    batchesDone,
    batchCount: inventory.batchCount,
    backupSetId: inventory.backupSetId,
  });
  context.df.setCustomStatus(status("backup"));

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
      batchesDone++;
      const size = Math.min(batchSize, inventory.keysToBackUp - batchIndex * batchSize);
      keys.pending -= size;
      if (!outcome.ok) {
        // Every attempt failed, or a final failure: the manifest records this batch's keys as failed, with this reason.
        failedBatches.push({ batchIndex, reason: outcome.reason });
        keys.failed += size;
      } else {
        const counts = outcome.result;
        keys.succeeded += counts.succeeded;
        keys.failed += counts.failed;
        // A batch result recorded before it counted skipped keys (older state) leaves them to be inferred.
        keys.skipped += counts.skipped ?? size - counts.succeeded - counts.failed;
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
  const summary = yield* callActivity(context, ActivityNames.writeBackupManifest, manifestInput, input.retry);
  // The manifest is the record: the final status says what it says.
  Object.assign(keys, { succeeded: summary.keys.succeeded, failed: summary.keys.failed, skipped: summary.keys.skipped, pending: 0 });
  bytes = summary.bytes;
  context.df.setCustomStatus({ ...status("done"), keysTotal: summary.keys.total });
  return summary;
}

function emptyProgress(phase: JobProgress["phase"]): JobProgress {
  return { phase, keysTotal: 0, keysSucceeded: 0, keysFailed: 0, keysSkipped: 0, keysPending: 0, bytes: 0, batchesDone: 0, batchCount: 0 };
}
