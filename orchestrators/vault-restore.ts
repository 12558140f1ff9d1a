import * as df from "durable-functions";
import {
  ActivityNames,
  JOB_FAILURE_PREFIXES,
  JobFailureCodes,
  type PlanRestoreInput,
  type RestoreSummary,
  type VaultRestoreInput,
  type WriteRestoreReportInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { KeyTally, emptyProgress } from "./progress";
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
    startedAt,
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
  const keys = new KeyTally(
    plan.keysSelected,
    plan.missingOrDamagedCount,
    conflicts + plan.skippedAtBackupCount,
    plan.toRestoreCount,
    input.dryRun ? 0 : plan.batchCount,
    plan.backupSetId,
  );

  if (!input.dryRun) {
    context.df.setCustomStatus(keys.progress("restore"));
    yield* runBoundedBatches(context, {
      batchCount: plan.batchCount,
      inFlight: input.tuning.batchesInFlight,
      activity: ActivityNames.restoreKeyBatch,
      retry: input.retry,
      input: (batchIndex) => ({
        jobId,
        startedAt,
        backupSetId: plan.backupSetId,
        targetVaultUrl: plan.targetVaultUrl,
        batchIndex,
        keyConcurrency: input.tuning.keyConcurrency,
        onConflict: input.onConflict,
      }),
      onFinished: (batchIndex, outcome) => {
        const size = Math.min(plan.batchSize, plan.toRestoreCount - batchIndex * plan.batchSize);
        // A batch that failed as a whole: the report names each of its keys as failed, with this reason.
        if (!outcome.ok) keys.batchFailed(batchIndex, size, outcome.reason);
        else keys.batchDone(size, { succeeded: outcome.result.restored, failed: outcome.result.failed, skipped: outcome.result.skipped });
        context.df.setCustomStatus(keys.progress("restore"));
      },
    });
  }

  context.df.setCustomStatus(keys.progress("report"));
  const reportInput: WriteRestoreReportInput = {
    jobId,
    backupSetId: plan.backupSetId,
    dryRun: input.dryRun,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
    failedBatches: keys.failedBatches,
  };
  const summary = yield* callActivity(context, ActivityNames.writeRestoreReport, reportInput, input.retry);
  keys.settle(summary.keys);
  context.df.setCustomStatus(keys.progress("done"));
  return summary;
}
