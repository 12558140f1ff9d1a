import type { KvBackupConfig } from "../config";
import { OrchestratorNames, type HsmBackupInput, type VaultBackupInput } from "../contracts";
import type { BackupStore } from "../storage/backup-store";
import { applyRetention, type RetentionResult } from "../storage/retention";
import { compactUtc, scheduledJobId, targetKey, type TargetKind } from "./ids";
import { hsmBackupInput, vaultBackupInput } from "./inputs";
import { parseSchedule, previousOccurrence } from "./schedule";
import { startExclusive, type JobClient, type StartOutcome } from "./starter";
import { targetStatuses } from "./status";
import type { LogRecord } from "../monitoring/log-events";

/**
 * One run of the scheduled backup: a job per allowed vault and HSM for the schedule slot `now` falls in,
 * then retention of every allowed vault's backup sets. Everything it decides is one JSON log line.
 */
export interface ScheduledRunDependencies {
  readonly config: KvBackupConfig;
  readonly store: BackupStore;
  /** Receives each record (the timer function logs it as one JSON line). */
  readonly log: (record: LogRecord) => void;
}

export interface ScheduledJobResult {
  readonly target: string;
  readonly type: "vault-backup" | "hsm-backup";
  readonly id: string;
  readonly outcome: StartOutcome["outcome"] | "error";
  readonly runningId?: string;
  readonly error?: string;
}

export interface ScheduledRunResult {
  readonly slot: string;
  readonly jobs: readonly ScheduledJobResult[];
  readonly retention: readonly RetentionResult[];
  readonly errors: readonly string[];
}

/** Thrown at the end of a run in which some target failed (after every other target was handled). */
export class ScheduledRunError extends Error {
  override readonly name = "ScheduledRunError";
  constructor(readonly result: ScheduledRunResult) {
    super(`scheduled run ${result.slot}: ${result.errors.length} problem(s): ${result.errors.join("; ")}`);
  }
}

/** The slot a run at `now` belongs to: the schedule's latest occurrence, or the minute when it has none. */
export function scheduleSlot(schedule: string, now: Date): Date {
  try {
    const slot = previousOccurrence(parseSchedule(schedule), now);
    if (slot) return slot;
  } catch {
    // An unparseable schedule is refused by loadConfig; fall through for safety.
  }
  return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
}

export async function runScheduledBackups(now: Date, client: JobClient, deps: ScheduledRunDependencies): Promise<ScheduledRunResult> {
  const { config, store, log } = deps;
  const runBegan = Date.now();
  const slotDate = scheduleSlot(config.schedule, now);
  const slot = slotDate.toISOString();
  const jobs: ScheduledJobResult[] = [];
  const errors: string[] = [];

  const targets: { kind: TargetKind; url: string }[] = [
    ...config.allowedVaults.map((url) => ({ kind: "vault" as const, url })),
    ...config.allowedHsms.map((url) => ({ kind: "hsm" as const, url })),
  ];
  for (const { kind, url } of targets) {
    const key = targetKey(kind, url);
    const id = scheduledJobId(key, slotDate);
    const type = kind === "vault" ? "vault-backup" : "hsm-backup";
    const began = Date.now();
    try {
      const backup = kind === "vault" ? vaultInput(config, url) : undefined;
      const input = backup ?? hsmInput(config, url);
      const orchestrator = kind === "vault" ? OrchestratorNames.vaultBackup : OrchestratorNames.hsmBackup;
      const outcome = await startExclusive(client, { orchestrator, instanceId: id, input, targetKey: key, deterministic: true }, () => now);
      const runningId = outcome.outcome === "busy" ? outcome.runningId : undefined;
      jobs.push({ target: url, type, id, outcome: outcome.outcome, ...(runningId ? { runningId } : {}) });
      log(
        outcome.outcome === "started"
          ? {
              event: "job.started", trigger: "schedule", jobId: id, type, target: url, slot, durationMs: Date.now() - began,
              ...(kind === "vault" ? { versionDetails: config.versionDetails, kinds: [...(backup?.kinds ?? [])] } : {}),
            }
          : {
              event: "job.skipped", trigger: "schedule", jobId: id, type, target: url, slot,
              reason: outcome.outcome === "exists" ? "already-started-for-this-slot" : "target-busy",
              ...(runningId ? { runningJobId: runningId } : {}),
            },
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors.push(`${url}: ${message}`);
      jobs.push({ target: url, type, id, outcome: "error", error: message });
      log({ event: "job.error", trigger: "schedule", jobId: id, type, target: url, slot, error: message });
    }
  }

  const retention: RetentionResult[] = [];
  for (const vaultUrl of config.allowedVaults) {
    const began = Date.now();
    try {
      const result = await applyRetention(store, vaultUrl, config.retention, now, {
        dryRun: config.retention.dryRun,
        onDecision: (d) => log({ event: "retention.decision", vault: vaultUrl, dryRun: config.retention.dryRun, ...d }),
      });
      retention.push(result);
      log({
        event: "retention.summary", vault: vaultUrl, dryRun: result.dryRun, sets: result.decisions.length,
        toDelete: result.decisions.filter((d) => d.action === "delete").length,
        deletedSets: result.deletedSets, deletedObjects: result.deletedObjects, durationMs: Date.now() - began,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors.push(`retention ${vaultUrl}: ${message}`);
      log({ event: "retention.error", vault: vaultUrl, error: message });
    }
  }

  // Where every target stands after this run's starts: the "no recent complete backup" alert reads it.
  try {
    for (const status of await targetStatuses(config, store, client, now)) {
      log({
        event: "target.status", target: status.target, kind: status.kind, slot,
        lastCompleteAt: status.lastComplete?.endedAt ?? null,
        lastCompleteAgeHours: status.lastComplete?.ageHours ?? null,
        lastCompleteSetId: status.lastComplete?.id ?? null,
        lastCompleteKeys: status.lastComplete?.keys?.total ?? null,
        newestState: status.newestSet?.state ?? status.newestJob?.runtimeStatus ?? null,
        newestJobId: status.newestJob?.id ?? status.newestSet?.jobId ?? null,
      });
    }
  } catch (error) {
    // Observation only: the jobs and retention of this run are done; the failure alert reads this line.
    log({ event: "status.error", error: error instanceof Error ? error.message : String(error) });
  }

  const result: ScheduledRunResult = { slot, jobs, retention, errors };
  log({
    event: "schedule.run", slot, slotId: compactUtc(slotDate, "minute"),
    started: jobs.filter((j) => j.outcome === "started").length,
    skipped: jobs.filter((j) => j.outcome === "exists" || j.outcome === "busy").length,
    failed: errors.length,
    durationMs: Date.now() - runBegan,
  });
  if (errors.length > 0) throw new ScheduledRunError(result);
  return result;
}

function vaultInput(config: KvBackupConfig, vaultUrl: string): VaultBackupInput {
  return vaultBackupInput({ vaultUrl, include: [], exclude: [], versionDetails: config.versionDetails }, config.tuning, config.kinds);
}

function hsmInput(config: KvBackupConfig, hsmUrl: string): HsmBackupInput {
  if (!config.hsmBackupContainerUrl) throw new Error("KVBACKUP_HSM_BACKUP_CONTAINER_URL is not set");
  return hsmBackupInput(hsmUrl, config.hsmBackupContainerUrl);
}
