import {
  ActivityNames,
  JobFailureCodes,
  OrchestratorNames,
  type BackupObjectBatchInput,
  type BackupSummary,
  type RestoreBatchResult,
  type JobProgress,
  type RestorePlan,
  type RestoreSummary,
  type WriteBackupManifestInput,
  type WriteRestoreReportInput,
} from "../../src/contracts";
import { tagActivityFailure } from "../../activities/failures";
import { BackupSetNotFoundError } from "../../src/storage/errors";
import { KeyVaultAccessDeniedError, KeyVaultUnavailableError } from "../../src/keyvault/errors";
import { LocalDurableHost } from "../../src/local/durable-host";
import { keysInventory, keysOnly, stubActivities, type StubActivities } from "../support/stub-activities";
import { orchestrators } from "../../src/registry";
import { DEFAULT_TUNING } from "../../src/tuning";

/**
 * The orchestrators on the durable-functions replay engine (in-process host, virtual clock) with stub
 * activities: what they schedule, how many at once, what they do with failures, and that their progress
 * adds up at every point.
 */
const retry = { firstRetryIntervalMs: 1000, maxAttempts: 3, backoffCoefficient: 2, maxRetryIntervalMs: 10_000 };

function backupInput(batchesInFlight: number) {
  return { vaultUrl: "https://myvault.vault.azure.net", include: [], exclude: [], tuning: { ...DEFAULT_TUNING, batchesInFlight }, retry };
}

/** Runs one orchestration to its end, collecting every custom status it published. */
async function run(name: string, input: unknown, stubs: StubActivities) {
  const activities = stubActivities(stubs);
  const statuses: JobProgress[] = [];
  const host = new LocalDurableHost({ orchestrators, clock: "virtual", activityConcurrency: 32, activities });
  const unsubscribe = host.onStatusChange((s) => s.customStatus && statuses.push(s.customStatus as JobProgress));
  try {
    await host.startNew(name, { instanceId: "job", input });
    const status = await host.waitForCompletion("job", { timeoutMs: 30_000 });
    return { status, statuses };
  } finally {
    unsubscribe();
    await host.close();
  }
}

function expectEveryStatusAddsUp(statuses: readonly JobProgress[]): void {
  expect(statuses.length).toBeGreaterThan(0);
  for (const s of statuses) expect({ ...s, sum: s.keysSucceeded + s.keysFailed + s.keysSkipped + s.keysPending }).toMatchObject({ sum: s.keysTotal });
}

/** An activity that throws as the registered ones do: with the retryable/final verdict. */
function throwing(error: Error): () => Promise<never> {
  return async () => {
    throw tagActivityFailure(error);
  };
}

const inventory = (batchCount: number, keysToBackUp: number, keysSkipped = 0) => async () => keysInventory("20260101T000000Z-job", batchCount, keysToBackUp, keysSkipped);

const manifestSummary = (input: WriteBackupManifestInput, keys: BackupSummary["keys"]): BackupSummary => ({
  backupSetId: input.backupSetId,
  vaultUrl: input.vaultUrl,
  state: keys.failed > 0 ? "partial" : "complete",
  ...keysOnly(keys),
  versions: keys.succeeded,
  versionDetails: true,
  bytes: 25_000,
  startedAt: input.startedAt,
  endedAt: input.endedAt,
  failures: [],
  skipped: [],
  reportPath: `x/${input.backupSetId}/manifest.json`,
});

