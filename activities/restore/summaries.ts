import {
  KIND_PLURALS,
  SUMMARY_LIST_LIMIT,
  type KindPlural,
  type ObjectKind,
  type PlanCounts,
  type RestoreBatchResult,
  type RestorePlan,
  type RestoreSummary,
} from "../../src/contracts";
import type { RestoreBatchRecord, RestoreJobPaths, RestorePlanDocument, RestoreReport } from "../../src/storage/restore-job";
import { sizesByKind } from "../backup/manifest";

/** Names shown in the refusal of a restore with onConflict "fail" (the plan document has them all). */
const CONFLICT_SAMPLE = 20;

/** An object as an include glob names it: a key by its name, any other kind as `<kind>:<name>`. */
export function refString(ref: { readonly kind: ObjectKind; readonly name: string }): string {
  return ref.kind === "key" ? ref.name : `${ref.kind}:${ref.name}`;
}

function planCounts(plan: RestorePlanDocument, only?: ObjectKind): PlanCounts {
  const n = (list: readonly { kind: ObjectKind }[]) => (only ? list.filter((o) => o.kind === only).length : list.length);
  const counts = {
    toRestore: n(plan.toRestore),
    alreadyPresent: n(plan.alreadyPresent),
    softDeleted: n(plan.softDeleted),
    missingOrDamaged: n(plan.missingOrDamaged),
    skippedAtBackup: n(plan.skippedAtBackup),
    withCertificate: n(plan.withCertificate),
  };
  return { selected: Object.values(counts).reduce((a, b) => a + b, 0), ...counts };
}

function planCountsByKind(plan: RestorePlanDocument): { [P in KindPlural]: PlanCounts } {
  return { keys: planCounts(plan, "key"), secrets: planCounts(plan, "secret"), certificates: planCounts(plan, "certificate") };
}

/** What the orchestrator learns of a plan: counts, and a few taken names for a refusal. */
export function summarizePlan(plan: RestorePlanDocument, job: RestoreJobPaths): RestorePlan {
  const all = planCounts(plan);
  return {
    backupSetId: plan.backupSetId,
    sourceVaultUrl: plan.sourceVaultUrl,
    targetVaultUrl: plan.targetVaultUrl,
    objectsSelected: all.selected,
    toRestoreCount: all.toRestore,
    alreadyPresentCount: all.alreadyPresent,
    softDeletedCount: all.softDeleted,
    missingOrDamagedCount: all.missingOrDamaged,
    skippedAtBackupCount: all.skippedAtBackup,
    withCertificateCount: all.withCertificate,
    toRestoreByKind: sizesByKind(plan.toRestore),
    byKind: planCountsByKind(plan),
    batchCount: Math.ceil(plan.toRestore.length / plan.batchSize),
    batchSize: plan.batchSize,
    planPath: job.plan,
    conflictSample: [...plan.alreadyPresent, ...plan.softDeleted].slice(0, CONFLICT_SAMPLE).map(refString),
  };
}

export function summarizeReport(report: RestoreReport, plan: RestorePlanDocument, job: RestoreJobPaths): RestoreSummary {
  const first = <T>(list: readonly T[]) => list.slice(0, SUMMARY_LIST_LIMIT);
  const issue = (i: { kind: ObjectKind; name: string; reason: string }) => ({ kind: i.kind, name: i.name, reason: i.reason });
  const all = planCounts(plan);
  return {
    backupSetId: report.backupSetId,
    targetVaultUrl: report.targetVaultUrl,
    dryRun: report.dryRun,
    ...(report.dryRun
      ? {
          plan: {
            toRestoreCount: all.toRestore,
            alreadyPresentCount: all.alreadyPresent,
            softDeletedCount: all.softDeleted,
            missingOrDamagedCount: all.missingOrDamaged,
            skippedAtBackupCount: all.skippedAtBackup,
            withCertificateCount: all.withCertificate,
            kinds: planCountsByKind(plan),
            toRestore: first(plan.toRestore).map(refString),
            alreadyPresent: first(plan.alreadyPresent).map(refString),
            softDeleted: first(plan.softDeleted).map(refString),
            missingOrDamaged: first(plan.missingOrDamaged).map(issue),
            skippedAtBackup: first(plan.skippedAtBackup).map(issue),
          },
        }
      : {}),
    objects: report.objects,
    keys: report.byKind.keys,
    kinds: report.byKind,
    skipped: first(report.skipped).map(issue),
    failures: first(report.failed).map(issue),
    reportPath: job.report,
    ...(report.waitedForNames ? { waitedForNames: report.waitedForNames } : {}),
    startedAt: report.startedAt,
    endedAt: report.endedAt,
  };
}

export function countRestoreBatch(record: RestoreBatchRecord): RestoreBatchResult {
  const byKind: { [K in ObjectKind]?: { restored: number; skipped: number; failed: number } } = {};
  let restored = 0, skipped = 0, failed = 0;
  for (const object of record.objects) {
    const kind = (byKind[object.kind] ??= { restored: 0, skipped: 0, failed: 0 });
    if (object.result === "restored" || object.result === "alreadyInTarget") {
      restored++;
      kind.restored++;
    } else if (object.result === "skipped") {
      skipped++;
      kind.skipped++;
    } else {
      failed++;
      kind.failed++;
    }
  }
  return { batchIndex: record.batchIndex, restored, skipped, failed, byKind };
}

/** Counts of a list of results by kind, as the JSON output names them. */
export function pluralKey(kind: ObjectKind): KindPlural {
  return KIND_PLURALS[kind];
}
