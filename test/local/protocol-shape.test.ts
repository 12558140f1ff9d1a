/**
 * Pins what the local host relies on in durable-functions (pinned at 3.5.0). If an upgrade changes any
 * of these shapes, this suite fails and names the assumption; update src/local/ before trusting the host.
 */
import { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { ActionType, EventType, events, flattenActions, LATEST_REPLAY_SCHEMA, type HistoryEvent } from "../../src/local/durable-protocol";
import { captureOrchestrationHandler, type OrchestratorFunction } from "../../src/local/orchestrator-adapter";

// The library's internal modules (plain JavaScript without types), read only to compare numbers and shapes.
type Module = Record<string, any>;
const { HistoryEventType } = require("durable-functions/lib/src/history/HistoryEventType") as Module;
const { ActionType: LibActionType } = require("durable-functions/lib/src/actions/ActionType") as Module;
const { LatestReplaySchema } = require("durable-functions/lib/src/orchestrations/ReplaySchema") as Module;
const { HistoryEventOptions } = require("durable-functions/lib/src/history/HistoryEventOptions") as Module;
const HISTORY_EVENT_CLASSES: Record<string, Module> = {
  OrchestratorStartedEvent: require("durable-functions/lib/src/history/OrchestratorStartedEvent") as Module,
  ExecutionStartedEvent: require("durable-functions/lib/src/history/ExecutionStartedEvent") as Module,
  TaskScheduledEvent: require("durable-functions/lib/src/history/TaskScheduledEvent") as Module,
  TaskCompletedEvent: require("durable-functions/lib/src/history/TaskCompletedEvent") as Module,
  TaskFailedEvent: require("durable-functions/lib/src/history/TaskFailedEvent") as Module,
  TimerCreatedEvent: require("durable-functions/lib/src/history/TimerCreatedEvent") as Module,
  TimerFiredEvent: require("durable-functions/lib/src/history/TimerFiredEvent") as Module,
};

const T0 = new Date("2030-01-01T00:00:00Z");

function startHistory(name: string): HistoryEvent[] {
  return [events.orchestratorStarted(T0), events.executionStarted(T0, name, undefined)];
}

/** Calls the library's own wrapped handler, as the Functions host would. */
async function runHandler(fn: OrchestratorFunction, history: HistoryEvent[]): Promise<{ state?: Record<string, unknown>; error?: Error; sequence?: number }> {
  const handler = captureOrchestrationHandler("shape", fn);
  const context = new InvocationContext({ functionName: "shape" });
  const trigger = {
    history,
    input: undefined,
    instanceId: "shape-1",
    isReplaying: false,
    parentInstanceId: undefined,
    upperSchemaVersion: LATEST_REPLAY_SCHEMA,
    maximumShortTimerDuration: "36500.00:00:00",
    longRunningTimerIntervalDuration: "3.00:00:00",
  };
  const sequenceOf = () => (context as any).df?.taskOrchestratorExecutor?.sequenceNumber as number | undefined;
  try {
    const state = (await handler(trigger, context)) as Record<string, unknown>;
    return { state, sequence: sequenceOf() };
  } catch (error) {
    return { error: error as Error, sequence: sequenceOf() };
  }
}

describe("durable-functions protocol shapes the local host relies on", () => {
  it("when compared with the library's enums, it uses the same event, action and schema numbers", () => {
    for (const [name, value] of Object.entries(EventType)) expect([name, HistoryEventType[name]]).toEqual([name, value]);
    for (const [name, value] of Object.entries(ActionType)) expect([name, LibActionType[name]]).toEqual([name, value]);
    expect(LATEST_REPLAY_SCHEMA).toBe(LatestReplaySchema);
  });

  it("when building history events, it uses only fields the library's own event classes have", () => {
    const opts = new HistoryEventOptions(3, T0);
    const pairs: Array<[string, HistoryEvent, object]> = [
      ["OrchestratorStartedEvent", events.orchestratorStarted(T0), {}],
      ["ExecutionStartedEvent", events.executionStarted(T0, "n", "1"), { name: "n", input: "1" }],
      ["TaskScheduledEvent", events.taskScheduled(T0, 3, "n", "1"), { name: "n", input: "1" }],
      ["TaskCompletedEvent", events.taskCompleted(T0, 3, "1"), { taskScheduledId: 3, result: "1" }],
      ["TaskFailedEvent", events.taskFailed(T0, 3, "r", "d"), { taskScheduledId: 3, reason: "r", details: "d" }],
      ["TimerCreatedEvent", events.timerCreated(T0, 3, T0.toISOString()), { fireAt: T0 }],
      ["TimerFiredEvent", events.timerFired(T0, 3, T0.toISOString()), { timerId: 3, fireAt: T0 }],
    ];
    for (const [className, ours, extra] of pairs) {
      const Cls = HISTORY_EVENT_CLASSES[className]![className];
      const theirs = new Cls({ ...opts, ...extra }) as Record<string, unknown>;
      expect([className, Object.keys(ours).filter((k) => !(k in theirs))]).toEqual([className, []]);
      expect([className, ours.EventType]).toEqual([className, theirs.EventType]);
    }
  });

  it("when the wrapped handler runs, it returns exactly isDone, actions, output, schemaVersion and customStatus, with actions in nested lists", async () => {
    const { state } = await runHandler(function* (context) {
      context.df.setCustomStatus({ phase: "x" });
      const retry = new df.RetryOptions(1000, 2);
      yield context.df.Task.all([context.df.callActivity("a", "s"), context.df.callActivityWithRetry("b", retry, { k: 1 })]);
      return null;
    }, startHistory("shape"));
    expect(Object.keys(state!).sort()).toEqual(["actions", "customStatus", "isDone", "output", "schemaVersion"]);
    expect(state!.isDone).toBe(false);
    expect(state!.schemaVersion).toBe(LATEST_REPLAY_SCHEMA);
    expect(JSON.parse(JSON.stringify(state!.actions))).toEqual([
      [
        {
          actionType: ActionType.WhenAll,
          compoundActions: [
            // A string input is JSON-encoded once more by the library; the host decodes it.
            { actionType: ActionType.CallActivity, functionName: "a", input: '"s"' },
            { actionType: ActionType.CallActivityWithRetry, functionName: "b", input: { k: 1 }, retryOptions: { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 2 } },
          ],
        },
      ],
    ]);
  });

  it("when a task is yielded again inside a new Task.any, it re-emits the same action object and hands out no new id", async () => {
    const loop = await runHandler(function* (context) {
      const a = context.df.callActivity("a", 1);
      const b = context.df.callActivity("b", 2);
      yield context.df.Task.any([a, b]);
      yield context.df.Task.any([a, context.df.callActivity("c", 3)]);
      return null;
    }, [...startHistory("shape"), events.orchestratorCompleted(T0), events.orchestratorStarted(T0), events.taskCompleted(T0, 1, "2")]);
    const raw = (loop.state!.actions as unknown[][])[0] as Array<{ compoundActions: object[] }>;
    expect(raw[1]!.compoundActions[0]).toBe(raw[0]!.compoundActions[0]);
    expect(flattenActions(loop.state!.actions).map((a) => a.functionName)).toEqual(["a", "b", "c"]);
    expect(loop.sequence).toBe(3);
  });

  it("when a retried activity fails, it expects a host timer (taking the next id) and then a new attempt under the id after", async () => {
    const retry = new df.RetryOptions(1000, 2);
    const fn: OrchestratorFunction = function* (context) {
      try {
        return yield context.df.callActivityWithRetry("flaky", retry, null);
      } catch (error) {
        return `caught: ${(error as Error).message}`;
      }
    };
    const h = startHistory("shape");
    h.push(events.taskScheduled(T0, 0, "flaky", undefined), events.orchestratorCompleted(T0));
    h.push(events.orchestratorStarted(T0), events.taskFailed(T0, 0, "boom1", '{"name":"E"}'));
    expect((await runHandler(fn, h)).sequence).toBe(2); // id 1 is the retry timer
    h.push(events.timerCreated(T0, 1, T0.toISOString()), events.orchestratorCompleted(T0));
    h.push(events.orchestratorStarted(T0), events.timerFired(T0, 1, T0.toISOString()));
    expect((await runHandler(fn, h)).sequence).toBe(3); // id 2 is the second attempt
    h.push(events.taskScheduled(T0, 2, "flaky", undefined), events.orchestratorCompleted(T0));
    h.push(events.orchestratorStarted(T0), events.taskFailed(T0, 2, "boom2", '{"name":"E"}'));
    expect((await runHandler(fn, h)).state!.isDone).toBe(false); // waits for one more timer before giving up
    h.push(events.timerCreated(T0, 3, T0.toISOString()), events.orchestratorCompleted(T0));
    h.push(events.orchestratorStarted(T0), events.timerFired(T0, 3, T0.toISOString()));
    const done = await runHandler(fn, h);
    expect(done.state!.isDone).toBe(true);
    // Reason and Details reach the orchestrator joined in one message.
    expect(done.state!.output).toBe('caught: boom2 \n {"name":"E"}');
  });

  it("when an orchestrator throws, it throws an error carrying $OutOfProcData$ with the message and custom status", async () => {
    const { error } = await runHandler(function* (context) {
      context.df.setCustomStatus({ phase: "p" });
      yield context.df.callActivity("a", null);
      throw new RangeError("bad range");
    }, [...startHistory("shape"), events.orchestratorCompleted(T0), events.orchestratorStarted(T0), events.taskCompleted(T0, 0, "null")]);
    expect(error).toBeInstanceOf(Error);
    const at = error!.message.indexOf("$OutOfProcData$:");
    expect(at).toBeGreaterThanOrEqual(0);
    const state = JSON.parse(error!.message.slice(at + "$OutOfProcData$:".length));
    expect(state).toMatchObject({ isDone: false, error: "bad range", customStatus: { phase: "p" } });
  });

  it("when an orchestration is registered, it goes through app.generic with an orchestrationTrigger", () => {
    expect(typeof captureOrchestrationHandler("shape", function* (context) {
      yield context.df.createTimer(T0);
      return null;
    })).toBe("function");
  });
});
