/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */
import type { ActivityRetryPolicy, JobTuning, KeyCounts, KeyIssue } from "./common";

export type ConflictPolicy = "skip" | "fail";

export interface VaultRestoreInput {
  readonly backupSetId: string;
  /** Target vault; planRestore resolves the default (the source vault of the set). */
  readonly targetVaultUrl?: string;
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
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** A dry run reads and checks every blob; a real run leaves that to the batches. */
  readonly verifyBlobs: boolean;
  readonly batchSize: number;
}

/**
 * What the orchestrator learns of a restore plan: counts. The names (which to restore, in batch order;
 * which are taken, missing or damaged) are in the plan document the activity wrote once (planPath), which
 * the batches and the report read back: per-key records never travel through orchestration history.
 * keysSelected = toRestoreCount + alreadyPresentCount + softDeletedCount + missingOrDamagedCount + skippedAtBackupCount.
 */
export interface RestorePlan {
  readonly backupSetId: string;
  readonly sourceVaultUrl: string;
  readonly targetVaultUrl: string;
  /** Keys of the set that match the filters. */
  readonly keysSelected: number;
  /** Names free in the target, with a usable backup: what the batches restore. */
  readonly toRestoreCount: number;
  /** Names held by a key in the target (reported skipped; with onConflict "fail" the job stops first). */
  readonly alreadyPresentCount: number;
  /** Names held by a soft-deleted key in the target (same). */
  readonly softDeletedCount: number;
  /** In the selection but without a usable backup: failed at backup time, blob missing or damaged (a dry run checks every blob). */
  readonly missingOrDamagedCount: number;
  /** In the selection but skipped on purpose at backup time (e.g. certificate-backed keys): reported as skipped. */
  readonly skippedAtBackupCount: number;
  readonly batchCount: number;
  /** Batch i restores toRestore[i*batchSize … (i+1)*batchSize) of the plan document. */
  readonly batchSize: number;
  /** Path of the plan document in the backup store. */
  readonly planPath: string;
  /** A few of the names taken in the target, for the message of a refused restore (onConflict "fail"). */
  readonly conflictSample: readonly string[];
}

export interface RestoreKeyBatchInput {
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
 * Counts of one batch; each key's result is in the batch's record next to the plan document. A key the
 * target already holds exactly as backed up counts as restored: the batches only work on names that were
 * free when the plan was made, so such a key was restored by an earlier attempt of this job (a retried
 * batch, an answer lost on the way, a resumed job). A name taken before the job is in the plan, skipped.
 */
export interface RestoreBatchResult {
  readonly batchIndex: number;
  readonly restored: number;
  readonly skipped: number;
  readonly failed: number;
}

export interface WriteRestoreReportInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Batches whose activity failed for good, with the reason: their keys are reported failed. */
  readonly failedBatches: readonly { readonly batchIndex: number; readonly reason: string }[];
}

/** A dry run's plan in its summary: the counts, and the first SUMMARY_LIST_LIMIT names of each list (the report has them all). */
export interface RestorePlanListing {
  readonly toRestoreCount: number;
  readonly alreadyPresentCount: number;
  readonly softDeletedCount: number;
  readonly missingOrDamagedCount: number;
  readonly skippedAtBackupCount: number;
  readonly toRestore: readonly string[];
  readonly alreadyPresent: readonly string[];
  readonly softDeleted: readonly string[];
  readonly missingOrDamaged: readonly KeyIssue[];
  readonly skippedAtBackup: readonly KeyIssue[];
}

export interface RestoreSummary {
  readonly backupSetId: string;
  readonly targetVaultUrl: string;
  readonly dryRun: boolean;
  /** Dry runs only. */
  readonly plan?: RestorePlanListing;
  /** A dry run counts as succeeded the keys it would restore (their blobs checked). */
  readonly keys: KeyCounts;
  /** The first SUMMARY_LIST_LIMIT skipped keys, by name, with reasons; the report has them all. */
  readonly skipped: readonly KeyIssue[];
  /** The first SUMMARY_LIST_LIMIT failed keys, by name, with reasons; the report has them all. */
  readonly failures: readonly KeyIssue[];
  /** The report document in the backup store: every key's result (and for a dry run the whole plan). */
  readonly reportPath: string;
  /**
   * Names the restore found still being deleted, recovered or purged in the target (Key Vault answers 409
   * until that finishes) and waited for before the conflict policy decided; absent when there were none.
   */
  readonly waitedForNames?: { readonly deleting: number; readonly recovering: number; readonly purging: number; readonly waitedMs: number };
  readonly startedAt: string;
  readonly endedAt: string;
}
