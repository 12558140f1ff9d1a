import { LocalRuntime } from "../../src/local/runtime";
import { compareSnapshots, countVersions, deleteAndPurge, snapshotVault } from "../../src/local/vault-snapshot";
import { startTestEnvironment, type TestEnvironment } from "../helpers/environment";

describe("per-key backup and restore of a Managed HSM's keys", () => {
  let env: TestEnvironment;
  let runtime: LocalRuntime;

  beforeAll(async () => {
    // The emulator's realistic defaults: deletes, recovers and purges take their time.
    env = await startTestEnvironment({ latencyMs: 0, hsm: { jobDurationMs: 50 } });
    runtime = new LocalRuntime({ store: env.store("hsmperkey"), emulatorCaCert: env.emulator.caCert });
  });
  afterAll(async () => {
    await runtime?.close();
    await env?.stop();
  });

  it("when an HSM URL is given as the vault, AES-256, RSA and EC keys are backed up one by one and every version is identical after restore", async () => {
    // Prepare: AES-256 (oct-HSM), RSA and EC keys, several versions each, seeded and created through the SDK
    const hsmUrl = env.emulator.hsmUrl!;
    const hsm = env.emulator.hsm!;
    await hsm.seedKeys({ count: 4, versions: 3, prefix: "hsm-rsa", kty: "RSA", tags: { tier: "hsm" } });
    await hsm.seedKeys({ count: 4, versions: 3, prefix: "hsm-aes", kty: "oct" });
    await hsm.seedKeys({ count: 2, versions: 2, prefix: "hsm-ec", kty: "EC" });
    const client = env.keyClient(hsmUrl);
    for (let v = 0; v < 3; v++) {
      await client.createOctKey("cmk-storage", { hsm: true, keySize: 256, tags: { rotation: String(v) } });
      await client.createEcKey("signing-p384", { curve: "P-384", hsm: true });
      await client.createRsaKey("wrapping-rsa", { keySize: 3072 });
    }
    const original = await snapshotVault(client);
    const names = [...original.keys()];
    const digests = new Map(names.map((name) => [name, hsm.materialDigests(name)]));
    const types = new Map<string, string>();
    for (const name of names) types.set(name, (await client.getKey(name)).keyType!);
    expect(new Set(types.values())).toEqual(new Set(["RSA-HSM", "oct-HSM", "EC-HSM"]));
    expect(countVersions(original)).toBe(12 + 12 + 4 + 9);

    // Act: back up per key, delete and purge everything (at the HSM's pace), restore per key
    const backup = await (await runtime.startBackup({ vaultUrl: hsmUrl, kinds: ["key"], include: [], exclude: [] })).result;
    expect(backup.output?.keys).toEqual({ total: 13, succeeded: 13, failed: 0, skipped: 0 });
    expect(hsm.stats().operations["backupKey"]).toBe(13);
    await deleteAndPurge(client, names);
    expect(hsm.keyCount()).toBe(0);
    const restore = await (await runtime.startRestore({ backupSetId: backup.output!.backupSetId, include: [], exclude: [], dryRun: false, onConflict: "fail" })).result;

    // Assess: every version back, public parts, attributes and tags as listed, and the private material
    // (what no client sees, an AES key's bytes above all) the very same
    expect(restore.output?.keys).toEqual({ total: 13, succeeded: 13, failed: 0, skipped: 0 });
    expect(compareSnapshots(original, await snapshotVault(client))).toEqual([]);
    for (const name of names) {
      expect({ name, digests: hsm.materialDigests(name) }).toEqual({ name, digests: digests.get(name) });
      expect({ name, kty: (await client.getKey(name)).keyType }).toEqual({ name, kty: types.get(name) });
    }
    expect(Object.keys(digests.get("cmk-storage")!)).toHaveLength(3);
  });
});
