import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { InvocationContext } from "@azure/functions";
import {
  ActionType,
  describeFailure,
  EventType,
  events,
  fromWireInput,
  toWireInput,
  type HistoryEvent,
  type WireAction,
  type WireRetryOptions,
} from "./durable-protocol";
import {
  readStoredInstance,
  statusFromStored,
  STORE_FORMAT,
  writeStoredInstance,
  type HostMetrics,
  type OrchestrationStatus,
  type ParentLink,
  type PendingWork,
  type RetryState,
  type RuntimeStatus,
  type StoredInstance,
} from "./instance-store";
import { OrchestratorAdapter, type FailureDetails, type OrchestratorFunction, type ReplayOutcome } from "./orchestrator-adapter";
import { nextRetryDelayMs } from "./retry-policy";

export type { OrchestratorFunction, FailureDetails } from "./orchestrator-adapter";
export type { HostMetrics, OrchestrationStatus, RuntimeStatus } from "./instance-store";

/** The same handler passed to df.app.activity. */
export type ActivityFunction = (input: any, context: InvocationContext) => unknown | Promise<unknown>;

export interface LocalDurableHostOptions {
  orchestrators: Record<string, OrchestratorFunction>;
  activities: Record<string, ActivityFunction>;
  /** Activities running at once, across all instances. */
  activityConcurrency?: number;
  /** "virtual": a timer fires as soon as nothing else is pending, and orchestrator time jumps to its fireAt. */
  clock?: "real" | "virtual";
  /** Persist every instance to <stateDir>/<instanceId>.json after each episode, so startNew can resume it. */
  stateDir?: string;
  logger?: (line: string) => void;
}

export type DurableHostErrorCode =
  | "UnknownOrchestrator"
  | "InstanceRunning"
  | "InstanceFinished"
  | "UnknownInstance"
  | "StateMismatch"
  | "HostClosed"
  | "Timeout";

export class DurableHostError extends Error {
  constructor(readonly code: DurableHostErrorCode, message: string) {
    super(message);
    this.name = "DurableHostError";
  }
}

const DEFAULT_ACTIVITY_CONCURRENCY = 16;
/** Longest pause between two episodes of one instance while completions pile up. */
const MAX_COALESCE_MS = 1000;
/** setTimeout's ceiling; longer timers re-arm. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** A completion waiting for the next episode, with the work it completes. */
interface InboxItem {
  event: HistoryEvent;
  /**
   * 1: failed attempt of a retried call; 2: retry timer after which another attempt follows; 3: the rest.
   * Groups 1 and 2 make the library hand out a sequence number without an action; delivering them first
   * tells the host which ids those are.
   */
  group: 1 | 2 | 3;
  work?: PendingWork;
}

interface Instance {
  readonly id: string;
  readonly name: string;
  readonly adapter: OrchestratorAdapter;
  parent?: ParentLink;
  status: RuntimeStatus;
  inputWire: string | undefined;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  failureDetails?: FailureDetails;
  createdTime: Date;
  lastUpdatedTime: Date;
  metrics: HostMetrics;
  generation: number;
  history: HistoryEvent[];
  nextEventId: number;
  actionIds: number[];
  pending: Map<number, PendingWork>;
  inbox: InboxItem[];
  episodeQueued: boolean;
  episodeTimer?: NodeJS.Timeout;
  /** Duration and end of the last episode (replay + bookkeeping + state file), for pacing the next. */
  lastEpisodeMs: number;
  lastEpisodeEndedAt: number;
  waiters: Array<{ resolve: (s: OrchestrationStatus) => void; reject: (e: Error) => void }>;
}

interface ActivityJob {
  inst: Instance;
  generation: number;
  eventId: number;
  name: string;
  input: string | undefined;
}

interface TimerEntry {
  inst: Instance;
  generation: number;
  eventId: number;
  fireAtMs: number;
  handle?: NodeJS.Timeout;
}

/**
 * Runs the project's orchestrators in this process with durable-functions' own replay engine, driving it
 * as the Functions host does: history in, actions out, every ready completion delivered in one episode.
 *
 * Register the same functions here and with the Functions host: `df.app.orchestration(name, fn)` there,
 * `orchestrators: { [name]: fn }` here; `df.app.activity(name, { handler })` there, `activities: { [name]: handler }`
 * here. Orchestrators call activities by name. Not supported: entities, callHttp, timers split into
 * long-timer chains (local timers are never split).
 */
export class LocalDurableHost {
  private readonly orchestrators = new Map<string, OrchestratorAdapter>();
  private readonly activities: Record<string, ActivityFunction>;
  private readonly concurrency: number;
  private readonly clock: "real" | "virtual";
  private readonly stateDir: string | undefined;
  private readonly logger: ((line: string) => void) | undefined;

  private readonly instances = new Map<string, Instance>();
  private readonly listeners = new Set<(s: OrchestrationStatus) => void>();
  private readonly timers = new Map<string, TimerEntry>();
  private activityQueue: ActivityJob[] = [];
  private queueHead = 0;
  private activeActivities = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly runningEpisodes = new Set<Promise<void>>();
  private queuedEpisodes = 0;
  private virtualNowMs = Date.now();
  private idleCheckQueued = false;
  private closed = false;

  constructor(opts: LocalDurableHostOptions) {
    for (const [name, fn] of Object.entries(opts.orchestrators)) this.orchestrators.set(name, new OrchestratorAdapter(name, fn));
    this.activities = { ...opts.activities };
    this.concurrency = Math.max(1, Math.floor(opts.activityConcurrency ?? DEFAULT_ACTIVITY_CONCURRENCY));
    this.clock = opts.clock ?? "real";
    this.stateDir = opts.stateDir;
    this.logger = opts.logger;
  }

