/**
 * The one contract between orchestrators and activities: their names and their typed inputs and
 * outputs. Orchestrators import this module and durable-functions only; activities implement it. The
 * shapes of each kind of job are in src/contracts/ (re-exported here: import from this module).
 *
 * Everything here travels through orchestration history (plain text in the task hub), so it holds
 * counts, indexes and names, never secrets and never thousands of per-object records.
 */

import type { GetHsmJobStatusInput, HsmBackupInput, HsmJobStatus, HsmJobSummary, HsmRestoreInput, StartHsmBackupInput, StartHsmRestoreInput } from "./contracts/hsm";
import type { BackupObjectBatchInput, BackupSummary, BatchCounts, InventorySummary, TakeInventoryInput, VaultBackupInput, WriteBackupManifestInput } from "./contracts/vault-backup";
import type { PlanRestoreInput, RestoreBatchResult, RestoreObjectBatchInput, RestorePlan, RestoreSummary, VaultRestoreInput, WriteRestoreReportInput } from "./contracts/vault-restore";

export * from "./contracts/common";
export * from "./contracts/vault-backup";
export * from "./contracts/vault-restore";
export * from "./contracts/hsm";


export const OrchestratorNames = {
  vaultBackup: "vaultBackupOrchestrator",
  vaultRestore: "vaultRestoreOrchestrator",
  hsmBackup: "hsmBackupOrchestrator",
  hsmRestore: "hsmRestoreOrchestrator",
} as const satisfies { readonly [key: string]: OrchestratorName };

export const ActivityNames = {
  takeInventory: "takeInventory",
  backupObjectBatch: "backupObjectBatch",
  writeBackupManifest: "writeBackupManifest",
  planRestore: "planRestore",
  restoreObjectBatch: "restoreObjectBatch",
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
  readonly takeInventory: { readonly input: TakeInventoryInput; readonly output: InventorySummary };
  readonly backupObjectBatch: { readonly input: BackupObjectBatchInput; readonly output: BatchCounts };
  readonly writeBackupManifest: { readonly input: WriteBackupManifestInput; readonly output: BackupSummary };
  readonly planRestore: { readonly input: PlanRestoreInput; readonly output: RestorePlan };
  readonly restoreObjectBatch: { readonly input: RestoreObjectBatchInput; readonly output: RestoreBatchResult };
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
