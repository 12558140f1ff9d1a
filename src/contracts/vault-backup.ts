/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */
import type { ActivityRetryPolicy, BackupSetState, CountsByKind, JobTuning, KindSizes, ObjectCounts, ObjectIssue, ObjectKind } from "./common";

export interface VaultBackupInput {
  readonly vaultUrl: string;
  /**
   * The kinds of objects to back up, in any order. Absent: keys only (a job started before the
   * backup of other kinds; every trigger of today names its kinds).
   */
  readonly kinds?: readonly ObjectKind[];
  /** Globs on object names, each optionally scoped to a kind (`secret:db-*`; src/filters.ts). */
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /**
   * List each object's versions for the manifest (version count, latest version id): one more vault
   * operation per object. false halves the operations (twice the objects per second at the vault's
   * limit) and records only what the object list gives. Absent means true.
   */
  readonly versionDetails?: boolean;
  readonly tuning: JobTuning;
  readonly retry: ActivityRetryPolicy;
}

export interface TakeInventoryInput {
  readonly jobId: string;
  readonly vaultUrl: string;
  readonly kinds: readonly ObjectKind[];
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** ISO time the job started (from the orchestration clock); names the backup set folder. */
  readonly startedAt: string;
  readonly batchSize: number;
  /** Recorded in the inventory, so every batch of the set (and a resumed one) does the same. */
  readonly versionDetails: boolean;
}

export interface InventorySummary {
  readonly backupSetId: string;
  /** Objects matching the kinds and the filters: to back up, skipped, and in a certificate's backup. */
  readonly objectsMatched: number;
  /** Objects the batches back up. */
  readonly objectsToBackUp: number;
  /** Settled as skipped by the inventory (a certificate's key or secret whose certificate is not in the job). */
  readonly objectsSkipped: number;
  /** A certificate's key or secret, backed up inside its certificate's backup: settled by the manifest. */
  readonly objectsWithCertificate: number;
  /** Per kind: matched, to back up (batch order is kind by kind, in OBJECT_KINDS order), skipped, with a certificate. */
  readonly matchedByKind: KindSizes;
  readonly toBackUpByKind: KindSizes;
  readonly skippedByKind: KindSizes;
  readonly withCertificateByKind: KindSizes;
  readonly batchCount: number;
  /** Objects per batch: batch i backs up objects i*batchSize … (i+1)*batchSize of those to back up. */
  readonly batchSize: number;
}

export interface BackupObjectBatchInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly vaultUrl: string;
  readonly batchIndex: number;
  readonly keyConcurrency: number;
}

/** What one kind of a batch came to. */
export interface KindBatchCounts {
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface BatchCounts {
  readonly batchIndex: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Found deleted (or refused as a certificate's) when the batch came to them. */
  readonly skipped: number;
  readonly bytes: number;
  /** The same counts by kind (absent in a result recorded before kinds: all keys). */
  readonly byKind?: { readonly [K in ObjectKind]?: KindBatchCounts };
}

export interface WriteBackupManifestInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly vaultUrl: string;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Batches whose activity failed every attempt, with the last error: their objects are recorded as failed. */
  readonly failedBatches: readonly { readonly batchIndex: number; readonly reason: string }[];
}

export interface BackupSummary {
  readonly backupSetId: string;
  readonly vaultUrl: string;
  readonly state: BackupSetState;
  /** Every object of the set. */
  readonly objects: ObjectCounts;
  /** The keys alone (what `keys` has always counted). */
  readonly keys: ObjectCounts;
  readonly kinds: CountsByKind;
  /** Versions recorded in the manifest: 0 when the set was taken without version details. */
  readonly versions: number;
  /** Whether the manifest records each object's version count and latest version id. */
  readonly versionDetails: boolean;
  readonly bytes: number;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Objects that failed, with reasons: the first SUMMARY_LIST_LIMIT; the manifest has them all. */
  readonly failures: readonly ObjectIssue[];
  /** Objects that were skipped, with reasons: the first SUMMARY_LIST_LIMIT; the manifest has them all. */
  readonly skipped: readonly ObjectIssue[];
  /** The document in the backup store with every object's result: for a backup, the set's manifest. */
  readonly reportPath: string;
}