describe("vault backup orchestrator", () => {
  it("when the inventory has 25 batches, it runs at most the configured number at once and its progress adds up after each", async () => {
    // Prepare: each batch backs up 98 keys, fails one and finds one deleted meanwhile (skipped).
    let running = 0, peak = 0;
    const seenBatches: number[] = [];

    // Act
    const { status, statuses } = await run(OrchestratorNames.vaultBackup, backupInput(4), {
      [ActivityNames.takeInventory]: inventory(25, 2_500, 2),
      [ActivityNames.backupObjectBatch]: async (input: BackupObjectBatchInput) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        seenBatches.push(input.batchIndex);
        return { batchIndex: input.batchIndex, succeeded: 98, failed: 1, skipped: 1, bytes: 1000 };
      },
      [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput) => manifestSummary(input, { total: 2_502, succeeded: 2_450, failed: 25, skipped: 27 }),
    });

    // Assess
    expect(status.runtimeStatus).toBe("Completed");
    expect(peak).toBeLessThanOrEqual(4);
    expect(seenBatches.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expectEveryStatusAddsUp(statuses);
    // Counts grow batch by batch and are complete when the manifest is written.
    const pending = statuses.filter((s) => s.phase === "backup").map((s) => s.keysPending);
    expect(pending).toEqual([...pending].sort((a, b) => b - a));
    expect(pending.length).toBeGreaterThan(1);
    expect(statuses.find((s) => s.phase === "manifest")).toMatchObject({
      keysTotal: 2_502, keysSucceeded: 2_450, keysFailed: 25, keysSkipped: 27, keysPending: 0, batchesDone: 25, batchCount: 25, bytes: 25_000,
    });
    expect(status.customStatus).toMatchObject({ phase: "done", keysTotal: 2_502, keysPending: 0 });
    // History stays small: a few events per batch, not per key.
    expect(status.metrics.historyEvents).toBeLessThan(25 * 4 + 30);
  });

  it("when a batch fails retryably every attempt, the manifest is still written, told which batch failed and why, and its keys count as failed", async () => {
    let manifestInput: WriteBackupManifestInput | undefined;
    const attempts = new Map<number, number>();

    const { status, statuses } = await run(OrchestratorNames.vaultBackup, backupInput(8), {
      [ActivityNames.takeInventory]: inventory(3, 250),
      [ActivityNames.backupObjectBatch]: async (input: BackupObjectBatchInput) => {
        attempts.set(input.batchIndex, (attempts.get(input.batchIndex) ?? 0) + 1);
        if (input.batchIndex === 1) throw tagActivityFailure(new KeyVaultUnavailableError("storage is down", 503, "ServiceUnavailable"));
        return { batchIndex: input.batchIndex, succeeded: input.batchIndex === 2 ? 50 : 100, failed: 0, skipped: 0, bytes: 10 };
      },
      [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput) => {
        manifestInput = input;
        return manifestSummary(input, { total: 250, succeeded: 150, failed: 100, skipped: 0 });
      },
    });

    expect(status.runtimeStatus).toBe("Completed");
    expect(attempts.get(1)).toBe(3);
    expect(attempts.get(0)).toBe(1);
    expect(manifestInput!.failedBatches).toEqual([{ batchIndex: 1, reason: "storage is down" }]);
    expectEveryStatusAddsUp(statuses);
    expect(statuses.find((s) => s.phase === "manifest")).toMatchObject({ keysSucceeded: 150, keysFailed: 100, keysPending: 0 });
  });

  it("when a batch fails with a final error, it is not tried again", async () => {
    const attempts = new Map<number, number>();

    const { status } = await run(OrchestratorNames.vaultBackup, backupInput(8), {
      [ActivityNames.takeInventory]: inventory(2, 200),
      [ActivityNames.backupObjectBatch]: async (input: BackupObjectBatchInput) => {
        attempts.set(input.batchIndex, (attempts.get(input.batchIndex) ?? 0) + 1);
        if (input.batchIndex === 0) throw tagActivityFailure(new KeyVaultAccessDeniedError("caller lacks keys/backup", 403, "Forbidden"));
        return { batchIndex: input.batchIndex, succeeded: 100, failed: 0, skipped: 0, bytes: 10 };
      },
      [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput) => manifestSummary(input, { total: 200, succeeded: 100, failed: 100, skipped: 0 }),
    });

    expect(status.runtimeStatus).toBe("Completed");
    expect(attempts.get(0)).toBe(1);
    // No retry timer either: the job did not wait.
    expect(status.metrics.timersCreated).toBe(0);
  });

  it("when the inventory fails with a final error, the job fails at the first attempt with that reason and no batch starts", async () => {
    let batches = 0, inventories = 0;

    const { status } = await run(OrchestratorNames.vaultBackup, backupInput(8), {
      [ActivityNames.takeInventory]: async () => {
        inventories++;
        throw tagActivityFailure(new KeyVaultAccessDeniedError("Forbidden: caller lacks keys/list", 403, "Forbidden"));
      },
      [ActivityNames.backupObjectBatch]: async (input) => {
        batches++;
        return { batchIndex: input.batchIndex, succeeded: 0, failed: 0, skipped: 0, bytes: 0 };
      },
      [ActivityNames.writeBackupManifest]: async (input) => manifestSummary(input, { total: 0, succeeded: 0, failed: 0, skipped: 0 }),
    });

    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toBe("Forbidden: caller lacks keys/list");
    expect(inventories).toBe(1);
    expect(batches).toBe(0);
  });

  it("when the inventory fails retryably, it is tried again after the policy's wait and the job goes on", async () => {
    let inventories = 0;

    const { status } = await run(OrchestratorNames.vaultBackup, backupInput(8), {
      [ActivityNames.takeInventory]: async () => {
        if (++inventories < 3) throw tagActivityFailure(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
        return inventory(1, 10)();
      },
      [ActivityNames.backupObjectBatch]: async () => ({ batchIndex: 0, succeeded: 10, failed: 0, skipped: 0, bytes: 1 }),
      [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput) => manifestSummary(input, { total: 10, succeeded: 10, failed: 0, skipped: 0 }),
    });

    expect(status.runtimeStatus).toBe("Completed");
    expect(inventories).toBe(3);
    expect(status.metrics.timersCreated).toBe(2);
  });
});

describe("vault restore orchestrator", () => {
  const plan: RestorePlan = {
    backupSetId: "v/20260101T000000Z-job",
    sourceVaultUrl: "https://myvault.vault.azure.net",
    targetVaultUrl: "https://other.vault.azure.net",
    objectsSelected: 6,
    toRestoreCount: 3,
    alreadyPresentCount: 1,
    softDeletedCount: 0,
    missingOrDamagedCount: 1,
    skippedAtBackupCount: 1,
    withCertificateCount: 0,
    toRestoreByKind: { key: 3 },
    byKind: {
      keys: { selected: 6, toRestore: 3, alreadyPresent: 1, softDeleted: 0, missingOrDamaged: 1, skippedAtBackup: 1, withCertificate: 0 },
      secrets: { selected: 0, toRestore: 0, alreadyPresent: 0, softDeleted: 0, missingOrDamaged: 0, skippedAtBackup: 0, withCertificate: 0 },
      certificates: { selected: 0, toRestore: 0, alreadyPresent: 0, softDeleted: 0, missingOrDamaged: 0, skippedAtBackup: 0, withCertificate: 0 },
    },
    batchCount: 2,
    batchSize: 2,
    planPath: "v/20260101T000000Z-job/restores/job/plan.json",
    conflictSample: ["k3"],
  };
  const input = (dryRun: boolean, onConflict: "skip" | "fail") => ({
    backupSetId: plan.backupSetId,
    include: [],
    exclude: [],
    dryRun,
    onConflict,
    tuning: { ...DEFAULT_TUNING, batchSize: 2 },
    retry,
  });
  const summary = (report: WriteRestoreReportInput, keys: RestoreSummary["keys"]): RestoreSummary => ({
    backupSetId: report.backupSetId,
    targetVaultUrl: plan.targetVaultUrl,
    dryRun: report.dryRun,
    ...keysOnly(keys),
    skipped: [],
    failures: [],
    reportPath: "v/20260101T000000Z-job/restores/job/report.json",
    startedAt: report.startedAt,
    endedAt: report.endedAt,
  });

  function activities(batchCalls: number[], reports: WriteRestoreReportInput[], batch1?: () => Promise<RestoreBatchResult>): StubActivities {
    return {
      [ActivityNames.planRestore]: async () => plan,
      [ActivityNames.restoreObjectBatch]: async (i: { batchIndex: number }) => {
        batchCalls.push(i.batchIndex);
        if (i.batchIndex === 1 && batch1) return batch1();
        return i.batchIndex === 0 ? { batchIndex: 0, restored: 2, skipped: 0, failed: 0 } : { batchIndex: 1, restored: 0, skipped: 1, failed: 0 };
      },
      [ActivityNames.writeRestoreReport]: async (report: WriteRestoreReportInput) => {
        reports.push(report);
        return report.dryRun ? summary(report, { total: 6, succeeded: 3, failed: 1, skipped: 2 }) : summary(report, { total: 6, succeeded: 2, failed: 1, skipped: 3 });
      },
    };
  }

  it("when it is a dry run, it plans and reports and schedules no restore", async () => {
    const calls: number[] = [], reports: WriteRestoreReportInput[] = [];
    const { status, statuses } = await run(OrchestratorNames.vaultRestore, input(true, "skip"), activities(calls, reports));
    expect(status.runtimeStatus).toBe("Completed");
    expect((status.output as RestoreSummary).dryRun).toBe(true);
    expect(reports).toEqual([expect.objectContaining({ dryRun: true, failedBatches: [] })]);
    expect(calls).toEqual([]);
    expectEveryStatusAddsUp(statuses);
  });

  it("when the policy is fail and a name is taken, it fails before any restore, naming it and the plan", async () => {
    const calls: number[] = [], reports: WriteRestoreReportInput[] = [];
    const { status } = await run(OrchestratorNames.vaultRestore, input(false, "fail"), activities(calls, reports));
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("restore refused, nothing was changed: 1 key name(s) already exist");
    expect(status.failureDetails?.errorType).toBe(JobFailureCodes.restoreRefused);
    expect(status.failureDetails?.errorMessage).toContain("k3");
    expect(calls).toEqual([]);
  });

  it("when batches finish, the report is written from their counts and the progress adds up at every point", async () => {
    const calls: number[] = [], reports: WriteRestoreReportInput[] = [];
    const { status, statuses } = await run(OrchestratorNames.vaultRestore, input(false, "skip"), activities(calls, reports));
    const output = status.output as RestoreSummary;
    expect(output.keys).toEqual({ total: 6, succeeded: 2, failed: 1, skipped: 3 });
    expect(calls.sort()).toEqual([0, 1]);
    expectEveryStatusAddsUp(statuses);
    expect(statuses.find((s) => s.phase === "report")).toMatchObject({ keysTotal: 6, keysSucceeded: 2, keysFailed: 1, keysSkipped: 3, keysPending: 0 });
  });

  it("when a batch fails for good, the report is told which one and why, and its keys count as failed", async () => {
    const calls: number[] = [], reports: WriteRestoreReportInput[] = [];
    const { statuses } = await run(OrchestratorNames.vaultRestore, input(false, "skip"), activities(calls, reports, throwing(new BackupSetNotFoundError("v/20260101T000000Z-job"))));
    expect(calls.filter((i) => i === 1)).toHaveLength(1);
    expect(reports[0]!.failedBatches).toEqual([{ batchIndex: 1, reason: 'no backup set "v/20260101T000000Z-job" in the store' }]);
    expectEveryStatusAddsUp(statuses);
    expect(statuses.find((s) => s.phase === "report")).toMatchObject({ keysSucceeded: 2, keysFailed: 2, keysSkipped: 2, keysPending: 0 });
  });

  it("when the plan fails with a final error (a missing set), the job fails at the first attempt with that reason", async () => {
    let plans = 0;
    const { status } = await run(OrchestratorNames.vaultRestore, input(false, "skip"), {
      [ActivityNames.planRestore]: async () => {
        plans++;
        throw tagActivityFailure(new BackupSetNotFoundError("20200101T000000Z-nosuchjob"));
      },
    });
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toBe('no backup set "20200101T000000Z-nosuchjob" in the store');
    expect(plans).toBe(1);
    expect(status.metrics.timersCreated).toBe(0);
  });
});
