import * as df from "durable-functions";
import {
  ActivityNames,
  JOB_FAILURE_PREFIXES,
  JobFailureCodes,
  type JobProgress,
  type PlanRestoreInput,
  type RestoreSummary,
  type VaultRestoreInput,
  type WriteRestoreReportInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { JobFailedError } from "./job-failed";
import { callActivity } from "./retry";


/**
 * Restores a backup set: plan (manifest, filters, target vault state) → batches that verify each blob's
 * SHA-256 and restore it → report. A dry run plans and reports, and changes nothing in the vault.
 *
 * Only counts and batch indexes pass through here: the plan's names, each batch's per-key results and the
 * report are documents in the backup store (activities/vault-restore.ts), so history stays small whether
 * the set holds ten keys or fifty thousand, and whether they are restored or skipped.
 */
export function* vaultRestoreOrchestrator(context: df.OrchestrationContext): Generator<df.Task, RestoreSummary, unknown> {
  const input = context.df.getInput<VaultRestoreInput>();
  const jobId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime.toISOString();

  context.df.setCustomStatus(emptyProgress("plan"));
  const planInput: PlanRestoreInput = {
    jobId,
    backupSetId: input.backupSetId,
    targetVaultUrl: input.targetVaultUrl,
    include: input.include,
    exclude: input.exclude,
    verifyBlobs: input.dryRun,
    batchSize: input.tuning.batchSize,
  };
  const plan = yield* callActivity(context, ActivityNames.planRestore, planInput, input.retry);

  const conflicts = plan.alreadyPresentCount + plan.softDeletedCount;
  if (!input.dryRun && input.onConflict === "fail" && conflicts > 0) {
    const shown = plan.conflictSample.join(", ") + (conflicts > plan.conflictSample.length ? `, … (${conflicts} in all: ${plan.planPath})` : "");
    // The job ends Failed: the conflict policy is `fail` and names are taken, so nothing was restored.
    throw new JobFailedError(JobFailureCodes.restoreRefused, `${JOB_FAILURE_PREFIXES.RestoreRefused} ${conflicts} key name(s) already exist or are soft-deleted in ${plan.targetVaultUrl}: ${shown}`);
  }

  // Names taken in the target and unusable backups are settled by the plan; the rest wait for their batch.
  const keys = {
    succeeded: 0,
    failed: plan.missingOrDamagedCount,
    skipped: conflicts + plan.skippedAtBackupCount,
    pending: plan.toRestoreCount,
  };
  let batchesDone = 0;
  const failedBatches: { batchIndex: number; reason: string }[] = [];
  const status = (phase: JobProgress["phase"]): JobProgress => ({
    phase,
    keysTotal: plan.keysSelected,
    keysSucceeded: keys.succeeded,
    keysFailed: keys.failed,
    keysSkipped: keys.skipped,
    keysPending: keys.pending,
    bytes: 0,
    batchesDone,
    batchCount: input.dryRun ? 0 : plan.batchCount,
    backupSetId: plan.backupSetId,
  });

  if (!input.dryRun) {
    context.df.setCustomStatus(status("restore"));
    yield* runBoundedBatches(context, {
      batchCount: plan.batchCount,
      inFlight: input.tuning.batchesInFlight,
      activity: ActivityNames.restoreKeyBatch,
      retry: input.retry,
      input: (batchIndex) => ({
        jobId,
        backupSetId: plan.backupSetId,
        targetVaultUrl: plan.targetVaultUrl,
        batchIndex,
        keyConcurrency: input.tuning.keyConcurrency,
        onConflict: input.onConflict,
      }),
      onFinished: (batchIndex, outcome) => {
        batchesDone++;
        const size = Math.min(plan.batchSize, plan.toRestoreCount - batchIndex * plan.batchSize);
        keys.pending -= size;
        if (!outcome.ok) {
          // The report names each key of this batch as failed, with this reason.
          failedBatches.push({ batchIndex, reason: outcome.reason });
          keys.failed += size;
        } else {
          keys.succeeded += outcome.result.restored;
          keys.skipped += outcome.result.skipped;
          keys.failed += outcome.result.failed;
        }
        context.df.setCustomStatus(status("restore"));
      },
    });
  }

  context.df.setCustomStatus(status("report"));
  const reportInput: WriteRestoreReportInput = {
    jobId,
    backupSetId: plan.backupSetId,
    dryRun: input.dryRun,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
    failedBatches,
  };
  const summary = yield* callActivity(context, ActivityNames.writeRestoreReport, reportInput, input.retry);
  // The report is the record: the final status says what it says.
  Object.assign(keys, { succeeded: summary.keys.succeeded, failed: summary.keys.failed, skipped: summary.keys.skipped, pending: 0 });
  context.df.setCustomStatus({ ...status("done"), keysTotal: summary.keys.total });
  return summary;
}

function emptyProgress(phase: JobProgress["phase"]): JobProgress {
  return { phase, keysTotal: 0, keysSucceeded: 0, keysFailed: 0, keysSkipped: 0, keysPending: 0, bytes: 0, batchesDone: 0, batchCount: 0 };
}
