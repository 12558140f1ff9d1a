import type * as df from "durable-functions";
import { retryDelayMs } from "../src/retry-policies";
import { FINAL_FAILURE_TAG, JobFailureCodes, RETRYABLE_FAILURE_TAG, type ActivityInput, type ActivityName, type ActivityOutput, type ActivityRetryPolicy } from "../src/contracts";

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
  readonly code = JobFailureCodes.activityFailed;
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

/**
 * Calls an activity, retrying retryable failures by the policy; throws ActivityFailedError otherwise. Use
 * with `yield*`: `const plan = yield* callActivity(context, ActivityNames.planRestore, input, retry)`. The
 * input and the result are those of the activity's contract (src/contracts.ts ActivityContracts).
 */
export function* callActivity<N extends ActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
  policy: ActivityRetryPolicy,
): Generator<df.Task, ActivityOutput<N>, unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return activityResult<N>(yield context.df.callActivity(name, input));
    } catch (error) {
      const failure = readFailure(error);
      if (!failure.retryable || attempt >= Math.max(1, policy.maxAttempts)) throw new ActivityFailedError(name, attempt, failure, { cause: error });
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + retryDelayMs(policy, attempt)));
    }
  }
}

/**
 * What the host hands back for an activity's task: the JSON of what that activity returned, so of the
 * output type its contract names. The one place where the result is taken as that type.
 */
export function activityResult<N extends ActivityName>(result: unknown): ActivityOutput<N> {
  return result as ActivityOutput<N>;
}

function clip(text: string): string {
  return (text.trim().split("\n")[0] ?? "").trim().slice(0, 500);
}
