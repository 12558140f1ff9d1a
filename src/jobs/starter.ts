import type * as df from "durable-functions";
import { parseJobId } from "./ids";
import { ACTIVE_STATES, isActiveState, type StatusLike } from "./views";

/** The few DurableClient methods the triggers use: tests pass an in-memory implementation. */
export type JobClient = Pick<df.DurableClient, "startNew" | "getStatus" | "getStatusBy" | "terminate">;

/** getStatus, with "no such instance" (the client throws on the extension's 404) as undefined. */
export async function findStatus(client: JobClient, instanceId: string): Promise<StatusLike | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The two ways durable-functions 3.x reports an unknown instance (getStatus, terminate). */
export function isNotFound(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /replied with HTTP 404 response|^No instance with ID /.test(message);
}

/** Jobs on `key` that still hold it (pending, running, suspended), oldest first. */
export async function activeJobsOn(client: JobClient, key: string): Promise<StatusLike[]> {
  const active = (await client.getStatusBy({ runtimeStatus: [...ACTIVE_STATES] as df.OrchestrationRuntimeStatus[] })) as StatusLike[];
  return active
    .filter((s) => isActiveState(s.runtimeStatus) && parseJobId(s.instanceId)?.targetKey === key)
    .sort(byAge);
}

function byAge(a: StatusLike, b: StatusLike): number {
  const diff = new Date(a.createdTime).getTime() - new Date(b.createdTime).getTime();
  return diff !== 0 ? diff : a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0;
}

export interface StartRequest {
  readonly orchestrator: string;
  readonly instanceId: string;
  readonly input: unknown;
  /** Target key of the id: at most one active job per key. */
  readonly targetKey: string;
  /** The id is deterministic (a schedule slot): an instance that exists already counts as started. */
  readonly deterministic: boolean;
}

export type StartOutcome =
  | { readonly outcome: "started"; readonly id: string }
  /** Another job holds the target; nothing of ours is left running. */
  | { readonly outcome: "busy"; readonly id: string; readonly runningId: string }
  /** Deterministic id already used (by an earlier or concurrent run of the same slot). */
  | { readonly outcome: "exists"; readonly id: string; readonly runtimeStatus: string };

/**
 * Starts a job unless another one is active on the same target.
 *
 * Listing first and then starting is not atomic: two requests can both find the target free. So after
 * starting, the list is read again and the job yields if an older active job holds the target (oldest by
 * creation time, then by id, wins): it is terminated at once (it has not done anything yet: its first
 * step is still queued) and the caller answers as if it had found the target busy. Each start is visible
 * before its own second look, so of two racing starts the later one always sees the earlier and yields,
 * and the earlier one never yields to it: exactly one survives.
 */
export async function startExclusive(client: JobClient, request: StartRequest, now: () => Date = () => new Date()): Promise<StartOutcome> {
  const { instanceId: id, targetKey: key } = request;
  if (request.deterministic) {
    const existing = await findStatus(client, id);
    if (existing) return { outcome: "exists", id, runtimeStatus: existing.runtimeStatus };
  }
  const before = await activeJobsOn(client, key);
  if (before.length > 0) return { outcome: "busy", id, runningId: before[0]!.instanceId };

  try {
    await client.startNew(request.orchestrator, { instanceId: id, input: request.input });
  } catch (error) {
    // With a deterministic id a concurrent run of the same slot may have won the start.
    if (request.deterministic) {
      const existing = await findStatus(client, id);
      if (existing) return { outcome: "exists", id, runtimeStatus: existing.runtimeStatus };
    }
    throw error;
  }

  const after = await activeJobsOn(client, key);
  const mine = after.find((s) => s.instanceId === id);
  const mineSortKey: StatusLike = mine ?? { name: request.orchestrator, instanceId: id, createdTime: now(), lastUpdatedTime: now(), runtimeStatus: "Pending" };
  const older = after.find((s) => s.instanceId !== id && byAge(s, mineSortKey) < 0);
  if (older) {
    await client.terminate(id, "superseded");
    return { outcome: "busy", id, runningId: older.instanceId };
  }
  return { outcome: "started", id };
}
