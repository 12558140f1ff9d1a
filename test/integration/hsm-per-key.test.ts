import { LocalRuntime } from "../../src/local/runtime";
import { compareSnapshots, countVersions, deleteAndPurge, snapshotVault } from "../../src/local/vault-snapshot";
import { startTestEnvironment, type TestEnvironment } from "../helpers/environment";

describe("per-key backup and restore of a Managed HSM's keys", () => {
  let env: TestEnvironment;
  let runtime: LocalRuntime;

  beforeAll(async () => {
    env = await startTestEnvironment({ latencyMs: 0, hsm: { jobDurationMs: 50 } });
    runtime = new LocalRuntime({ store: env.store("hsmperkey"), emulatorCaCert: env.emulator.caCert });
  });
  afterAll(async () => {
    await runtime?.close();
    await env?.stop();
  });

  it("when an HSM URL is given as the vault, every key is backed up on its own and every version is identical after restore", async () => {
    const hsmUrl = env.emulator.hsmUrl!;
    await env.emulator.hsm!.seedKeys({ count: 8, versions: 3, prefix: "hsmkey", kty: "RSA", tags: { tier: "hsm" } });
    const client = env.keyClient(hsmUrl);
    const original = await snapshotVault(client);
    expect(countVersions(original)).toBe(24);

    const backup = await (await runtime.startBackup({ vaultUrl: hsmUrl, include: [], exclude: [] })).result;
    expect(backup.output?.keys).toEqual({ total: 8, succeeded: 8, failed: 0, skipped: 0 });
    expect(env.emulator.hsm!.stats().operations["backupKey"]).toBe(8);

    await deleteAndPurge(client, [...original.keys()]);
    expect(env.emulator.hsm!.keyCount()).toBe(0);

    const restore = await (await runtime.startRestore({ backupSetId: backup.output!.backupSetId, include: [], exclude: [], dryRun: false, onConflict: "fail" })).result;
    expect(restore.output?.keys).toEqual({ total: 8, succeeded: 8, failed: 0, skipped: 0 });
    expect(compareSnapshots(original, await snapshotVault(client))).toEqual([]);
  });
});
