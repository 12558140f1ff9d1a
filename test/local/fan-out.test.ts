import * as df from "durable-functions";
import { LocalDurableHost } from "../../src/local/durable-host";
import { VaultThrottledError } from "./helpers";

/** Fan out n activities, wait five minutes, then call an activity that fails twice before it succeeds. */
function* fanOutThenRetry(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const { n } = context.df.getInput<{ n: number }>();
  const tasks = Array.from({ length: n }, (_, i) => context.df.callActivity("square", i));
  const squares: number[] = yield context.df.Task.all(tasks);
  const waitStartedAt = context.df.currentUtcDateTime;
  yield context.df.createTimer(new Date(waitStartedAt.getTime() + 5 * 60_000));
  const retry = new df.RetryOptions(1000, 5);
  retry.backoffCoefficient = 2;
  const flaky: string = yield context.df.callActivityWithRetry("flaky", retry, "job-1");
  return {
    sum: squares.reduce((a, b) => a + b, 0),
    flaky,
    virtualMsElapsed: context.df.currentUtcDateTime.getTime() - waitStartedAt.getTime(),
  };
}

/** The product's pattern: a bounded number of retried batch activities in flight, each Task.any re-yielding the others. */
function* boundedBatches(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const { batches, inFlightMax } = context.df.getInput<{ batches: number; inFlightMax: number }>();
  const retry = new df.RetryOptions(500, 3);
  const inFlight = new Map<df.Task, number>();
  const results: number[] = [];
  let next = 0;
  while (results.length < batches) {
    while (inFlight.size < inFlightMax && next < batches) {
      inFlight.set(context.df.callActivityWithRetry("batch", retry, { batchIndex: next }), next);
      next++;
    }
    const finished: df.Task = yield context.df.Task.any([...inFlight.keys()]);
    inFlight.delete(finished);
    results.push(finished.result as number);
    context.df.setCustomStatus({ done: results.length });
  }
  return results.sort((a, b) => a - b);
}

describe("LocalDurableHost fan-out", () => {
  it("when an orchestrator fans out 1,000 activities, waits on a timer and retries a flaky activity, it completes in few episodes", async () => {
    // Prepare
    const flakyCalls = new Map<string, number>();
    const host = new LocalDurableHost({
      orchestrators: { fanOutThenRetry },
      activities: {
        square: async (i: number) => i * i,
        flaky: (jobId: string) => {
          const calls = (flakyCalls.get(jobId) ?? 0) + 1;
          flakyCalls.set(jobId, calls);
          if (calls <= 2) throw new VaultThrottledError(`throttled (call ${calls})`);
          return `ok after ${calls} calls`;
        },
      },
      activityConcurrency: 16,
      clock: "virtual",
    });

    // Act
    const started = Date.now();
    const id = await host.startNew("fanOutThenRetry", { input: { n: 1000 } });
    const status = await host.waitForCompletion(id, { timeoutMs: 15_000 });
    const wallMs = Date.now() - started;
    await host.close();

    // Assess
    const m = status.metrics;
    console.log(
      `fan-out 1,000: ${m.historyEvents} history events, ${m.episodes} episodes, ${m.replayMs.toFixed(1)} ms replaying, ` +
        `largest batch ${m.maxEventsPerEpisode}, ${wallMs} ms wall`,
    );
    expect(status.runtimeStatus).toBe("Completed");
    const expectedSum = Array.from({ length: 1000 }, (_, i) => i * i).reduce((a, b) => a + b, 0);
    // 5 minutes of timer, then retry waits of 1 s and 2 s (backoff coefficient 2), all on the virtual clock.
    expect(status.output).toEqual({ sum: expectedSum, flaky: "ok after 3 calls", virtualMsElapsed: 303_000 });
    expect(flakyCalls.get("job-1")).toBe(3);
    expect(m.episodes).toBeLessThan(50);
    expect(m.maxEventsPerEpisode).toBeGreaterThan(16);
    expect(m.activitiesScheduled).toBe(1003);
    expect(m.activitiesFailed).toBe(2);
    // Scheduled + completed per activity, plus a handful of timer and bookkeeping events.
    expect(m.historyEvents).toBeGreaterThanOrEqual(2006);
    expect(m.historyEvents).toBeLessThan(2006 + 4 * m.episodes + 20);
  });

  it("when retried batches run a bounded number at a time through Task.any, it runs each batch once and keeps every result", async () => {
    // Prepare
    const calls = new Map<number, number>();
    const host = new LocalDurableHost({
      orchestrators: { boundedBatches },
      activities: {
        batch: async ({ batchIndex }: { batchIndex: number }) => {
          const n = (calls.get(batchIndex) ?? 0) + 1;
          calls.set(batchIndex, n);
          await new Promise((resolve) => setTimeout(resolve, batchIndex % 3));
          if (batchIndex % 25 === 7 && n === 1) throw new VaultThrottledError(`batch ${batchIndex} throttled`);
          return batchIndex;
        },
      },
      activityConcurrency: 8,
      clock: "virtual",
    });

    // Act
    const id = await host.startNew("boundedBatches", { input: { batches: 200, inFlightMax: 8 } });
    const status = await host.waitForCompletion(id, { timeoutMs: 15_000 });
    await host.close();

    // Assess
    const m = status.metrics;
    console.log(`bounded batches 200 x 8: ${m.historyEvents} history events, ${m.episodes} episodes, ${m.replayMs.toFixed(1)} ms replaying`);
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const flaky = [...calls.keys()].filter((i) => i % 25 === 7);
    for (const [batchIndex, n] of calls) expect([batchIndex, n]).toEqual([batchIndex, flaky.includes(batchIndex) ? 2 : 1]);
    expect(calls.size).toBe(200);
    expect(m.activitiesScheduled).toBe(200 + flaky.length);
    expect(status.customStatus).toEqual({ done: 200 });
  });
});
