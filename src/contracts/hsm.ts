/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */
import type { ActivityRetryPolicy } from "./common";

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
