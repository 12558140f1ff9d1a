import { SUMMARY_LIST_LIMIT, type KeyIssue, type RestoreBatchResult, type RestorePlan, type RestoreSummary } from "../../src/contracts";
import type { RestoreBatchRecord, RestoreJobPaths, RestorePlanDocument, RestoreReport } from "../../src/storage/restore-job";

/** Names shown in the refusal of a restore with onConflict "fail" (the plan document has them all). */
const CONFLICT_SAMPLE = 20;

/** What the orchestrator learns of a plan: counts, and a few taken names for a refusal. */
export function summarizePlan(plan: RestorePlanDocument, job: RestoreJobPaths): RestorePlan {
  return {
    backupSetId: plan.backupSetId,
    sourceVaultUrl: plan.sourceVaultUrl,
    targetVaultUrl: plan.targetVaultUrl,
    keysSelected: plan.toRestore.length + plan.alreadyPresent.length + plan.softDeleted.length + plan.missingOrDamaged.length + plan.skippedAtBackup.length,
    toRestoreCount: plan.toRestore.length,
    alreadyPresentCount: plan.alreadyPresent.length,
    softDeletedCount: plan.softDeleted.length,
    missingOrDamagedCount: plan.missingOrDamaged.length,
    skippedAtBackupCount: plan.skippedAtBackup.length,
    batchCount: Math.ceil(plan.toRestore.length / plan.batchSize),
    batchSize: plan.batchSize,
    planPath: job.plan,
    conflictSample: [...plan.alreadyPresent, ...plan.softDeleted].slice(0, CONFLICT_SAMPLE),
  };
}

export function summarizeReport(report: RestoreReport, plan: RestorePlanDocument, job: RestoreJobPaths): RestoreSummary {
  const first = <T>(list: readonly T[]) => list.slice(0, SUMMARY_LIST_LIMIT);
  return {
    backupSetId: report.backupSetId,
    targetVaultUrl: report.targetVaultUrl,
    dryRun: report.dryRun,
    ...(report.dryRun
      ? {
          plan: {
            toRestoreCount: plan.toRestore.length,
            alreadyPresentCount: plan.alreadyPresent.length,
            softDeletedCount: plan.softDeleted.length,
            missingOrDamagedCount: plan.missingOrDamaged.length,
            skippedAtBackupCount: plan.skippedAtBackup.length,
            toRestore: first(plan.toRestore),
            alreadyPresent: first(plan.alreadyPresent),
            softDeleted: first(plan.softDeleted),
            missingOrDamaged: first(plan.missingOrDamaged),
            skippedAtBackup: first(plan.skippedAtBackup),
          },
        }
      : {}),
    keys: report.keys,
    skipped: first(report.skipped),
    failures: first(report.failed),
    reportPath: job.report,
    ...(report.waitedForNames ? { waitedForNames: report.waitedForNames } : {}),
    startedAt: report.startedAt,
    endedAt: report.endedAt,
  };
}

export function countRestoreBatch(record: RestoreBatchRecord): RestoreBatchResult {
  let restored = 0, skipped = 0, failed = 0;
  for (const key of record.keys) {
    if (key.result === "restored" || key.result === "alreadyInTarget") restored++;
    else if (key.result === "skipped") skipped++;
    else failed++;
  }
  return { batchIndex: record.batchIndex, restored, skipped, failed };
}

export function byName(a: KeyIssue, b: KeyIssue): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
