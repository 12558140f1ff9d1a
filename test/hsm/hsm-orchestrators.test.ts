import {
  ActivityNames,
  JOB_FAILURE_PREFIXES,
  OrchestratorNames,
  type GetHsmJobStatusInput,
  type HsmBackupInput,
  type HsmJobStatus,
  type HsmJobSummary,
  type HsmProgress,
  type HsmRestoreInput,
  type StartHsmBackupInput,
  type StartHsmRestoreInput,
} from "../../src/contracts";
import type { HsmClientFactory } from "../../src/keyvault/hsm-admin-client";
import { LocalDurableHost } from "../../src/local/durable-host";
import { stubActivities, type StubActivities } from "../support/stub-activities";
import { createHsmActivityHandlers, orchestrators } from "../../src/registry";
import { DEFAULT_HSM_ACTIVITY_RETRY } from "../../src/retry-policies";

/**
 * The HSM orchestrators on the durable-functions replay engine (in-process host, virtual clock) with fake
 * activities: how often they poll, what they wait for, and how they end.
 */
const HSM = "https://myhsm.managedhsm.azure.net";
const CONTAINER = "https://myaccount.blob.core.windows.net/hsm-backups";
const FOLDER = `${CONTAINER}/mhsm-myhsm-20260101000000`;
const retry = { firstRetryIntervalMs: 1000, maxAttempts: 2, backoffCoefficient: 2, maxRetryIntervalMs: 1000 };

function backupInput(polling: Partial<HsmBackupInput["polling"]> = {}): HsmBackupInput {
  return {
    hsmUrl: HSM,
    containerUrl: CONTAINER,
    polling: { initialIntervalMs: 1_000, maxIntervalMs: 8_000, backoffCoefficient: 2, timeoutMs: 60_000, ...polling },
    retry,
  };
}

function inProgress(operation: HsmJobStatus["operation"], extra: Partial<HsmJobStatus> = {}): HsmJobStatus {
  return { operation, jobId: "hsmjob1", status: "InProgress", statusDetails: "in progress", startTime: "2026-01-01T00:00:00.000Z", ...extra };
}

interface Run {
  status: Awaited<ReturnType<LocalDurableHost["waitForCompletion"]>>;
  progress: HsmProgress[];
  statusCalls: GetHsmJobStatusInput[];
}

async function run(orchestrator: string, input: unknown, activities: StubActivities, instanceId: string): Promise<Run> {
  const progress: HsmProgress[] = [];
  const statusCalls: GetHsmJobStatusInput[] = [];
  const statusActivity = activities[ActivityNames.getHsmJobStatus]!;
  const host = new LocalDurableHost({
    orchestrators,
    clock: "virtual",
    activities: stubActivities({
      ...activities,
      [ActivityNames.getHsmJobStatus]: (i, ctx) => {
        statusCalls.push(i);
        return statusActivity(i, ctx);
      },
    }),
  });
  host.onStatusChange((s) => s.instanceId === instanceId && s.customStatus && progress.push(s.customStatus as HsmProgress));
  await host.startNew(orchestrator, { instanceId, input });
  const status = await host.waitForCompletion(instanceId, { timeoutMs: 10_000 });
  await host.close();
  return { status, progress, statusCalls };
}

