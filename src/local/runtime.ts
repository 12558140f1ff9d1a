import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import { OrchestratorNames, type BackupSummary, type JobProgress, type JobTuning, type RestoreSummary, type VaultBackupInput, type VaultRestoreInput } from "../contracts";
import { createKeyClientFactory, EmulatorTokenCredential, type KeyClientFactory } from "../keyvault/clients";
import { createActivityHandlers, forLocalHost, orchestrators } from "../registry";
import type { BackupStore } from "../storage/backup-store";
import { DEFAULT_ACTIVITY_RETRY, DEFAULT_MAX_OPERATIONS_PER_10S, DEFAULT_TUNING } from "../tuning";
import { DurableHostError, LocalDurableHost, type OrchestrationStatus } from "./durable-host";
import { JobArgumentsMismatchError, differingJobArguments } from "./job-arguments";
import { jsonLineLogger } from "../../activities/logging";

/**
 * Everything the CLI, the demo and the tests need to run kvbackup's orchestrations in this process:
 * the real orchestrators and activities on the in-process durable host.
 */
export interface LocalRuntimeOptions {
  readonly store: BackupStore;
  /** Trust this PEM and use the emulator's local token; otherwise `credential` is required. */
  readonly emulatorCaCert?: string;
  readonly credential?: TokenCredential;
  readonly tuning?: Partial<JobTuning>;
  /** Client-side pacing per vault (operations per 10 s); 0 turns it off. */
  readonly maxOperationsPer10s?: number;
  readonly keyClientMaxRetries?: number;
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
  readonly keyClients: KeyClientFactory;
  readonly tuning: JobTuning;

  constructor(readonly options: LocalRuntimeOptions) {
    const credential = options.emulatorCaCert ? new EmulatorTokenCredential() : options.credential;
    if (!credential) throw new Error("a credential is needed when not talking to the emulator");
    this.keyClients = createKeyClientFactory({
      credential,
      emulatorCaCert: options.emulatorCaCert,
      maxOperationsPer10s: options.maxOperationsPer10s ?? DEFAULT_MAX_OPERATIONS_PER_10S,
      maxRetries: options.keyClientMaxRetries,
    });
    this.tuning = { ...DEFAULT_TUNING, ...stripUndefined(options.tuning ?? {}) };
    const activities = createActivityHandlers({
      keyClients: this.keyClients,
      store: options.store,
      log: options.logLine ? jsonLineLogger(options.logLine) : undefined,
    });
    this.host = new LocalDurableHost({
      orchestrators,
      activities: forLocalHost(activities),
      // Enough slots for every batch in flight plus the small activities around them.
      activityConcurrency: this.tuning.batchesInFlight + 2,
      clock: options.clock ?? "real",
      stateDir: options.stateDir,
    });
  }

  /**
   * Starts a backup; with a job id whose history is in the state directory, resumes that job instead
   * (its stored input wins), and a job that already finished just reports its result again.
   */
  async startBackup(request: Omit<VaultBackupInput, "tuning" | "retry">, jobId = newJobId()): Promise<JobHandle<BackupSummary>> {
    const input: VaultBackupInput = { ...request, tuning: this.tuning, retry: DEFAULT_ACTIVITY_RETRY };
    return this.start<BackupSummary>(OrchestratorNames.vaultBackup, jobId, input);
  }

  async startRestore(request: Omit<VaultRestoreInput, "tuning" | "retry">, jobId = newJobId()): Promise<JobHandle<RestoreSummary>> {
    const input: VaultRestoreInput = { ...request, tuning: this.tuning, retry: DEFAULT_ACTIVITY_RETRY };
    return this.start<RestoreSummary>(OrchestratorNames.vaultRestore, jobId, input);
  }

  private async start<T>(name: string, jobId: string, input: VaultBackupInput | VaultRestoreInput): Promise<JobHandle<T>> {
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
      if (!(error instanceof DurableHostError && error.code === "InstanceFinished")) throw error;
    }
    const result = this.outcome<T>(jobId);
    // Closing the host before the job ends rejects this; callers that never await it must not crash the process.
    result.catch(() => undefined);
    return { jobId, result };
  }

  progress(jobId: string): JobProgress | undefined {
    return this.host.getStatus(jobId)?.customStatus as JobProgress | undefined;
  }

  async close(): Promise<void> {
    await this.host.close();
  }

  private async outcome<T>(jobId: string) {
    const status = await this.host.waitForCompletion(jobId);
    return { status, output: status.runtimeStatus === "Completed" ? (status.output as T) : undefined };
  }
}

export function newJobId(): string {
  return randomUUID().replace(/-/g, "").slice(0, 20);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
