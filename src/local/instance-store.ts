import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HistoryEvent, WireRetryOptions } from "./durable-protocol";
import type { FailureDetails } from "./orchestrator-adapter";

export type RuntimeStatus = "Pending" | "Running" | "Completed" | "Failed" | "Terminated";

export interface HostMetrics {
  /** Events in the instance's history. */
  historyEvents: number;
  /** Calls into the orchestrator (replays). */
  episodes: number;
  /** Milliseconds spent inside the library's orchestrator handler. */
  replayMs: number;
  /** TaskScheduled events written, retries included. */
  activitiesScheduled: number;
  activitiesFailed: number;
  timersCreated: number;
  /** Most completions handed to the orchestrator in one episode. */
  maxEventsPerEpisode: number;
  /** Milliseconds spent writing the state file. */
  persistMs: number;
}

export interface OrchestrationStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: Date;
  lastUpdatedTime: Date;
  failureDetails?: FailureDetails;
  metrics: HostMetrics;
}

/** What a retried activity call carries from one attempt to the next. */
export interface RetryState {
  /** Always "activity"; written so that state files keep the shape earlier versions read. */
  kind: "activity";
  name: string;
  input: string | undefined;
  options: WireRetryOptions;
  /** Attempts started so far. */
  attempts: number;
  firstAttemptAtMs: number;
  /** Retry timeout passed: remaining attempts fail at once with the last error. */
  expired: boolean;
  lastReason?: string;
  lastDetails?: string;
}

/** Work scheduled in history whose completion has not been written yet. A timer with `retry` is a retry wait. */
export type PendingWork =
  | { kind: "activity"; name: string; input: string | undefined; retry?: RetryState }
  | { kind: "timer"; fireAt: string; retry?: RetryState };

/**
 * One instance's state file, rewritten after every episode. Files of earlier versions have the same shape
 * (they may also carry metrics this version no longer counts, which are ignored).
 */
export interface StoredInstance {
  format: typeof STORE_FORMAT;
  status: Omit<OrchestrationStatus, "createdTime" | "lastUpdatedTime"> & { createdTime: string; lastUpdatedTime: string };
  /** Earlier versions counted continueAsNew here; this host runs one execution per instance, so it is 0. */
  generation: 0;
  history: HistoryEvent[];
  nextEventId: number;
  /** Event id of each atomic action, in the library's order. */
  actionIds: number[];
  pending: Array<[number, PendingWork]>;
}

export const STORE_FORMAT = "kvbackup-local-durable/1";

export function stateFilePath(stateDir: string, instanceId: string): string {
  // Job ids come from users; encoding keeps every id a single safe file name.
  return join(stateDir, `${encodeURIComponent(instanceId)}.json`);
}

let tempCounter = 0;

/** The temp files of writeStoredInstance: `<instance>.json.<pid>.<counter>.tmp`. Readers never open them. */
const TEMP_FILE = /\.json\.\d+\.\d+\.tmp$/;

/**
 * A write renames its temp file within milliseconds, so one this old was left by a process killed between
 * write and rename. The margin keeps a sweep off the temp file of a writer (in any process) about to rename it.
 */
export const STALE_TEMP_FILE_MS = 60_000;

/** Removes the stale temp files in stateDir; returns how many. Anything else in the directory is left alone. */
export function removeStaleTempFiles(stateDir: string, olderThanMs: number = STALE_TEMP_FILE_MS, now: number = Date.now()): number {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!TEMP_FILE.test(name)) continue;
    const path = join(stateDir, name);
    try {
      if (now - statSync(path).mtimeMs < olderThanMs) continue;
      unlinkSync(path);
      removed++;
    } catch {
      // Renamed or removed meanwhile by its writer or another sweep: nothing left to do.
    }
  }
  return removed;
}

/** State directories this process has opened for writing, each swept once. */
const sweptStateDirs = new Set<string>();

/** Write-then-rename, so a crash leaves either the previous state or the new one, never half a file. */
export function writeStoredInstance(stateDir: string, stored: StoredInstance): void {
  mkdirSync(stateDir, { recursive: true });
  // The first write opens the directory: clear what killed processes left, once, not on every episode.
  const dirKey = resolve(stateDir);
  if (!sweptStateDirs.has(dirKey)) {
    sweptStateDirs.add(dirKey);
    removeStaleTempFiles(stateDir);
  }
  const target = stateFilePath(stateDir, stored.status.instanceId);
  const temp = `${target}.${process.pid}.${++tempCounter}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(stored));
    renameSync(temp, target);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Nothing to clean up.
    }
    throw error;
  }
}

export function readStoredInstance(stateDir: string, instanceId: string): StoredInstance | undefined {
  const path = stateFilePath(stateDir, instanceId);
  if (!existsSync(path)) return undefined;
  const stored = JSON.parse(readFileSync(path, "utf8")) as StoredInstance;
  if (stored.format !== STORE_FORMAT) {
    throw new Error(`${path} is not a local durable host state file of format ${STORE_FORMAT}`);
  }
  for (const event of stored.history) event.Timestamp = new Date(event.Timestamp as unknown as string);
  return stored;
}

export function statusFromStored(stored: StoredInstance): OrchestrationStatus {
  return {
    ...stored.status,
    createdTime: new Date(stored.status.createdTime),
    lastUpdatedTime: new Date(stored.status.lastUpdatedTime),
  };
}
