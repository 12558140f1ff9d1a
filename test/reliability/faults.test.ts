import { createServices, directKeyClient } from "../../src/composition";
import {
  ActivityNames,
  OrchestratorNames,
  type BackupSummary,
  type JobProgress,
  type RestoreBatchResult,
  type RestoreObjectBatchInput,
  type RestoreSummary,
  type VaultBackupInput,
  type VaultRestoreInput,
} from "../../src/contracts";
import { startEmulator } from "../../src/emulator";
import type { EmulatedVault, RunningEmulator } from "../../src/emulator/types";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { startChaosProxy, type ChaosProxy } from "../support/chaos-proxy";
import { LocalDurableHost } from "../../src/local/durable-host";
import { auditBackupSet, blobIdentities, changedBlobs } from "../support/reliability-kit";
import { LocalRuntime } from "../../src/local/runtime";
import { compareSnapshots, snapshotVault } from "../../src/local/vault-snapshot";
import { createActivityHandlers, forLocalHost, orchestrators } from "../../src/registry";
import { stubActivities } from "../support/stub-activities";
import { BackupSetPaths, inventorySchema, manifestSchema, parseDocument, sha256Hex, vaultFolder } from "../../src/storage/backup-set";
import { RestoreJobPaths, restoreBatchRecordSchema } from "../../src/storage/restore-job";
import type { BackupStore } from "../../src/storage/backup-store";
import { openBackupStore } from "../../src/storage/open-store";
import { DEFAULT_ACTIVITY_RETRY } from "../../src/retry-policies";
import { tempDir } from "./helpers";

/**
 * Backups and restores under the faults a vault and a network produce: 429 storms, 503s, connections cut
 * before and after the vault acted, stalls, Blob Storage going away and coming back, activities that run
 * twice. Each test ends with a check that reads the store and the vaults directly: every key is backed up
 * with a blob whose SHA-256 matches (or reported failed with a reason), no blob was replaced, and a restore
 * brings back every version exactly.
 */
const CONTAINER = "reliability-faults";
const TUNING = { batchSize: 25, batchesInFlight: 6, keyConcurrency: 25 };

