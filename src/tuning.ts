import type { HsmPollingPolicy, JobTuning } from "./contracts";

/**
 * Defaults measured with `npm run bench` (see README "Performance"): big enough batches to keep
 * orchestration history small, enough calls in flight to fill the vault's budget at ~20 ms latency.
 */
export const DEFAULT_TUNING: JobTuning = {
  batchSize: 100,
  batchesInFlight: 8,
  keyConcurrency: 16,
};

/** Key Vault's budget for RSA-2048/EC software keys; a vault with HSM keys allows 2,000. */
export const DEFAULT_MAX_OPERATIONS_PER_10S = 4_000;

/**
 * Polling of a Managed HSM backup/restore job with durable timers: quick first looks (small HSMs finish in
 * seconds), then at most once a minute; given up after two hours (a full backup takes minutes).
 */
export const DEFAULT_HSM_POLLING: HsmPollingPolicy = {
  initialIntervalMs: 5_000,
  maxIntervalMs: 60_000,
  backoffCoefficient: 1.5,
  timeoutMs: 2 * 3600_000,
};

/**
 * Share of the configured budget the client paces itself to (see pacingBudget in src/keyvault/clients.ts).
 */
export const PACING_SAFETY_FACTOR = 0.99;

/**
 * While the inventory pages through the vault (one request at a time, 25 keys a page: about 10 s for
 * 10,000 keys), it does the per-key work of the keys already seen (their version listing, or without
 * version details their backup) with the budget the paging leaves unused, so the vault's budget is not
 * idle for the first window of the job. At most `concurrency` such calls at once, only while the pacing
 * budget has room, only until the paging ends, for at most `maxKeys` keys (which bounds the extra size
 * of the inventory).
 */
export const INVENTORY_PREFETCH = { concurrency: 16, maxKeys: 4_000 } as const;
