import { randomUUID } from "node:crypto";
import { app as functionsApp, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { flattenActions, LATEST_REPLAY_SCHEMA, type HistoryEvent, type WireAction } from "./durable-protocol";

/** The same function passed to df.app.orchestration. */
export type OrchestratorFunction = (context: df.OrchestrationContext) => Generator<unknown, unknown, never>;

/** What the library's wrapped orchestration handler is called with and returns. */
type WrappedHandler = (trigger: unknown, context: InvocationContext) => Promise<unknown>;

export interface FailureDetails {
  errorType: string;
  errorMessage: string;
  stackTrace?: string;
}

export type ReplayOutcome =
  | { kind: "running"; actions: WireAction[]; customStatus: unknown; librarySequence?: number }
  | { kind: "done"; actions: WireAction[]; output: unknown; customStatus: unknown }
  | { kind: "failed"; failure: FailureDetails; customStatus: unknown };

export interface ReplayRequest {
  instanceId: string;
  history: HistoryEvent[];
  input: unknown;
  isReplaying: boolean;
  logHandler: (level: string, ...args: unknown[]) => void;
}

/** Marker the library puts between the error message and the serialized orchestrator state. */
const OUT_OF_PROC_MARKER = "$OutOfProcData$:";

/**
 * Local timers are never split: a "short" timer may last 100 years. The library would otherwise turn long
 * timers into chains of sub-timers whose ids it hands out without an action.
 */
const MAXIMUM_SHORT_TIMER = "36500.00:00:00";
const LONG_TIMER_INTERVAL = "3.00:00:00";

/**
 * Obtains the handler durable-functions itself builds around an orchestrator. df.app.orchestration passes
 * it to @azure/functions' app.generic, which outside the Functions host would just discard it; app.generic
 * is swapped for a catcher during that one synchronous call.
 */
export function captureOrchestrationHandler(name: string, fn: OrchestratorFunction): WrappedHandler {
  const registry = functionsApp as unknown as { generic: (name: string, options: { handler?: unknown; trigger?: { type?: string } }) => void };
  const original = registry.generic;
  let captured: { handler?: unknown; trigger?: { type?: string } } | undefined;
  registry.generic = (_name, options) => {
    captured = options;
  };
  try {
    df.app.orchestration(name, fn as unknown as df.OrchestrationHandler);
  } finally {
    registry.generic = original;
  }
  if (!captured || typeof captured.handler !== "function" || captured.trigger?.type !== "orchestrationTrigger") {
    throw new Error(
      "durable-functions no longer registers orchestrations through app.generic with an orchestrationTrigger; " +
        "src/local/orchestrator-adapter.ts must be updated for this version",
    );
  }
  return captured.handler as WrappedHandler;
}

/** Runs one orchestrator through the library's replay engine: history in, actions out. */
export class OrchestratorAdapter {
  private readonly handler: WrappedHandler;
  /** The error that escaped the user's generator in the current call (the library keeps only its message). */
  private escaped: { error?: unknown } = {};

  constructor(readonly name: string, fn: OrchestratorFunction) {
    const sink = this.escaped;
    // yield* forwards next/throw/return unchanged; the wrapper only notes what escapes.
    const observed = function* (context: df.OrchestrationContext): ReturnType<OrchestratorFunction> {
      try {
        return yield* fn(context);
      } catch (error) {
        sink.error = error;
        throw error;
      }
    };
    this.handler = captureOrchestrationHandler(name, observed);
  }

  async replay(request: ReplayRequest): Promise<ReplayOutcome> {
    const trigger = {
      history: request.history,
      input: request.input,
      instanceId: request.instanceId,
      isReplaying: request.isReplaying,
      upperSchemaVersion: LATEST_REPLAY_SCHEMA,
      maximumShortTimerDuration: MAXIMUM_SHORT_TIMER,
      longRunningTimerIntervalDuration: LONG_TIMER_INTERVAL,
    };
    const context = new InvocationContext({
      functionName: this.name,
      invocationId: randomUUID(),
      logHandler: request.logHandler,
    });
    this.escaped.error = undefined;
    let state: unknown;
    try {
      state = await this.handler(trigger, context);
    } catch (error) {
      return { kind: "failed", ...this.parseFailure(error) };
    }
    if (!isOrchestratorState(state)) {
      throw new Error(`durable-functions returned an unexpected orchestrator state (keys: ${Object.keys(Object(state)).join(", ")})`);
    }
    const actions = flattenActions(state.actions);
    if (state.isDone) return { kind: "done", actions, output: state.output, customStatus: state.customStatus };
    return { kind: "running", actions, customStatus: state.customStatus, librarySequence: librarySequence(context) };
  }

  private parseFailure(error: unknown): { failure: FailureDetails; customStatus: unknown } {
    const message = error instanceof Error ? error.message : String(error);
    const at = message.indexOf(OUT_OF_PROC_MARKER);
    let stateError: string | undefined;
    let customStatus: unknown;
    if (at >= 0) {
      try {
        const state = JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as { error?: unknown; customStatus?: unknown };
        stateError = typeof state.error === "string" ? state.error : undefined;
        customStatus = state.customStatus;
      } catch {
        // A state that does not parse still leaves the message before the marker.
      }
    }
    const escaped = this.escaped.error;
    if (escaped !== undefined) {
      const e = escaped instanceof Error ? escaped : undefined;
      return {
        failure: { errorType: e?.name ?? "Error", errorMessage: e ? e.message : String(escaped), stackTrace: e?.stack },
        customStatus,
      };
    }
    // Thrown by the library itself (e.g. a yield of something that is not a Task).
    const fallback = at >= 0 ? message.slice(0, at).trim() : message;
    return { failure: { errorType: "Error", errorMessage: stateError ?? fallback }, customStatus };
  }
}

interface OrchestratorState {
  isDone: boolean;
  actions: unknown[];
  output?: unknown;
  customStatus?: unknown;
}

function isOrchestratorState(value: unknown): value is OrchestratorState {
  const v = value as Partial<OrchestratorState> | null;
  return typeof v === "object" && v !== null && typeof v.isDone === "boolean" && Array.isArray(v.actions);
}

/**
 * The library's next sequence number, read off the context it attaches, used only as a cross-check of the
 * host's own event-id bookkeeping; undefined if a future version stops exposing it.
 */
function librarySequence(context: InvocationContext): number | undefined {
  const seq = (context as unknown as { df?: { taskOrchestratorExecutor?: { sequenceNumber?: unknown } } }).df?.taskOrchestratorExecutor?.sequenceNumber;
  return typeof seq === "number" ? seq : undefined;
}
