import type * as df from "durable-functions";
import { FINAL_FAILURE_TAG, RETRYABLE_FAILURE_TAG, type ActivityRetryPolicy } from "../src/contracts";

/**
 * Activity calls retried by the orchestrator itself, so that a final failure (see FINAL_FAILURE_TAG) ends
 * at its first attempt. durable-functions' callActivityWithRetry leaves the retry to the host, which
 * retries every failure alike (its RetryOptions take no handler in 3.x); a timer between attempts is what
 * the host would have written too, so history grows the same way.
 */

export interface ActivityFailure {
  readonly retryable: boolean;
  /** The activity's message, one line, without the tag. */
  readonly reason: string;
}

/** An activity failed for good (a final failure, or every attempt): the message is the activity's own. */
export class ActivityFailedError extends Error {
  override readonly name = "ActivityFailedError";
  constructor(
    readonly activity: string,
    readonly attempts: number,
    readonly failure: ActivityFailure,
    options?: ErrorOptions,
  ) {
    super(failure.reason, options);
  }
}

/** Reads the verdict and the reason from what durable-functions hands the orchestrator for a failed task. */
export function readFailure(error: unknown): ActivityFailure {
  const details = (error as { failureDetails?: { errorMessage?: unknown } } | undefined)?.failureDetails;
  const text =
    typeof details?.errorMessage === "string" ? details.errorMessage : error instanceof Error ? error.message : typeof (error as { message?: unknown })?.message === "string" ? (error as { message: string }).message : String(error);
  // The host may put its own words around the activity's message (the Functions host does): find the tag anywhere.
  for (const [tag, retryable] of [[FINAL_FAILURE_TAG, false], [RETRYABLE_FAILURE_TAG, true]] as const) {
    const at = text.indexOf(tag);
    if (at >= 0) return { retryable, reason: clip(text.slice(at + tag.length)) };
  }
  return { retryable: true, reason: clip(text) };
}

/** The wait after the n-th failed attempt. */
export function retryDelayMs(policy: ActivityRetryPolicy, failedAttempts: number): number {
  const delay = policy.firstRetryIntervalMs * Math.pow(Math.max(1, policy.backoffCoefficient), Math.max(0, failedAttempts - 1));
  return Math.min(delay, Math.max(policy.firstRetryIntervalMs, policy.maxRetryIntervalMs));
}

/** Calls an activity, retrying retryable failures by the policy; throws ActivityFailedError otherwise. Use with `yield*`. */
export function* callActivity<T>(context: df.OrchestrationContext, name: string, input: unknown, policy: ActivityRetryPolicy): Generator<df.Task, T, any> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (yield context.df.callActivity(name, input)) as T;
    } catch (error) {
      const failure = readFailure(error);
      if (!failure.retryable || attempt >= Math.max(1, policy.maxAttempts)) throw new ActivityFailedError(name, attempt, failure, { cause: error });
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + retryDelayMs(policy, attempt)));
    }
  }
}

function clip(text: string): string {
  return (text.trim().split("\n")[0] ?? "").trim().slice(0, 500);
}
