/**
 * Part of the contract between orchestrators and activities (src/contracts.ts re-exports it: import from
 * there). Everything here travels through orchestration history, so it holds counts, indexes and names.
 */

/** How a bulk job spreads its work; tuned defaults live in src/tuning.ts. */
export interface JobTuning {
  /** Objects per batch activity. */
  readonly batchSize: number;
  /** Batch activities running at once for one job. */
  readonly batchesInFlight: number;
  /** Key Vault calls running at once inside one batch activity (the setting keeps its name, keyConcurrency). */
  readonly keyConcurrency: number;
}

/**
 * Retry of a whole activity (storage down, process crash; per-object retries happen inside a batch): the
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
 * Summaries (job output, CLI JSON) list at most this many failed and skipped objects each; the report
 * document they name (reportPath) lists every one. Keeps orchestration history small at any vault size.
 */
export const SUMMARY_LIST_LIMIT = 100;

/**
 * The kinds of objects a vault holds, in the order every job handles them (inventory, batches, manifest,
 * restore plan): certificates first, since restoring a certificate brings back its key and its secret.
 */
export const OBJECT_KINDS = ["certificate", "key", "secret"] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** How counts, `--kinds` and the blob folders spell each kind. */
export const KIND_PLURALS = { certificate: "certificates", key: "keys", secret: "secrets" } as const satisfies Record<ObjectKind, string>;
export type KindPlural = (typeof KIND_PLURALS)[ObjectKind];

/** Object counts of a job (all kinds, or one): total = succeeded + failed + skipped, always. */
export interface ObjectCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

/** Counts of each kind, named as the JSON output names them. */
export type CountsByKind = { readonly [P in KindPlural]: ObjectCounts };

export type BackupSetState = "complete" | "partial" | "incomplete";

/** An object that failed or was skipped, and why. */
export interface ObjectIssue {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly reason: string;
}

/** Per kind: how many of a list of objects (in OBJECT_KINDS order) are of that kind. */
export type KindSizes = { readonly [K in ObjectKind]?: number };

/** Progress counts of one kind, or of all: total = succeeded + failed + skipped + pending, at every point. */
export interface ProgressCounts extends ObjectCounts {
  /** Not finished yet; 0 when the job is done. */
  readonly pending: number;
}

/**
 * Custom status of a vault backup or restore: objects* count every object of the job, keys* its keys
 * alone, `kinds` each kind. objectsTotal = objectsSucceeded + objectsFailed + objectsSkipped +
 * objectsPending at every point, and the same for keys and for each kind.
 */
export interface JobProgress {
  readonly phase: "inventory" | "backup" | "manifest" | "plan" | "restore" | "report" | "done";
  /** Objects of the job (0 until the inventory or plan is known). */
  readonly objectsTotal: number;
  readonly objectsSucceeded: number;
  readonly objectsFailed: number;
  readonly objectsSkipped: number;
  readonly objectsPending: number;
  /** Keys of the job. */
  readonly keysTotal: number;
  readonly keysSucceeded: number;
  readonly keysFailed: number;
  readonly keysSkipped: number;
  /** Not finished yet; 0 when the job is done. */
  readonly keysPending: number;
  readonly kinds: { readonly [P in KindPlural]: ProgressCounts };
  readonly bytes: number;
  readonly batchesDone: number;
  readonly batchCount: number;
  readonly backupSetId?: string;
}
