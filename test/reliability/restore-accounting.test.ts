import { ActivityNames, OrchestratorNames, type RestoreBatchResult, type RestorePlan, type RestoreSummary, type VaultRestoreInput } from "../../src/contracts";
import { LocalDurableHost } from "../../src/local/durable-host";
import { orchestrators } from "../../src/registry";
import { DEFAULT_ACTIVITY_RETRY, DEFAULT_TUNING } from "../../src/tuning";

/**
 * How the restore orchestrator counts keys a batch found already in the target, exactly as backed up:
 * restored, when the name was free at planning time (an earlier attempt of this job restored it); skipped,
 * when the name was taken or soft-deleted before the job began.
 */
describe("the restore orchestrator's accounting of keys already in the target", () => {
  const plan: RestorePlan = {
    backupSetId: "v/20260101T000000Z-job",
    sourceVaultUrl: "https://myvault.vault.azure.net",
    targetVaultUrl: "https://other.vault.azure.net",
    keysSelected: 6,
    toRestoreCount: 4,
    toRestore: [],
    alreadyPresent: ["Taken"],
    softDeleted: ["gone"],
    missingOrDamaged: [],
    skippedAtBackup: [],
    batchCount: 2,
  };
  const input: VaultRestoreInput = {
    backupSetId: plan.backupSetId,
    include: [],
    exclude: [],
    dryRun: false,
    onConflict: "skip",
    tuning: { ...DEFAULT_TUNING, batchSize: 3 },
    retry: { ...DEFAULT_ACTIVITY_RETRY, firstRetryIntervalMs: 10 },
  };

  it("when a batch reports keys already restored, those free before the job count as restored and those taken before it as skipped", async () => {
    // Prepare: batch 0 restores one key and finds two already there (one restored by an earlier attempt,
    // one taken before the job); batch 1's first attempt loses its answer, its second finds its keys restored.
    let batchOneAttempts = 0;
    const results: Record<number, RestoreBatchResult> = {
      0: { batchIndex: 0, restored: 1, skipped: [], failed: [], alreadyInTarget: ["earlier", "taken"] },
      1: { batchIndex: 1, restored: 0, skipped: [{ name: "gone", reason: "a soft-deleted key of that name is in the target vault" }], failed: [], alreadyInTarget: ["x1", "x2"] },
    };
    const host = new LocalDurableHost({
      orchestrators,
      clock: "virtual",
      activities: {
        [ActivityNames.planRestore]: async () => plan,
        [ActivityNames.restoreKeyBatch]: async (i: { batchIndex: number }) => {
          if (i.batchIndex === 1 && ++batchOneAttempts === 1) throw new Error("answer lost");
          return results[i.batchIndex];
        },
      },
    });

    try {
      // Act
      await host.startNew(OrchestratorNames.vaultRestore, { instanceId: "accounting", input });
      const status = await host.waitForCompletion("accounting", { timeoutMs: 30_000 });

      // Assess
      const output = status.output as RestoreSummary;
      expect(batchOneAttempts).toBe(2);
      expect(output.keys).toEqual({ total: 6, succeeded: 4, failed: 0, skipped: 2 });
      expect(output.skipped).toEqual([
        { name: "gone", reason: expect.stringContaining("soft-deleted") },
        { name: "taken", reason: "a key of that name already exists in the target vault" },
      ]);
    } finally {
      await host.close();
    }
  });
});
