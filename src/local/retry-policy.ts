import type { WireRetryOptions } from "./durable-protocol";

/**
 * The host side of callActivityWithRetry. durable-functions 3.x leaves the retry to the host: after each
 * failed attempt the host writes a timer, and when it fires the library asks for the next attempt (or,
 * once maxNumberOfAttempts have failed, surfaces the last error).
 */

/** Unset, zero or negative means "no limit", as the options are optional on the wire. */
function limit(value: number | undefined): number {
  return typeof value === "number" && value > 0 && Number.isFinite(value) ? value : Number.POSITIVE_INFINITY;
}

/**
 * Delay before the next attempt after `failedAttempts` failures, or undefined when the retry timeout has
 * passed (no further attempt may run).
 */
export function nextRetryDelayMs(options: WireRetryOptions, failedAttempts: number, firstAttemptAtMs: number, nowMs: number): number | undefined {
  if (nowMs >= firstAttemptAtMs + limit(options.retryTimeoutInMilliseconds)) return undefined;
  const coefficient = typeof options.backoffCoefficient === "number" ? options.backoffCoefficient : 1;
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, Math.max(0, failedAttempts - 1));
  return Math.min(delay, limit(options.maxRetryIntervalInMilliseconds));
}
