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
} as const satisfies { readonly [key: string]: OrchestratorName };

export const ActivityNames = {
  takeKeyInventory: "takeKeyInventory",
  backupKeyBatch: "backupKeyBatch",
  writeBackupManifest: "writeBackupManifest",
  planRestore: "planRestore",
  restoreKeyBatch: "restoreKeyBatch",
  writeRestoreReport: "writeRestoreReport",
  startHsmBackup: "startHsmBackup",
  startHsmRestore: "startHsmRestore",
  getHsmJobStatus: "getHsmJobStatus",
} as const satisfies { readonly [N in ActivityName]: N };

/**
 * Every activity by name: its input and its output. This map is the contract: orchestrators call activities
 * through callActivity (orchestrators/retry.ts), which takes the input and gives the output of the name it
 * is called with, and the activity factories satisfy {@link Activities}. A field renamed here fails to
 * compile on both sides.
 */
export interface ActivityContracts {
  readonly takeKeyInventory: { readonly input: TakeKeyInventoryInput; readonly output: KeyInventorySummary };
  readonly backupKeyBatch: { readonly input: BackupKeyBatchInput; readonly output: BatchCounts };
  readonly writeBackupManifest: { readonly input: WriteBackupManifestInput; readonly output: BackupSummary };
  readonly planRestore: { readonly input: PlanRestoreInput; readonly output: RestorePlan };
  readonly restoreKeyBatch: { readonly input: RestoreKeyBatchInput; readonly output: RestoreBatchResult };
  readonly writeRestoreReport: { readonly input: WriteRestoreReportInput; readonly output: RestoreSummary };
  readonly startHsmBackup: { readonly input: StartHsmBackupInput; readonly output: HsmJobStatus };
  readonly startHsmRestore: { readonly input: StartHsmRestoreInput; readonly output: HsmJobStatus };
  readonly getHsmJobStatus: { readonly input: GetHsmJobStatusInput; readonly output: HsmJobStatus };
}

export type ActivityName = keyof ActivityContracts;
export type ActivityInput<N extends ActivityName> = ActivityContracts[N]["input"];
export type ActivityOutput<N extends ActivityName> = ActivityContracts[N]["output"];

/**
 * The activities as functions, one per name (as Temporal's proxyActivities<typeof activities> types them).
 * `Invocation` is what the host hands an invocation besides its input (activities/logging.ts).
 */
export type Activities<Invocation = never> = {
  readonly [N in ActivityName]: (input: ActivityInput<N>, invocation?: Invocation) => Promise<ActivityOutput<N>>;
};

/** Every orchestrator by name: its input and its output. */
export interface OrchestratorContracts {
  readonly vaultBackupOrchestrator: { readonly input: VaultBackupInput; readonly output: BackupSummary };
  readonly vaultRestoreOrchestrator: { readonly input: VaultRestoreInput; readonly output: RestoreSummary };
  readonly hsmBackupOrchestrator: { readonly input: HsmBackupInput; readonly output: HsmJobSummary };
  readonly hsmRestoreOrchestrator: { readonly input: HsmRestoreInput; readonly output: HsmJobSummary };
}

export type OrchestratorName = keyof OrchestratorContracts;
export type OrchestratorInput<N extends OrchestratorName> = OrchestratorContracts[N]["input"];
export type OrchestratorOutput<N extends OrchestratorName> = OrchestratorContracts[N]["output"];

/**
 * Every failure an activity throws starts with one of these tags, its verdict on whether another attempt
 * may succeed (decided once, in activities/failures.ts). A failure reaches the orchestrator as text only,
 * so the tag travels in the message; orchestrators/retry.ts retries the retryable ones and stops at a final
 * one. A failure without a tag (an activity that did not even start) counts as retryable.
 */
export const FINAL_FAILURE_TAG = "[kvbackup:final]";
export const RETRYABLE_FAILURE_TAG = "[kvbackup:retryable]";

/**
 * Why a job failed as a whole, when its orchestrator decided so: the error it fails with is named by the
 * code (the local host keeps it as the failure's errorType), and its message starts with the failure's own
 * words (what the Functions host keeps, and the HTTP API shows). Failures of an activity that ended the job
 * carry the activity's own message.
 */
export const JobFailureCodes = {
  /** A restore with onConflict "fail" found names taken in the target: nothing was restored. */
  restoreRefused: "RestoreRefused",
  /** The Managed HSM reported its job Failed or Canceled. */
  hsmJobFailed: "HsmJobFailed",
  /** The Managed HSM job did not end within the polling policy's timeout. */
  hsmJobTimedOut: "HsmJobTimedOut",
  /** An activity failed for good (a final failure, or every attempt). */
  activityFailed: "ActivityFailed",
} as const;

export type JobFailureCode = (typeof JobFailureCodes)[keyof typeof JobFailureCodes];

/** The words the message of each orchestrator-decided failure starts with. */
export const JOB_FAILURE_PREFIXES = {
  RestoreRefused: "restore refused, nothing was changed:",
  HsmJobFailed: "Managed HSM job failed",
  HsmJobTimedOut: "Managed HSM job timed out",
} as const satisfies Partial<Record<JobFailureCode, string>>;

/** How a bulk job spreads its work; tuned defaults live in src/tuning.ts. */
export interface JobTuning {
  /** Keys per batch activity. */
  readonly batchSize: number;
  /** Batch activities running at once for one job. */
  readonly batchesInFlight: number;
  /** Key Vault calls running at once inside one batch activity. */
  readonly keyConcurrency: number;
}

/**
 * Retry of a whole activity (storage down, process crash; per-key retries happen inside a batch): the
 * orchestrator waits firstRetryIntervalMs × backoffCoefficient^(n-1) (at most maxRetryIntervalMs) after the
 * n-th failed attempt, and runs at most maxAttempts attempts. A final failure is never retried.
 */
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

/**
 * Summaries (job output, CLI JSON) list at most this many failed and skipped keys each; the report
 * document they name (reportPath) lists every one. Keeps orchestration history small at any vault size.
 */
export const SUMMARY_LIST_LIMIT = 100;

/** Key counts of a job: total = succeeded + failed + skipped, always. */
export interface KeyCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
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

// ---------------------------------------------------------------- progress (custom status)

/** Custom status of a vault backup or restore. keysTotal = keysSucceeded + keysFailed + keysSkipped + keysPending, at every point. */
export interface JobProgress {
  readonly phase: "inventory" | "backup" | "manifest" | "plan" | "restore" | "report" | "done";
  /** Keys of the job (0 until the inventory or plan is known). */
  readonly keysTotal: number;
  readonly keysSucceeded: number;
  readonly keysFailed: number;
  readonly keysSkipped: number;
  /** Not finished yet; 0 when the job is done. */
  readonly keysPending: number;
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
  /** Retries of the start and status activities (default: DEFAULT_HSM_ACTIVITY_RETRY in src/retry-policies.ts). */
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
