import { ActivityNames, OrchestratorNames, type BackupKeyBatchInput, type BackupSummary, type JobProgress, type RestoreSummary, type WriteBackupManifestInput } from "../../src/contracts";
import { LocalDurableHost } from "../../src/local/durable-host";
import { orchestrators } from "../../src/registry";
import { DEFAULT_TUNING } from "../../src/tuning";

/**
 * The orchestrators on the durable-functions replay engine (in-process host, virtual clock) with stub
 * activities: what they schedule, how many at once, and what they do with failures.
 */
const retry = { firstRetryIntervalMs: 1000, maxAttempts: 3, backoffCoefficient: 2, maxRetryIntervalMs: 10_000 };

function backupInput(batchesInFlight: number) {
  return { vaultUrl: "https://myvault.vault.azure.net", include: [], exclude: [], tuning: { ...DEFAULT_TUNING, batchesInFlight }, retry };
}

describe("vault backup orchestrator", () => {
  it("when the inventory has 25 batches, it runs at most the configured number at once and reports progress after each", async () => {
    let running = 0, peak = 0;
    const seenBatches: number[] = [];
    const statuses: JobProgress[] = [];
    const host = new LocalDurableHost({
      orchestrators,
      clock: "virtual",
      activityConcurrency: 32,
      activities: {
        [ActivityNames.takeKeyInventory]: async () => ({ backupSetId: "20260101T000000Z-job1", keysMatched: 2_502, keysToBackUp: 2_500, keysSkipped: 2, batchCount: 25 }),
        [ActivityNames.backupKeyBatch]: async (input: BackupKeyBatchInput) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          seenBatches.push(input.batchIndex);
          return { batchIndex: input.batchIndex, succeeded: 99, failed: 1, bytes: 1000 };
        },
        [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput): Promise<BackupSummary> => ({
          backupSetId: input.backupSetId,
          vaultUrl: input.vaultUrl,
          state: "partial",
          keys: { total: 2_502, succeeded: 2_475, failed: 25, skipped: 2 },
          versions: 2_475,
          versionDetails: true,
          bytes: 25_000,
          startedAt: input.startedAt,
          endedAt: input.endedAt,
          failures: [],
        }),
      },
    });
    const unsubscribe = host.onStatusChange((s) => s.customStatus && statuses.push(s.customStatus as JobProgress));
    await host.startNew(OrchestratorNames.vaultBackup, { instanceId: "job1", input: backupInput(4) });
    const status = await host.waitForCompletion("job1");
    unsubscribe();
    await host.close();

    expect(status.runtimeStatus).toBe("Completed");
    expect(peak).toBeLessThanOrEqual(4);
    expect(seenBatches.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // Counts grow batch by batch and are complete when the manifest is written.
    const backupPhase = statuses.filter((s) => s.phase === "backup").map((s) => s.keysDone);
    expect(backupPhase).toEqual([...backupPhase].sort((a, b) => a - b));
    expect(backupPhase.length).toBeGreaterThan(1);
    expect(statuses.find((s) => s.phase === "manifest")).toMatchObject({ keysDone: 2_500, keysFailed: 25, keysSkipped: 2, batchesDone: 25, batchCount: 25, bytes: 25_000 });
    expect(status.customStatus).toMatchObject({ phase: "done" });
    // History stays small: a few events per batch, not per key.
    expect(status.metrics.historyEvents).toBeLessThan(25 * 4 + 30);
  });

  it("when a batch fails every attempt, the manifest is still written and told which batch failed and why", async () => {
    let manifestInput: WriteBackupManifestInput | undefined;
    const attempts = new Map<number, number>();
    const host = new LocalDurableHost({
      orchestrators,
      clock: "virtual",
      activities: {
        [ActivityNames.takeKeyInventory]: async () => ({ backupSetId: "20260101T000000Z-job2", keysMatched: 300, keysToBackUp: 300, keysSkipped: 0, batchCount: 3 }),
        [ActivityNames.backupKeyBatch]: async (input: BackupKeyBatchInput) => {
          attempts.set(input.batchIndex, (attempts.get(input.batchIndex) ?? 0) + 1);
          if (input.batchIndex === 1) throw Object.assign(new Error("storage is down"), { name: "RestError" });
          return { batchIndex: input.batchIndex, succeeded: 100, failed: 0, bytes: 10 };
        },
        [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput) => {
          manifestInput = input;
          return { backupSetId: input.backupSetId, keys: { total: 300, succeeded: 200, failed: 100, skipped: 0 } };
        },
      },
    });
    await host.startNew(OrchestratorNames.vaultBackup, { instanceId: "job2", input: backupInput(8) });
    const status = await host.waitForCompletion("job2");
    await host.close();

    expect(status.runtimeStatus).toBe("Completed");
    expect(attempts.get(1)).toBe(3);
    expect(attempts.get(0)).toBe(1);
    expect(manifestInput!.failedBatches).toEqual([{ batchIndex: 1, reason: expect.stringContaining("storage is down") }]);
  });

  it("when the inventory cannot be taken, the job fails and no batch starts", async () => {
    let batches = 0;
    const host = new LocalDurableHost({
      orchestrators,
      clock: "virtual",
      activities: {
        [ActivityNames.takeKeyInventory]: async () => {
          throw Object.assign(new Error("Forbidden: caller lacks keys/list"), { name: "KeyVaultAccessDeniedError" });
        },
        [ActivityNames.backupKeyBatch]: async () => batches++,
        [ActivityNames.writeBackupManifest]: async () => ({}),
      },
    });
    await host.startNew(OrchestratorNames.vaultBackup, { instanceId: "job3", input: backupInput(8) });
    const status = await host.waitForCompletion("job3");
    await host.close();
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("keys/list");
    expect(batches).toBe(0);
  });
});

