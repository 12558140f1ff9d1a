import { createServices, directKeyClient } from "../../src/composition";
import { ActivityNames, type RestoreBatchResult, type RestorePlan, type RestoreSummary } from "../../src/contracts";
import { startEmulator } from "../../src/emulator";
import type { RunningEmulator } from "../../src/emulator/types";
import { LocalRuntime } from "../../src/local/runtime";
import { createActivityHandlers } from "../../src/registry";
import { BackupSetPaths, parseDocument, vaultFolder } from "../../src/storage/backup-set";
import { FileBackupStore } from "../../src/storage/file-store";
import { RestoreJobPaths, restoreBatchRecordSchema, restoreReportSchema } from "../../src/storage/restore-job";
import { tempDir } from "./helpers";

/**
 * How a restore counts keys the target already holds. A name taken (or soft-deleted) before the job is in
 * the plan and reported skipped, without a call to restore it; a key that was free when the plan was made
 * and is found in the target exactly as backed up was restored by an earlier attempt of this job (a lost
 * answer, a retried batch, a resumed job) and counts as restored. Run with the real activities against the
 * emulator, their documents in a folder store.
 */
describe("the restore's accounting of keys already in the target", () => {
  let emulator: RunningEmulator;
  let dirs: { path: string; remove: () => void };
  let store: FileBackupStore;

  const client = (url: string) =>
    directKeyClient(url, { emulatorCaCert: emulator.caCert });

  beforeAll(async () => {
    dirs = tempDir("kvbackup-restore-accounting-");
    store = new FileBackupStore(dirs.path);
    emulator = await startEmulator({ seed: 5, latencyMs: 0 });
  });
  afterAll(async () => {
    await emulator?.stop();
    dirs?.remove();
  });

  it("when a name was taken before the job it is skipped, and a key an earlier attempt restored counts as restored", async () => {
    // Prepare: a set of 6 keys; in the target, acct-00001 exists (the same key), acct-00002 exists (another
    // key of that name) and acct-00003 is soft-deleted, all before the job.
    const source = await emulator.addVault({ name: "acct-source" });
    await source.seedKeys({ count: 6, versions: 2, prefix: "acct" });
    const runtime = new LocalRuntime({ store, emulatorCaCert: emulator.caCert, maxOperationsPer10s: 0 });
    const backup = (await (await runtime.startBackup({ vaultUrl: source.url, include: [], exclude: [] })).result).output!;
    await runtime.close();
    const target = await emulator.addVault({ name: "acct-target" });
    const targetClient = client(target.url);
    await targetClient.restoreKeyBackup((await client(source.url).backupKey("acct-00001"))!);
    await targetClient.createKey("acct-00002", "EC");
    await targetClient.createKey("acct-00003", "EC");
    await (await targetClient.beginDeleteKey("acct-00003", { intervalInMs: 20 })).pollUntilDone();
    const activities = createActivityHandlers({ vaultObjects: createServices({ emulatorCaCert: emulator.caCert, maxOperationsPer10s: 0 }).vaultObjects, store });
    const backupSetId = `${vaultFolder(source.url)}/${backup.backupSetId}`;
    const jobId = "acct-restore";
    const startedAt = "2026-01-01T00:00:00Z";

    // Act: plan; then, as if an earlier attempt of batch 0 had restored acct-00004 and its answer was
    // lost, that key appears in the target; then the batches and the report.
    const plan: RestorePlan = await activities[ActivityNames.planRestore]!({ jobId, startedAt, backupSetId, targetVaultUrl: target.url, include: [], exclude: [], verifyBlobs: false, batchSize: 2 });
    await targetClient.restoreKeyBackup((await client(source.url).backupKey("acct-00004"))!);
    target.resetStats();
    const batches: RestoreBatchResult[] = [];
    for (let i = 0; i < plan.batchCount; i++) {
      batches.push(await activities[ActivityNames.restoreObjectBatch]!({ jobId, startedAt, backupSetId, targetVaultUrl: target.url, batchIndex: i, keyConcurrency: 2, onConflict: "skip" }));
    }
    const summary: RestoreSummary = await activities[ActivityNames.writeRestoreReport]!({ jobId, backupSetId, dryRun: false, startedAt, endedAt: "2026-01-01T00:00:01Z", failedBatches: [] });

    // Assess: the plan names the taken ones, the batches only try the free ones
    expect(plan).toMatchObject({ objectsSelected: 6, toRestoreCount: 3, alreadyPresentCount: 2, softDeletedCount: 1, batchCount: 2 });
    expect(target.stats().operations["restoreKey"]).toBe(3);
    expect(batches).toEqual([
      { batchIndex: 0, restored: 2, skipped: 0, failed: 0, byKind: { key: { restored: 2, skipped: 0, failed: 0 } } },
      { batchIndex: 1, restored: 1, skipped: 0, failed: 0, byKind: { key: { restored: 1, skipped: 0, failed: 0 } } },
    ]);
    const job = new RestoreJobPaths(new BackupSetPaths(vaultFolder(source.url), backup.backupSetId), jobId, startedAt);
    const record = parseDocument(restoreBatchRecordSchema, job.batch(0), await store.read(job.batch(0)));
    expect(record.objects).toEqual([
      { kind: "key", name: "acct-00000", result: "restored" },
      { kind: "key", name: "acct-00004", result: "alreadyInTarget" },
    ]);
    expect(summary.keys).toEqual({ total: 6, succeeded: 3, failed: 0, skipped: 3 });
    expect(summary.skipped).toEqual([
      { kind: "key", name: "acct-00001", reason: "a key of that name already exists in the target vault" },
      { kind: "key", name: "acct-00002", reason: "a key of that name already exists in the target vault" },
      { kind: "key", name: "acct-00003", reason: expect.stringContaining("soft-deleted") },
    ]);
    const report = parseDocument(restoreReportSchema, summary.reportPath, await store.read(summary.reportPath));
    expect(report.succeeded.map((o) => o.name).sort()).toEqual(["acct-00000", "acct-00004", "acct-00005"]);

    // Act again: a batch run once more after its record was written (its answer lost) does nothing new
    target.resetStats();
    const rerun = await activities[ActivityNames.restoreObjectBatch]!({ jobId, startedAt, backupSetId, targetVaultUrl: target.url, batchIndex: 1, keyConcurrency: 2, onConflict: "skip" });
    const reportAgain = await activities[ActivityNames.writeRestoreReport]!({ jobId, backupSetId, dryRun: false, startedAt, endedAt: "y", failedBatches: [] });

    // Assess
    expect(rerun).toEqual(batches[1]);
    expect(Object.values(target.stats().operations).reduce((a, b) => a + b, 0)).toBe(0);
    expect(reportAgain).toEqual(summary);
  });
});