  // ------------------------------------------------------------------------------------ public API

  /**
   * Starts an orchestration. With a stateDir, an id whose state file is not terminal is resumed from its
   * stored history (the stored input wins). An id that is running, or that finished (in this host or in
   * stateDir), is refused: DurableHostError code "InstanceRunning" / "InstanceFinished"; getStatus then
   * shows the existing instance.
   */
  async startNew(name: string, opts: { instanceId?: string; input?: unknown } = {}): Promise<string> {
    this.assertOpen();
    const adapter = this.orchestrators.get(name);
    if (!adapter) throw new DurableHostError("UnknownOrchestrator", `no orchestrator named '${name}' is registered with the local host`);
    const instanceId = opts.instanceId ?? randomUUID().replace(/-/g, "");
    this.refuseExisting(this.instances.get(instanceId));

    if (this.stateDir) {
      const stored = readStoredInstance(this.stateDir, instanceId);
      if (stored) {
        if (stored.status.name !== name) {
          throw new DurableHostError("StateMismatch", `instance '${instanceId}' in ${this.stateDir} belongs to orchestrator '${stored.status.name}', not '${name}'`);
        }
        if (isTerminal(stored.status.runtimeStatus)) {
          this.instances.set(instanceId, this.fromStored(stored, adapter));
          this.refuseExisting(this.instances.get(instanceId));
        }
        await this.resume(stored, adapter);
        return instanceId;
      }
    }

    // Through JSON now, as the real client does, so unserializable input fails here.
    const inst = this.createInstance(instanceId, adapter, toWireInput(opts.input, false));
    this.instances.set(instanceId, inst);
    this.persist(inst);
    this.notify(inst);
    this.scheduleEpisode(inst);
    return instanceId;
  }

  /** From memory, or else (read-only) from stateDir. */
  getStatus(instanceId: string): OrchestrationStatus | undefined {
    const inst = this.instances.get(instanceId);
    if (inst) return this.snapshot(inst);
    if (!this.stateDir) return undefined;
    const stored = readStoredInstance(this.stateDir, instanceId);
    return stored ? statusFromStored(stored) : undefined;
  }

  /** Instances of this host (including sub-orchestrations), not other files in stateDir. */
  listInstances(): OrchestrationStatus[] {
    return [...this.instances.values()].map((inst) => this.snapshot(inst));
  }