describe("vault restore orchestrator", () => {
  const plan = {
    backupSetId: "v/20260101T000000Z-job",
    sourceVaultUrl: "https://myvault.vault.azure.net",
    targetVaultUrl: "https://other.vault.azure.net",
    keysSelected: 6,
    toRestoreCount: 3,
    toRestore: [],
    alreadyPresent: ["k3"],
    softDeleted: [],
    missingOrDamaged: [{ name: "k4", reason: "not in the backup set: failed" }],
    skippedAtBackup: [{ name: "c1", reason: "skipped at backup time: backs a certificate" }],
    batchCount: 2,
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

  function hostWith(batchCalls: number[]) {
    return new LocalDurableHost({
      orchestrators,
      clock: "virtual",
      activities: {
        [ActivityNames.planRestore]: async () => plan,
        [ActivityNames.restoreKeyBatch]: async (i: { batchIndex: number }) => {
          batchCalls.push(i.batchIndex);
          return i.batchIndex === 0
            ? { batchIndex: 0, restored: 2, skipped: [], failed: [] }
            : { batchIndex: 1, restored: 0, skipped: [{ name: "k3", reason: "exists" }], failed: [] };
        },
      },
    });
  }

  it("when it is a dry run, it returns the plan and schedules no restore", async () => {
    const calls: number[] = [];
    const host = hostWith(calls);
    await host.startNew(OrchestratorNames.vaultRestore, { instanceId: "r1", input: input(true, "skip") });
    const status = await host.waitForCompletion("r1");
    await host.close();
    const output = status.output as RestoreSummary;
    expect(output.dryRun).toBe(true);
    expect(output.plan).toEqual(plan);
    expect(calls).toEqual([]);
  });

  it("when the policy is fail and a name is taken, it fails before any restore", async () => {
    const calls: number[] = [];
    const host = hostWith(calls);
    await host.startNew(OrchestratorNames.vaultRestore, { instanceId: "r2", input: input(false, "fail") });
    const status = await host.waitForCompletion("r2");
    await host.close();
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("k3");
    expect(calls).toEqual([]);
  });

  it("when batches finish, the summary counts restored, skipped and failed keys, the unusable ones included", async () => {
    const calls: number[] = [];
    const host = hostWith(calls);
    await host.startNew(OrchestratorNames.vaultRestore, { instanceId: "r3", input: input(false, "skip") });
    const status = await host.waitForCompletion("r3");
    await host.close();
    const output = status.output as RestoreSummary;
    expect(output.keys).toEqual({ total: 6, succeeded: 2, failed: 1, skipped: 2 });
    expect(output.skipped.map((k) => k.name)).toEqual(["c1", "k3"]);
    expect(output.failures).toEqual([{ name: "k4", reason: expect.any(String) }]);
    expect(calls.sort()).toEqual([0, 1]);
  });
});
