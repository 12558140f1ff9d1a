/**
 * The wire shapes spoken between the Durable Functions host and the durable-functions library:
 * PascalCase history events in, actions out. The numbers mirror the library's own enums
 * (test/local/protocol-shape.test.ts fails loudly if an upgrade changes them).
 */

/** HistoryEventType numbers, as durable-functions and the Durable Task Framework count them. */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
} as const;

/**
 * ActionType numbers of the actions an orchestrator episode returns. All are listed so that the host can
 * name an action it does not run (it runs activity calls, with or without retry, and timers).
 */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** ReplaySchema.V4, the newest the library knows; actions come back as one list with nested WhenAll/WhenAny. */
export const LATEST_REPLAY_SCHEMA = 3;

/**
 * One history event. Only the fields of its type are present: the library tests some of them with
 * hasOwnProperty (a TaskFailed with a FailureDetails key takes another code path).
 */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  /** A Date in memory (the library would otherwise convert strings in place on every replay). */
  Timestamp: Date;
  Name?: string;
  Input?: string;
  Result?: string;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  OrchestrationStatus?: string;
}

/** Retry options as an action carries them (the optional ones only when the orchestrator set them). */
export interface WireRetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** An action object as the library builds it (live objects, not yet serialized). */
export interface WireAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: WireRetryOptions;
  fireAt?: Date | string;
  isCanceled?: boolean;
  compoundActions?: WireAction[];
}

/**
 * Every atomic action in the order the library hands out sequence numbers. A task that is yielded again
 * (Task.any over tasks still in flight) re-appears inside the new compound action as the same object and
 * gets no new number, so an object already seen is skipped.
 */
export function flattenActions(actions: unknown): WireAction[] {
  const out: WireAction[] = [];
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const action = node as WireAction;
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      visit(action.compoundActions ?? []);
      return;
    }
    if (seen.has(action)) return;
    seen.add(action);
    out.push(action);
  };
  visit(actions);
  return out;
}

/**
 * How the host hands an input to the next function. The library JSON-encodes string inputs of activities
 * once more (the host parses them); objects travel as they are.
 */
export function toWireInput(input: unknown, stringsPreEncoded: boolean): string | undefined {
  if (input === undefined) return undefined;
  if (stringsPreEncoded && typeof input === "string") return input;
  return JSON.stringify(input);
}

export function fromWireInput(wire: string | undefined): unknown {
  return wire === undefined ? undefined : JSON.parse(wire);
}

// ------------------------------------------------------------------------------------ event builders

function base(type: number, at: Date, eventId = -1): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: at };
}

export const events = {
  orchestratorStarted: (at: Date): HistoryEvent => base(EventType.OrchestratorStarted, at),
  orchestratorCompleted: (at: Date): HistoryEvent => base(EventType.OrchestratorCompleted, at),
  executionStarted: (at: Date, name: string, input: string | undefined): HistoryEvent => ({
    ...base(EventType.ExecutionStarted, at),
    Name: name,
    Input: input,
  }),
  executionCompleted: (at: Date, status: string, result: string | undefined): HistoryEvent => ({
    ...base(EventType.ExecutionCompleted, at),
    OrchestrationStatus: status,
    Result: result,
  }),
  executionTerminated: (at: Date, reason: string): HistoryEvent => ({
    ...base(EventType.ExecutionTerminated, at),
    Input: JSON.stringify(reason),
  }),
  taskScheduled: (at: Date, id: number, name: string, input: string | undefined): HistoryEvent => ({
    ...base(EventType.TaskScheduled, at, id),
    Name: name,
    Input: input,
  }),
  taskCompleted: (at: Date, id: number, result: string): HistoryEvent => ({
    ...base(EventType.TaskCompleted, at),
    TaskScheduledId: id,
    Result: result,
  }),
  taskFailed: (at: Date, id: number, reason: string, details: string): HistoryEvent => ({
    ...base(EventType.TaskFailed, at),
    TaskScheduledId: id,
    Reason: reason,
    Details: details,
  }),
  timerCreated: (at: Date, id: number, fireAt: string): HistoryEvent => ({
    ...base(EventType.TimerCreated, at, id),
    FireAt: fireAt,
  }),
  timerFired: (at: Date, id: number, fireAt: string): HistoryEvent => ({
    ...base(EventType.TimerFired, at),
    TimerId: id,
    FireAt: fireAt,
  }),
};

/** Reason and Details of a TaskFailed: the message, and JSON naming the error so an orchestrator can tell kinds apart. */
export function describeFailure(error: unknown): { name: string; message: string; reason: string; details: string } {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  return { name, message, reason: message, details: JSON.stringify({ name, message }) };
}
