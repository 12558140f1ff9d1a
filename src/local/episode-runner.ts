import { performance } from "node:perf_hooks";
import { ActivityPool, type ActivityFunction, type LogHandler } from "./activity-pool";
import { describeFailure, EventType, events, type HistoryEvent } from "./durable-protocol";
import { closeEpisode, openEpisode } from "./episode";
import { isTerminal, toFailureDetails, type InboxItem, type Instance } from "./instance";
import type { PendingWork } from "./instance-store";
import { TimerClock } from "./timers";

/** Longest pause between two episodes of one instance while completions pile up. */
const MAX_COALESCE_MS = 1000;

export interface EpisodeRunnerOptions {
  activities: Record<string, ActivityFunction>;
  activityConcurrency: number;
  clock: "real" | "virtual";
  logger?: (line: string) => void;
}

/** What the runner asks of the host that owns the instances. */
export interface EpisodeRunnerHooks {
  /** Writes the instance's state file (nothing without a stateDir). */
  persist(inst: Instance): void;
  /** After an episode that leaves the instance running. */
  notify(inst: Instance): void;
  /** The instance has reached a terminal state and its work is cancelled: persist it, tell listeners and waiters. */
  finish(inst: Instance): void;
}

/**
 * Moves instances forward: runs an episode (replay, then the decisions of episode.ts), starts the work it
 * scheduled (activities in the pool, timers on the clock), and hands each completion to the next episode.
 */
export class EpisodeRunner {
  private readonly clock: TimerClock;
  private readonly pool: ActivityPool;
  private readonly logger: ((line: string) => void) | undefined;
  private readonly runningEpisodes = new Set<Promise<void>>();
  /** Instances whose next episode waits on a pacing timer. */
  private readonly delayed = new Set<Instance>();
  private queuedEpisodes = 0;
  private closed = false;

  constructor(opts: EpisodeRunnerOptions, private readonly hooks: EpisodeRunnerHooks) {
    this.logger = opts.logger;
    this.clock = new TimerClock(opts.clock, () => this.pool.busy || this.queuedEpisodes > 0);
    this.pool = new ActivityPool(opts.activities, opts.activityConcurrency, {
      now: () => this.now(),
      logHandler: (name) => this.logHandler(name),
      settled: () => this.clock.checkIdleSoon(),
    });
  }

  /** Orchestration time: the wall clock, or the virtual clock. */
  now(): Date {
    return this.clock.now();
  }

  /**
   * Queues the instance's next episode. A replay costs time proportional to the history, so after an
   * episode of d ms the next one starts no sooner than d ms (at most 1 s) after it: completions pile up
   * meanwhile and go in together, keeping the replay share of the time at about half even for
   * activities that finish in microseconds. Otherwise setImmediate still gathers all that is ready.
   */
  schedule(inst: Instance): void {
    if (inst.episodeQueued || this.closed || isTerminal(inst.status)) return;
    inst.episodeQueued = true;
    this.queuedEpisodes++;
    const start = (): void => {
      inst.episodeTimer = undefined;
      this.delayed.delete(inst);
      const run = this.runEpisode(inst).catch((error: unknown) => this.failForHostError(inst, error));
      this.runningEpisodes.add(run);
      void run.then(() => {
        this.runningEpisodes.delete(run);
        inst.episodeQueued = false;
        this.queuedEpisodes--;
        if (inst.inbox.length > 0) this.schedule(inst);
        this.clock.checkIdleSoon();
      });
    };
    const wait = Math.min(inst.lastEpisodeMs, MAX_COALESCE_MS) - (performance.now() - inst.lastEpisodeEndedAt);
    if (wait >= 1) {
      inst.episodeTimer = setTimeout(start, wait);
      this.delayed.add(inst);
    } else {
      setImmediate(start);
    }
  }

  /** Starts work recorded as pending: runs the activity, arms the timer, or fails a call whose retry timeout has passed. */
  startWork(inst: Instance, id: number, work: PendingWork): void {
    if (this.closed) return;
    if (work.kind === "timer") {
      this.clock.arm(timerKey(inst, id), Date.parse(work.fireAt), () => {
        if (inst.pending.get(id)?.kind === "timer") this.deliver(inst, id, events.timerFired(this.now(), id, work.fireAt));
      });
      return;
    }
    const retry = work.retry;
    if (retry?.expired) {
      this.deliver(inst, id, events.taskFailed(this.now(), id, retry.lastReason ?? "retry timeout", retry.lastDetails ?? "{}"));
      return;
    }
    this.pool.enqueue({
      name: work.name,
      input: work.input,
      eventId: id,
      isAwaited: () => inst.pending.has(id) && !isTerminal(inst.status),
      complete: (event) => this.deliver(inst, id, event),
    });
  }

