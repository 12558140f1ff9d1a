/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */
import type { ActivityRetryPolicy, CountsByKind, JobTuning, KindPlural, KindSizes, ObjectCounts, ObjectIssue, ObjectKind } from "./common";

export type ConflictPolicy = "skip" | "fail";

export interface VaultRestoreInput {
  readonly backupSetId: string;
  /** Target vault; planRestore resolves the default (the source vault of the set). */
  readonly targetVaultUrl?: string;
  /** The kinds of the set to restore; absent: every kind the set holds. */
  readonly kinds?: readonly ObjectKind[];
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly dryRun: boolean;
  readonly onConflict: ConflictPolicy;
  readonly tuning: JobTuning;
  readonly retry: ActivityRetryPolicy;
}

export interface PlanRestoreInput {
  readonly jobId: string;
  /**
   * ISO time the job started, by the orchestration clock: with the job id it names the job's folder of
   * documents, so a new job under a reused id (another state folder, say) never takes up an older job's plan.
   */
  readonly startedAt: string;
  readonly backupSetId: string;
  readonly targetVaultUrl?: string;
  readonly kinds?: readonly ObjectKind[];
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** A dry run reads and checks every blob; a real run leaves that to the batches. */
  readonly verifyBlobs: boolean;
  readonly batchSize: number;
}

/** The plan's counts of one kind (or of all). selected = toRestore + alreadyPresent + softDeleted + missingOrDamaged + skippedAtBackup + withCertificate. */
export interface PlanCounts {
  readonly selected: number;
  readonly toRestore: number;
  readonly alreadyPresent: number;
  readonly softDeleted: number;
  readonly missingOrDamaged: number;
  readonly skippedAtBackup: number;
  /** A certificate's key or secret: it comes back with its certificate, and ends as its certificate does. */
  readonly withCertificate: number;
}

/**
 * What the orchestrator learns of a restore plan: counts. The names (which to restore, in batch order;
 * which are taken, missing or damaged) are in the plan document the activity wrote once (planPath), which
 * the batches and the report read back: per-object records never travel through orchestration history.
 * objectsSelected = toRestoreCount + alreadyPresentCount + softDeletedCount + missingOrDamagedCount +
 * skippedAtBackupCount + withCertificateCount.
 */
export interface RestorePlan {
  readonly backupSetId: string;
  readonly sourceVaultUrl: string;
  readonly targetVaultUrl: string;
  /** Objects of the set that match the kinds and the filters. */
  readonly objectsSelected: number;
  /** Names free in the target, with a usable backup: what the batches restore. */
  readonly toRestoreCount: number;
  /** Names held by an object in the target (reported skipped; with onConflict "fail" the job stops first). */
  readonly alreadyPresentCount: number;
  /** Names held by a soft-deleted object in the target (same). */
  readonly softDeletedCount: number;
  /** In the selection but without a usable backup: failed at backup time, blob missing or damaged (a dry run checks every blob). */
  readonly missingOrDamagedCount: number;
  /** In the selection but skipped on purpose at backup time: reported as skipped. */
  readonly skippedAtBackupCount: number;
  /** A certificate's keys and secrets, settled with their certificates by the report. */
  readonly withCertificateCount: number;
  /** Per kind: the objects to restore, in batch order (kind by kind, in OBJECT_KINDS order). */
  readonly toRestoreByKind: KindSizes;
  readonly byKind: { readonly [P in KindPlural]: PlanCounts };
  readonly batchCount: number;
  /** Batch i restores toRestore[i*batchSize … (i+1)*batchSize) of the plan document. */
  readonly batchSize: number;
  /** Path of the plan document in the backup store. */
  readonly planPath: string;
  /** A few of the names taken in the target (keys bare, others as `<kind>:<name>`), for the message of a refused restore. */
  readonly conflictSample: readonly string[];
}

export interface RestoreObjectBatchInput {
  readonly jobId: string;
  /**
   * ISO time the job started, by the orchestration clock: with the job id it names the job's folder of
   * documents, so a new job under a reused id (another state folder, say) never takes up an older job's plan.
   */
  readonly startedAt: string;
  readonly backupSetId: string;
  readonly targetVaultUrl: string;
  readonly batchIndex: number;
  readonly keyConcurrency: number;
  readonly onConflict: ConflictPolicy;
}

/**
 * Counts of one batch; each object's result is in the batch's record next to the plan document. An object
 * the target already holds exactly as backed up counts as restored: the batches only work on names that
 * were free when the plan was made, so such an object was restored by an earlier attempt of this job (a
 * retried batch, an answer lost on the way, a resumed job). A name taken before the job is in the plan, skipped.
 */
export interface RestoreBatchResult {
  readonly batchIndex: number;
  readonly restored: number;
  readonly skipped: number;
  readonly failed: number;
  /** The same counts by kind (absent in a result recorded before kinds: all keys). */
  readonly byKind?: { readonly [K in ObjectKind]?: { readonly restored: number; readonly skipped: number; readonly failed: number } };
}

export interface WriteRestoreReportInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Batches whose activity failed for good, with the reason: their objects are reported failed. */
  readonly failedBatches: readonly { readonly batchIndex: number; readonly reason: string }[];
}

/**
 * A dry run's plan in its summary: the counts (of all kinds and of each), and the first SUMMARY_LIST_LIMIT
 * names of each list (the report has them all). Names in the lists are written as an include glob names
 * them: a key by its name, a secret or a certificate as `secret:<name>`, `certificate:<name>`.
 */
export interface RestorePlanListing {
  readonly toRestoreCount: number;
  readonly alreadyPresentCount: number;
  readonly softDeletedCount: number;
  readonly missingOrDamagedCount: number;
  readonly skippedAtBackupCount: number;
  readonly withCertificateCount: number;
  readonly kinds: { readonly [P in KindPlural]: PlanCounts };
  readonly toRestore: readonly string[];
  readonly alreadyPresent: readonly string[];
  readonly softDeleted: readonly string[];
  readonly missingOrDamaged: readonly ObjectIssue[];
  readonly skippedAtBackup: readonly ObjectIssue[];
}

export interface RestoreSummary {
  readonly backupSetId: string;
  readonly targetVaultUrl: string;
  readonly dryRun: boolean;
  /** Dry runs only. */
  readonly plan?: RestorePlanListing;
  /** Every object of the restore; a dry run counts as succeeded the objects it would restore (their blobs checked). */
  readonly objects: ObjectCounts;
  /** The keys alone (what `keys` has always counted). */
  readonly keys: ObjectCounts;
  readonly kinds: CountsByKind;
  /** The first SUMMARY_LIST_LIMIT skipped objects, with reasons; the report has them all. */
  readonly skipped: readonly ObjectIssue[];
  /** The first SUMMARY_LIST_LIMIT failed objects, with reasons; the report has them all. */
  readonly failures: readonly ObjectIssue[];
  /** The report document in the backup store: every object's result (and for a dry run the whole plan). */
  readonly reportPath: string;
  /**
   * Names the restore found still being deleted, recovered or purged in the target (Key Vault answers 409
   * until that finishes) and waited for before the conflict policy decided; absent when there were none.
   */
  readonly waitedForNames?: { readonly deleting: number; readonly recovering: number; readonly purging: number; readonly waitedMs: number };
  readonly startedAt: string;
  readonly endedAt: string;
}
