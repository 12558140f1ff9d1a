import { LocalRuntime } from "../../src/local/runtime";
import { compareSnapshots, countVersions, snapshotVault } from "../../src/local/vault-snapshot";
import { BackupSetPaths, inventorySchema, manifestSchema, parseDocument, sha256Hex, vaultFolder } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listBackupSets } from "../../src/storage/catalog";
import { FileBackupStore } from "../../src/storage/file-store";
import { startTestEnvironment, type TestEnvironment } from "../helpers/environment";

/** Every object of a store, path → sha256: to prove that something wrote nothing. */
async function storeContents(store: BackupStore): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  for await (const item of store.list("")) contents.set(item.path, sha256Hex(await store.read(item.path)));
  return contents;
}

describe.each(["blob container", "local folder"])("vault backup and restore, end to end over the emulator, into a %s", (storeKind) => {
  let env: TestEnvironment;
  let store: BackupStore;
  let runtime: LocalRuntime;
  let folder: string | undefined;

  beforeAll(async () => {
    env = await startTestEnvironment({ latencyMs: 0 });
    if (storeKind === "local folder") {
      folder = await mkdtemp(join(tmpdir(), "kvbackup-sets-"));
      store = new FileBackupStore(folder);
    } else {
      store = env.store("roundtrip");
    }
    runtime = new LocalRuntime({ store, emulatorCaCert: env.emulator.caCert });
  });

  afterAll(async () => {
    await runtime?.close();
    await env?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("when 300 keys with 3 versions are backed up and restored into an empty vault, every version matches the original", async () => {
    await env.emulator.vault.seedKeys({ count: 300, versions: 3, prefix: "rt", tags: { team: "a" } });
    const source = env.keyClient(env.emulator.vaultUrl);
    const original = await snapshotVault(source);
    expect(original.size).toBe(300);

    const backup = await (await runtime.startBackup({ vaultUrl: env.emulator.vaultUrl, include: [], exclude: [] })).result;
    expect(backup.status.runtimeStatus).toBe("Completed");
    const summary = backup.output!;
    expect(summary.keys).toEqual({ total: 300, succeeded: 300, failed: 0, skipped: 0 });
    expect(summary.versions).toBe(900);
    expect(summary.state).toBe("complete");

    // The manifest lists every key, and every blob's SHA-256 matches it.
    const paths = new BackupSetPaths(vaultFolder(env.emulator.vaultUrl), summary.backupSetId);
    const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
    expect(manifest.objects.map((k) => k.name).sort()).toEqual([...original.keys()].sort());
    for (const key of manifest.objects) {
      if (key.result !== "succeeded") throw new Error(`${key.name} not backed up`);
      expect(key.versionCount).toBe(3);
      expect(sha256Hex(await store.read(key.blobPath))).toBe(key.sha256);
    }

    const target = await env.emulator.addVault();
    const restore = await (
      await runtime.startRestore({ backupSetId: summary.backupSetId, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "fail" })
    ).result;
    expect(restore.output?.keys).toEqual({ total: 300, succeeded: 300, failed: 0, skipped: 0 });
    const restored = await snapshotVault(env.keyClient(target.url));
    expect(countVersions(restored)).toBe(900);
    expect(compareSnapshots(original, restored)).toEqual([]);
  });

  it("when a job id is given again to a new restore job (another state folder), that job makes its own plan and restores into the vault it names", async () => {
    // Prepare: a small set, and one restore job id used by two runs that share no job state
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 5, versions: 2, prefix: "again" });
    const original = await snapshotVault(env.keyClient(vault.url));
    const backup = (await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result).output!;
    const first = await env.emulator.addVault();
    const second = await env.emulator.addVault();
    const restoreInto = async (targetVaultUrl: string, dryRun: boolean) => {
      const fresh = new LocalRuntime({ store, emulatorCaCert: env.emulator.caCert });
      try {
        return (await (await fresh.startRestore({ backupSetId: backup.backupSetId, targetVaultUrl, include: [], exclude: [], dryRun, onConflict: "skip" }, "drill")).result).output!;
      } finally {
        await fresh.close();
      }
    };

    // Act: a dry run, then two real restores into two vaults, all as job "drill"
    const plan = await restoreInto(first.url, true);
    const intoFirst = await restoreInto(first.url, false);
    const intoSecond = await restoreInto(second.url, false);

    // Assess: each run is its own job: the real ones restored, each into its own vault, every version
    expect(plan.dryRun).toBe(true);
    expect(intoFirst).toMatchObject({ dryRun: false, targetVaultUrl: first.url, keys: { total: 5, succeeded: 5, failed: 0, skipped: 0 } });
    expect(intoSecond).toMatchObject({ dryRun: false, targetVaultUrl: second.url, keys: { total: 5, succeeded: 5, failed: 0, skipped: 0 } });
    expect(new Set([plan.reportPath, intoFirst.reportPath, intoSecond.reportPath]).size).toBe(3);
    expect(compareSnapshots(original, await snapshotVault(env.keyClient(first.url)))).toEqual([]);
    expect(compareSnapshots(original, await snapshotVault(env.keyClient(second.url)))).toEqual([]);
  });

  it("when backed up without version details, it calls the vault once per key, the manifest says so, and the restore brings back every version", async () => {
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 40, versions: 3, prefix: "lean" });
    const original = await snapshotVault(env.keyClient(vault.url));
    vault.resetStats();

    const backup = await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [], versionDetails: false })).result;
    const summary = backup.output!;
    expect(summary).toMatchObject({ state: "complete", versionDetails: false, versions: 0, keys: { total: 40, succeeded: 40, failed: 0, skipped: 0 } });
    // One backupKey per key and the lists' pages (one each of the empty secret and certificate lists): no version listing.
    const operations = vault.stats().operations;
    expect(operations["backupKey"]).toBe(40);
    expect(operations["getKeyVersions"] ?? 0).toBe(0);
    expect(Object.keys(operations).sort()).toEqual(["backupKey", "getCertificates", "getKeys", "getSecrets"]);
    expect([operations["getSecrets"], operations["getCertificates"]]).toEqual([1, 1]);

    const paths = new BackupSetPaths(vaultFolder(vault.url), summary.backupSetId);
    const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
    expect(manifest.versionDetails).toBe(false);
    // Backups the inventory took while paging are recorded like the others, each key backed up once.
    const inventory = parseDocument(inventorySchema, paths.inventory, await store.read(paths.inventory));
    expect(inventory.toBackUp.filter((e) => e.backup).length).toBeGreaterThan(0);
    const [listed] = await listBackupSets(store, vault.url);
    expect(listed).toMatchObject({ backupSetId: summary.backupSetId, state: "complete", keys: { succeeded: 40 } });
    expect(listed!.versions).toBeUndefined();
    for (const key of manifest.objects) {
      if (key.result !== "succeeded") throw new Error(`${key.name} not backed up`);
      expect(key.versionCount).toBeUndefined();
      expect(key.latestVersion).toBeUndefined();
      expect(key.updatedOn).toEqual(expect.any(String));
      expect(Date.parse(key.backedUpAt!)).toBeGreaterThanOrEqual(Date.parse(key.updatedOn!));
      expect(sha256Hex(await store.read(key.blobPath))).toBe(key.sha256);
    }

    const target = await env.emulator.addVault();
    const restore = await (
      await runtime.startRestore({ backupSetId: summary.backupSetId, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "fail" })
    ).result;
    expect(restore.output?.keys).toEqual({ total: 40, succeeded: 40, failed: 0, skipped: 0 });
    expect(compareSnapshots(original, await snapshotVault(env.keyClient(target.url)))).toEqual([]);
  });

  describe("with a small backup set", () => {
    let backupSetId: string;
    let paths: BackupSetPaths;
    let vaultUrl: string;

    beforeAll(async () => {
      const vault = await env.emulator.addVault();
      vaultUrl = vault.url;
      await vault.seedKeys({ count: 12, versions: 2, prefix: "small" });
      await vault.seedKeys({ count: 2, prefix: "cert", managed: true });
      const backup = await (await runtime.startBackup({ vaultUrl, include: [], exclude: [] })).result;
      backupSetId = backup.output!.backupSetId;
      paths = new BackupSetPaths(vaultFolder(vaultUrl), backupSetId);
    });

    it("when keys back a certificate, they are recorded as skipped with the reason, not as failures", async () => {
      const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
      expect(manifest.counts).toMatchObject({ total: 14, succeeded: 12, failed: 0, skipped: 2 });
      const skipped = manifest.objects.filter((k) => k.result === "skipped");
      expect(skipped.map((k) => k.name)).toEqual(["cert-00000", "cert-00001"]);
      expect(skipped[0]).toMatchObject({ reason: expect.stringContaining("certificate") });
      expect(manifest.state).toBe("complete");
    });

    it("when the whole set is restored, the keys skipped at backup are reported as skipped again, not as failures", async () => {
      const target = await env.emulator.addVault();
      const result = await (await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "fail" })).result;
      expect(result.output!.keys).toEqual({ total: 14, succeeded: 12, failed: 0, skipped: 2 });
      expect(result.output!.skipped.map((k) => k.name)).toEqual(["cert-00000", "cert-00001"]);
      expect(target.keyCount()).toBe(12);
    });

    it("when it is a dry run, it returns the plan, changes nothing in the vault, and writes to the store only its own plan and report", async () => {
      const before = await storeContents(store);
      const target = await env.emulator.addVault();
      await target.seedKeys({ count: 1, prefix: "small", startIndex: 3 });
      const handle = await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, include: ["small-*"], exclude: [], dryRun: true, onConflict: "skip" });
      const result = await handle.result;
      const plan = result.output!.plan!;
      expect(plan.toRestoreCount).toBe(11);
      expect(plan.toRestore).toHaveLength(11);
      expect(plan.alreadyPresent).toEqual(["small-00003"]);
      expect(result.output!.keys).toEqual({ total: 12, succeeded: 11, failed: 0, skipped: 1 });
      expect(target.listKeyNames()).toEqual(["small-00003"]);
      expect(target.stats().operations["restoreKey"] ?? 0).toBe(0);
      const after = await storeContents(store);
      const jobFolder = result.output!.reportPath.replace(/report\.json$/, "");
      expect(jobFolder).toMatch(new RegExp(`^${paths.root}/restores/\\d{8}T\\d{9}Z-${handle.jobId}/$`));
      expect([...after.keys()].filter((p) => !before.has(p)).sort()).toEqual([`${jobFolder}plan.json`, `${jobFolder}report.json`]);
      for (const [path, hash] of before) expect(after.get(path)).toBe(hash);
      expect(result.output!.reportPath).toBe(`${jobFolder}report.json`);
    });

    it("when a name exists and the policy is skip, it is reported as skipped and the rest are restored", async () => {
      const target = await env.emulator.addVault();
      await target.seedKeys({ count: 1, prefix: "small", startIndex: 5 });
      const result = await (await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, include: ["small-*"], exclude: [], dryRun: false, onConflict: "skip" })).result;
      expect(result.output!.keys).toEqual({ total: 12, succeeded: 11, failed: 0, skipped: 1 });
      expect(result.output!.skipped).toEqual([{ kind: "key", name: "small-00005", reason: expect.stringContaining("already exists") }]);
      expect(target.keyCount()).toBe(12);
    });

    it("when a name exists and the policy is fail, the job fails before changing anything", async () => {
      const target = await env.emulator.addVault();
      await target.seedKeys({ count: 1, prefix: "small", startIndex: 7 });
      const result = await (await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "fail" })).result;
      expect(result.status.runtimeStatus).toBe("Failed");
      expect(result.status.failureDetails?.errorMessage).toContain("small-00007");
      expect(target.listKeyNames()).toEqual(["small-00007"]);
      expect(target.stats().operations["restoreKey"] ?? 0).toBe(0);
    });

    it("when a blob of the set is damaged, that key is refused and reported and the others restore", async () => {
      const copyId = await copySetWithDamagedBlob(store, paths, "small-00002");
      const target = await env.emulator.addVault();
      const dry = await (await runtime.startRestore({ backupSetId: copyId, targetVaultUrl: target.url, include: ["small-*"], exclude: [], dryRun: true, onConflict: "skip" })).result;
      expect(dry.output!.plan!.missingOrDamaged).toEqual([{ kind: "key", name: "small-00002", reason: expect.stringContaining("damaged") }]);

      const result = await (await runtime.startRestore({ backupSetId: copyId, targetVaultUrl: target.url, include: ["small-*"], exclude: [], dryRun: false, onConflict: "skip" })).result;
      expect(result.output!.keys).toEqual({ total: 12, succeeded: 11, failed: 1, skipped: 0 });
      expect(result.output!.failures).toEqual([{ kind: "key", name: "small-00002", reason: expect.stringContaining("SHA-256") }]);
      expect(target.listKeyNames()).not.toContain("small-00002");
      expect(target.keyCount()).toBe(11);
    });
  });

  it("when a second backup of the vault is taken, the files of the first are untouched", async () => {
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 6, versions: 2, prefix: "twice" });
    const first = (await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result).output!;
    const before = await storeContents(store);
    const second = (await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result).output!;
    expect(second.backupSetId).not.toBe(first.backupSetId);
    const after = await storeContents(store);
    for (const [path, hash] of before) expect(after.get(path)).toBe(hash);
    const firstRoot = `${vaultFolder(vault.url)}/${first.backupSetId}/`;
    expect([...after.keys()].filter((p) => p.startsWith(firstRoot))).toEqual([...before.keys()].filter((p) => p.startsWith(firstRoot)));
  });

  it("when a key fails every retry, it is reported failed in the manifest and the set is partial", async () => {
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 3, prefix: "ok" });
    // The service refuses to back up a key with more than 500 versions: a failure no retry fixes.
    await vault.seedKeys({ count: 1, versions: 501, prefix: "huge" });
    const backup = await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result;
    expect(backup.output!.keys).toEqual({ total: 4, succeeded: 3, failed: 1, skipped: 0 });
    expect(backup.output!.state).toBe("partial");
    expect(backup.output!.failures).toEqual([{ kind: "key", name: "huge-00000", reason: expect.any(String) }]);
    const paths = new BackupSetPaths(vaultFolder(vault.url), backup.output!.backupSetId);
    const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
    expect(manifest.objects.find((k) => k.name === "huge-00000")).toMatchObject({ result: "failed" });
  });
});

/** Copies a set under a new job id (the original stays intact) with one blob's bytes flipped. */
async function copySetWithDamagedBlob(store: BackupStore, paths: BackupSetPaths, keyName: string): Promise<string> {
  const copyId = paths.backupSetId.replace(/-[^-]+$/, "-damagedcopy");
  const copy = new BackupSetPaths(paths.vaultFolderName, copyId);
  for await (const item of store.list(`${paths.root}/`)) {
    // The set's own files only, not the documents of restores of it.
    if (item.path.startsWith(`${paths.root}/restores/`)) continue;
    let data = await store.read(item.path);
    const relative = item.path.slice(paths.root.length);
    if (item.path === paths.blob("key", keyName)) {
      data = Buffer.from(data);
      data[10] = data[10]! ^ 0xff;
    }
    if (item.path === paths.manifest) {
      data = Buffer.from(data.toString("utf8").split(paths.root).join(copy.root).split(paths.backupSetId).join(copyId));
    }
    await store.writeOnce(`${copy.root}${relative}`, data);
  }
  return copyId;
}
