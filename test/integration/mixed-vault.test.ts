import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServices, directVaultClients } from "../../src/composition";
import { ActivityNames } from "../../src/contracts";
import { createActivityHandlers } from "../../src/registry";
import type { EmulatedVault } from "../../src/emulator/types";
import { LocalRuntime } from "../../src/local/runtime";
import { compareContents, countContents, emptyVault, snapshotContents, type VaultClients, type VaultContents } from "../../src/local/vault-contents";
import { BackupSetPaths, manifestSchema, parseDocument, sha256Hex, vaultFolder, type Manifest } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { listBackupSets } from "../../src/storage/catalog";
import { FileBackupStore } from "../../src/storage/file-store";
import { startTestEnvironment, type TestEnvironment } from "../helpers/environment";

/**
 * A vault of every kind (keys, secrets with several versions and content types, certificates with their
 * keys and secrets) backed up and restored whole, through Blob Storage (Azurite) and through a folder:
 * every object comes back as it was (secret values read back by this test through the SDK; the emulator's
 * digests of what no client can read, private key material above all), and kvbackup never asks for a
 * secret's value.
 */
const KEYS = 12, SECRETS = 10, CERTIFICATES = 4;

/** Requests that would read a secret's value (Get Secret; Get Deleted Secret needs the same permission). */
const VALUE_READS = ["getSecret", "getDeletedSecret"];

function valueReads(vault: EmulatedVault): Record<string, number> {
  const ops = vault.stats().operations;
  return Object.fromEntries(VALUE_READS.filter((op) => (ops[op] ?? 0) > 0).map((op) => [op, ops[op]!]));
}

/** Every object's private digest as the emulator holds it: what a restore must bring back byte for byte. */
function digests(vault: EmulatedVault) {
  return {
    keys: Object.fromEntries(vault.listKeyNames().map((n) => [n, vault.materialDigests(n)])),
    secrets: Object.fromEntries(vault.listSecretNames().map((n) => [n, vault.secretDigests(n)])),
    certificates: Object.fromEntries(vault.listCertificateNames().map((n) => [n, vault.certificateDigests(n)])),
  };
}

