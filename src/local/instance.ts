import { fromWireInput, toWireInput, type HistoryEvent } from "./durable-protocol";
import {
  statusFromStored,
  STORE_FORMAT,
  type HostMetrics,
  type OrchestrationStatus,
  type PendingWork,
  type RuntimeStatus,
  type StoredInstance,
} from "./instance-store";
import type { FailureDetails, OrchestratorAdapter } from "./orchestrator-adapter";

/** A completion waiting for the next episode, with the work it completes. */
export interface InboxItem {
  event: HistoryEvent;
  /**
   * 1: failed attempt of a retried call; 2: retry timer after which another attempt follows; 3: the rest.
   * Groups 1 and 2 make the library hand out a sequence number without an action; delivering them first
   * tells the host which ids those are.
   */
  group: 1 | 2 | 3;
  work: PendingWork;
}

/** One orchestration instance in memory: what its state file holds, plus the host's bookkeeping. */
export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly adapter: OrchestratorAdapter;
  status: RuntimeStatus;
  inputWire: string | undefined;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  failureDetails?: FailureDetails;
  createdTime: Date;
  lastUpdatedTime: Date;
  metrics: HostMetrics;
  history: HistoryEvent[];
  /** The next sequence number, as the library counts them. */
  nextEventId: number;
  /** Event id of each action the orchestrator has issued so far, in the library's order. */
  actionIds: number[];
  pending: Map<number, PendingWork>;
  inbox: InboxItem[];
  // Episode pacing (episode-runner.ts).
  episodeQueued: boolean;
  episodeTimer?: NodeJS.Timeout;
  /** Duration and end of the last episode (replay + bookkeeping + state file), for pacing the next. */
  lastEpisodeMs: number;
  lastEpisodeEndedAt: number;
  waiters: Array<{ resolve: (s: OrchestrationStatus) => void; reject: (e: Error) => void }>;
}

export function isTerminal(status: RuntimeStatus): boolean {
  return status === "Completed" || status === "Failed" || status === "Terminated";
}

export function newInstance(id: string, adapter: OrchestratorAdapter, inputWire: string | undefined): Instance {
  const now = new Date();
  return {
    ...bookkeeping(),
    id,
    name: adapter.name,
    adapter,
    status: "Pending",
    inputWire,
    input: fromWireInput(inputWire),
    output: undefined,
    customStatus: undefined,
    createdTime: now,
    lastUpdatedTime: now,
    metrics: emptyMetrics(),
    history: [],
    nextEventId: 0,
    actionIds: [],
    pending: new Map(),
  };
}

export function instanceFromStored(stored: StoredInstance, adapter: OrchestratorAdapter): Instance {
  const status = statusFromStored(stored);
  return {
    ...bookkeeping(),
    id: status.instanceId,
    name: status.name,
    adapter,
    status: status.runtimeStatus,
    inputWire: toWireInput(status.input, false),
    input: status.input,
    output: status.output,
    customStatus: status.customStatus,
    failureDetails: status.failureDetails,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    metrics: { ...emptyMetrics(), ...status.metrics },
    history: stored.history,
    nextEventId: stored.nextEventId,
    actionIds: stored.actionIds,
    pending: new Map(stored.pending),
  };
}

export function toStored(inst: Instance): StoredInstance {
  const status = snapshot(inst);
  return {
    format: STORE_FORMAT,
    status: { ...status, createdTime: status.createdTime.toISOString(), lastUpdatedTime: status.lastUpdatedTime.toISOString() },
    generation: 0,
    history: inst.history,
    nextEventId: inst.nextEventId,
    actionIds: inst.actionIds,
    pending: [...inst.pending],
  };
}

/** What callers see: a copy, so later episodes do not change a status already handed out. */
export function snapshot(inst: Instance): OrchestrationStatus {
  return {
    instanceId: inst.id,
    name: inst.name,
    runtimeStatus: inst.status,
    input: inst.input,
    output: inst.output,
    customStatus: inst.customStatus,
    createdTime: new Date(inst.createdTime),
    lastUpdatedTime: new Date(inst.lastUpdatedTime),
    ...(inst.failureDetails ? { failureDetails: { ...inst.failureDetails } } : {}),
    metrics: { ...inst.metrics, historyEvents: inst.history.length },
  };
}

export function toFailureDetails(error: unknown): FailureDetails {
  const e = error instanceof Error ? error : undefined;
  return { errorType: e?.name ?? "Error", errorMessage: e ? e.message : String(error), ...(e?.stack ? { stackTrace: e.stack } : {}) };
}

function bookkeeping(): Pick<Instance, "inbox" | "episodeQueued" | "lastEpisodeMs" | "lastEpisodeEndedAt" | "waiters"> {
  return { inbox: [], episodeQueued: false, lastEpisodeMs: 0, lastEpisodeEndedAt: 0, waiters: [] };
}

function emptyMetrics(): HostMetrics {
  return {
    historyEvents: 0,
    episodes: 0,
    replayMs: 0,
    activitiesScheduled: 0,
    activitiesFailed: 0,
    timersCreated: 0,
    maxEventsPerEpisode: 0,
    persistMs: 0,
  };
}
