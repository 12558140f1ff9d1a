import { ActionType, EventType, events, toWireInput, type HistoryEvent, type WireAction } from "./durable-protocol";
import { toFailureDetails, type InboxItem, type Instance } from "./instance";
import type { RetryState } from "./instance-store";
import type { FailureDetails, ReplayOutcome } from "./orchestrator-adapter";
import { nextRetryDelayMs } from "./retry-policy";

/**
 * One episode's bookkeeping, without I/O: which events go into history before the replay, and what the
 * orchestrator's decisions turn into afterwards (history events, pending work, the end of the instance).
 * The episode runner replays in between and starts the work.
 */

/** The actions this host runs. The others (sub-orchestrations, external events, entities, HTTP) fail the instance. */
const SUPPORTED_ACTIONS = new Set<number>([ActionType.CallActivity, ActionType.CallActivityWithRetry, ActionType.CreateTimer]);

export interface OpenEpisode {
  at: Date;
  /** Completions handed in. */
  batchSize: number;
  /** Whether history already held events before this episode (the library's isReplaying). */
  isReplaying: boolean;
  retryFailures: InboxItem[];
  retryTimers: InboxItem[];
  /** Events this episode wrote; they are marked played when it closes. */
  written: HistoryEvent[];
}

export interface EpisodeDecisions {
  newActions: number;
  /** Event ids of pending work to start once the state is persisted, in scheduling order. */
  start: number[];
  /** Event ids of timers the orchestrator cancelled (removed from pending; their clock entries must go too). */
  cancelledTimers: number[];
}

/** A failure of the local host's own machinery, reported as the orchestration's failure. */
class LocalHostError extends Error {
  override name = "LocalHostError";
}

/** Writes the episode's opening events and the batch of completions, in the order the library expects. */
export function openEpisode(inst: Instance, batch: InboxItem[], at: Date): OpenEpisode {
  const episode: OpenEpisode = {
    at,
    batchSize: batch.length,
    isReplaying: inst.history.length > 0,
    retryFailures: batch.filter((item) => item.group === 1),
    retryTimers: batch.filter((item) => item.group === 2),
    written: [],
  };
  const write = writer(inst, episode);
  write(events.orchestratorStarted(at));
  if (!episode.isReplaying) write(events.executionStarted(at, inst.name, inst.inputWire));
  for (const item of episode.retryFailures) write(item.event);
  for (const item of episode.retryTimers) write(item.event);
  for (const item of batch) if (item.group === 3) write(item.event);
  inst.metrics.maxEventsPerEpisode = Math.max(inst.metrics.maxEventsPerEpisode, batch.length);
  if (inst.status === "Pending") inst.status = "Running";
  return episode;
}

/**
 * Applies the replay's outcome: a finished or failed orchestrator ends the instance; a running one gets
 * its new actions (and the retries the library expects) scheduled. A decision the host cannot carry out
 * fails the instance. When the instance ends, its pending work is left for the caller to cancel.
 */
export function closeEpisode(inst: Instance, episode: OpenEpisode, outcome: ReplayOutcome, log: (line: string) => void): EpisodeDecisions {
  const decisions: EpisodeDecisions = { newActions: 0, start: [], cancelledTimers: [] };
  if (outcome.kind === "failed") {
    end(inst, episode, "Failed", undefined, outcome.failure, outcome.customStatus);
  } else if (outcome.kind === "done") {
    const continueAsNew = outcome.actions.find((a) => a.actionType === ActionType.ContinueAsNew);
    if (continueAsNew) end(inst, episode, "Failed", undefined, toFailureDetails(unsupported(continueAsNew)), outcome.customStatus);
    else end(inst, episode, "Completed", outcome.output, undefined, outcome.customStatus);
  } else {
    try {
      applyDecisions(inst, episode, outcome, decisions, log);
    } catch (error) {
      decisions.start = [];
      end(inst, episode, "Failed", undefined, toFailureDetails(error), outcome.customStatus);
    }
  }
  // Events of this episode are history for the next one.
  for (const event of episode.written) event.IsPlayed = true;
  return decisions;
}

/**
 * Whether replaying a stored history reproduced the decisions recorded with it: the same actions, each
 * asking for what history says was scheduled under its id (same kind, same function name).
 */
export function replayMatchesStored(inst: Instance, outcome: ReplayOutcome): boolean {
  if (outcome.kind !== "running" || outcome.actions.length !== inst.actionIds.length) return false;
  if (outcome.librarySequence !== undefined && outcome.librarySequence !== inst.nextEventId) return false;
  const scheduled = new Map<number, HistoryEvent>();
  for (const event of inst.history) {
    if (event.EventType === EventType.TaskScheduled || event.EventType === EventType.TimerCreated) scheduled.set(event.EventId, event);
  }
  return outcome.actions.every((action, i) => {
    const event = scheduled.get(inst.actionIds[i]!);
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
        return event?.EventType === EventType.TaskScheduled && event.Name === action.functionName;
      case ActionType.CreateTimer:
        return event?.EventType === EventType.TimerCreated;
      default:
        return false;
    }
  });
}