describe.each(["blob container", "local folder"])("a vault of keys, secrets and certificates, backed up and restored whole, into a %s", (storeKind) => {
  let env: TestEnvironment;
  let store: BackupStore;
  let runtime: LocalRuntime;
  let folder: string | undefined;
  let source: EmulatedVault;
  let clients: VaultClients;
  let original: VaultContents;
  let originalDigests: ReturnType<typeof digests>;
  let backupSetId: string;
  let manifest: Manifest;

  beforeAll(async () => {
    env = await startTestEnvironment({ latencyMs: 0 });
    if (storeKind === "local folder") {
      folder = await mkdtemp(join(tmpdir(), "kvbackup-mixed-"));
      store = new FileBackupStore(folder);
    } else {
      store = env.store("mixed");
    }
    runtime = new LocalRuntime({ store, emulatorCaCert: env.emulator.caCert });
    source = await env.emulator.addVault({ name: "mixed-source" });
    await source.seedKeys({ count: KEYS, versions: 2, prefix: "key" });
    await source.seedSecrets({ count: SECRETS, versions: 3, prefix: "secret" });
    await source.seedCertificates({ count: CERTIFICATES, versions: 2, prefix: "cert" });
    clients = directVaultClients(source.url, { emulatorCaCert: env.emulator.caCert, maxRetries: 6 });
    original = await snapshotContents(clients);
    originalDigests = digests(source);
  }, 120_000);

  afterAll(async () => {
    await runtime?.close();
    await env?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("when the vault is backed up, every object of every kind is in the set, a certificate's key and secret are recorded with it, and no secret value was asked for", async () => {
    expect(countContents(original)).toMatchObject({ keys: KEYS + CERTIFICATES, secrets: SECRETS + CERTIFICATES, certificates: CERTIFICATES });
    source.resetStats();

    const backup = await (await runtime.startBackup({ vaultUrl: source.url, include: [], exclude: [] })).result;

    expect(backup.status.runtimeStatus).toBe("Completed");
    const summary = backup.output!;
    backupSetId = summary.backupSetId;
    const all = (n: number) => ({ total: n, succeeded: n, failed: 0, skipped: 0 });
    expect(summary).toMatchObject({
      state: "complete",
      objects: all(KEYS + SECRETS + 3 * CERTIFICATES),
      keys: all(KEYS + CERTIFICATES),
      kinds: { keys: all(KEYS + CERTIFICATES), secrets: all(SECRETS + CERTIFICATES), certificates: all(CERTIFICATES) },
      failures: [],
      skipped: [],
    });
    expect(summary.versions).toBe(KEYS * 2 + SECRETS * 3 + CERTIFICATES * 2);
    expect(valueReads(source)).toEqual({});
    // A certificate's key and secret are backed up inside its backup, never on their own.
    expect(source.stats().operations["backupKey"]).toBe(KEYS);
    expect(source.stats().operations["backupSecret"]).toBe(SECRETS);
    expect(source.stats().operations["backupCertificate"]).toBe(CERTIFICATES);

    const paths = new BackupSetPaths(vaultFolder(source.url), backupSetId);
    manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
    expect(manifest.kinds).toEqual(["certificate", "key", "secret"]);
    expect(manifest.objects.filter((o) => o.result === "withCertificate").map((o) => `${o.kind}:${o.name}`)).toEqual([
      ...["cert-00000", "cert-00001", "cert-00002", "cert-00003"].map((n) => `key:${n}`),
      ...["cert-00000", "cert-00001", "cert-00002", "cert-00003"].map((n) => `secret:${n}`),
    ]);
    for (const o of manifest.objects) {
      if (o.result !== "succeeded") continue;
      expect(o.blobPath).toBe(paths.blob(o.kind, o.name));
      expect(sha256Hex(await store.read(o.blobPath))).toBe(o.sha256);
    }
    expect(manifest.objects.find((o) => o.kind === "secret" && o.name === "secret-00000")).toMatchObject({ result: "succeeded", versionCount: 3 });
    const [listed] = await listBackupSets(store, source.url);
    expect(listed).toMatchObject({ backupSetId, state: "complete", objects: all(KEYS + SECRETS + 3 * CERTIFICATES), kinds: { secrets: all(SECRETS + CERTIFICATES) } });
  });

  it("when every object is deleted and purged and the set restored, everything comes back as it was, certificates with their keys and secrets, none reported failed, and no secret value was asked for", async () => {
    if (!backupSetId) throw new Error("this test restores the set of the previous test, which did not finish");
    await emptyVault(clients);
    expect([source.keyCount(), source.secretCount(), source.certificateCount()]).toEqual([0, 0, 0]);
    source.resetStats();

    // Into the vault it was taken from, right after the purges (names still settling are waited for).
    const restore = await (await runtime.startRestore({ backupSetId, include: [], exclude: [], dryRun: false, onConflict: "fail" })).result;

    expect(restore.status.runtimeStatus).toBe("Completed");
    const all = (n: number) => ({ total: n, succeeded: n, failed: 0, skipped: 0 });
    expect(restore.output).toMatchObject({
      objects: all(KEYS + SECRETS + 3 * CERTIFICATES),
      kinds: { keys: all(KEYS + CERTIFICATES), secrets: all(SECRETS + CERTIFICATES), certificates: all(CERTIFICATES) },
      failures: [],
      skipped: [],
    });
    expect(valueReads(source)).toEqual({});
    expect(source.stats().operations["restoreCertificate"]).toBeGreaterThanOrEqual(CERTIFICATES);
    expect(source.stats().operations["restoreKey"]).toBeGreaterThanOrEqual(KEYS);
    // Names still being purged answer 409 until they settle: those restores are tried again.
    expect(source.stats().operations["restoreSecret"]).toBeGreaterThanOrEqual(SECRETS);
    // Read back by this test: values, content types, tags, certificates, public keys.
    expect(compareContents(original, await snapshotContents(clients))).toEqual([]);
    // What no client reads: private key material, and the certificates' keys and secrets.
    expect(digests(source)).toEqual(originalDigests);
  });
});

describe("a vault of every kind, in part", () => {
  let env: TestEnvironment;
  let store: BackupStore;
  let runtime: LocalRuntime;
  let source: EmulatedVault;
  let backupSetId: string;

  beforeAll(async () => {
    env = await startTestEnvironment({ latencyMs: 0 });
    store = env.store("mixedpart");
    runtime = new LocalRuntime({ store, emulatorCaCert: env.emulator.caCert });
    source = await env.emulator.addVault({ name: "part-source" });
    await source.seedKeys({ count: 5, prefix: "key" });
    await source.seedSecrets({ count: 5, versions: 2, prefix: "db" });
    await source.seedCertificates({ count: 2, prefix: "web" });
    const backup = await (await runtime.startBackup({ vaultUrl: source.url, include: [], exclude: [] })).result;
    backupSetId = backup.output!.backupSetId;
  }, 120_000);

  afterAll(async () => {
    await runtime?.close();
    await env?.stop();
  });

  it("when only keys are backed up, a certificate's keys are skipped with the reason and no secret or certificate is looked at", async () => {
    source.resetStats();
    const backup = await (await runtime.startBackup({ vaultUrl: source.url, kinds: ["key"], include: [], exclude: [] })).result;
    expect(backup.output).toMatchObject({
      keys: { total: 7, succeeded: 5, failed: 0, skipped: 2 },
      kinds: { secrets: { total: 0 }, certificates: { total: 0 } },
      state: "complete",
    });
    expect(backup.output!.skipped).toEqual([
      { kind: "key", name: "web-00000", reason: expect.stringContaining("--kinds certificates") },
      { kind: "key", name: "web-00001", reason: expect.stringContaining("--kinds certificates") },
    ]);
    const ops = Object.keys(source.stats().operations);
    expect(ops.filter((op) => /Secret|Certificate/.test(op))).toEqual([]);
  });

  it("when globs name a kind, only objects of that kind match them, and a certificate's key and secret follow their certificate", async () => {
    const backup = await (await runtime.startBackup({ vaultUrl: source.url, include: ["secret:db-0000[0-2]", "certificate:*"], exclude: ["certificate:web-00001"] })).result;
    expect(backup.output).toMatchObject({
      objects: { total: 6, succeeded: 6 },
      kinds: { keys: { total: 1 }, secrets: { total: 4 }, certificates: { total: 1 } },
    });
  });

  it("when only secrets are restored, the plain secrets come back and a certificate's secrets are skipped as coming back only with their certificate", async () => {
    const target = await env.emulator.addVault({ name: "part-secrets" });
    const restore = await (await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, kinds: ["secret"], include: [], exclude: [], dryRun: false, onConflict: "fail" })).result;
    expect(restore.output).toMatchObject({
      objects: { total: 7, succeeded: 5, failed: 0, skipped: 2 },
      kinds: { secrets: { total: 7, succeeded: 5, skipped: 2 }, keys: { total: 0 }, certificates: { total: 0 } },
    });
    expect(restore.output!.skipped.map((s) => [s.kind, s.name, s.reason.includes("certificate")])).toEqual([
      ["secret", "web-00000", true],
      ["secret", "web-00001", true],
    ]);
    expect([target.keyCount(), target.secretCount(), target.certificateCount()]).toEqual([0, 5, 0]);
  });

  it("when a dry run plans a restore over the vault it came from, it counts each kind's taken names and changes nothing", async () => {
    source.resetStats();
    const dry = await (await runtime.startRestore({ backupSetId, include: [], exclude: [], dryRun: true, onConflict: "skip" })).result;
    expect(Object.keys(source.stats().operations).filter((op) => op.startsWith("restore"))).toEqual([]);
    const taken = (n: number, withCertificate = 0) => expect.objectContaining({ selected: n + withCertificate, toRestore: 0, alreadyPresent: n, withCertificate });
    expect(dry.output!.plan!.kinds).toEqual({ keys: taken(5, 2), secrets: taken(5, 2), certificates: taken(2) });
    expect(dry.output!.plan!.alreadyPresent).toEqual(expect.arrayContaining(["certificate:web-00000", "key-00000", "secret:db-00004"]));
    expect(dry.output!.objects).toEqual({ total: 16, succeeded: 0, failed: 0, skipped: 16 });
  });

  it("when a name a certificate needs is held by a key in the target, that certificate and its key and secret are skipped, each with its reason, and the rest is restored", async () => {
    const target = await env.emulator.addVault({ name: "part-conflict" });
    const targetClients = directVaultClients(target.url, { emulatorCaCert: env.emulator.caCert });
    await targetClients.keys.createEcKey("web-00001");
    const restore = await (await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "skip" })).result;
    expect(restore.output).toMatchObject({ objects: { total: 16, succeeded: 13, failed: 0, skipped: 3 } });
    expect(restore.output!.skipped).toEqual([
      { kind: "certificate", name: "web-00001", reason: "a key of that name already exists in the target vault" },
      { kind: "key", name: "web-00001", reason: expect.stringContaining("its certificate, which was skipped") },
      { kind: "secret", name: "web-00001", reason: expect.stringContaining("its certificate, which was skipped") },
    ]);
    expect(target.listCertificateNames()).toEqual(["web-00000"]);
  });

  it("when a secret has more versions than the service backs up, it ends failed with the service's reason and the rest of the vault is backed up", async () => {
    const vault = await env.emulator.addVault({ name: "part-huge" });
    await vault.seedSecrets({ count: 2, prefix: "ok" });
    await vault.seedSecrets({ count: 1, versions: 501, prefix: "huge" });
    await vault.seedKeys({ count: 2, prefix: "key" });
    const backup = await (await runtime.startBackup({ vaultUrl: vault.url, include: [], exclude: [] })).result;
    expect(backup.output).toMatchObject({ state: "partial", objects: { total: 5, succeeded: 4, failed: 1, skipped: 0 }, kinds: { secrets: { total: 3, failed: 1 } } });
    expect(backup.output!.failures).toEqual([{ kind: "secret", name: "huge-00000", reason: expect.stringContaining("more than 500 versions") }]);
  });

  it("when a secret gets a new version between the inventory and its backup, the manifest notes the rotation and records the version the backup holds", async () => {
    // Prepare: the activities one by one, without spare budget (so the inventory lists no versions itself).
    const vault = await env.emulator.addVault({ name: "part-rotation" });
    await vault.seedSecrets({ count: 3, versions: 2, prefix: "rot" });
    const objects = createServices({ emulatorCaCert: env.emulator.caCert, maxOperationsPer10s: 0 }).vaultObjects;
    const activities = createActivityHandlers({ vaultObjects: (url: string) => ({ ...objects(url), spareBudget: () => 0 }), store });
    const jobId = "rotation";
    const startedAt = new Date().toISOString();
    const inventory = await activities[ActivityNames.takeInventory]!({ jobId, vaultUrl: vault.url, kinds: ["secret"], include: [], exclude: [], startedAt, batchSize: 10, versionDetails: true });
    // The vault's clock counts whole seconds: the new version must come a second after the listing.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const rotated = await directVaultClients(vault.url, { emulatorCaCert: env.emulator.caCert }).secrets.setSecret("rot-00001", "rotated while the job ran");

    // Act
    const setInput = { jobId, backupSetId: inventory.backupSetId, vaultUrl: vault.url };
    await activities[ActivityNames.backupObjectBatch]!({ ...setInput, batchIndex: 0, keyConcurrency: 2 });
    await activities[ActivityNames.writeBackupManifest]!({ ...setInput, startedAt, endedAt: new Date().toISOString(), failedBatches: [] });

    // Assess
    const paths = new BackupSetPaths(vaultFolder(vault.url), inventory.backupSetId);
    const written = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
    const byName = new Map(written.objects.map((o) => [o.name, o]));
    expect(byName.get("rot-00001")).toMatchObject({ result: "succeeded", versionCount: 3, latestVersion: rotated.properties.version, rotatedDuringBackup: { listedUpdatedOn: expect.any(String) } });
    expect(byName.get("rot-00000")).not.toHaveProperty("rotatedDuringBackup");
  });
});
