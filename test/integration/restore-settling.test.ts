/**
 * A restore that meets names still being purged, deleted or recovered in the target vault (Key Vault
 * answers those 409 until it is done) waits for them instead of reporting conflicts; once a name has
 * settled, the conflict policy decides as for any other.
 */
import { createServices } from "../../src/composition";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyClient } from "@azure/keyvault-keys";
import { createVaultRestoreActivities } from "../../activities/vault-restore";
import { startEmulator, type EmulatedVault, type RunningEmulator } from "../../src/emulator";
import { LocalRuntime } from "../../src/local/runtime";
import { compareSnapshots, deleteAndPurge, snapshotVault } from "../../src/local/vault-snapshot";
import { FileBackupStore } from "../../src/storage/file-store";
import { AUTH, emulatorClient, rawRequest } from "../emulator/helpers";

/** Long enough that the restore surely starts while the names are still moving, even on a busy machine. */
const SETTLE_MS = 2_500;

describe("restore into a vault whose names are still being purged, deleted or recovered", () => {
  let emu: RunningEmulator;
  let folder: string;
  let store: FileBackupStore;
  let logLines: string[];
  let runtime: LocalRuntime;

  beforeAll(async () => {
    emu = await startEmulator({ seed: 5 });
    folder = await mkdtemp(join(tmpdir(), "kvbackup-settling-"));
    store = new FileBackupStore(folder);
    logLines = [];
    runtime = new LocalRuntime({ store, emulatorCaCert: emu.caCert, logLine: (line) => logLines.push(line) });
  });
  afterAll(async () => {
    await runtime?.close();
    await emu?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  const raw = (vault: EmulatedVault, path: string, method: string) =>
    rawRequest(`${vault.url}${path}?api-version=2025-07-01`, emu.caCert, { method, headers: AUTH });

  async function backUp(vault: EmulatedVault): Promise<string> {
    const backup = await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result;
    expect(backup.output?.state).toBe("complete");
    return backup.output!.backupSetId;
  }

  it("when names are being purged, deleted and recovered, it waits for each, restores the purged ones, and leaves the others to the conflict policy", async () => {
    // Prepare: a vault backed up; then, while it still answers at once, the names to be purged are
    // soft-deleted and the name to be recovered gets someone else's key, soft-deleted too.
    const vault = await emu.addVault({ knobs: { softDeleteMs: 0, purgeMs: 0 } });
    await vault.seedKeys({ count: 4, versions: 2, prefix: "purged" });
    await vault.seedKeys({ count: 1, prefix: "deleting" });
    await vault.seedKeys({ count: 1, prefix: "recovering" });
    const client: KeyClient = emulatorClient(vault.url, emu.caCert);
    const purgedNames = vault.listKeyNames().filter((n) => n.startsWith("purged"));
    const original = await snapshotVault(client, { names: purgedNames });
    const backupSetId = await backUp(vault);
    for (const name of purgedNames) await (await client.beginDeleteKey(name)).pollUntilDone();
    await deleteAndPurge(client, ["recovering-00000"]);
    await client.createEcKey("recovering-00000");
    await (await client.beginDeleteKey("recovering-00000")).pollUntilDone();
    // From now on the vault takes its time, and the names are set moving right before the restore.
    vault.setKnobs({ softDeleteMs: SETTLE_MS, purgeMs: SETTLE_MS });
    for (const name of purgedNames) await client.purgeDeletedKey(name);
    expect((await raw(vault, "/keys/deleting-00000", "DELETE")).status).toBe(200);
    expect((await raw(vault, "/deletedkeys/recovering-00000/recover", "POST")).status).toBe(200);
    logLines.length = 0;

    // Act
    const restore = await (await runtime.startRestore({ backupSetId, include: [], exclude: [], dryRun: false, onConflict: "skip" })).result;

    // Assess: the purged names restored, every version as it was
    expect(restore.output?.keys).toEqual({ total: 6, succeeded: 4, failed: 0, skipped: 2 });
    expect(compareSnapshots(original, await snapshotVault(client, { names: purgedNames }))).toEqual([]);
    // the settled names decided by the policy: a soft-deleted key, and someone else's key
    expect(restore.output?.skipped).toEqual([
      { kind: "key", name: "deleting-00000", reason: expect.stringContaining("soft-deleted") },
      { kind: "key", name: "recovering-00000", reason: expect.stringContaining("already exists") },
    ]);
    // and every wait said so, name by name
    const waited = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r["event"] === "restoreWaitedForName");
    const byName = Object.fromEntries(waited.map((r) => [r["key"], { state: r["state"], outcome: r["outcome"] }]));
    expect(byName).toEqual({
      ...Object.fromEntries(purgedNames.map((n) => [n, { state: "purging", outcome: "restored" }])),
      "deleting-00000": { state: "deleting", outcome: "skipped" },
      "recovering-00000": { state: "recovering", outcome: "skipped" },
    });
    for (const r of waited) expect(r["waitedMs"]).toEqual(expect.any(Number));
    // and the summary says so too
    expect(restore.output?.waitedForNames).toEqual({ deleting: 1, recovering: 1, purging: 4, waitedMs: expect.any(Number) });
    expect(restore.output!.waitedForNames!.waitedMs).toBeGreaterThan(0);
  }, 60_000);

  it("when a name is still being purged after the whole wait, that key is reported failed with a reason to retry, not skipped as a conflict", async () => {
    // Prepare: a set, and a target where the purge lasts longer than any wait (the waits are not slept)
    const vault = await emu.addVault({ knobs: { softDeleteMs: 0, purgeMs: 0 } });
    await vault.seedKeys({ count: 1, prefix: "stuck" });
    const backupSetId = await backUp(vault);
    await deleteAndPurge(emulatorClient(vault.url, emu.caCert), ["stuck-00000"]);
    const target = await emu.addVault({ knobs: { purgeMs: 600_000 } });
    await target.seedKeys({ count: 1, prefix: "stuck" });
    await deleteAndPurge(emulatorClient(target.url, emu.caCert), ["stuck-00000"]);
    const slept: number[] = [];
    const activities = createVaultRestoreActivities({
      vaultObjects: createServices({ emulatorCaCert: emu.caCert, maxOperationsPer10s: 0 }).vaultObjects,
      store,
      sleep: async (ms) => void slept.push(ms),
    });

    // Act: plan (the name is in limbo: neither live nor soft-deleted, so it is to be restored), one batch, the report
    const jobId = "stuck-job";
    const startedAt = "2026-12-01T00:00:00Z";
    const plan = await activities.planRestore({ jobId, startedAt, backupSetId, targetVaultUrl: target.url, include: [], exclude: [], verifyBlobs: false, batchSize: 10 });
    const result = await activities.restoreObjectBatch({ jobId, startedAt, backupSetId, targetVaultUrl: target.url, batchIndex: 0, keyConcurrency: 1, onConflict: "skip" });
    const summary = await activities.writeRestoreReport({ jobId, backupSetId, dryRun: false, startedAt, endedAt: "2026-12-01T00:01:00Z", failedBatches: [] });

    // Assess
    expect(plan.toRestoreCount).toBe(1);
    expect(result).toEqual({ batchIndex: 0, restored: 0, skipped: 0, failed: 1, byKind: { key: { restored: 0, skipped: 0, failed: 1 } } });
    expect(summary.skipped).toEqual([]);
    expect(summary.failures).toEqual([{ kind: "key", name: "stuck-00000", reason: expect.stringMatching(/^the name was still being purged in the target vault after 30\.0 s .*retry the restore later$/) }]);
    expect(summary.waitedForNames).toEqual({ deleting: 0, recovering: 0, purging: 1, waitedMs: 30_000 });
    expect(slept.reduce((a, b) => a + b, 0)).toBe(30_000);
    expect(target.stats().operations["restoreKey"]).toBe(slept.length + 1);
  });
});