  /** Drops the instance's pending work and undelivered completions (it has ended). */
  cancelAllWork(inst: Instance): void {
    for (const [id, work] of inst.pending) if (work.kind === "timer") this.clock.cancel(timerKey(inst, id));
    inst.pending.clear();
    inst.inbox = [];
  }

  /** Stops timers and queued work; see runningNow for what is still under way. */
  close(): void {
    this.closed = true;
    this.clock.close();
    for (const inst of this.delayed) if (inst.episodeTimer) clearTimeout(inst.episodeTimer);
    this.delayed.clear();
    this.pool.close();
  }

  /** Activities and episodes running now; their results are dropped once closed. */
  runningNow(): Promise<void>[] {
    return [...this.pool.runningNow(), ...this.runningEpisodes];
  }

  log(line: string): void {
    this.logger?.(line);
  }

  logHandler(functionName: string): LogHandler {
    return (level, ...args) => {
      if (this.logger) this.logger(`[${level}] ${functionName}: ${args.map((a) => (typeof a === "string" ? a : safeJson(a))).join(" ")}`);
    };
  }

  private async runEpisode(inst: Instance): Promise<void> {
    if (this.closed || isTerminal(inst.status)) return;
    const episodeStarted = performance.now();
    try {
      await this.episode(inst);
    } finally {
      inst.lastEpisodeEndedAt = performance.now();
      inst.lastEpisodeMs = inst.lastEpisodeEndedAt - episodeStarted;
    }
  }

  private async episode(inst: Instance): Promise<void> {
    const batch = inst.inbox;
    inst.inbox = [];
    const episode = openEpisode(inst, batch, this.now());

    const started = performance.now();
    const outcome = await inst.adapter.replay({
      instanceId: inst.id,
      history: inst.history,
      input: inst.input,
      isReplaying: episode.isReplaying,
      logHandler: this.logHandler(inst.name),
    });
    const elapsed = performance.now() - started;
    inst.metrics.replayMs += elapsed;
    inst.metrics.episodes++;
    // Terminated while the orchestrator ran: its decisions no longer count.
    if (isTerminal(inst.status)) return;

    const decisions = closeEpisode(inst, episode, outcome, (line) => this.log(line));
    for (const id of decisions.cancelledTimers) this.clock.cancel(timerKey(inst, id));
    this.log(
      `${inst.id} episode ${inst.metrics.episodes}: ${episode.batchSize} event(s) in, ${decisions.newActions} new action(s), ` +
        `${inst.history.length} history events, ${elapsed.toFixed(1)} ms -> ${inst.status}`,
    );
    if (isTerminal(inst.status)) {
      this.cancelAllWork(inst);
      this.hooks.finish(inst);
      return;
    }
    inst.lastUpdatedTime = new Date();
    // Work starts once the state file records it: if the write fails, nothing runs for an instance that then fails.
    this.hooks.persist(inst);
    for (const id of decisions.start) {
      const work = inst.pending.get(id);
      if (work) this.startWork(inst, id, work);
    }
    this.hooks.notify(inst);
  }

  /** Hands a completion to the instance's next episode, if the work is still awaited. */
  private deliver(inst: Instance, id: number, event: HistoryEvent): void {
    if (this.closed || isTerminal(inst.status)) return;
    const work = inst.pending.get(id);
    if (!work) return;
    inst.pending.delete(id);
    const failed = event.EventType === EventType.TaskFailed;
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
    this.schedule(inst);
  }

  /** A fault of the host itself (e.g. the state file cannot be written) fails the instance rather than hanging it. */
  private failForHostError(inst: Instance, error: unknown): void {
    this.log(`${inst.id}: local host error: ${describeFailure(error).message}`);
    if (isTerminal(inst.status)) return;
    this.cancelAllWork(inst);
    inst.status = "Failed";
    inst.failureDetails = toFailureDetails(error);
    inst.output = `Orchestrator function '${inst.name}' failed: ${inst.failureDetails.errorMessage}`;
    this.hooks.finish(inst);
  }
}

function timerKey(inst: Instance, eventId: number): string {
  return `${inst.id}\u0000${eventId}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
