import * as df from "durable-functions";
import { DurableHostError, LocalDurableHost, type OrchestrationStatus } from "../../src/local/durable-host";
import { gate, statusWhere, VaultThrottledError } from "./helpers";

const HOUR = 3_600_000;

function* monitor(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const start = context.df.currentUtcDateTime;
  for (let check = 1; check <= 10; check++) {
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + HOUR));
    context.df.setCustomStatus({ checks: check });
  }
  return { start: start.toISOString(), end: context.df.currentUtcDateTime.toISOString() };
}

function* shortWait(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const start = context.df.currentUtcDateTime;
  yield context.df.createTimer(new Date(start.getTime() + 50));
  return context.df.currentUtcDateTime.getTime() - start.getTime();
}

function* twoPhases(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  context.df.setCustomStatus({ phase: "copying", done: 0 });
  const copied: number = yield context.df.callActivity("copy", 3);
  context.df.setCustomStatus({ phase: "done", done: copied });
  return copied;
}

function* activityWinsRace(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + HOUR));
  const work = context.df.callActivity("quick", "q");
  const winner: df.Task = yield context.df.Task.any([work, deadline]);
  if (winner === work) deadline.cancel();
  return { winner: winner === work ? "activity" : "timer", value: winner === work ? work.result : undefined };
}

function* timerWinsRace(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const slow = context.df.callActivity("slow", null);
  const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 20));
  const winner: df.Task = yield context.df.Task.any([slow, deadline]);
  return winner === deadline ? "timer" : "activity";
}

function* catchesActivityError(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  try {
    yield context.df.callActivity("throttled", "k1");
    return "no error";
  } catch (error) {
    return (error as Error).message;
  }
}

function* failsUncaught(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  context.df.setCustomStatus({ phase: "validating" });
  yield context.df.callActivity("noop", 1);
  throw new TypeError("vault URL is not on the allow-list");
}

function* retriesUntilExhausted(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const retry = new df.RetryOptions(1000, 3);
  try {
    yield context.df.callActivityWithRetry("throttled", retry, "k2");
    return "no error";
  } catch (error) {
    return (error as Error).message;
  }
}

function* retriesUntilTimeout(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const retry = new df.RetryOptions(1000, 6);
  retry.retryTimeoutInMilliseconds = 1500;
  try {
    yield context.df.callActivityWithRetry("throttled", retry, "k3");
    return "no error";
  } catch (error) {
    return (error as Error).message;
  }
}

function* badData(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const errors: string[] = [];
  for (const name of ["returnsBigInt", "notRegistered"]) {
    try {
      yield context.df.callActivity(name, { when: new Date(0) });
    } catch (error) {
      errors.push((error as Error).message.split("\n")[0]!.trim());
    }
  }
  const seen: unknown = yield context.df.callActivity("echo", { when: new Date(0) });
  return { errors, seen };
}

function* waitsAnHour(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + HOUR));
  return "woke up";
}

function* usesSubOrchestration(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  return yield context.df.callSubOrchestrator("anything", null);
}

function* usesExternalEvent(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  return yield context.df.waitForExternalEvent("approval");
}

function* usesContinueAsNew(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  yield context.df.callActivity("noop", 1);
  context.df.continueAsNew({ again: true });
  return undefined;
}

