import * as df from "durable-functions";
import type { ActivityRetryPolicy } from "../src/contracts";

export function toRetryOptions(policy: ActivityRetryPolicy): df.RetryOptions {
  const options = new df.RetryOptions(policy.firstRetryIntervalMs, policy.maxAttempts);
  options.backoffCoefficient = policy.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = policy.maxRetryIntervalMs;
  return options;
}

/** The message of a failed task, first line only (durable-functions wraps the activity's error). */
export function failureReason(task: df.Task): string {
  const error = task.result as { message?: string } | undefined;
  const message = error?.message ?? String(task.result);
  return message.split("\n")[0]!.slice(0, 500);
}
