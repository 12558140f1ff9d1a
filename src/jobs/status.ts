import type { CountsByKind, HsmJobSummary, ObjectCounts } from "../contracts";
import type { BackupStore } from "../storage/backup-store";
import { listBackupSets, type BackupSetEntry } from "../storage/catalog";
import { normalizeEndpoint, parseJobId, targetKey, type TargetKind } from "./ids";
import type { JobClient } from "./starter";
import { byNewest, jobTypeOf, toIso, type JobType, type StatusLike } from "./views";

/**
 * Where each configured target stands: its newest complete backup and how old it is, and its newest
 * job. What GET /api/status and `kvbackup status` show, and what the timer logs (`target.status`) for
 * the "no recent backup" alert. A vault's backups are read from the store (the catalog); a Managed
 * HSM's from the task hub (its backup folders are written by the HSM itself).
 */

/** How far back the task hub is searched for jobs. */
export const STATUS_LOOKBACK_DAYS = 35;

export interface LastCompleteBackup {
  /** Backup set id (vault) or job id (HSM). */
  readonly id: string;
  readonly endedAt: string;
  /** Hours since endedAt, one decimal. */
  readonly ageHours: number;
  readonly keys?: ObjectCounts;
  /** Every object of the set, and each kind. */
  readonly objects?: ObjectCounts;
  readonly kinds?: CountsByKind;
  /** Absent for a set taken without version details. */
  readonly versions?: number;
  readonly bytes?: number;
  /** HSM: the folder the HSM wrote. */
  readonly folderUrl?: string;
}

export interface NewestSet {
  readonly backupSetId: string;
  readonly jobId: string;
  readonly state: BackupSetEntry["state"];
  readonly startedAt: string;
  readonly endedAt?: string;
}

export interface NewestJob {
  readonly id: string;
  readonly type: JobType;
  /** The Durable runtime status: Running, Completed, Failed, Terminated, … */
  readonly runtimeStatus: string;
  readonly createdTime: string;
  readonly lastUpdatedTime: string;
}

export interface TargetStatus {
  readonly target: string;
  readonly kind: TargetKind;
  readonly lastComplete: LastCompleteBackup | null;
  /** Vaults: the newest backup set in the store, whatever its state (an incomplete one is running or died). */
  readonly newestSet: NewestSet | null;
  /** The newest job on the target in the task hub; null without one (the CLI reads the store only). */
  readonly newestJob: NewestJob | null;
}

export function hoursBetween(fromIso: string, now: Date): number {
  return Math.round(((now.getTime() - Date.parse(fromIso)) / 3600_000) * 10) / 10;
}

/** A vault's status from its backup sets alone. */
export async function vaultStatusFromStore(store: BackupStore, vaultUrl: string, now: Date): Promise<TargetStatus> {
  const sets = await listBackupSets(store, vaultUrl);
  const complete = sets.find((s) => s.state === "complete");
  const newest = sets[0];
  return {
    target: normalizeEndpoint(vaultUrl),
    kind: "vault",
    lastComplete: complete
      ? {
          id: complete.backupSetId,
          endedAt: complete.endedAt ?? complete.startedAt,
          ageHours: hoursBetween(complete.endedAt ?? complete.startedAt, now),
          ...(complete.keys ? { keys: complete.keys } : {}),
          ...(complete.objects ? { objects: complete.objects } : {}),
          ...(complete.kinds ? { kinds: complete.kinds } : {}),
          ...(complete.versions !== undefined ? { versions: complete.versions } : {}),
          ...(complete.bytes !== undefined ? { bytes: complete.bytes } : {}),
        }
      : null,
    newestSet: newest
      ? { backupSetId: newest.backupSetId, jobId: newest.jobId, state: newest.state, startedAt: newest.startedAt, ...(newest.endedAt ? { endedAt: newest.endedAt } : {}) }
      : null,
    newestJob: null,
  };
}

export interface StatusTargets {
  readonly allowedVaults: readonly string[];
  readonly allowedHsms: readonly string[];
}

/** Every allowed vault and HSM, with the task hub's jobs when a client is given. */
export async function targetStatuses(targets: StatusTargets, store: BackupStore, client: JobClient | undefined, now: Date): Promise<TargetStatus[]> {
  const jobs = client ? await recentJobs(client, now) : [];
  const jobsOn = (kind: TargetKind, url: string) => {
    const key = targetKey(kind, url);
    return jobs.filter((j) => parseJobId(j.instanceId)?.targetKey === key);
  };
  const statuses: TargetStatus[] = [];
  for (const vault of targets.allowedVaults) {
    const fromStore = await vaultStatusFromStore(store, vault, now);
    statuses.push({ ...fromStore, newestJob: newestJobOf(jobsOn("vault", vault)) });
  }
  for (const hsm of targets.allowedHsms) {
    const onHsm = jobsOn("hsm", hsm);
    const backup = onHsm.find((j) => jobTypeOf(j.name) === "hsm-backup" && j.runtimeStatus === "Completed" && isSucceeded(j.output));
    const summary = backup?.output as HsmJobSummary | undefined;
    const endedAt = summary?.endTime ?? (backup ? toIso(backup.lastUpdatedTime) : undefined);
    statuses.push({
      target: normalizeEndpoint(hsm),
      kind: "hsm",
      lastComplete:
        backup && endedAt
          ? { id: backup.instanceId, endedAt, ageHours: hoursBetween(endedAt, now), ...(summary?.folderUrl ? { folderUrl: summary.folderUrl } : {}) }
          : null,
      newestSet: null,
      newestJob: newestJobOf(onHsm),
    });
  }
  return statuses;
}

async function recentJobs(client: JobClient, now: Date): Promise<StatusLike[]> {
  const statuses = (await client.getStatusBy({ createdTimeFrom: new Date(now.getTime() - STATUS_LOOKBACK_DAYS * 24 * 3600_000) })) as StatusLike[];
  return statuses.filter((s) => jobTypeOf(s.name) !== undefined).sort(byNewest);
}

function newestJobOf(jobs: readonly StatusLike[]): NewestJob | null {
  const job = jobs[0];
  if (!job) return null;
  return {
    id: job.instanceId,
    type: jobTypeOf(job.name)!,
    runtimeStatus: job.runtimeStatus,
    createdTime: toIso(job.createdTime),
    lastUpdatedTime: toIso(job.lastUpdatedTime),
  };
}

function isSucceeded(output: unknown): boolean {
  return typeof output === "object" && output !== null && (output as { status?: unknown }).status === "Succeeded";
}
