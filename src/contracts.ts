/**
 * The one contract between orchestrators and activities: their names and their typed inputs and
 * outputs. Orchestrators import this module and durable-functions only; activities implement it.
 *
 * Everything here travels through orchestration history (plain text in the task hub), so it holds
 * counts, indexes and names, never secrets and never thousands of per-key records.
 */

export const OrchestratorNames = {
  vaultBackup: "vaultBackupOrchestrator",
  vaultRestore: "vaultRestoreOrchestrator",
  hsmBackup: "hsmBackupOrchestrator",
  hsmRestore: "hsmRestoreOrchestrator",
} as const;

export const ActivityNames = {
  takeKeyInventory: "takeKeyInventory",
  backupKeyBatch: "backupKeyBatch",
  writeBackupManifest: "writeBackupManifest",
  planRestore: "planRestore",
  restoreKeyBatch: "restoreKeyBatch",
  startHsmBackup: "startHsmBackup",
  startHsmRestore: "startHsmRestore",
  getHsmJobStatus: "getHsmJobStatus",
} as const;

/** How a bulk job spreads its work; tuned defaults live in src/tuning.ts. */
export interface JobTuning {
  /** Keys per batch activity. */
  readonly batchSize: number;
  /** Batch activities running at once for one job. */
  readonly batchesInFlight: number;
  /** Key Vault calls running at once inside one batch activity. */
  readonly keyConcurrency: number;
}

/** Retry of a whole batch activity (storage down, process crash); per-key retries happen inside. */
export interface ActivityRetryPolicy {
  readonly firstRetryIntervalMs: number;
  readonly maxAttempts: number;
  readonly backoffCoefficient: number;
  readonly maxRetryIntervalMs: number;
}

// ---------------------------------------------------------------- vault backup

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
  readonly keys: { readonly total: number; readonly succeeded: number; readonly failed: number; readonly skipped: number };
  /** Versions recorded in the manifest: 0 when the set was taken without version details. */
  readonly versions: number;
  /** Whether the manifest records each key's version count and latest version id. */
  readonly versionDetails: boolean;
  readonly bytes: number;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Names and reasons of the keys that failed (bounded; the manifest has them all). */
  readonly failures: readonly KeyIssue[];
}

export type BackupSetState = "complete" | "partial" | "incomplete";

export interface KeyIssue {
  readonly name: string;
  readonly reason: string;
}

// ---------------------------------------------------------------- vault restore

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
  readonly backupSetId: string;
  readonly targetVaultUrl?: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** A dry run reads and checks every blob; a real run leaves that to the batches. */
  readonly verifyBlobs: boolean;
  readonly batchSize: number;
}

export interface RestorePlan {
  readonly backupSetId: string;
  readonly sourceVaultUrl: string;
  readonly targetVaultUrl: string;
  /** Keys of the set that match the filters and were backed up successfully. */
  readonly keysSelected: number;
  readonly toRestoreCount: number;
  /** The names to restore: listed for a dry run only (a real run keeps history small; the batches know them). */
  readonly toRestore: readonly string[];
  readonly alreadyPresent: readonly string[];
  readonly softDeleted: readonly string[];
  /** In the selection but without a usable backup: failed at backup time, blob missing or damaged. */
  readonly missingOrDamaged: readonly KeyIssue[];
  /** In the selection but skipped on purpose at backup time (e.g. certificate-backed keys): reported as skipped. */
  readonly skippedAtBackup: readonly KeyIssue[];
  readonly batchCount: number;
}

export interface RestoreKeyBatchInput {
  readonly jobId: string;
  readonly backupSetId: string;
  readonly targetVaultUrl: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly batchIndex: number;
  readonly batchSize: number;
  readonly keyConcurrency: number;
  readonly onConflict: ConflictPolicy;
}

export interface RestoreBatchResult {
  readonly batchIndex: number;
  readonly restored: number;
  readonly skipped: readonly KeyIssue[];
  readonly failed: readonly KeyIssue[];
  /**
   * Names the target vault already holds exactly as backed up (the manifest's latest version id and
   * version count): restored by an earlier attempt of this job (a retried batch, an answer lost on the
   * way, a resumed job) or present before the job. The orchestrator counts them as restored unless its
   * plan found the name taken before the job started.
   */
  readonly alreadyInTarget?: readonly string[];
}

