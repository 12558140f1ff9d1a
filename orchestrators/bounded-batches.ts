import type * as df from "durable-functions";

export interface BoundedBatchesOptions {
  readonly batchCount: number;
  /** Most batches scheduled and not yet finished at any time. */
  readonly inFlight: number;
  /** Schedules batch `index` (an activity call) and returns its task. */
  readonly schedule: (index: number) => df.Task;
  /** Called once per batch, in completion order, with its finished (possibly faulted) task. */
  readonly onFinished: (index: number, task: df.Task) => void;
}

/**
 * Runs `batchCount` batches with at most `inFlight` at once, refilling a slot as soon as one finishes.
 * History gets two events per batch (scheduled, completed), whatever the number of keys in it.
 * Use with `yield*` from an orchestrator.
 */
export function* runBoundedBatches(context: df.OrchestrationContext, options: BoundedBatchesOptions): Generator<df.Task, void, any> {
  const running = new Map<df.Task, number>();
  let next = 0;
  let finished = 0;
  while (finished < options.batchCount) {
    while (running.size < options.inFlight && next < options.batchCount) {
      running.set(options.schedule(next), next);
      next++;
    }
    const task: df.Task = yield context.df.Task.any([...running.keys()]);
    const index = running.get(task)!;
    running.delete(task);
    finished++;
    options.onFinished(index, task);
  }
}