  /** Resolves once Completed, Failed or Terminated; rejects on timeout or when the host closes first. */
  waitForCompletion(instanceId: string, opts: { timeoutMs?: number } = {}): Promise<OrchestrationStatus> {
    const inst = this.instances.get(instanceId);
    if (!inst) {
      const stored = this.getStatus(instanceId);
      if (stored && isTerminal(stored.runtimeStatus)) return Promise.resolve(stored);
      return Promise.reject(
        new DurableHostError("UnknownInstance", stored ? `instance '${instanceId}' is stored but not running in this host; startNew resumes it` : `no instance '${instanceId}'`),
      );
    }
    if (isTerminal(inst.status)) return Promise.resolve(this.snapshot(inst));
    if (this.closed) return Promise.reject(new DurableHostError("HostClosed", "the local durable host is closed"));
    return new Promise<OrchestrationStatus>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (s: OrchestrationStatus) => {
          if (timer) clearTimeout(timer);
          resolve(s);
        },
        reject: (e: Error) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          inst.waiters = inst.waiters.filter((w) => w !== waiter);
          reject(new DurableHostError("Timeout", `instance '${instanceId}' did not finish within ${opts.timeoutMs} ms (status ${inst.status})`));
        }, opts.timeoutMs);
      }
      inst.waiters.push(waiter);
    });
  }

  /** Ends an instance now; results of work still in flight are dropped. A finished instance is left as it is. */
  async terminate(instanceId: string, reason: string): Promise<void> {
    let inst = this.instances.get(instanceId);
    if (!inst && this.stateDir) {
      // A job left behind by another process can be cancelled without running it.
      const stored = readStoredInstance(this.stateDir, instanceId);
      const adapter = stored ? this.orchestrators.get(stored.status.name) : undefined;
      if (stored && adapter) {
        inst = this.fromStored(stored, adapter);
        this.instances.set(instanceId, inst);
      }
    }
    if (!inst) throw new DurableHostError("UnknownInstance", `no instance '${instanceId}'`);
    if (isTerminal(inst.status)) return;
    const at = this.now();
    inst.history.push(events.executionTerminated(at, reason));
    this.cancelAllWork(inst);
    inst.status = "Terminated";
    inst.output = reason;
    this.finish(inst);
  }

  /** Raises an external event (waitForExternalEvent). */
  raiseEvent(instanceId: string, eventName: string, data?: unknown): void {
    const inst = this.instances.get(instanceId);
    if (!inst || isTerminal(inst.status)) throw new DurableHostError("UnknownInstance", `no running instance '${instanceId}'`);
    inst.inbox.push({ event: events.eventRaised(this.now(), eventName, toWireInput(data, false)), group: 3 });
    this.scheduleEpisode(inst);
  }

  /** Called after each episode and on every status change; returns an unsubscribe function. */
  onStatusChange(listener: (s: OrchestrationStatus) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Stops timers and queued work, waits for running activities and episodes; their results are dropped,
   * so with a stateDir a later startNew re-runs them. Pending waitForCompletion calls reject (HostClosed).
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const timer of this.timers.values()) if (timer.handle) clearTimeout(timer.handle);
      this.timers.clear();
      for (const inst of this.instances.values()) if (inst.episodeTimer) clearTimeout(inst.episodeTimer);
      this.activityQueue = [];
      this.queueHead = 0;
      for (const inst of this.instances.values()) {
        const waiters = inst.waiters;
        inst.waiters = [];
        for (const w of waiters) w.reject(new DurableHostError("HostClosed", `the local durable host closed before '${inst.id}' finished`));
      }
    }
    while (this.inFlight.size > 0 || this.runningEpisodes.size > 0) {
      await Promise.allSettled([...this.inFlight, ...this.runningEpisodes]);
    }
  }

  // ------------------------------------------------------------------------------------ episodes

  /**
   * Queues the instance's next episode. A replay costs time proportional to the history, so after an
   * episode of d ms the next one starts no sooner than d ms (at most 1 s) after it: completions pile up
   * meanwhile and go in together, keeping the replay share of the time at about half even for
   * activities that finish in microseconds. Otherwise setImmediate still gathers all that is ready.
   */
  private scheduleEpisode(inst: Instance): void {
    if (inst.episodeQueued || this.closed || isTerminal(inst.status)) return;
    inst.episodeQueued = true;
    this.queuedEpisodes++;
    const start = (): void => {
      inst.episodeTimer = undefined;
      const run = this.runEpisode(inst).catch((error: unknown) => this.failForHostError(inst, error));
      this.runningEpisodes.add(run);
      void run.then(() => {
        this.runningEpisodes.delete(run);
        inst.episodeQueued = false;
        this.queuedEpisodes--;
        // A continueAsNew starts its next execution right away.
        if (inst.inbox.length > 0 || inst.status === "ContinuedAsNew") this.scheduleEpisode(inst);
        this.queueIdleCheck();
      });
    };
    const wait = Math.min(inst.lastEpisodeMs, MAX_COALESCE_MS) - (performance.now() - inst.lastEpisodeEndedAt);
    if (wait >= 1 && inst.status !== "ContinuedAsNew") inst.episodeTimer = setTimeout(start, wait);
    else setImmediate(start);
  }

  private async runEpisode(inst: Instance): Promise<void> {
    if (this.closed || isTerminal(inst.status)) return;
    const episodeStarted = performance.now();
    try {
      await this.runEpisodeBody(inst);
    } finally {
      inst.lastEpisodeEndedAt = performance.now();
      inst.lastEpisodeMs = inst.lastEpisodeEndedAt - episodeStarted;
    }
  }

  private async runEpisodeBody(inst: Instance): Promise<void> {
    const generation = inst.generation;
    const at = this.now();
    const batch = inst.inbox;
    inst.inbox = [];
    const written: HistoryEvent[] = [];
    const write = (event: HistoryEvent): void => {
      inst.history.push(event);
      written.push(event);
    };

    const isReplaying = inst.history.length > 0;
    write(events.orchestratorStarted(at));
    if (!isReplaying) write(events.executionStarted(at, inst.name, inst.inputWire));
    const retryFailures = batch.filter((item) => item.group === 1);
    const retryTimers = batch.filter((item) => item.group === 2);
    for (const item of retryFailures) write(item.event);
    for (const item of retryTimers) write(item.event);
    for (const item of batch) if (item.group === 3) write(item.event);
    inst.metrics.maxEventsPerEpisode = Math.max(inst.metrics.maxEventsPerEpisode, batch.length);
    if (inst.status === "Pending" || inst.status === "ContinuedAsNew") inst.status = "Running";

    const started = performance.now();
    const outcome = await inst.adapter.replay({
      instanceId: inst.id,
      history: inst.history,
      input: inst.input,
      isReplaying,
      parentInstanceId: inst.parent?.instanceId,
      logHandler: this.logHandler(inst.name),
    });
    const elapsed = performance.now() - started;
    inst.metrics.replayMs += elapsed;
    inst.metrics.episodes++;
    // Terminated while the orchestrator ran: its decisions no longer count.
    if (isTerminal(inst.status) || inst.generation !== generation) return;

    const afterPersist: Array<() => void> = [];
    let newActions = 0;
    if (outcome.kind === "failed") {
      this.endExecution(inst, at, write, "Failed", undefined, outcome.failure, outcome.customStatus);
    } else if (outcome.kind === "done") {
      const next = outcome.actions.find((a) => a.actionType === ActionType.ContinueAsNew);
      if (next) this.continueAsNew(inst, at, write, next, outcome.customStatus);
      else this.endExecution(inst, at, write, "Completed", outcome.output, undefined, outcome.customStatus);
    } else {
      try {
        newActions = this.applyDecisions(inst, at, write, outcome, retryFailures, retryTimers, afterPersist);
      } catch (error) {
        afterPersist.length = 0;
        this.endExecution(inst, at, write, "Failed", undefined, toFailureDetails(error), outcome.customStatus);
      }
    }
    // Events of this episode are history for the next one.
    for (const event of written) event.IsPlayed = true;
    this.log(
      `${inst.id} episode ${inst.metrics.episodes}: ${batch.length} event(s) in, ${newActions} new action(s), ` +
        `${inst.history.length} history events, ${elapsed.toFixed(1)} ms -> ${inst.status}`,
    );

    if (isTerminal(inst.status)) {
      this.finish(inst);
      return;
    }
    inst.lastUpdatedTime = new Date();
    this.persist(inst);
    for (const effect of afterPersist) effect();
    this.notify(inst);
  }

  /** Turns the new tail of actions (and the retries the library expects) into history and work. Returns the number of new actions. */
  private applyDecisions(
    inst: Instance,
    at: Date,
    write: (e: HistoryEvent) => void,
    outcome: Extract<ReplayOutcome, { kind: "running" }>,
    retryFailures: InboxItem[],
    retryTimers: InboxItem[],
    afterPersist: Array<() => void>,
  ): number {
    const actions = outcome.actions;
    if (actions.length < inst.actionIds.length) {
      throw new LocalHostError(
        `replay produced ${actions.length} actions where ${inst.actionIds.length} were already scheduled: the orchestrator is not deterministic`,
      );
    }
    const fresh = actions.slice(inst.actionIds.length);
    for (const action of fresh) {
      if (!SUPPORTED_ACTIONS.has(action.actionType)) {
        throw new LocalHostError(`the local durable host does not support action type ${action.actionType} (${actionTypeName(action.actionType)})`);
      }
    }
    // Cross-check with the library before changing anything: a drift would hand results to the wrong tasks.
    const idsNeeded = retryFailures.length + retryTimers.length + fresh.filter((a) => a.actionType !== ActionType.WaitForExternalEvent).length;
    if (outcome.librarySequence !== undefined && outcome.librarySequence !== inst.nextEventId + idsNeeded) {
      throw new LocalHostError(
        `event-id bookkeeping diverged from durable-functions (library at ${outcome.librarySequence}, host at ${inst.nextEventId + idsNeeded})`,
      );
    }

    // Timers the orchestrator cancelled (e.g. the loser of a Task.any) never fire.
    for (let i = 0; i < inst.actionIds.length; i++) {
      const action = actions[i]!;
      if (action.actionType === ActionType.CreateTimer && action.isCanceled) {
        const id = inst.actionIds[i]!;
        if (inst.pending.get(id)?.kind === "timer") {
          inst.pending.delete(id);
          this.cancelTimer(inst, id);
        }
      }
    }

    for (const item of retryFailures) {
      const retry = item.work!.retry!;
      const id = inst.nextEventId++;
      let delay: number | undefined = 0;
      // After the last attempt the timer only tells the library to give up, so it need not wait.
      if (retry.attempts < retry.options.maxNumberOfAttempts) {
        delay = nextRetryDelayMs(retry.options, retry.attempts, retry.firstAttemptAtMs, at.getTime());
        if (delay === undefined) {
          retry.expired = true;
          delay = 0;
          this.log(`${inst.id}: retry timeout of ${retry.name} passed; remaining attempts fail at once`);
        }
      }
      this.addTimer(inst, id, new Date(at.getTime() + delay).toISOString(), retry, at, write, afterPersist);
    }
    for (const item of retryTimers) {
      const retry = item.work!.retry!;
      retry.attempts++;
      this.scheduleCall(inst, inst.nextEventId++, retry.kind, retry.name, retry.input, retry.childInstanceId, retry, at, write, afterPersist);
    }
    for (const action of fresh) inst.actionIds.push(this.scheduleAction(inst, action, at, write, afterPersist));

    write(events.orchestratorCompleted(at));
    inst.customStatus = roundTrip(outcome.customStatus);
    return fresh.length;
  }

  private scheduleAction(inst: Instance, action: WireAction, at: Date, write: (e: HistoryEvent) => void, afterPersist: Array<() => void>): number {
    const retryOf = (kind: RetryState["kind"], name: string, input: string | undefined, options: WireRetryOptions | undefined): RetryState => ({
      kind,
      name,
      input,
      childInstanceId: action.instanceId,
      options: options ?? { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 1 },
      attempts: 1,
      firstAttemptAtMs: at.getTime(),
      expired: false,
    });
    const name = action.functionName ?? "";
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const id = inst.nextEventId++;
        // Activity inputs carry strings JSON-encoded once more; the host decodes them.
        const input = toWireInput(action.input, true);
        const retry = action.actionType === ActionType.CallActivityWithRetry ? retryOf("activity", name, input, action.retryOptions) : undefined;
        this.scheduleCall(inst, id, "activity", name, input, undefined, retry, at, write, afterPersist);
        return id;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const id = inst.nextEventId++;
        const input = toWireInput(action.input, false);
        const retry =
          action.actionType === ActionType.CallSubOrchestratorWithRetry ? retryOf("subOrchestration", name, input, action.retryOptions) : undefined;
        this.scheduleCall(inst, id, "subOrchestration", name, input, action.instanceId, retry, at, write, afterPersist);
        return id;
      }
      case ActionType.CreateTimer: {
        const id = inst.nextEventId++;
        const fireAt = new Date(action.fireAt as Date | string).toISOString();
        if (action.isCanceled) write(events.timerCreated(at, id, fireAt));
        else this.addTimer(inst, id, fireAt, undefined, at, write, afterPersist);
        return id;
      }
      default:
        // WaitForExternalEvent: the library keys it by event name, not by a sequence number.
        return -1;
    }
  }

  private scheduleCall(
    inst: Instance,
    id: number,
    kind: RetryState["kind"],
    name: string,
    input: string | undefined,
    explicitChildId: string | undefined,
    retry: RetryState | undefined,
    at: Date,
    write: (e: HistoryEvent) => void,
    afterPersist: Array<() => void>,
  ): void {
    const generation = inst.generation;
    if (kind === "activity") {
      write(events.taskScheduled(at, id, name, input));
      inst.pending.set(id, { kind: "activity", name, input, retry });
      inst.metrics.activitiesScheduled++;
      if (retry?.expired) afterPersist.push(() => this.deliver(inst, generation, id, events.taskFailed(this.now(), id, retry.lastReason ?? "retry timeout", retry.lastDetails ?? "{}")));
      else afterPersist.push(() => this.enqueueActivity({ inst, generation, eventId: id, name, input }));
      return;
    }
    const childId = explicitChildId ?? `${inst.id}:${inst.generation}:${id}`;
    write(events.subOrchestrationCreated(at, id, name, childId, input));
    inst.pending.set(id, { kind: "subOrchestration", name, instanceId: childId, input, retry });
    inst.metrics.subOrchestrationsCreated++;
    if (retry?.expired) {
      afterPersist.push(() =>
        this.deliver(inst, generation, id, events.subOrchestrationFailed(this.now(), id, retry.lastReason ?? "retry timeout", retry.lastDetails ?? "{}")),
      );
    } else {
      afterPersist.push(() => this.startChild(inst, id, name, childId, input));
    }
  }

  private addTimer(
    inst: Instance,
    id: number,
    fireAt: string,
    retry: RetryState | undefined,
    at: Date,
    write: (e: HistoryEvent) => void,
    afterPersist: Array<() => void>,
  ): void {
    write(events.timerCreated(at, id, fireAt));
    inst.pending.set(id, { kind: "timer", fireAt, retry });
    inst.metrics.timersCreated++;
    afterPersist.push(() => this.armTimer(inst, id, fireAt));
  }

  private endExecution(
    inst: Instance,
    at: Date,
    write: (e: HistoryEvent) => void,
    status: "Completed" | "Failed",
    output: unknown,
    failure: FailureDetails | undefined,
    customStatus: unknown,
  ): void {
    this.cancelAllWork(inst);
    inst.customStatus = roundTripOrUndefined(customStatus);
    if (status === "Completed") {
      try {
        inst.output = roundTrip(output);
      } catch (error) {
        // The real host could not store this output either.
        return this.endExecution(inst, at, write, "Failed", undefined, toFailureDetails(error), customStatus);
      }
      inst.status = "Completed";
    } else {
      inst.status = "Failed";
      inst.failureDetails = failure;
      // As the Durable client reports it: the output of a failed orchestration is its message.
      inst.output = `Orchestrator function '${inst.name}' failed: ${failure?.errorMessage ?? "unknown error"}`;
    }
    write(events.orchestratorCompleted(at));
    write(events.executionCompleted(at, status, toWireInput(inst.output, false)));
  }

  private continueAsNew(
    inst: Instance,
    at: Date,
    write: (e: HistoryEvent) => void,
    action: WireAction,
    customStatus: unknown,
  ): void {
    write(events.orchestratorCompleted(at));
    write(events.executionCompleted(at, "ContinuedAsNew", undefined));
    this.cancelAllWork(inst);
    // A fresh execution: new history and ids; completions still on their way belong to the old one.
    inst.generation++;
    inst.history = [];
    inst.nextEventId = 0;
    inst.actionIds = [];
    inst.inputWire = toWireInput(action.input, true);
    inst.input = fromWireInput(inst.inputWire);
    inst.output = undefined;
    inst.customStatus = roundTripOrUndefined(customStatus);
    inst.status = "ContinuedAsNew";
    inst.metrics.executions++;
  }

  // ------------------------------------------------------------------------------------ completions

  /** Hands a completion to the instance's next episode, if the work is still awaited. */
  private deliver(inst: Instance, generation: number, id: number, event: HistoryEvent): void {
    if (this.closed || inst.generation !== generation || isTerminal(inst.status)) return;
    const work = inst.pending.get(id);
    if (!work) return;
    inst.pending.delete(id);
    const failed = event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed;
    if (failed && work.kind === "activity") inst.metrics.activitiesFailed++;
    let group: InboxItem["group"] = 3;
    if (work.retry) {
      if (work.kind === "timer") {
        // The library surfaces the last error once maxNumberOfAttempts attempts have failed.
        if (work.retry.attempts < work.retry.options.maxNumberOfAttempts) group = 2;
      } else if (failed) {
        group = 1;
        work.retry.lastReason = event.Reason;
        work.retry.lastDetails = event.Details;
      }
    }
    inst.inbox.push({ event, group, work });
    this.scheduleEpisode(inst);
  }

  private enqueueActivity(job: ActivityJob): void {
    if (this.closed) return;
    this.activityQueue.push(job);
    this.pumpActivities();
  }

  private pumpActivities(): void {
    while (!this.closed && this.activeActivities < this.concurrency && this.queueHead < this.activityQueue.length) {
      const job = this.activityQueue[this.queueHead++]!;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.activityQueue.length) {
        this.activityQueue = this.activityQueue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (job.inst.generation !== job.generation || !job.inst.pending.has(job.eventId) || isTerminal(job.inst.status)) continue;
      this.activeActivities++;
      const run = this.runActivity(job).then(() => {
        this.activeActivities--;
        this.inFlight.delete(run);
        this.pumpActivities();
        this.queueIdleCheck();
      });
      this.inFlight.add(run);
    }
  }

  private async runActivity(job: ActivityJob): Promise<void> {
    let event: HistoryEvent;
    try {
      const fn = this.activities[job.name];
      if (!fn) throw new ActivityNotFoundError(`activity function '${job.name}' is not registered with the local host`);
      const context = new InvocationContext({ functionName: job.name, invocationId: randomUUID(), logHandler: this.logHandler(job.name) });
      // Input and output cross JSON as on the real host, so unserializable data fails here too.
      const result = await fn(fromWireInput(job.input), context);
      event = events.taskCompleted(this.now(), job.eventId, JSON.stringify(result) ?? "null");
    } catch (error) {
      const failure = describeFailure(error);
      event = events.taskFailed(this.now(), job.eventId, failure.reason, failure.details);
    }
    this.deliver(job.inst, job.generation, job.eventId, event);
  }

  private startChild(parent: Instance, eventId: number, name: string, childId: string, input: string | undefined): void {
    if (this.closed) return;
    const generation = parent.generation;
    const refuse = (message: string): void =>
      this.deliver(parent, generation, eventId, events.subOrchestrationFailed(this.now(), eventId, message, JSON.stringify({ name: "SubOrchestrationStartError", message })));
    const adapter = this.orchestrators.get(name);
    if (!adapter) return refuse(`no orchestrator named '${name}' is registered with the local host`);
    const existing = this.instances.get(childId);
    if (existing && !isTerminal(existing.status)) return refuse(`an instance with id '${childId}' is already running`);
    const child = this.createInstance(childId, adapter, input, { instanceId: parent.id, generation, eventId });
    this.instances.set(childId, child);
    this.persist(child);
    this.notify(child);
    this.scheduleEpisode(child);
  }

  /** The completion a parent receives for a finished child. */
  private childResult(child: { id: string; status: RuntimeStatus; output: unknown; failureDetails?: FailureDetails }, eventId: number): HistoryEvent {
    const at = this.now();
    if (child.status === "Completed") return events.subOrchestrationCompleted(at, eventId, JSON.stringify(child.output) ?? "null");
    const message = child.status === "Terminated" ? `terminated: ${String(child.output)}` : (child.failureDetails?.errorMessage ?? String(child.output));
    const name = child.status === "Terminated" ? "Terminated" : (child.failureDetails?.errorType ?? "Error");
    return events.subOrchestrationFailed(at, eventId, message, JSON.stringify({ name, message, instanceId: child.id }));
  }

  // ------------------------------------------------------------------------------------ timers

  private armTimer(inst: Instance, eventId: number, fireAt: string): void {
    if (this.closed) return;
    const key = timerKey(inst.id, inst.generation, eventId);
    const entry: TimerEntry = { inst, generation: inst.generation, eventId, fireAtMs: Date.parse(fireAt) };
    this.timers.set(key, entry);
    if (this.clock === "real") this.startRealTimer(key, entry);
    else this.queueIdleCheck();
  }

  private startRealTimer(key: string, entry: TimerEntry): void {
    const wait = Math.max(0, entry.fireAtMs - Date.now());
    entry.handle = setTimeout(() => {
      if (Date.now() < entry.fireAtMs) this.startRealTimer(key, entry);
      else this.fireTimer(key);
    }, Math.min(wait, MAX_TIMEOUT_MS));
  }

  private fireTimer(key: string): void {
    const entry = this.timers.get(key);
    if (!entry) return;
    this.timers.delete(key);
    const work = entry.inst.pending.get(entry.eventId);
    if (work?.kind !== "timer") return;
    this.deliver(entry.inst, entry.generation, entry.eventId, events.timerFired(this.now(), entry.eventId, work.fireAt));
  }

  private cancelTimer(inst: Instance, eventId: number): void {
    const key = timerKey(inst.id, inst.generation, eventId);
    const entry = this.timers.get(key);
    if (entry?.handle) clearTimeout(entry.handle);
    this.timers.delete(key);
  }

  private queueIdleCheck(): void {
    if (this.clock !== "virtual" || this.idleCheckQueued || this.closed) return;
    this.idleCheckQueued = true;
    setImmediate(() => {
      this.idleCheckQueued = false;
      this.advanceVirtualClockIfIdle();
    });
  }

  /** Virtual clock: with no activity or episode pending anywhere, jump to the earliest timer and fire everything due. */
  private advanceVirtualClockIfIdle(): void {
    if (this.closed || this.activeActivities > 0 || this.queuedEpisodes > 0 || this.queueHead < this.activityQueue.length) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const timer of this.timers.values()) earliest = Math.min(earliest, timer.fireAtMs);
    if (!Number.isFinite(earliest)) return;
    this.virtualNowMs = Math.max(this.virtualNowMs, earliest);
    for (const [key, timer] of [...this.timers]) if (timer.fireAtMs <= this.virtualNowMs) this.fireTimer(key);
  }

  // ------------------------------------------------------------------------------------ instances

  private createInstance(id: string, adapter: OrchestratorAdapter, inputWire: string | undefined, parent?: ParentLink): Instance {
    const now = new Date();
    return {
      id,
      name: adapter.name,
      adapter,
      parent,
      status: "Pending",
      inputWire,
      input: fromWireInput(inputWire),
      output: undefined,
      customStatus: undefined,
      createdTime: now,
      lastUpdatedTime: now,
      metrics: emptyMetrics(),
      generation: 0,
      history: [],
      nextEventId: 0,
      actionIds: [],
      pending: new Map(),
      inbox: [],
      episodeQueued: false,
      lastEpisodeMs: 0,
      lastEpisodeEndedAt: 0,
      waiters: [],
    };
  }

  private fromStored(stored: StoredInstance, adapter: OrchestratorAdapter): Instance {
    const status = statusFromStored(stored);
    return {
      id: status.instanceId,
      name: status.name,
      adapter,
      parent: stored.parent,
      status: status.runtimeStatus,
      inputWire: toWireInput(status.input, false),
      input: status.input,
      output: status.output,
      customStatus: status.customStatus,
      failureDetails: status.failureDetails,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
      metrics: { ...emptyMetrics(), ...status.metrics },
      generation: stored.generation,
      history: stored.history,
      nextEventId: stored.nextEventId,
      actionIds: stored.actionIds,
      pending: new Map(stored.pending),
      inbox: [],
      episodeQueued: false,
      lastEpisodeMs: 0,
      lastEpisodeEndedAt: 0,
      waiters: [],
    };
  }

  /**
   * Continues a stored instance: replays its history once (which must reproduce the stored decisions),
   * then re-runs every activity scheduled but not completed (at-least-once), re-arms timers and
   * re-attaches sub-orchestrations.
   */
  private async resume(stored: StoredInstance, adapter: OrchestratorAdapter): Promise<Instance> {
    const inst = this.fromStored(stored, adapter);
    if (inst.history.length > 0) {
      const started = performance.now();
      const outcome = await adapter.replay({
        instanceId: inst.id,
        history: inst.history,
        input: inst.input,
        isReplaying: true,
        parentInstanceId: inst.parent?.instanceId,
        logHandler: this.logHandler(inst.name),
      });
      inst.metrics.replayMs += performance.now() - started;
      inst.metrics.episodes++;
      const consistent =
        outcome.kind === "running" &&
        outcome.actions.length === inst.actionIds.length &&
        (outcome.librarySequence === undefined || outcome.librarySequence === inst.nextEventId) &&
        actionsMatchHistory(outcome.actions, inst.actionIds, inst.history);
      if (!consistent) {
        throw new DurableHostError(
          "StateMismatch",
          `the stored history of '${inst.id}' does not replay to the decisions it recorded (was the orchestrator changed?); ` +
            `the file in ${this.stateDir} is left untouched`,
        );
      }
    }
    this.assertOpen();
    this.refuseExisting(this.instances.get(inst.id));
    this.instances.set(inst.id, inst);
    this.log(`${inst.id}: resumed from ${this.stateDir} with ${inst.history.length} history events and ${inst.pending.size} pending item(s)`);
    for (const [id, work] of inst.pending) this.restartWork(inst, id, work);
    if (inst.history.length === 0) this.scheduleEpisode(inst);
    this.notify(inst);
    return inst;
  }

  private restartWork(inst: Instance, id: number, work: PendingWork): void {
    const generation = inst.generation;
    const at = this.now();
    switch (work.kind) {
      case "activity":
        if (work.retry?.expired) this.deliver(inst, generation, id, events.taskFailed(at, id, work.retry.lastReason ?? "retry timeout", work.retry.lastDetails ?? "{}"));
        else this.enqueueActivity({ inst, generation, eventId: id, name: work.name, input: work.input });
        return;
      case "timer":
        this.armTimer(inst, id, work.fireAt);
        return;
      case "subOrchestration": {
        const inMemory = this.instances.get(work.instanceId);
        const stored = inMemory ? undefined : this.stateDir ? readStoredInstance(this.stateDir, work.instanceId) : undefined;
        const childStatus = inMemory ? this.snapshot(inMemory) : stored ? statusFromStored(stored) : undefined;
        if (childStatus && isTerminal(childStatus.runtimeStatus)) {
          this.deliver(inst, generation, id, this.childResult({ ...childStatus, id: childStatus.instanceId, status: childStatus.runtimeStatus }, id));
        } else if (inMemory) {
          inMemory.parent = { instanceId: inst.id, generation, eventId: id };
        } else if (stored) {
          const adapter = this.orchestrators.get(stored.status.name);
          if (!adapter) {
            this.deliver(inst, generation, id, events.subOrchestrationFailed(at, id, `no orchestrator named '${stored.status.name}'`, "{}"));
            return;
          }
          this.resume(stored, adapter).catch((error: unknown) => {
            const failure = describeFailure(error);
            this.deliver(inst, generation, id, events.subOrchestrationFailed(this.now(), id, failure.reason, failure.details));
          });
        } else {
          this.startChild(inst, id, work.name, work.instanceId, work.input);
        }
        return;
      }
    }
  }

  private cancelAllWork(inst: Instance): void {
    for (const [id, work] of inst.pending) if (work.kind === "timer") this.cancelTimer(inst, id);
    inst.pending.clear();
    inst.inbox = [];
  }

  /** Persists a terminal instance, then tells its parent, listeners and waiters. */
  private finish(inst: Instance): void {
    inst.lastUpdatedTime = new Date();
    try {
      this.persist(inst);
    } catch (error) {
      this.log(`${inst.id}: could not persist the final state: ${describeFailure(error).message}`);
    }
    const link = inst.parent;
    const parent = link ? this.instances.get(link.instanceId) : undefined;
    if (link && parent) this.deliver(parent, link.generation, link.eventId, this.childResult(inst, link.eventId));
    this.notify(inst);
    const snapshot = this.snapshot(inst);
    const waiters = inst.waiters;
    inst.waiters = [];
    for (const w of waiters) w.resolve(snapshot);
  }

  /** A fault of the host itself (e.g. the state file cannot be written) fails the instance rather than hanging it. */
  private failForHostError(inst: Instance, error: unknown): void {
    this.log(`${inst.id}: local host error: ${describeFailure(error).message}`);
    if (isTerminal(inst.status)) return;
    this.cancelAllWork(inst);
    inst.status = "Failed";
    inst.failureDetails = toFailureDetails(error);
    inst.output = `Orchestrator function '${inst.name}' failed: ${inst.failureDetails.errorMessage}`;
    this.finish(inst);
  }

  private persist(inst: Instance): void {
    if (!this.stateDir) return;
    const started = performance.now();
    const status = this.snapshot(inst);
    const stored: StoredInstance = {
      format: STORE_FORMAT,
      status: { ...status, createdTime: status.createdTime.toISOString(), lastUpdatedTime: status.lastUpdatedTime.toISOString() },
      parent: inst.parent,
      generation: inst.generation,
      history: inst.history,
      nextEventId: inst.nextEventId,
      actionIds: inst.actionIds,
      pending: [...inst.pending],
    };
    writeStoredInstance(this.stateDir, stored);
    inst.metrics.persistMs += performance.now() - started;
  }

  private snapshot(inst: Instance): OrchestrationStatus {
    return {
      instanceId: inst.id,
      name: inst.name,
      runtimeStatus: inst.status,
      input: inst.input,
      output: inst.output,
      customStatus: inst.customStatus,
      createdTime: new Date(inst.createdTime),
      lastUpdatedTime: new Date(inst.lastUpdatedTime),
      ...(inst.parent ? { parentInstanceId: inst.parent.instanceId } : {}),
      ...(inst.failureDetails ? { failureDetails: { ...inst.failureDetails } } : {}),
      metrics: { ...inst.metrics, historyEvents: inst.history.length },
    };
  }

  private notify(inst: Instance): void {
    if (this.listeners.size === 0) return;
    const snapshot = this.snapshot(inst);
    for (const listener of [...this.listeners]) {
      try {
        listener(snapshot);
      } catch (error) {
        this.log(`status listener failed: ${describeFailure(error).message}`);
      }
    }
  }

  private refuseExisting(existing: Instance | undefined): void {
    if (!existing) return;
    if (isTerminal(existing.status)) {
      throw new DurableHostError("InstanceFinished", `instance '${existing.id}' already finished (${existing.status}); choose another instance id`);
    }
    throw new DurableHostError("InstanceRunning", `instance '${existing.id}' is already ${existing.status}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new DurableHostError("HostClosed", "the local durable host is closed");
  }

  private now(): Date {
    return this.clock === "virtual" ? new Date(this.virtualNowMs) : new Date();
  }

  private log(line: string): void {
    this.logger?.(line);
  }

  private logHandler(functionName: string): (level: string, ...args: unknown[]) => void {
    return (level, ...args) => {
      if (this.logger) this.logger(`[${level}] ${functionName}: ${args.map((a) => (typeof a === "string" ? a : safeJson(a))).join(" ")}`);
    };
  }
}

// ------------------------------------------------------------------------------------ helpers

/** A failure of the local host's own machinery, reported as the orchestration's failure. */
class LocalHostError extends Error {
  override name = "LocalHostError";
}

class ActivityNotFoundError extends Error {
  override name = "ActivityNotFoundError";
}

const SUPPORTED_ACTIONS = new Set<number>([
  ActionType.CallActivity,
  ActionType.CallActivityWithRetry,
  ActionType.CallSubOrchestrator,
  ActionType.CallSubOrchestratorWithRetry,
  ActionType.CreateTimer,
  ActionType.WaitForExternalEvent,
]);

function actionTypeName(type: number): string {
  return Object.entries(ActionType).find(([, value]) => value === type)?.[0] ?? "unknown";
}

/** Each action still asks for what history says was scheduled under its id (same kind, same function name). */
function actionsMatchHistory(actions: WireAction[], actionIds: number[], history: HistoryEvent[]): boolean {
  const scheduled = new Map<number, HistoryEvent>();
  for (const event of history) {
    if (event.EventType === EventType.TaskScheduled || event.EventType === EventType.TimerCreated || event.EventType === EventType.SubOrchestrationInstanceCreated) {
      scheduled.set(event.EventId, event);
    }
  }
  return actions.every((action, i) => {
    const id = actionIds[i]!;
    if (id < 0) return action.actionType === ActionType.WaitForExternalEvent;
    const event = scheduled.get(id);
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
        return event?.EventType === EventType.TaskScheduled && event.Name === action.functionName;
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry:
        return event?.EventType === EventType.SubOrchestrationInstanceCreated && event.Name === action.functionName;
      case ActionType.CreateTimer:
        return event?.EventType === EventType.TimerCreated;
      default:
        return false;
    }
  });
}

function isTerminal(status: RuntimeStatus): boolean {
  return status === "Completed" || status === "Failed" || status === "Terminated";
}

function timerKey(instanceId: string, generation: number, eventId: number): string {
  return `${instanceId}\u0000${generation}\u0000${eventId}`;
}

function emptyMetrics(): HostMetrics {
  return {
    historyEvents: 0,
    episodes: 0,
    replayMs: 0,
    activitiesScheduled: 0,
    activitiesFailed: 0,
    timersCreated: 0,
    subOrchestrationsCreated: 0,
    executions: 1,
    maxEventsPerEpisode: 0,
    persistMs: 0,
  };
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

function toFailureDetails(error: unknown): FailureDetails {
  const e = error instanceof Error ? error : undefined;
  return { errorType: e?.name ?? "Error", errorMessage: e ? e.message : String(error), ...(e?.stack ? { stackTrace: e.stack } : {}) };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