describe("LocalDurableHost", () => {
  it("when a monitor waits on ten one-hour timers with the virtual clock, it finishes in seconds with time advanced 10 h", async () => {
    // Prepare
    const host = new LocalDurableHost({ orchestrators: { monitor }, activities: {}, clock: "virtual" });

    // Act
    const started = Date.now();
    const id = await host.startNew("monitor");
    const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
    const wallMs = Date.now() - started;
    await host.close();

    // Assess
    expect(status.runtimeStatus).toBe("Completed");
    const { start, end } = status.output as { start: string; end: string };
    expect(Date.parse(end) - Date.parse(start)).toBe(10 * HOUR);
    expect(status.customStatus).toEqual({ checks: 10 });
    expect(status.metrics.timersCreated).toBe(10);
    // Generous on purpose (a busy CI machine): the point is 10 h of orchestration time in seconds of wall time.
    expect(wallMs).toBeLessThan(4000);
  });

  it("when the clock is real, it fires a timer after its time has passed", async () => {
    const host = new LocalDurableHost({ orchestrators: { shortWait }, activities: {} });
    const id = await host.startNew("shortWait");
    const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
    await host.close();
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output as number).toBeGreaterThanOrEqual(50);
  });

  it("when an orchestration is running, it shows its custom status and tells listeners", async () => {
    // Prepare
    const copying = gate();
    const seen: OrchestrationStatus[] = [];
    const host = new LocalDurableHost({
      orchestrators: { twoPhases },
      activities: {
        copy: async (n: number) => {
          await copying.promise;
          return n;
        },
      },
    });
    host.onStatusChange((s) => seen.push(s));

    // Act
    const id = await host.startNew("twoPhases", { instanceId: "status-1" });
    const whileRunning = await statusWhere(host, id, (s) => s.runtimeStatus === "Running");
    const polled = host.getStatus(id);
    copying.open();
    const done = await host.waitForCompletion(id, { timeoutMs: 5000 });
    await host.close();

    // Assess
    expect(whileRunning.customStatus).toEqual({ phase: "copying", done: 0 });
    expect(polled?.runtimeStatus).toBe("Running");
    expect(polled?.customStatus).toEqual({ phase: "copying", done: 0 });
    expect(done.customStatus).toEqual({ phase: "done", done: 3 });
    expect(done.output).toBe(3);
    expect(seen.map((s) => s.runtimeStatus)).toEqual(["Pending", "Running", "Completed"]);
    expect(host.listInstances().map((s) => s.instanceId)).toEqual(["status-1"]);
  });

  it("when an activity wins a Task.any against a timer, it continues with the activity's result without waiting for the timer", async () => {
    // Prepare: the real clock and a one-hour deadline, so waiting for it would time out.
    const host = new LocalDurableHost({ orchestrators: { activityWinsRace }, activities: { quick: async (s: string) => `${s}!` } });

    // Act
    const id = await host.startNew("activityWinsRace");
    const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
    await host.close();

    // Assess
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output).toEqual({ winner: "activity", value: "q!" });
    expect(status.metrics.timersCreated).toBe(1);
  });

  it("when a timer wins a Task.any, it continues without waiting for the slow activity", async () => {
    const slow = gate();
    const host = new LocalDurableHost({ orchestrators: { timerWinsRace }, activities: { slow: () => slow.promise } });
    const id = await host.startNew("timerWinsRace");
    const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
    slow.open();
    await host.close();
    expect(status.output).toBe("timer");
  });

  it("when an activity throws, it lets the orchestrator see the error name and message", async () => {
    const host = new LocalDurableHost({
      orchestrators: { catchesActivityError },
      activities: {
        throttled: (key: string) => {
          throw new VaultThrottledError(`429 on ${key}`);
        },
      },
    });
    const id = await host.startNew("catchesActivityError");
    const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
    await host.close();
    const message = status.output as string;
    expect(message.split("\n")[0]!.trim()).toBe("429 on k1");
    expect(message).toContain('"name":"VaultThrottledError"');
    expect(status.metrics.activitiesFailed).toBe(1);
  });

  it("when an orchestrator throws, it ends Failed with the error's type and message and keeps its custom status", async () => {
    const host = new LocalDurableHost({ orchestrators: { failsUncaught }, activities: { noop: () => null } });
    const id = await host.startNew("failsUncaught");
    const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
    await host.close();
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails).toMatchObject({ errorType: "TypeError", errorMessage: "vault URL is not on the allow-list" });
    expect(status.output).toBe("Orchestrator function 'failsUncaught' failed: vault URL is not on the allow-list");
    expect(status.customStatus).toEqual({ phase: "validating" });
  });

  it("when every retry fails, it runs maxNumberOfAttempts attempts and then surfaces the last error", async () => {
    const calls: string[] = [];
    const host = new LocalDurableHost({
      orchestrators: { retriesUntilExhausted, retriesUntilTimeout },
      activities: {
        throttled: (key: string) => {
          calls.push(key);
          throw new VaultThrottledError(`429 on ${key} #${calls.filter((k) => k === key).length}`);
        },
      },
      clock: "virtual",
    });
    const exhausted = await host.waitForCompletion(await host.startNew("retriesUntilExhausted"), { timeoutMs: 5000 });
    // Attempts at 0 s, 1 s and 2 s; at 2 s the 1.5 s retry timeout has passed, so attempts 4-6 never run.
    const timedOut = await host.waitForCompletion(await host.startNew("retriesUntilTimeout"), { timeoutMs: 5000 });
    await host.close();
    expect(calls.filter((k) => k === "k2")).toHaveLength(3);
    expect((exhausted.output as string).split("\n")[0]!.trim()).toBe("429 on k2 #3");
    expect(calls.filter((k) => k === "k3")).toHaveLength(3);
    expect((timedOut.output as string).split("\n")[0]!.trim()).toBe("429 on k3 #3");
  });

  it("when data cannot cross JSON or an activity is missing, it fails that task as the real host would", async () => {
    const host = new LocalDurableHost({
      orchestrators: { badData },
      activities: { returnsBigInt: () => BigInt(1), echo: (x: unknown) => x },
    });
    const status = await host.waitForCompletion(await host.startNew("badData"), { timeoutMs: 5000 });
    await host.close();
    const output = status.output as { errors: string[]; seen: unknown };
    expect(output.errors[0]).toMatch(/BigInt/);
    expect(output.errors[1]).toMatch(/notRegistered/);
    // A Date leaves the orchestrator as an ISO string, as it would through the task hub.
    expect(output.seen).toEqual({ when: "1970-01-01T00:00:00.000Z" });
  });

  it("when an instance is terminated or started twice, it ends Terminated and refuses the duplicate id", async () => {
    const host = new LocalDurableHost({ orchestrators: { waitsAnHour }, activities: {} });
    const id = await host.startNew("waitsAnHour", { instanceId: "t-1" });
    await expect(host.startNew("waitsAnHour", { instanceId: "t-1" })).rejects.toMatchObject({ code: "InstanceRunning" });
    const waiting = host.waitForCompletion(id);
    await host.terminate(id, "cancelled by user");
    const status = await waiting;
    await expect(host.startNew("waitsAnHour", { instanceId: "t-1" })).rejects.toBeInstanceOf(DurableHostError);
    await expect(host.startNew("nope")).rejects.toMatchObject({ code: "UnknownOrchestrator" });
    await host.close();
    expect(status.runtimeStatus).toBe("Terminated");
    expect(status.output).toBe("cancelled by user");
  });

  it("when an orchestrator asks for a feature the product does not use, it fails the instance naming the action", async () => {
    const host = new LocalDurableHost({
      orchestrators: { usesSubOrchestration, usesExternalEvent, usesContinueAsNew },
      activities: { noop: () => null },
    });
    const results: Record<string, OrchestrationStatus> = {};
    for (const name of ["usesSubOrchestration", "usesExternalEvent", "usesContinueAsNew"]) {
      results[name] = await host.waitForCompletion(await host.startNew(name), { timeoutMs: 5000 });
    }
    await host.close();
    const failures = Object.fromEntries(Object.entries(results).map(([name, s]) => [name, [s.runtimeStatus, s.failureDetails?.errorMessage]]));
    expect(failures).toEqual({
      usesSubOrchestration: ["Failed", "the local durable host does not support action type 2 (CallSubOrchestrator)"],
      usesExternalEvent: ["Failed", "the local durable host does not support action type 6 (WaitForExternalEvent)"],
      usesContinueAsNew: ["Failed", "the local durable host does not support action type 4 (ContinueAsNew)"],
    });
  });
});
