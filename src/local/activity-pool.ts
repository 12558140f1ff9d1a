import { randomUUID } from "node:crypto";
import { InvocationContext } from "@azure/functions";
import { describeFailure, events, fromWireInput, type HistoryEvent } from "./durable-protocol";

/**
 * The same handler passed to df.app.activity. Its input is whatever the orchestrator scheduled (checked
 * against the activity's contract there, see orchestrators/retry.ts): the host only carries it.
 */
export type ActivityFunction = (input: never, context: InvocationContext) => unknown;

export type LogHandler = (level: string, ...args: unknown[]) => void;

export interface ActivityJob {
  name: string;
  /** The input as history holds it (JSON). */
  input: string | undefined;
  eventId: number;
  /** Asked when a slot frees up: a job whose result is no longer awaited (instance ended) is skipped. */
  isAwaited: () => boolean;
  /** Receives the TaskCompleted or TaskFailed event. */
  complete: (event: HistoryEvent) => void;
}

class ActivityNotFoundError extends Error {
  override name = "ActivityNotFoundError";
}

/** Compacts the queue once this many jobs have been taken from its head. */
const COMPACT_AFTER = 1024;

/** Runs activity functions first come, first served, at most `concurrency` at once across all instances. */
export class ActivityPool {
  private queue: ActivityJob[] = [];
  private head = 0;
  private active = 0;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly activities: Record<string, ActivityFunction>,
    private readonly concurrency: number,
    private readonly hooks: {
      now: () => Date;
      logHandler: (functionName: string) => LogHandler;
      /** After each activity has ended and its completion was handed on. */
      settled: () => void;
    },
  ) {}

  /** Activities running or waiting for a slot. */
  get busy(): boolean {
    return this.active > 0 || this.head < this.queue.length;
  }

  enqueue(job: ActivityJob): void {
    if (this.closed) return;
    this.queue.push(job);
    this.pump();
  }

  /** Drops queued jobs; those already running finish (see runningNow). */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
  }

  runningNow(): Promise<void>[] {
    return [...this.running];
  }

  private pump(): void {
    while (!this.closed && this.active < this.concurrency && this.head < this.queue.length) {
      const job = this.queue[this.head++]!;
      if (this.head > COMPACT_AFTER && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (!job.isAwaited()) continue;
      this.active++;
      const run = this.run(job).then(() => {
        this.active--;
        this.running.delete(run);
        this.pump();
        this.hooks.settled();
      });
      this.running.add(run);
    }
  }

  private async run(job: ActivityJob): Promise<void> {
    let event: HistoryEvent;
    try {
      const fn = this.activities[job.name];
      if (!fn) throw new ActivityNotFoundError(`activity function '${job.name}' is not registered with the local host`);
      const context = new InvocationContext({ functionName: job.name, invocationId: randomUUID(), logHandler: this.hooks.logHandler(job.name) });
      // Input and output cross JSON as on the real host, so unserializable data fails here too.
      const result = await fn(fromWireInput(job.input) as never, context);
      event = events.taskCompleted(this.hooks.now(), job.eventId, JSON.stringify(result) ?? "null");
    } catch (error) {
      const failure = describeFailure(error);
      event = events.taskFailed(this.hooks.now(), job.eventId, failure.reason, failure.details);
    }
    job.complete(event);
  }
}
