import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import {
  OrchestratorNames,
  type BackupSummary,
  type HsmBackupInput,
  type HsmJobSummary,
  type HsmRestoreInput,
  type JobProgress,
  type JobTuning,
  type OrchestratorInput,
  type OrchestratorName,
  type OrchestratorOutput,
  type RestoreSummary,
} from "../contracts";
import { createServices, type Services } from "../composition";
import type { KeyClientFactory } from "../keyvault/clients";
import { createActivityHandlers, createHsmActivityHandlers, forLocalHost, orchestrators } from "../registry";
import { vaultBackupInput, vaultRestoreInput, type VaultBackupRequest, type VaultRestoreRequest } from "../jobs/inputs";
import { lineLogger } from "../monitoring/log-events";
import type { BackupStore } from "../storage/backup-store";
import { DEFAULT_TUNING } from "../tuning";
import { DurableHostError, LocalDurableHost, type OrchestrationStatus } from "./durable-host";
import { JobArgumentsMismatchError, differingJobArguments } from "./job-arguments";

/**
 * Everything the CLI, the demo and the tests need to run kvbackup's orchestrations in this process:
 * the real orchestrators and activities on the in-process durable host, with services from
 * src/composition.ts.
 */
export interface LocalRuntimeOptions {
  /** Where vault jobs keep their backup sets; without one, only HSM jobs run. */
  readonly store?: BackupStore;
  /** Trust this PEM and use the emulator's local token; otherwise `credential` (default: Azure identity). */
  readonly emulatorCaCert?: string;
  readonly credential?: TokenCredential;
  readonly tuning?: Partial<JobTuning>;
  /** Client-side pacing per vault (operations per 10 s); 0 turns it off. */
  readonly maxOperationsPer10s?: number;
  readonly keyClientMaxRetries?: number;
  /** Services built already (the HSM commands build theirs to check the storage access first); the options below `store` then do not apply. */
  readonly services?: Services;
  /** Persist job histories here so `--job-id` can resume a job after a crash. */
  readonly stateDir?: string;
  readonly clock?: "real" | "virtual";
  /** Where structured log lines go (one JSON object per line). */
  readonly logLine?: (line: string) => void;
}

export interface JobHandle<T> {
  readonly jobId: string;
  readonly result: Promise<{ status: OrchestrationStatus; output: T | undefined }>;
}

export class LocalRuntime {
  readonly host: LocalDurableHost;
  readonly services: Services;
  readonly tuning: JobTuning;

  constructor(readonly options: LocalRuntimeOptions) {
    const log = options.logLine ? lineLogger(options.logLine) : undefined;
    this.services =
      options.services ??
      createServices({
        ...(options.store ? { store: options.store } : {}),
        emulatorCaCert: options.emulatorCaCert,
        credential: options.credential,
        maxOperationsPer10s: options.maxOperationsPer10s,
        keyClientMaxRetries: options.keyClientMaxRetries,
        ...(log ? { log } : {}),
      });
    this.tuning = { ...DEFAULT_TUNING, ...stripUndefined(options.tuning ?? {}) };
    const services = this.services;
    const logger = log ?? services.log;
    const activities = options.store
      ? createActivityHandlers({ vaultObjects: services.vaultObjects, store: options.store, hsmClients: services.hsmClients, hsmStorageAccess: services.hsmStorageAccess, ...(logger ? { log: logger } : {}) })
      : createHsmActivityHandlers({ hsmClients: services.hsmClients, storageAccess: services.hsmStorageAccess, ...(logger ? { log: logger } : {}) });
    this.host = new LocalDurableHost({
      orchestrators,
      activities: forLocalHost(activities),
      // Enough slots for every batch in flight plus the small activities around them.
      activityConcurrency: this.tuning.batchesInFlight + 2,
      clock: options.clock ?? "real",
      stateDir: options.stateDir,
    });
  }

  get keyClients(): KeyClientFactory {
    return this.services.keyClients;
  }

  /**
   * Starts a backup; with a job id whose history is in the state directory, resumes that job instead
   * (its stored input wins), and a job that already finished just reports its result again.
   */
  async startBackup(request: VaultBackupRequest, jobId = newJobId()): Promise<JobHandle<BackupSummary>> {
    return this.start(OrchestratorNames.vaultBackup, jobId, vaultBackupInput(request, this.tuning));
  }

  async startRestore(request: VaultRestoreRequest, jobId = newJobId()): Promise<JobHandle<RestoreSummary>> {
    return this.start(OrchestratorNames.vaultRestore, jobId, vaultRestoreInput(request, this.tuning));
  }

  /** A Managed HSM full backup; resumed and reported again like the vault jobs. */
  async startHsmBackup(input: HsmBackupInput, jobId = newJobId()): Promise<JobHandle<HsmJobSummary>> {
    return this.start(OrchestratorNames.hsmBackup, jobId, input);
  }

  /** A Managed HSM full restore, or of one key with `keyName`. */
  async startHsmRestore(input: HsmRestoreInput, jobId = newJobId()): Promise<JobHandle<HsmJobSummary>> {
    return this.start(OrchestratorNames.hsmRestore, jobId, input);
  }

  private async start<N extends OrchestratorName>(name: N, jobId: string, input: OrchestratorInput<N>): Promise<JobHandle<OrchestratorOutput<N>>> {
    // A job id given again resumes that job with its stored input: refuse it when the request differs,
    // rather than silently doing something else than what was asked.
    const existing = this.host.getStatus(jobId);
    if (existing && existing.name === name) {
      const differing = differingJobArguments(existing.input, input);
      if (differing.length > 0) throw new JobArgumentsMismatchError(jobId, differing);
    }
    try {
      await this.host.startNew(name, { instanceId: jobId, input });
    } catch (error) {
      // The id of a job that already ended: its outcome is reported again instead of running it again.
      if (!(error instanceof DurableHostError && error.code === "InstanceFinished")) throw error;
    }
    const result = this.outcome<N>(jobId);
    // Closing the host before the job ends rejects this; callers that never await it must not crash the process.
    result.catch(() => undefined);
    return { jobId, result };
  }

  /** The job's state as the host sees it, from memory or its state file. */
  status(jobId: string): OrchestrationStatus | undefined {
    return this.host.getStatus(jobId);
  }

  progress(jobId: string): JobProgress | undefined {
    return this.host.getStatus(jobId)?.customStatus as JobProgress | undefined;
  }

  async close(): Promise<void> {
    await this.host.close();
  }

  /** The job's end; a completed job's output is what its orchestrator returned, of the type its contract names. */
  private async outcome<N extends OrchestratorName>(jobId: string) {
    const status = await this.host.waitForCompletion(jobId);
    return { status, output: status.runtimeStatus === "Completed" ? (status.output as OrchestratorOutput<N>) : undefined };
  }
}

/** A new job id: 20 hex digits. */
export function newJobId(): string {
  return randomUUID().replace(/-/g, "").slice(0, 20);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
