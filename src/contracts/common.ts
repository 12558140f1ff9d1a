/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */

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
