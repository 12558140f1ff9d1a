import type { ActivityRetryPolicy } from "./contracts";

/**
 * Every retry policy of kvbackup, in one place. What is worth retrying is decided elsewhere, once
 * (src/retryability.ts, activities/failures.ts); this module says how often and how long to wait. Each
 * layer retries its own unit of work:
 *
 *   one HTTP request     the SDK's pipeline (Key Vault keys: KEY_CLIENT; Managed HSM admin REST: HSM_CLIENT;
 *                        Blob Storage: BLOB_STORE), honouring the service's Retry-After;
 *   one name in a restore  NAME_SETTLING, while Key Vault is still deleting, recovering or purging it;
 *   one activity         the orchestrator (orchestrators/retry.ts), by an ActivityRetryPolicy carried in the
 *                        job's input: ACTIVITY for vault jobs, HSM_ACTIVITY for HSM jobs.
 *
 * Plain data and pure functions only: orchestrators read this module, and must stay deterministic.
 */

/** Whole-activity retries of vault jobs (storage outage, crash); the SDK retries each Key Vault call first. */
export const DEFAULT_ACTIVITY_RETRY: ActivityRetryPolicy = {
  firstRetryIntervalMs: 2_000,
  maxAttempts: 5,
  backoffCoefficient: 2,
  maxRetryIntervalMs: 60_000,
};

/**
 * Retries of the HSM jobs' start and status activities when the input names no policy: a start or status
 * read that fails retryably (network, 429, 5xx, an HSM busy with another job) is tried again; a final
 * failure (400, 401, 403, 404, invalid input) is not.
 */
export const DEFAULT_HSM_ACTIVITY_RETRY: ActivityRetryPolicy = {
  firstRetryIntervalMs: 5_000,
  maxAttempts: 5,
  backoffCoefficient: 2,
  maxRetryIntervalMs: 60_000,
};

/** The wait before the next attempt of an activity after its n-th failed attempt. */
export function retryDelayMs(policy: ActivityRetryPolicy, failedAttempts: number): number {
  const delay = policy.firstRetryIntervalMs * Math.pow(Math.max(1, policy.backoffCoefficient), Math.max(0, failedAttempts - 1));
  return Math.min(delay, Math.max(policy.firstRetryIntervalMs, policy.maxRetryIntervalMs));
}

/** Key Vault SDK clients, tuned for bulk work: a throttled call waits for the vault rather than failing the key. */
export const DEFAULT_KEY_CLIENT_RETRY = { maxRetries: 10, retryDelayInMs: 800, maxRetryDelayInMs: 30_000 } as const;

/** The Managed HSM admin REST client: its calls answer at once (the work happens in the service's job). */
export const DEFAULT_HSM_CLIENT_RETRY = { maxRetries: 5, retryDelayInMs: 1_000, maxRetryDelayInMs: 30_000 } as const;

/**
 * Blob Storage calls (exponential: 0, 1, 3, 7, 10, 10, 10 s between tries): eight tries span about 41 s, so a
 * write survives the store being unreachable for 20-30 s (see BLOB_STORE_RESILIENCE in src/storage/blob-store.ts).
 */
export const DEFAULT_BLOB_STORE_RETRY = { maxTries: 8, retryDelayInMs: 1_000, maxRetryDelayInMs: 10_000, tryTimeoutInMs: 30_000 } as const;

/** Waits for one name that is between two states in a target vault (src/keyvault/settling.ts). */
export interface SettlingPolicy {
  /** First wait; each further wait doubles, up to maxDelayMs (with ±20 % jitter). */
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** Total wait for one name before giving up on it. */
  readonly maxWaitMs: number;
}

/**
 * Purges are reported to settle in 1 to 5 s: the first retries come soon, and 30 s in all bounds what one
 * stuck name can add to a batch (an activity holds a batch of keys, and must finish well within its timeout).
 */
export const DEFAULT_SETTLING_POLICY: SettlingPolicy = { firstDelayMs: 500, maxDelayMs: 8_000, maxWaitMs: 30_000 };
