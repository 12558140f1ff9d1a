import * as df from "durable-functions";
import {
  ActivityNames,
  JOB_FAILURE_PREFIXES,
  KIND_PLURALS,
  OBJECT_KINDS,
  type ObjectKind,
  JobFailureCodes,
  type PlanRestoreInput,
  type RestorePlan,
  type RestoreSummary,
  type VaultRestoreInput,
  type WriteRestoreReportInput,
} from "../src/contracts";
import { runBoundedBatches } from "./bounded-batches";
import { ObjectTally, emptyProgress, type KindStart } from "./progress";
import { JobFailedError } from "./job-failed";
import { callActivity } from "./retry";


/**
 * Restores a backup set: plan (manifest, kinds, filters, target vault state) → batches that verify each
 * blob's SHA-256 and restore it (certificates first: each brings back its key and secret) → report. A dry
 * run plans and reports, and changes nothing in the vault.
 *
 * Only counts and batch indexes pass through here: the plan's names, each batch's per-object results and
 * the report are documents in the backup store (activities/vault-restore.ts), so history stays small
 * whether the set holds ten objects or fifty thousand, and whether they are restored or skipped.
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
    ...(input.kinds ? { kinds: input.kinds } : {}),
    include: input.include,
    exclude: input.exclude,
    verifyBlobs: input.dryRun,
    batchSize: input.tuning.batchSize,
  };
  const plan = withKinds(yield* callActivity(context, ActivityNames.planRestore, planInput, input.retry));

  const conflicts = plan.alreadyPresentCount + plan.softDeletedCount;
  if (!input.dryRun && input.onConflict === "fail" && conflicts > 0) {
    const k = plan.byKind.keys;
    const keysOnly = k.alreadyPresent + k.softDeleted === conflicts;
    const shown = plan.conflictSample.join(", ") + (conflicts > plan.conflictSample.length ? `, … (${conflicts} in all: ${plan.planPath})` : "");
    // The job ends Failed: the conflict policy is `fail` and names are taken, so nothing was restored.
    throw new JobFailedError(JobFailureCodes.restoreRefused, `${JOB_FAILURE_PREFIXES.RestoreRefused} ${conflicts} ${keysOnly ? "key " : ""}name(s) already exist or are soft-deleted in ${plan.targetVaultUrl}: ${shown}`);
  }

  // Names taken in the target and unusable backups are settled by the plan; the rest wait for their batch
  // (a certificate's key and secret: for the report).
  const start: { [K in ObjectKind]?: KindStart } = {};
  for (const kind of OBJECT_KINDS) {
    const c = plan.byKind[KIND_PLURALS[kind]];
    start[kind] = { total: c.selected, failed: c.missingOrDamaged, skipped: c.alreadyPresent + c.softDeleted + c.skippedAtBackup, pending: c.toRestore + c.withCertificate };
  }
  const objects = new ObjectTally(start, plan.toRestoreByKind, plan.batchSize, input.dryRun ? 0 : plan.batchCount, plan.backupSetId);

  if (!input.dryRun) {
    context.df.setCustomStatus(objects.progress("restore"));
    yield* runBoundedBatches(context, {
      batchCount: plan.batchCount,
      inFlight: input.tuning.batchesInFlight,
      activity: ActivityNames.restoreObjectBatch,
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
        // A batch that failed as a whole: the report names each of its objects as failed, with this reason.
        if (!outcome.ok) objects.batchFailed(batchIndex, outcome.reason);
        else {
          const r = outcome.result;
          const byKind: { [K in ObjectKind]?: { succeeded: number; failed: number; skipped: number } } | undefined = r.byKind
            ? Object.fromEntries(Object.entries(r.byKind).map(([kind, c]) => [kind, { succeeded: c.restored, failed: c.failed, skipped: c.skipped }]))
            : undefined;
          objects.batchDone(batchIndex, { succeeded: r.restored, failed: r.failed, skipped: r.skipped }, byKind);
        }
        context.df.setCustomStatus(objects.progress("restore"));
      },
    });
  }

  context.df.setCustomStatus(objects.progress("report"));
  const reportInput: WriteRestoreReportInput = {
    jobId,
    backupSetId: plan.backupSetId,
    dryRun: input.dryRun,
    startedAt,
    endedAt: context.df.currentUtcDateTime.toISOString(),
    failedBatches: objects.failedBatches,
  };
  const summary = yield* callActivity(context, ActivityNames.writeRestoreReport, reportInput, input.retry);
  objects.settle(summary.kinds);
  context.df.setCustomStatus(objects.progress("done"));
  return summary;
}

/** A plan result recorded before kinds (a job resumed from older state) counted keys. */
function withKinds(plan: RestorePlan): RestorePlan {
  const recorded = plan as Partial<RestorePlan> & { keysSelected?: number };
  if (recorded.byKind !== undefined) return plan;
  const none = { selected: 0, toRestore: 0, alreadyPresent: 0, softDeleted: 0, missingOrDamaged: 0, skippedAtBackup: 0, withCertificate: 0 };
  const keys = {
    selected: recorded.keysSelected ?? 0,
    toRestore: plan.toRestoreCount,
    alreadyPresent: plan.alreadyPresentCount,
    softDeleted: plan.softDeletedCount,
    missingOrDamaged: plan.missingOrDamagedCount,
    skippedAtBackup: plan.skippedAtBackupCount,
    withCertificate: 0,
  };
  return { ...plan, objectsSelected: keys.selected, withCertificateCount: 0, toRestoreByKind: { key: plan.toRestoreCount }, byKind: { keys, secrets: none, certificates: none } };
}
