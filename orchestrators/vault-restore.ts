import * as df from "durable-functions";
import {
  ActivityNames,
  type JobProgress,
  type KeyIssue,
  type PlanRestoreInput,
  type RestoreBatchResult,
  type RestoreKeyBatchInput,
  type RestorePlan,
  type RestoreSummary,
  type VaultRestoreInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { failureReason, toRetryOptions } from "./retry";

/** The job ends Failed with this when the conflict policy is `fail` and a name is taken: nothing was restored. */
export const RESTORE_CONFLICT_PREFIX = "restore refused, nothing was changed:";
/** Why a name that was taken before the job began is skipped. */
export const ALREADY_EXISTS_REASON = "a key of that name already exists in the target vault";

/**
 * Restores a backup set: plan (manifest, filters, target vault state) → batches that verify each
 * blob's SHA-256 and restore it. A dry run returns the plan and changes nothing.
 */
export function* vaultRestoreOrchestrator(context: df.OrchestrationContext): Generator<df.Task, RestoreSummary, any> {
  const input = context.df.getInput<VaultRestoreInput>();
  const jobId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const retry = toRetryOptions(input.retry);

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
  const plan: RestorePlan = yield context.df.callActivityWithRetry(ActivityNames.planRestore, retry, planInput);

  const conflicts = [...plan.alreadyPresent, ...plan.softDeleted];
  if (!input.dryRun && input.onConflict === "fail" && conflicts.length > 0) {
    const shown = conflicts.slice(0, 20).join(", ") + (conflicts.length > 20 ? `, … (${conflicts.length} in all)` : "");
    throw new Error(`${RESTORE_CONFLICT_PREFIX} ${conflicts.length} key name(s) already exist or are soft-deleted in ${plan.targetVaultUrl}: ${shown}`);
  }

  if (input.dryRun) {
    context.df.setCustomStatus({ ...emptyProgress("done"), keysTotal: plan.keysSelected, backupSetId: plan.backupSetId });
    return {
      backupSetId: plan.backupSetId,
      targetVaultUrl: plan.targetVaultUrl,
      dryRun: true,
      plan,
      keys: {
        total: plan.keysSelected,
        succeeded: 0,
        failed: plan.missingOrDamaged.length,
        skipped: conflicts.length + plan.skippedAtBackup.length,
      },
      skipped: [...plan.skippedAtBackup],
      failures: plan.missingOrDamaged,
      startedAt,
      endedAt: context.df.currentUtcDateTime.toISOString(),
    };
  }

  let restored = 0, batchesDone = 0;
  // Names taken before any batch ran; a batch that finds one of the others already restored, version for
  // version, is seeing its own earlier attempt (retry, lost answer, resumed job): that key counts as restored.
  const takenBeforeJob = new Set([...plan.alreadyPresent, ...plan.softDeleted].map((name) => name.toLowerCase()));
  const skipped: KeyIssue[] = [...plan.skippedAtBackup];
  const failures: KeyIssue[] = [...plan.missingOrDamaged];
  const status = (phase: JobProgress["phase"]): JobProgress => ({
    phase,
    keysTotal: plan.keysSelected,
    keysDone: restored + failures.length,
    keysFailed: failures.length,
    keysSkipped: skipped.length,
    bytes: 0,
    batchesDone,
    batchCount: plan.batchCount,
    backupSetId: plan.backupSetId,
  });
  context.df.setCustomStatus(status("restore"));

  yield* runBoundedBatches(context, {
    batchCount: plan.batchCount,
    inFlight: input.tuning.batchesInFlight,
    schedule: (batchIndex) => {
      const batchInput: RestoreKeyBatchInput = {
        jobId,
        backupSetId: plan.backupSetId,
        targetVaultUrl: plan.targetVaultUrl,
        include: input.include,
        exclude: input.exclude,
        batchIndex,
        batchSize: input.tuning.batchSize,
        keyConcurrency: input.tuning.keyConcurrency,
        onConflict: input.onConflict,
      };
      return context.df.callActivityWithRetry(ActivityNames.restoreKeyBatch, retry, batchInput);
    },
    onFinished: (batchIndex, finished) => {
      batchesDone++;
      if (finished.isFaulted) {
        failures.push({ name: `batch-${batchIndex}`, reason: `every attempt of restore batch ${batchIndex} failed: ${failureReason(finished)}` });
      } else {
        const result = finished.result as RestoreBatchResult;
        restored += result.restored;
        skipped.push(...result.skipped);
        failures.push(...result.failed);
        for (const name of result.alreadyInTarget ?? []) {
          if (takenBeforeJob.has(name.toLowerCase())) skipped.push({ name, reason: ALREADY_EXISTS_REASON });
          else restored++;
        }
      }
      context.df.setCustomStatus(status("restore"));
    },
  });

  context.df.setCustomStatus(status("done"));
  skipped.sort(byName);
  failures.sort(byName);
  return {
    backupSetId: plan.backupSetId,
    targetVaultUrl: plan.targetVaultUrl,
    dryRun: false,
    keys: { total: plan.keysSelected, succeeded: restored, failed: failures.length, skipped: skipped.length },
    skipped,
    failures,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
  };
}

function emptyProgress(phase: JobProgress["phase"]): JobProgress {
  return { phase, keysTotal: 0, keysDone: 0, keysFailed: 0, keysSkipped: 0, bytes: 0, batchesDone: 0, batchCount: 0 };
}

function byName(a: KeyIssue, b: KeyIssue): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