/** The waits the orchestrator chose, from the times it announced for its next look. */
function waitsMs(progress: HsmProgress[]): number[] {
  const times = [...new Set(progress.filter((p) => p.nextPollAt).map((p) => Date.parse(p.nextPollAt!)))];
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe("HSM backup orchestrator", () => {
  it("when the job succeeds after a few polls, it returns the folder URL, times and poll count, and ends with progress 'done'", async () => {
    let polls = 0;
    let startInput: StartHsmBackupInput | undefined;
    const { status, progress, statusCalls } = await run(
      OrchestratorNames.hsmBackup,
      backupInput(),
      {
        [ActivityNames.startHsmBackup]: async (i: StartHsmBackupInput) => {
          startInput = i;
          return inProgress("backup", { folderUrl: `${CONTAINER}/mhsm-myhsm-20260101000000` });
        },
        [ActivityNames.getHsmJobStatus]: async () =>
          ++polls < 3
            ? inProgress("backup")
            : { ...inProgress("backup"), status: "Succeeded", endTime: "2026-01-01T00:00:07.000Z", folderUrl: FOLDER },
      },
      "backup-ok",
    );

    expect(status.runtimeStatus).toBe("Completed");
    const output = status.output as HsmJobSummary;
    expect(output).toEqual({
      hsmUrl: HSM,
      operation: "backup",
      jobId: "hsmjob1",
      status: "Succeeded",
      folderUrl: FOLDER,
      startTime: "2026-01-01T00:00:00.000Z",
      endTime: "2026-01-01T00:00:07.000Z",
      polls: 3,
    });
    expect(startInput).toEqual({ hsmUrl: HSM, containerUrl: CONTAINER, jobId: "backup-ok" });
    expect(statusCalls).toEqual(Array(3).fill({ hsmUrl: HSM, operation: "backup", jobId: "hsmjob1" }));
    // Progress after every poll, with a growing count, ending "done".
    expect(progress.filter((p) => p.phase !== "starting").map((p) => p.polls)).toEqual(expect.arrayContaining([1, 2, 3]));
    expect(status.customStatus).toMatchObject({ phase: "done", status: "Succeeded", polls: 3, hsmJobId: "hsmjob1" });
  });

  it("when the service reports the job Failed, it ends Failed with the service's error code and message", async () => {
    const { status } = await run(
      OrchestratorNames.hsmBackup,
      backupInput(),
      {
        [ActivityNames.startHsmBackup]: async () => inProgress("backup"),
        [ActivityNames.getHsmJobStatus]: async () => ({
          ...inProgress("backup"),
          status: "Failed",
          error: { code: "ContainerNotFound", message: "The storage container https://x/y does not exist." },
        }),
      },
      "backup-failed",
    );
    expect(status.runtimeStatus).toBe("Failed");
    const message = status.failureDetails?.errorMessage ?? "";
    expect(message).toContain(JOB_FAILURE_PREFIXES.HsmJobFailed);
    expect(message).toContain("ContainerNotFound: The storage container https://x/y does not exist.");
    expect(status.customStatus).toMatchObject({ phase: "done", status: "Failed" });
  });

  it("when the job never ends, it polls on the backoff schedule, looks one last time at the deadline, and ends Failed as timed out", async () => {
    // Waits 1, 2, 4, 8, 8, ... s from the start; the tenth look is cut to the 60 s deadline.
    const { status, progress, statusCalls } = await run(
      OrchestratorNames.hsmBackup,
      backupInput({ initialIntervalMs: 1_000, backoffCoefficient: 2, maxIntervalMs: 8_000, timeoutMs: 60_000 }),
      {
        [ActivityNames.startHsmBackup]: async () => inProgress("backup"),
        [ActivityNames.getHsmJobStatus]: async () => inProgress("backup"),
      },
      "backup-timeout",
    );
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain(JOB_FAILURE_PREFIXES.HsmJobTimedOut);
    expect(status.failureDetails?.errorMessage).toContain("still InProgress after 60 s (10 status checks)");
    expect(statusCalls).toHaveLength(10);
    expect(waitsMs(progress)).toEqual([2_000, 4_000, 8_000, 8_000, 8_000, 8_000, 8_000, 8_000, 5_000]);
  });

  it("when the service sends Retry-After, it never polls sooner than that, and keeps its own backoff otherwise", async () => {
    let polls = 0;
    const { status, progress } = await run(
      OrchestratorNames.hsmBackup,
      backupInput({ initialIntervalMs: 1_000, backoffCoefficient: 2, maxIntervalMs: 4_000, timeoutMs: 600_000 }),
      {
        [ActivityNames.startHsmBackup]: async () => inProgress("backup", { retryAfterSeconds: 5 }),
        [ActivityNames.getHsmJobStatus]: async () => {
          polls++;
          if (polls === 1) return inProgress("backup", { retryAfterSeconds: 30 });
          if (polls < 4) return inProgress("backup");
          return { ...inProgress("backup"), status: "Succeeded" };
        },
      },
      "backup-retry-after",
    );
    expect(status.runtimeStatus).toBe("Completed");
    // After poll 1 the service asks for 30 s; after that the backoff (4 s cap) rules again.
    expect(waitsMs(progress)).toEqual([30_000, 4_000, 4_000]);
  });

  it("when the status activity keeps failing, it ends Failed with the activity's error after its retries", async () => {
    let calls = 0;
    const { status } = await run(
      OrchestratorNames.hsmBackup,
      backupInput(),
      {
        [ActivityNames.startHsmBackup]: async () => inProgress("backup"),
        [ActivityNames.getHsmJobStatus]: async () => {
          calls++;
          throw Object.assign(new Error("Forbidden: caller lacks Managed HSM Backup"), { name: "KeyVaultAccessDeniedError" });
        },
      },
      "backup-status-denied",
    );
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("Managed HSM Backup");
    expect(calls).toBe(retry.maxAttempts);
  });
});

describe("HSM restore orchestrator", () => {
  function restoreInput(keyName?: string): HsmRestoreInput {
    return {
      hsmUrl: HSM,
      folderUrl: FOLDER,
      ...(keyName ? { keyName } : {}),
      polling: { initialIntervalMs: 1_000, maxIntervalMs: 8_000, backoffCoefficient: 2, timeoutMs: 60_000 },
      retry,
    };
  }

  it("when a key name is given, it starts a selective restore and polls the restore status", async () => {
    let startInput: StartHsmRestoreInput | undefined;
    const { status, statusCalls } = await run(
      OrchestratorNames.hsmRestore,
      restoreInput("mail-key"),
      {
        [ActivityNames.startHsmRestore]: async (i: StartHsmRestoreInput) => {
          startInput = i;
          return inProgress("selectiveRestore");
        },
        [ActivityNames.getHsmJobStatus]: async () => ({ ...inProgress("selectiveRestore"), status: "Succeeded" }),
      },
      "restore-one",
    );
    expect(status.runtimeStatus).toBe("Completed");
    expect(startInput).toEqual({ hsmUrl: HSM, folderUrl: FOLDER, keyName: "mail-key", jobId: "restore-one" });
    expect(statusCalls[0]).toEqual({ hsmUrl: HSM, operation: "selectiveRestore", jobId: "hsmjob1" });
    expect(status.output).toMatchObject({ operation: "selectiveRestore", keyName: "mail-key", folderUrl: FOLDER, status: "Succeeded", polls: 1 });
  });

  it("when a full restore fails on the service, it ends Failed with the service's code and message", async () => {
    const { status } = await run(
      OrchestratorNames.hsmRestore,
      restoreInput(),
      {
        [ActivityNames.startHsmRestore]: async () => inProgress("restore"),
        [ActivityNames.getHsmJobStatus]: async () => ({
          ...inProgress("restore"),
          status: "Failed",
          error: { code: "BackupNotFound", message: "No complete backup was found in folder mhsm-x." },
        }),
      },
      "restore-failed",
    );
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("restore job hsmjob1 ended Failed: BackupNotFound: No complete backup was found in folder mhsm-x.");
  });
});

describe("HSM orchestrators with the registered activities: final failures end the job at once", () => {
  /** An HSM whose start answers as given; status reads succeed. */
  function hsmAnswering(start: () => Promise<unknown>, calls: { starts: number }) {
    const client = {
      beginFullBackup: async () => {
        calls.starts++;
        return start();
      },
      beginFullRestore: async () => {
        calls.starts++;
        return start();
      },
      beginSelectiveKeyRestore: async () => {
        calls.starts++;
        return start();
      },
    };
    const real = createHsmActivityHandlers({ hsmClients: (() => client) as unknown as HsmClientFactory });
    const stubs: StubActivities = {
      [ActivityNames.startHsmBackup]: (i) => real.startHsmBackup!(i),
      [ActivityNames.startHsmRestore]: (i) => real.startHsmRestore!(i),
      [ActivityNames.getHsmJobStatus]: (i) => real.getHsmJobStatus!(i),
    };
    return stubs;
  }
  const restError = (statusCode: number, code: string, message: string) => Object.assign(new Error(message), { name: "RestError", statusCode, code });
  const restore = (keyName?: string): HsmRestoreInput => ({
    hsmUrl: HSM,
    folderUrl: FOLDER,
    ...(keyName ? { keyName } : {}),
    polling: { initialIntervalMs: 1_000, maxIntervalMs: 8_000, backoffCoefficient: 2, timeoutMs: 60_000 },
  });

  it("when the HSM refuses the start as a bad request (400), the job fails at its first attempt, with the service's message and no wait", async () => {
    const calls = { starts: 0 };
    const activities = hsmAnswering(() => Promise.reject(restError(400, "BadParameter", "The 'folderToRestore' property is invalid.")), calls);
    const { status } = await run(OrchestratorNames.hsmRestore, restore(), activities, "hsm-bad-request");
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toBe("The 'folderToRestore' property is invalid.");
    expect(calls.starts).toBe(1);
    expect(status.metrics.timersCreated).toBe(0);
  });

  it("when the request itself is invalid (a key name the service cannot take), the job fails at once without calling the HSM", async () => {
    const calls = { starts: 0 };
    const activities = hsmAnswering(async () => inProgress("selectiveRestore"), calls);
    const { status } = await run(OrchestratorNames.hsmRestore, restore("not a key name"), activities, "hsm-invalid-key");
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("is not a valid key name");
    expect(calls.starts).toBe(0);
    expect(status.metrics.activitiesScheduled).toBe(1);
  });

  it("when the HSM answers 503 to the start, the start is tried again by the default policy", async () => {
    const calls = { starts: 0 };
    const activities = hsmAnswering(() => Promise.reject(restError(503, "ServiceUnavailable", "busy")), calls);
    const { status } = await run(OrchestratorNames.hsmRestore, restore(), activities, "hsm-unavailable");
    expect(status.runtimeStatus).toBe("Failed");
    expect(calls.starts).toBe(DEFAULT_HSM_ACTIVITY_RETRY.maxAttempts);
  });
});
