/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */
import type { ActivityRetryPolicy, BackupSetState, JobTuning, KeyCounts, KeyIssue } from "./common";

export interface VaultBackupInput {
  readonly vaultUrl: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /**
   * List each key's versions for the manifest (version count, latest version id): one more vault
   * operation per key. false halves the operations (twice the keys per second at the vault's limit)
   * and records only what the key list gives. Absent means true.
   */
  readonly versionDetails?: boolean;
  readonly tuning: JobTuning;
  readonly retry: ActivityRetryPolicy;
}

export interface TakeKeyInventoryInput {
  readonly jobId: string;
  readonly vaultUrl: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** ISO time the job started (from the orchestration clock); names the backup set folder. */
  readonly startedAt: string;
  readonly batchSize: number;
  /** Recorded in the inventory, so every batch of the set (and a resumed one) does the same. */
  readonly versionDetails: boolean;
}

export interface KeyInventorySummary {
  readonly backupSetId: string;
  /** Keys matching the filters, including the certificate-backed ones that will be skipped. */
  readonly keysMatched: number;
  /** Keys to back up (matched minus skipped). */
  readonly keysToBackUp: number;
  /** Certificate-backed keys: the service refuses their backup as keys. */
  readonly keysSkipped: number;
  readonly batchCount: number;
  /** Keys per batch: batch i backs up keys i*batchSize … (i+1)*batchSize of those to back up. */
  readonly batchSize: number;
}

export interface BackupKeyBatchInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly vaultUrl: string;
  readonly batchIndex: number;
  readonly keyConcurrency: number;
}

export interface BatchCounts {
  readonly batchIndex: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Found certificate-backed or deleted when the batch came to them. */
  readonly skipped: number;
  readonly bytes: number;
}

export interface WriteBackupManifestInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly vaultUrl: string;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Batches whose activity failed every attempt, with the last error: their keys are recorded as failed. */
  readonly failedBatches: readonly { readonly batchIndex: number; readonly reason: string }[];
}

export interface BackupSummary {
  readonly backupSetId: string;
  readonly vaultUrl: string;
  readonly state: BackupSetState;
  readonly keys: KeyCounts;
  /** Versions recorded in the manifest: 0 when the set was taken without version details. */
  readonly versions: number;
  /** Whether the manifest records each key's version count and latest version id. */
  readonly versionDetails: boolean;
  readonly bytes: number;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Names and reasons of the keys that failed: the first SUMMARY_LIST_LIMIT; the manifest has them all. */
  readonly failures: readonly KeyIssue[];
  /** Names and reasons of the keys that were skipped: the first SUMMARY_LIST_LIMIT; the manifest has them all. */
  readonly skipped: readonly KeyIssue[];
  /** The document in the backup store with every key's result: for a backup, the set's manifest. */
  readonly reportPath: string;
}
