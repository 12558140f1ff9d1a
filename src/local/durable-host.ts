import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { ActivityFunction } from "./activity-pool";
import { describeFailure, events, toWireInput } from "./durable-protocol";
import { replayMatchesStored } from "./episode";
import { EpisodeRunner } from "./episode-runner";
import { instanceFromStored, isTerminal, newInstance, snapshot, toStored, type Instance } from "./instance";
import { readStoredInstance, statusFromStored, writeStoredInstance, type OrchestrationStatus, type StoredInstance } from "./instance-store";
import { OrchestratorAdapter, type OrchestratorFunction } from "./orchestrator-adapter";

export type { ActivityFunction } from "./activity-pool";
export type { OrchestratorFunction, FailureDetails } from "./orchestrator-adapter";
export type { HostMetrics, OrchestrationStatus, RuntimeStatus } from "./instance-store";

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

/**
 * Runs the project's orchestrators in this process with durable-functions' own replay engine, driving it
 * as the Functions host does: history in, actions out, every ready completion delivered in one episode.
 *
 * Register the same functions here and with the Functions host: `df.app.orchestration(name, fn)` there,
 * `orchestrators: { [name]: fn }` here; `df.app.activity(name, { handler })` there, `activities: { [name]: handler }`
 * here. Orchestrators call activities by name (with or without retry), wait on timers and Task.all/any,
 * and set custom status. Anything else an orchestrator asks for (sub-orchestrations, external events,
 * continueAsNew, entities, callHttp) fails the instance with a message naming it.
 *
 * The parts: episode-runner.ts moves instances forward (episode.ts turns decisions into history and
 * work, activity-pool.ts runs activities, timers.ts keeps time); instance.ts and instance-store.ts hold
 * an instance in memory and in its state file. This class is what callers use.
 */
export class LocalDurableHost {
  private readonly orchestrators = new Map<string, OrchestratorAdapter>();
  private readonly stateDir: string | undefined;
  private readonly runner: EpisodeRunner;
  private readonly instances = new Map<string, Instance>();
  private readonly listeners = new Set<(s: OrchestrationStatus) => void>();
  private closed = false;

  constructor(opts: LocalDurableHostOptions) {
    for (const [name, fn] of Object.entries(opts.orchestrators)) this.orchestrators.set(name, new OrchestratorAdapter(name, fn));
    this.stateDir = opts.stateDir;
    this.runner = new EpisodeRunner(
      {
        activities: { ...opts.activities },
        activityConcurrency: Math.max(1, Math.floor(opts.activityConcurrency ?? DEFAULT_ACTIVITY_CONCURRENCY)),
        clock: opts.clock ?? "real",
        logger: opts.logger,
      },
      { persist: (inst) => this.persist(inst), notify: (inst) => this.notify(inst), finish: (inst) => this.finish(inst) },
    );
  }

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
          this.instances.set(instanceId, instanceFromStored(stored, adapter));
          this.refuseExisting(this.instances.get(instanceId));
        }
        await this.resume(stored, adapter);
        return instanceId;
      }
    }

    // Through JSON now, as the real client does, so unserializable input fails here.
    const inst = newInstance(instanceId, adapter, toWireInput(opts.input, false));
    this.instances.set(instanceId, inst);
    this.persist(inst);
    this.notify(inst);
    this.runner.schedule(inst);
    return instanceId;
  }

  /** From memory, or else (read-only) from stateDir. */
  getStatus(instanceId: string): OrchestrationStatus | undefined {
    const inst = this.instances.get(instanceId);
    if (inst) return snapshot(inst);
    if (!this.stateDir) return undefined;
    const stored = readStoredInstance(this.stateDir, instanceId);
    return stored ? statusFromStored(stored) : undefined;
  }

  /** Instances of this host, not other files in stateDir. */
  listInstances(): OrchestrationStatus[] {
    return [...this.instances.values()].map(snapshot);
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
    if (isTerminal(inst.status)) return Promise.resolve(snapshot(inst));
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
        inst = instanceFromStored(stored, adapter);
        this.instances.set(instanceId, inst);
      }
    }
    if (!inst) throw new DurableHostError("UnknownInstance", `no instance '${instanceId}'`);
    if (isTerminal(inst.status)) return;
    inst.history.push(events.executionTerminated(this.runner.now(), reason));
    this.runner.cancelAllWork(inst);
    inst.status = "Terminated";
    inst.output = reason;
    this.finish(inst);
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
      this.runner.close();
      for (const inst of this.instances.values()) {
        const waiters = inst.waiters;
        inst.waiters = [];
        for (const w of waiters) w.reject(new DurableHostError("HostClosed", `the local durable host closed before '${inst.id}' finished`));
      }
    }
    for (let running = this.runner.runningNow(); running.length > 0; running = this.runner.runningNow()) {
      await Promise.allSettled(running);
    }
  }

  /**
   * Continues a stored instance: replays its history once (which must reproduce the stored decisions),
   * then re-runs every activity scheduled but not completed (at-least-once) and re-arms timers.
   */
  private async resume(stored: StoredInstance, adapter: OrchestratorAdapter): Promise<void> {
    const inst = instanceFromStored(stored, adapter);
    if (inst.history.length > 0) {
      const started = performance.now();
      const outcome = await adapter.replay({
        instanceId: inst.id,
        history: inst.history,
        input: inst.input,
        isReplaying: true,
        logHandler: this.runner.logHandler(inst.name),
      });
      inst.metrics.replayMs += performance.now() - started;
      inst.metrics.episodes++;
      if (!replayMatchesStored(inst, outcome)) {
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
    this.runner.log(`${inst.id}: resumed from ${this.stateDir} with ${inst.history.length} history events and ${inst.pending.size} pending item(s)`);
    for (const [id, work] of inst.pending) this.runner.startWork(inst, id, work);
    if (inst.history.length === 0) this.runner.schedule(inst);
    this.notify(inst);
  }

  /** Persists a terminal instance, then tells listeners and waiters. */
  private finish(inst: Instance): void {
    inst.lastUpdatedTime = new Date();
    try {
      this.persist(inst);
    } catch (error) {
      this.runner.log(`${inst.id}: could not persist the final state: ${describeFailure(error).message}`);
    }
    this.notify(inst);
    const status = snapshot(inst);
    const waiters = inst.waiters;
    inst.waiters = [];
    for (const w of waiters) w.resolve(status);
  }

  private persist(inst: Instance): void {
    if (!this.stateDir) return;
    const started = performance.now();
    writeStoredInstance(this.stateDir, toStored(inst));
    inst.metrics.persistMs += performance.now() - started;
  }

  private notify(inst: Instance): void {
    if (this.listeners.size === 0) return;
    const status = snapshot(inst);
    for (const listener of [...this.listeners]) {
      try {
        listener(status);
      } catch (error) {
        this.runner.log(`status listener failed: ${describeFailure(error).message}`);
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
}
