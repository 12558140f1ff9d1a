import type * as df from "durable-functions";
import type { ActivityInput, ActivityName, ActivityOutput, ActivityRetryPolicy } from "../src/contracts";
import { retryDelayMs } from "../src/retry-policies";
import { activityResult, readFailure } from "./retry";

export type BatchOutcome<T> = { readonly ok: true; readonly result: T } | { readonly ok: false; readonly reason: string; readonly attempts: number };

export interface BoundedBatchesOptions<N extends ActivityName> {
  readonly batchCount: number;
  /** Most batches scheduled and not yet finished at any time (a batch waiting to be retried holds its slot). */
  readonly inFlight: number;
  /** The batch activity and its input for batch `index`. */
  readonly activity: N;
  readonly input: (index: number) => ActivityInput<N>;
  /** Retryable failures are tried again by this policy; a final one ends its batch at once. */
  readonly retry: ActivityRetryPolicy;
  /** Called once per batch, in completion order. */
  readonly onFinished: (index: number, outcome: BatchOutcome<ActivityOutput<N>>) => void;
}

/**
 * Runs `batchCount` batches with at most `inFlight` at once, refilling a slot as soon as one finishes.
 * History gets two events per attempt of a batch (scheduled, completed) and two per retry wait,
 * whatever the number of keys in it. Use with `yield*` from an orchestrator.
 */
export function* runBoundedBatches<N extends ActivityName>(context: df.OrchestrationContext, options: BoundedBatchesOptions<N>): Generator<df.Task, void, unknown> {
  interface Slot {
    readonly index: number;
    /** Attempts started so far. */
    readonly attempt: number;
    /** The task is the wait before the next attempt, not an attempt. */
    readonly waiting: boolean;
  }
  const running = new Map<df.Task, Slot>();
  const call = (index: number, attempt: number) => running.set(context.df.callActivity(options.activity, options.input(index)), { index, attempt, waiting: false });
  let next = 0;
  let finished = 0;
  while (finished < options.batchCount) {
    while (running.size < options.inFlight && next < options.batchCount) call(next++, 1);
    const task = (yield context.df.Task.any([...running.keys()])) as df.Task;
    const slot = running.get(task)!;
    running.delete(task);
    if (slot.waiting) {
      call(slot.index, slot.attempt + 1);
      continue;
    }
    if (!task.isFaulted) {
      finished++;
      options.onFinished(slot.index, { ok: true, result: activityResult<N>(task.result) });
      continue;
    }
    const failure = readFailure(task.result);
    if (failure.retryable && slot.attempt < Math.max(1, options.retry.maxAttempts)) {
      const fireAt = new Date(context.df.currentUtcDateTime.getTime() + retryDelayMs(options.retry, slot.attempt));
      running.set(context.df.createTimer(fireAt), { ...slot, waiting: true });
      continue;
    }
    finished++;
    options.onFinished(slot.index, { ok: false, reason: failure.reason, attempts: slot.attempt });
  }
}
