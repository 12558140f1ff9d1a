import { OrchestratorNames } from "../contracts";
import { parseJobId } from "./ids";

/** What the HTTP API shows of a job: one word for its kind instead of an orchestrator function name. */
export const JOB_TYPES = {
  "vault-backup": OrchestratorNames.vaultBackup,
  "vault-restore": OrchestratorNames.vaultRestore,
  "hsm-backup": OrchestratorNames.hsmBackup,
  "hsm-restore": OrchestratorNames.hsmRestore,
} as const;

export type JobType = keyof typeof JOB_TYPES;
export const JOB_TYPE_NAMES = Object.keys(JOB_TYPES) as JobType[];

export function jobTypeOf(orchestratorName: string): JobType | undefined {
  const lower = orchestratorName.toLowerCase();
  return JOB_TYPE_NAMES.find((type) => JOB_TYPES[type].toLowerCase() === lower);
}

/** Runtime states in which a job still holds its target. */
export const ACTIVE_STATES = ["Pending", "Running", "ContinuedAsNew", "Suspended"] as const;
export const ALL_STATES = ["Pending", "Running", "ContinuedAsNew", "Suspended", "Completed", "Failed", "Canceled", "Terminated"] as const;
export type RuntimeState = (typeof ALL_STATES)[number];

export function isActiveState(state: string): boolean {
  return (ACTIVE_STATES as readonly string[]).includes(state);
}

/**
 * The fields of a Durable status this module reads. `getStatus` returns Dates, `getStatusBy` returns the
 * extension's JSON as is (ISO strings): both are accepted.
 */
export interface StatusLike {
  readonly name: string;
  readonly instanceId: string;
  readonly createdTime: Date | string;
  readonly lastUpdatedTime: Date | string;
  readonly runtimeStatus: string;
  readonly customStatus?: unknown;
  readonly output?: unknown;
  readonly input?: unknown;
}

export interface JobView {
  readonly id: string;
  readonly type: JobType;
  /** How it was started: from the HTTP API or by the schedule. */
  readonly trigger: "http" | "schedule" | "unknown";
  /** Vault or HSM URL; null when neither the id nor the input names an allowed one. */
  readonly target: string | null;
  readonly runtimeStatus: string;
  /** The orchestration's custom status (JobProgress or HsmProgress). */
  readonly progress: unknown;
  readonly createdTime: string;
  readonly lastUpdatedTime: string;
  /** The orchestration's output once it completed (BackupSummary, RestoreSummary, HsmJobSummary). */
  readonly result: unknown;
  /** The failure reported by Durable Functions when the job failed. */
  readonly error?: string;
  readonly statusUrl: string;
}

export function toIso(value: Date | string): string {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
}

/**
 * @param resolveTarget maps a target key (from the id) to its URL, e.g. by looking it up on the allow-list.
 */
export function toJobView(
  status: StatusLike,
  resolveTarget: (key: string) => string | undefined,
  statusUrl: (id: string) => string,
): JobView | undefined {
  const type = jobTypeOf(status.name);
  if (!type) return undefined;
  const parsed = parseJobId(status.instanceId);
  const target = (parsed && resolveTarget(parsed.targetKey)) ?? targetFromInput(status.input) ?? null;
  const failed = status.runtimeStatus === "Failed";
  return {
    id: status.instanceId,
    type,
    trigger: parsed ? (parsed.op === "scheduled" ? "schedule" : "http") : "unknown",
    target,
    runtimeStatus: status.runtimeStatus,
    progress: status.customStatus ?? null,
    createdTime: toIso(status.createdTime),
    lastUpdatedTime: toIso(status.lastUpdatedTime),
    result: failed ? null : (status.output ?? null),
    ...(failed ? { error: failureText(status.output) } : {}),
    statusUrl: statusUrl(status.instanceId),
  };
}

function targetFromInput(input: unknown): string | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const record = input as Record<string, unknown>;
  for (const field of ["vaultUrl", "targetVaultUrl", "hsmUrl"]) {
    if (typeof record[field] === "string") return record[field] as string;
  }
  return undefined;
}

function failureText(output: unknown): string {
  if (typeof output === "string") return output.slice(0, 2000);
  if (output === undefined || output === null) return "failed";
  return JSON.stringify(output).slice(0, 2000);
}

/** Newest first; ties (same creation time) by id, so the order is stable. */
export function byNewest(a: StatusLike, b: StatusLike): number {
  const diff = new Date(b.createdTime).getTime() - new Date(a.createdTime).getTime();
  return diff !== 0 ? diff : a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0;
}