describe("backup and restore under injected faults", () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let store: BackupStore;
  let azuriteFolder: { path: string; remove: () => void };
  const proxies: ChaosProxy[] = [];
  const runtimes: LocalRuntime[] = [];

  const directClient = (url: string) =>
    directKeyClient(url, { emulatorCaCert: emulator.caCert, maxRetries: 8 });
  const runtime = (options: { maxOperationsPer10s?: number; tuning?: typeof TUNING } = {}) => {
    const created = new LocalRuntime({ store, emulatorCaCert: emulator.caCert, tuning: options.tuning ?? TUNING, maxOperationsPer10s: options.maxOperationsPer10s ?? 0 });
    runtimes.push(created);
    return created;
  };
  const proxy = async (vault: EmulatedVault, seed: number, faults: Parameters<typeof startChaosProxy>[0]["faults"]) => {
    const started = await startChaosProxy({ targetPort: vault.port, seed, faults });
    proxies.push(started);
    return started;
  };
  const setRoot = (vaultUrl: string, backupSetId: string) => `${vaultFolder(vaultUrl)}/${backupSetId}`;

  beforeAll(async () => {
    azuriteFolder = tempDir("kvbackup-reliability-azurite-");
    // A folder, not memory: the outage test stops Azurite and needs its data after the restart.
    azurite = await startAzurite({ location: azuriteFolder.path });
    emulator = await startEmulator({ seed: 31, throttle: 0 });
    store = openBackupStore({ storage: azurite.connectionString, container: CONTAINER });
  }, 120_000);

  afterAll(async () => {
    for (const r of runtimes) await r.close();
    for (const p of proxies) await p.stop();
    await emulator?.stop();
    await azurite?.stop();
    azuriteFolder?.remove();
  });

  it("when the client offers three times the vault's throttle budget, the 429 storm slows the backup down and no key is lost", async () => {
    // Prepare: a vault that admits 150 operations per 10 s; the client paces itself to 450.
    const vault = await emulator.addVault({ name: "storm", knobs: { throttle: 150 } });
    await vault.seedKeys({ count: 90, prefix: "storm" });

    // Act
    const result = await (await runtime({ maxOperationsPer10s: 450 }).startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result;

    // Assess
    expect(result.status.runtimeStatus).toBe("Completed");
    const summary = result.output!;
    expect(vault.stats().throttled429).toBeGreaterThan(0);
    const audit = await auditBackupSet(store, setRoot(vault.url, summary.backupSetId), vault.listKeyNames());
    expect(audit.problems).toEqual([]);
    expect(audit).toMatchObject({ lost: [], strayBlobs: [], blobCount: audit.succeeded });
    // Throttling is waited out, not turned into failures.
    expect(summary.keys).toEqual({ total: 90, succeeded: 90, failed: 0, skipped: 0 });
  }, 180_000);

  it("when 5 % of requests get 503, 1 % of connections are cut before or after the vault acted, and some answers stall 2 s, backup and restore still bring back every key exactly", async () => {
    // Prepare: faults in the emulator (503 and drops before anything is done) and in a proxy in front of
    // each vault (answers lost after the vault acted, and stalls).
    const faults = { error503Rate: 0.05, dropRate: 0.01, retryAfterSeconds: 1 };
    const source = await emulator.addVault({ name: "mixed-source" });
    const target = await emulator.addVault({ name: "mixed-target" });
    await source.seedKeys({ count: 150, versions: 2, prefix: "mixed", tags: { tier: "gold" } });
    const original = await snapshotVault(directClient(source.url));
    for (const vault of [source, target]) vault.setKnobs({ faults });
    const chaos = { dropRate: 0.01, stallRate: 0.02, stallMs: 2_000 };
    const [sourceProxy, targetProxy] = await Promise.all([proxy(source, 101, chaos), proxy(target, 102, chaos)]);
    // More batches than run at once, so the restore is surely caught in the middle.
    const jobs = runtime({ tuning: { batchSize: 10, batchesInFlight: 5, keyConcurrency: 10 } });

    // Act
    const backup = await (await jobs.startBackup({ vaultUrl: sourceProxy.url, include: [], exclude: [] })).result;
    const backupSetId = backup.output?.backupSetId;
    if (!backupSetId) throw new Error(`the backup failed: ${backup.status.failureDetails?.errorMessage}`);
    const restoreJob = await jobs.startRestore({ backupSetId: `${vaultFolder(sourceProxy.url)}/${backupSetId}`, targetVaultUrl: targetProxy.url, include: [], exclude: [], dryRun: false, onConflict: "skip" });
    // Once, in the middle of the restore, every connection to the target is cut: restores in flight may
    // have been carried out, and their answers are lost.
    let cut = 0;
    const unsubscribe = jobs.host.onStatusChange((s) => {
      const p = s.customStatus as JobProgress | undefined;
      if (s.instanceId === restoreJob.jobId && cut === 0 && p?.phase === "restore" && p.batchesDone >= 1) cut = targetProxy.dropAll();
    });
    const restore = await restoreJob.result;
    unsubscribe();

    // The checks below read the vaults directly, without faults.
    for (const vault of [source, target]) vault.setKnobs({ faults: { error503Rate: 0, dropRate: 0 } });
    // Assess: the faults did happen
    expect(backup.status.runtimeStatus).toBe("Completed");
    expect(source.stats().unavailable503 + target.stats().unavailable503).toBeGreaterThan(10);
    expect(source.stats().dropped + target.stats().dropped).toBeGreaterThan(0);
    expect(sourceProxy.stats().dropped + targetProxy.stats().dropped).toBeGreaterThan(0);
    expect(cut).toBeGreaterThan(0);
    expect(sourceProxy.stats().stalled + targetProxy.stats().stalled).toBeGreaterThan(0);
    // Assess: the backup, from the store
    const audit = await auditBackupSet(store, setRoot(sourceProxy.url, backupSetId!), source.listKeyNames());
    expect(audit.problems).toEqual([]);
    expect(audit).toMatchObject({ manifestState: "complete", succeeded: 150, blobCount: 150, lost: [] });
    // Assess: the restore, from the target vault (answers lost after a restore must not turn into "skipped")
    expect(restore.output?.keys).toEqual({ total: 150, succeeded: 150, failed: 0, skipped: 0 });
    expect(compareSnapshots(original, await snapshotVault(directClient(target.url)))).toEqual([]);
  }, 180_000);

  it("when Blob Storage is down for several seconds in the middle of a backup, the backup completes and no blob written before the outage is rewritten", async () => {
    // Prepare
    const vault = await emulator.addVault({ name: "outage", knobs: { latencyMs: 4 } });
    await vault.seedKeys({ count: 200, prefix: "outage" });
    const jobs = runtime();
    const outageMs = 2_000;

    // Act: stop Azurite once a few batches are done, start it again later on the same port and folder.
    const handle = await jobs.startBackup({ vaultUrl: vault.url, include: [], exclude: [] });
    const progress = await new Promise<JobProgress>((resolve) => {
      const stop = jobs.host.onStatusChange((s) => {
        const p = s.customStatus as JobProgress | undefined;
        if (s.instanceId === handle.jobId && p?.phase === "backup" && p.batchesDone >= 2) {
          stop();
          resolve(p);
        }
      });
    });
    const root = setRoot(vault.url, progress.backupSetId!);
    const beforeOutage = await blobIdentities(azurite.connectionString, CONTAINER, `${root}/`);
    await azurite.stop();
    await new Promise((r) => setTimeout(r, outageMs));
    await azurite.start();
    const result = await handle.result;

    // Assess
    expect(result.status.runtimeStatus).toBe("Completed");
    expect(result.output!.keys).toEqual({ total: 200, succeeded: 200, failed: 0, skipped: 0 });
    const audit = await auditBackupSet(store, root, vault.listKeyNames());
    expect(audit.problems).toEqual([]);
    expect(audit.blobCount).toBe(200);
    expect(beforeOutage.size).toBeGreaterThan(0);
    expect(changedBlobs(beforeOutage, await blobIdentities(azurite.connectionString, CONTAINER, `${root}/`))).toEqual([]);
  }, 180_000);

  it("when connections to the vault go silent (no answer, no reset), each attempt gives up after its time limit and is retried on a new connection", async () => {
    // Prepare: for the first second every answer is held for ten minutes; connections opened later flow.
    const vault = await emulator.addVault({ name: "silent" });
    await vault.seedKeys({ count: 40, prefix: "silent" });
    const silent = await proxy(vault, 7, { stallRate: 1, stallMs: 600_000 });
    const vaultObjects = createServices({ emulatorCaCert: emulator.caCert, maxOperationsPer10s: 0, tryTimeoutMs: 1_500 }).vaultObjects;
    const host = new LocalDurableHost({ orchestrators, activities: forLocalHost(createActivityHandlers({ vaultObjects, store })), clock: "virtual" });
    const input: VaultBackupInput = { vaultUrl: silent.url, include: [], exclude: [], tuning: TUNING, retry: DEFAULT_ACTIVITY_RETRY };

    try {
      // Act
      await host.startNew(OrchestratorNames.vaultBackup, { instanceId: "silent-backup", input });
      await new Promise((r) => setTimeout(r, 1_000));
      silent.setFaults({ stallRate: 0 });
      const status = await host.waitForCompletion("silent-backup", { timeoutMs: 150_000 });

      // Assess
      expect(status.runtimeStatus).toBe("Completed");
      expect(silent.stats().stalled).toBeGreaterThan(0);
      expect(vaultObjects.stats!().retries).toBeGreaterThan(0);
      const summary = status.output as BackupSummary;
      expect(summary.keys).toEqual({ total: 40, succeeded: 40, failed: 0, skipped: 0 });
      const audit = await auditBackupSet(store, setRoot(silent.url, summary.backupSetId), vault.listKeyNames());
      expect(audit.problems).toEqual([]);
    } finally {
      await host.close();
    }
  }, 180_000);

  it("when a set taken without version details is restored twice, the batch knows its own keys by their update time, even if a key changed between inventory and backup, and not an older key of the same name", async () => {
    // Prepare: an older "lean-00001" (made a second before the source's keys) is backed up from another
    // vault; the set is taken with the activities one by one, and "lean-00000" changes between the
    // inventory and its batch (no spare budget, so the inventory backs up nothing itself).
    const elsewhere = await emulator.addVault({ name: "lean-older" });
    await directClient(elsewhere.url).createKey("lean-00001", "EC");
    const olderCopy = (await directClient(elsewhere.url).backupKey("lean-00001"))!;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const target = await emulator.addVault({ name: "lean-target" });
    const vault = await emulator.addVault({ name: "lean-source" });
    await vault.seedKeys({ count: 2, versions: 2, prefix: "lean" });
    const factory = createServices({ emulatorCaCert: emulator.caCert, maxOperationsPer10s: 0 }).vaultObjects;
    const noSpareBudget = (url: string) => ({ ...factory(url), spareBudget: () => 0 });
    // The first record of the restore batch is never written (the process died right after the restores).
    let recordRefused = false;
    const flakyStore: BackupStore = Object.create(store, {
      writeOnce: {
        value: async (path: string, data: Buffer) => {
          if (/\/restores\/\d{8}T\d{9}Z-lean-restore\/batches\//.test(path) && !recordRefused) {
            recordRefused = true;
            throw new Error("simulated crash before the batch record was written");
          }
          return store.writeOnce(path, data);
        },
      },
    });
    const activities = createActivityHandlers({ vaultObjects: noSpareBudget, store: flakyStore });
    const jobId = "lean-check";
    const startedAt = new Date().toISOString();
    const inventory = await activities[ActivityNames.takeInventory]!({ jobId, vaultUrl: vault.url, kinds: ["key"], include: [], exclude: [], startedAt, batchSize: 10, versionDetails: false });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await directClient(vault.url).updateKeyProperties("lean-00000", { tags: { changed: "after the inventory" } });
    const setInput = { jobId, backupSetId: inventory.backupSetId, vaultUrl: vault.url };
    await activities[ActivityNames.backupObjectBatch]!({ ...setInput, batchIndex: 0, keyConcurrency: 2 });
    const summary = await activities[ActivityNames.writeBackupManifest]!({ ...setInput, startedAt, endedAt: new Date().toISOString(), failedBatches: [] });
    const backupSetId = `${vaultFolder(vault.url)}/${inventory.backupSetId}`;
    const plan = await activities[ActivityNames.planRestore]!({ jobId: "lean-restore", startedAt, backupSetId, targetVaultUrl: target.url, include: [], exclude: [], verifyBlobs: false, batchSize: 10 });
    // After the plan found both names free, someone restores the older copy of lean-00001 into the target.
    await directClient(target.url).restoreKeyBackup(olderCopy);
    const input: RestoreObjectBatchInput = { jobId: "lean-restore", startedAt, backupSetId, targetVaultUrl: target.url, batchIndex: 0, keyConcurrency: 2, onConflict: "skip" };

    // Act: the batch, whose record is lost, then the same batch again
    await expect(activities[ActivityNames.restoreObjectBatch]!(input)).rejects.toThrow(/simulated crash/);
    const again: RestoreBatchResult = await activities[ActivityNames.restoreObjectBatch]!(input);

    // Assess
    expect(summary).toMatchObject({ state: "complete", versionDetails: false, keys: { succeeded: 2 } });
    expect(plan).toMatchObject({ toRestoreCount: 2, alreadyPresentCount: 0 });
    expect(again).toEqual({ batchIndex: 0, restored: 1, skipped: 1, failed: 0, byKind: { key: { restored: 1, skipped: 1, failed: 0 } } });
    const job = new RestoreJobPaths(new BackupSetPaths(vaultFolder(vault.url), inventory.backupSetId), "lean-restore", startedAt);
    const record = parseDocument(restoreBatchRecordSchema, job.batch(0), await store.read(job.batch(0)));
    expect(record.objects).toEqual([
      { kind: "key", name: "lean-00000", result: "alreadyInTarget" },
      { kind: "key", name: "lean-00001", result: "skipped", reason: "a key of that name already exists in the target vault" },
    ]);
    expect((await directClient(target.url).getKey("lean-00000")).properties.tags).toEqual({ changed: "after the inventory" });
  });

  it("when the inventory is retried after it took some backups without version details, their blobs are kept and no update time is recorded for them to match by", async () => {
    // Prepare: the first attempt of the inventory backs up keys with the idle budget, then dies before
    // writing the inventory.
    const vault = await emulator.addVault({ name: "lean-retry" });
    await vault.seedKeys({ count: 30, prefix: "retry" });
    let refused = false;
    const flakyStore: BackupStore = Object.create(store, {
      writeOnce: {
        value: async (path: string, data: Buffer) => {
          if (path.endsWith("/inventory.json") && !refused) {
            refused = true;
            throw new Error("simulated crash before the inventory was written");
          }
          return store.writeOnce(path, data);
        },
      },
    });
    const vaultObjects = createServices({ emulatorCaCert: emulator.caCert, maxOperationsPer10s: 0 }).vaultObjects;
    const activities = createActivityHandlers({ vaultObjects, store: flakyStore });
    const jobId = "lean-retry";
    const startedAt = new Date().toISOString();
    const inventoryInput = { jobId, vaultUrl: vault.url, kinds: ["key" as const], include: [], exclude: [], startedAt, batchSize: 50, versionDetails: false };

    // Act
    await expect(activities[ActivityNames.takeInventory]!(inventoryInput)).rejects.toThrow(/simulated crash/);
    const inventory = await activities[ActivityNames.takeInventory]!(inventoryInput);
    const setInput = { jobId, backupSetId: inventory.backupSetId, vaultUrl: vault.url };
    await activities[ActivityNames.backupObjectBatch]!({ ...setInput, batchIndex: 0, keyConcurrency: 4 });
    const summary = await activities[ActivityNames.writeBackupManifest]!({ ...setInput, startedAt, endedAt: new Date().toISOString(), failedBatches: [] });

    // Assess
    expect(summary).toMatchObject({ state: "complete", keys: { succeeded: 30, failed: 0 } });
    const paths = new BackupSetPaths(vaultFolder(vault.url), inventory.backupSetId);
    const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
    const succeeded = manifest.objects.filter((k) => k.result === "succeeded");
    const inventoryDoc = parseDocument(inventorySchema, paths.inventory, await store.read(paths.inventory));
    const earlier = new Set(inventoryDoc.toBackUp.filter((e) => e.earlierBlob).map((e) => e.name));
    expect(earlier.size).toBeGreaterThan(0);
    for (const key of succeeded) {
      // Only a key whose blob this listing saw being taken keeps the listed time as a lower bound.
      expect(key.updatedOn === undefined).toBe(earlier.has(key.name));
      expect(key.backedUpAt).toEqual(expect.any(String));
      expect(sha256Hex(await store.read(key.blobPath))).toBe(key.sha256);
    }
  });

  it.each([
    ["listing versions", true],
    ["without version details (a resumed restore matches keys by their update time)", false],
  ])("when activities run twice (a crash before the batch record, an answer lost after success), the backup writes each blob once and the restore counts every key restored, none skipped: %s", async (_label, versionDetails) => {
    // Prepare: the real activities, wrapped: the record of every odd batch fails to be written the first
    // time (as if the process died right before it), and the first answer of every third batch is lost
    // after the batch did its work.
    const run = versionDetails ? "twice" : "twice-lean";
    const vault = await emulator.addVault({ name: run });
    await vault.seedKeys({ count: 150, versions: 2, prefix: "twice" });
    const target = await emulator.addVault({ name: `${run}-target` });
    const original = await snapshotVault(directClient(vault.url));
    const recordsRefused = new Set<string>();
    const flakyStore: BackupStore = Object.create(store, {
      writeOnce: {
        value: async (path: string, data: Buffer) => {
          const batch = /\/batches\/(\d+)\.json$/.exec(path);
          if (batch && Number(batch[1]) % 2 === 1 && !recordsRefused.has(path)) {
            recordsRefused.add(path);
            throw new Error(`simulated crash before writing ${path}`);
          }
          return store.writeOnce(path, data);
        },
      },
    });
    const real = createActivityHandlers({ vaultObjects: createServices({ emulatorCaCert: emulator.caCert, maxOperationsPer10s: 0 }).vaultObjects, store: flakyStore });
    const answered = new Set<string>();
    let answersLost = 0;
    const losingAnswers = <I extends { batchIndex: number }, O>(name: string, fn: (input: I) => Promise<O>) => async (input: I): Promise<O> => {
      const result = await fn(input);
      const call = `${name}/${input.batchIndex}`;
      if (input.batchIndex % 3 === 0 && !answered.has(call)) {
        answered.add(call);
        answersLost++;
        throw new Error("simulated: the activity's answer was lost");
      }
      return result;
    };
    const activities = {
      ...forLocalHost(real),
      ...stubActivities({
        [ActivityNames.backupObjectBatch]: losingAnswers("backup", real[ActivityNames.backupObjectBatch]!),
        [ActivityNames.restoreObjectBatch]: losingAnswers("restore", real[ActivityNames.restoreObjectBatch]!),
      }),
    };
    const host = new LocalDurableHost({ orchestrators, activities, clock: "virtual", activityConcurrency: 6 });
    const retry = { ...DEFAULT_ACTIVITY_RETRY, maxAttempts: 8 };

    try {
      // Act
      const backupInput: VaultBackupInput = { vaultUrl: vault.url, include: [], exclude: [], versionDetails, tuning: TUNING, retry };
      await host.startNew(OrchestratorNames.vaultBackup, { instanceId: `${run}-backup`, input: backupInput });
      const backup = await host.waitForCompletion(`${run}-backup`, { timeoutMs: 150_000 });
      const summary = backup.output as BackupSummary;
      const root = setRoot(vault.url, summary.backupSetId);
      const afterBackup = await blobIdentities(azurite.connectionString, CONTAINER, `${root}/`);
      const restoreInput: VaultRestoreInput = {
        backupSetId: `${vaultFolder(vault.url)}/${summary.backupSetId}`, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "skip", tuning: TUNING, retry,
      };
      await host.startNew(OrchestratorNames.vaultRestore, { instanceId: `${run}-restore`, input: restoreInput });
      const restore = await host.waitForCompletion(`${run}-restore`, { timeoutMs: 150_000 });

      // Assess
      // Three of the backup's six batch records, three of the restore's.
      expect(recordsRefused.size).toBe(6);
      expect(answersLost).toBe(4);
      expect(backup.runtimeStatus).toBe("Completed");
      expect(summary.keys).toEqual({ total: 150, succeeded: 150, failed: 0, skipped: 0 });
      expect(summary.versionDetails).toBe(versionDetails);
      expect(summary.versions).toBe(versionDetails ? 300 : 0);
      const audit = await auditBackupSet(store, root, vault.listKeyNames());
      expect(audit.problems).toEqual([]);
      expect(audit.blobCount).toBe(150);
      expect(restore.runtimeStatus).toBe("Completed");
      expect((restore.output as RestoreSummary).keys).toEqual({ total: 150, succeeded: 150, failed: 0, skipped: 0 });
      expect(compareSnapshots(original, await snapshotVault(directClient(target.url)))).toEqual([]);
      expect(changedBlobs(afterBackup, await blobIdentities(azurite.connectionString, CONTAINER, `${root}/`))).toEqual([]);
    } finally {
      await host.close();
    }
  }, 180_000);
});