function applyDecisions(
  inst: Instance,
  episode: OpenEpisode,
  outcome: Extract<ReplayOutcome, { kind: "running" }>,
  decisions: EpisodeDecisions,
  log: (line: string) => void,
): void {
  const { at, retryFailures, retryTimers } = episode;
  const write = writer(inst, episode);
  const actions = outcome.actions;
  if (actions.length < inst.actionIds.length) {
    throw new LocalHostError(
      `replay produced ${actions.length} actions where ${inst.actionIds.length} were already scheduled: the orchestrator is not deterministic`,
    );
  }
  const fresh = actions.slice(inst.actionIds.length);
  const notRun = fresh.find((action) => !SUPPORTED_ACTIONS.has(action.actionType));
  if (notRun) throw unsupported(notRun);
  // Cross-check with the library before changing anything: a drift would hand results to the wrong tasks.
  const idsNeeded = retryFailures.length + retryTimers.length + fresh.length;
  if (outcome.librarySequence !== undefined && outcome.librarySequence !== inst.nextEventId + idsNeeded) {
    throw new LocalHostError(
      `event-id bookkeeping diverged from durable-functions (library at ${outcome.librarySequence}, host at ${inst.nextEventId + idsNeeded})`,
    );
  }

  // Timers the orchestrator cancelled (e.g. the loser of a Task.any) never fire.
  for (let i = 0; i < inst.actionIds.length; i++) {
    const action = actions[i]!;
    const id = inst.actionIds[i]!;
    if (action.actionType === ActionType.CreateTimer && action.isCanceled && inst.pending.get(id)?.kind === "timer") {
      inst.pending.delete(id);
      decisions.cancelledTimers.push(id);
    }
  }

  const addTimer = (id: number, fireAt: string, retry?: RetryState): void => {
    write(events.timerCreated(at, id, fireAt));
    inst.pending.set(id, { kind: "timer", fireAt, retry });
    inst.metrics.timersCreated++;
    decisions.start.push(id);
  };
  const addActivity = (id: number, name: string, input: string | undefined, retry?: RetryState): void => {
    write(events.taskScheduled(at, id, name, input));
    inst.pending.set(id, { kind: "activity", name, input, retry });
    inst.metrics.activitiesScheduled++;
    decisions.start.push(id);
  };

  // A failed attempt of a retried call: the retry wait, as a timer.
  for (const item of retryFailures) {
    const retry = item.work.retry!;
    let delay: number | undefined = 0;
    // After the last attempt the timer only tells the library to give up, so it need not wait.
    if (retry.attempts < retry.options.maxNumberOfAttempts) {
      delay = nextRetryDelayMs(retry.options, retry.attempts, retry.firstAttemptAtMs, at.getTime());
      if (delay === undefined) {
        retry.expired = true;
        delay = 0;
        log(`${inst.id}: retry timeout of ${retry.name} passed; remaining attempts fail at once`);
      }
    }
    addTimer(inst.nextEventId++, new Date(at.getTime() + delay).toISOString(), retry);
  }
  // A retry wait is over: the next attempt.
  for (const item of retryTimers) {
    const retry = item.work.retry!;
    retry.attempts++;
    addActivity(inst.nextEventId++, retry.name, retry.input, retry);
  }

  for (const action of fresh) {
    const id = inst.nextEventId++;
    inst.actionIds.push(id);
    if (action.actionType === ActionType.CreateTimer) {
      const fireAt = new Date(action.fireAt as Date | string).toISOString();
      // Cancelled before it was ever scheduled: in history for the replay, but nothing to wait for.
      if (action.isCanceled) write(events.timerCreated(at, id, fireAt));
      else addTimer(id, fireAt);
      continue;
    }
    const name = action.functionName ?? "";
    // Activity inputs carry strings JSON-encoded once more; the host decodes them.
    const input = toWireInput(action.input, true);
    const retry: RetryState | undefined =
      action.actionType === ActionType.CallActivityWithRetry
        ? {
            kind: "activity",
            name,
            input,
            options: action.retryOptions ?? { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 1 },
            attempts: 1,
            firstAttemptAtMs: at.getTime(),
            expired: false,
          }
        : undefined;
    addActivity(id, name, input, retry);
  }

  write(events.orchestratorCompleted(at));
  inst.customStatus = roundTrip(outcome.customStatus);
  decisions.newActions = fresh.length;
}

function end(
  inst: Instance,
  episode: OpenEpisode,
  status: "Completed" | "Failed",
  output: unknown,
  failure: FailureDetails | undefined,
  customStatus: unknown,
): void {
  inst.customStatus = roundTripOrUndefined(customStatus);
  if (status === "Completed") {
    try {
      inst.output = roundTrip(output);
    } catch (error) {
      // The real host could not store this output either.
      return end(inst, episode, "Failed", undefined, toFailureDetails(error), customStatus);
    }
    inst.status = "Completed";
  } else {
    inst.status = "Failed";
    inst.failureDetails = failure;
    // As the Durable client reports it: the output of a failed orchestration is its message.
    inst.output = `Orchestrator function '${inst.name}' failed: ${failure?.errorMessage ?? "unknown error"}`;
  }
  const write = writer(inst, episode);
  write(events.orchestratorCompleted(episode.at));
  write(events.executionCompleted(episode.at, status, toWireInput(inst.output, false)));
}

function writer(inst: Instance, episode: OpenEpisode): (event: HistoryEvent) => void {
  return (event) => {
    inst.history.push(event);
    episode.written.push(event);
  };
}

function unsupported(action: WireAction): LocalHostError {
  const name = Object.entries(ActionType).find(([, value]) => value === action.actionType)?.[0] ?? "unknown";
  return new LocalHostError(`the local durable host does not support action type ${action.actionType} (${name})`);
}

/** Status values are what the task hub would store: JSON. */
function roundTrip(value: unknown): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? undefined : JSON.parse(json);
}

function roundTripOrUndefined(value: unknown): unknown {
  try {
    return roundTrip(value);
  } catch {
    return undefined;
  }
}