export interface RestoreSummary {
  readonly backupSetId: string;
  readonly targetVaultUrl: string;
  readonly dryRun: boolean;
  readonly plan?: RestorePlan;
  readonly keys: { readonly total: number; readonly succeeded: number; readonly failed: number; readonly skipped: number };
  readonly skipped: readonly KeyIssue[];
  readonly failures: readonly KeyIssue[];
  readonly startedAt: string;
  readonly endedAt: string;
}

// ---------------------------------------------------------------- progress (custom status)

export interface JobProgress {
  readonly phase: "inventory" | "backup" | "manifest" | "plan" | "restore" | "done";
  readonly keysTotal: number;
  readonly keysDone: number;
  readonly keysFailed: number;
  readonly keysSkipped: number;
  readonly bytes: number;
  readonly batchesDone: number;
  readonly batchCount: number;
  readonly backupSetId?: string;
}

// ---------------------------------------------------------------- Managed HSM (service-side long-running jobs)

/** How the orchestrator polls a Managed HSM job with durable timers. */
export interface HsmPollingPolicy {
  readonly initialIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly backoffCoefficient: number;
  /** Overall limit: the job is given up (and the orchestration fails) after this long. */
  readonly timeoutMs: number;
}

export interface HsmBackupInput {
  readonly hsmUrl: string;
  /** Blob container URL the HSM writes its backup folder into (no SAS: the activity mints one if configured). */
  readonly containerUrl: string;
  readonly polling: HsmPollingPolicy;
  /** Retries of the start and status activities (default: DEFAULT_HSM_ACTIVITY_RETRY in orchestrators/hsm.ts). */
  readonly retry?: ActivityRetryPolicy;
}

export interface HsmRestoreInput {
  readonly hsmUrl: string;
  /** URL of the backup folder (`<container URL>/mhsm-<name>-<YYYYMMDDHHmmss>`). */
  readonly folderUrl: string;
  /** Restore this key only (selective key restore); all keys when absent. */
  readonly keyName?: string;
  readonly polling: HsmPollingPolicy;
  readonly retry?: ActivityRetryPolicy;
}

/** Input of the startHsmBackup activity; storage access (managed identity or a SAS) is decided inside it. */
export interface StartHsmBackupInput {
  readonly hsmUrl: string;
  readonly containerUrl: string;
  /** The orchestration's instance id, for log records. */
  readonly jobId?: string;
}

/** Input of the startHsmRestore activity: a full restore, or a selective one when keyName is set. */
export interface StartHsmRestoreInput {
  readonly hsmUrl: string;
  readonly folderUrl: string;
  readonly keyName?: string;
  readonly jobId?: string;
}

export type HsmJobState = "InProgress" | "Succeeded" | "Failed" | "Canceled";

export interface HsmJobStatus {
  readonly operation: "backup" | "restore" | "selectiveRestore";
  readonly jobId: string;
  readonly status: HsmJobState;
  readonly statusDetails?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** ISO times. */
  readonly startTime?: string;
  readonly endTime?: string;
  /** For a backup: the folder URL the HSM wrote (no SAS). */
  readonly folderUrl?: string;
  /** The service's Retry-After, in seconds, when it sent one. */
  readonly retryAfterSeconds?: number;
}

export interface GetHsmJobStatusInput {
  readonly hsmUrl: string;
  readonly operation: HsmJobStatus["operation"];
  readonly jobId: string;
}

export interface HsmJobSummary {
  readonly hsmUrl: string;
  readonly operation: HsmJobStatus["operation"];
  readonly jobId: string;
  readonly status: HsmJobState;
  readonly folderUrl?: string;
  readonly keyName?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly polls: number;
}

/** Custom status of an HSM orchestration. */
export interface HsmProgress {
  readonly phase: "starting" | "polling" | "done";
  readonly operation: HsmJobStatus["operation"];
  readonly hsmJobId?: string;
  readonly status?: HsmJobState;
  readonly statusDetails?: string;
  readonly polls: number;
  readonly nextPollAt?: string;
}
