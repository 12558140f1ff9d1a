/**
 * Secrets and certificates share the keys' slow-to-settle lifecycle (a name being deleted or purged answers
 * 409 to writes), survive a restart on a state directory, follow the vault's tier, and do not exist on a
 * Managed HSM.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startEmulator, type RunningEmulator } from "../../src/emulator";
import { AUTH, certificateClient, emulatorClient, failureOf, rawRequest, retryWhileConflict, secretClient } from "./helpers";

const V = "api-version=2025-07-01";
/** Long enough that the next request surely comes before the end, even on a busy 2-core machine. */
const SLOW_MS = 1_200;

describe("Key Vault emulator: the lifecycle of secrets and certificates", () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    emu = await startEmulator({ seed: 41, softDeleteMs: 0, purgeMs: 0, certificateCreateMs: 0 });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("while a certificate is being deleted, a create of its name answers 409; after its purge, a restore answers 409 until the purge is done", async () => {
    const vault = await emu.addVault({ knobs: { softDeleteMs: SLOW_MS, purgeMs: SLOW_MS, certificateCreateMs: 0 } });
    const certs = certificateClient(vault.url, emu.caCert);
    await vault.seedCertificates({ count: 1, prefix: "settling", kty: "EC" });
    const blob = (await certs.backupCertificate("settling-00000"))!;

    await certs.beginDeleteCertificate("settling-00000");
    const duringDelete = await failureOf(certs.beginCreateCertificate("settling-00000", { issuerName: "Self", subject: "CN=x" }));
    const keyDuringDelete = await failureOf(emulatorClient(vault.url, emu.caCert).getKey("settling-00000"));
    // While the delete runs, the purge answers 409 too.
    await retryWhileConflict(() => certs.purgeDeletedCertificate("settling-00000"));
    const afterPurge = await failureOf(certs.restoreCertificateBackup(blob));
    const secretAfterPurge = await failureOf(secretClient(vault.url, emu.caCert).getDeletedSecret("settling-00000"));
    const restored = await retryWhileConflict(() => certs.restoreCertificateBackup(blob));

    expect(duringDelete).toMatchObject({ statusCode: 409, message: "Certificate is currently being deleted." });
    expect(keyDuringDelete).toMatchObject({ statusCode: 404 });
    expect(afterPurge).toMatchObject({ statusCode: 409, code: "Conflict" });
    expect(secretAfterPurge).toMatchObject({ statusCode: 404 });
    expect(restored.name).toBe("settling-00000");
    expect(vault.listSecretNames()).toContain("settling-00000");
  });

  it("when a secret is purged, its name answers 404 to reads and 409 to a restore until the purge is done", async () => {
    const vault = await emu.addVault({ knobs: { softDeleteMs: 0, purgeMs: SLOW_MS } });
    const secrets = secretClient(vault.url, emu.caCert);
    await secrets.setSecret("purged", "v");
    const blob = (await secrets.backupSecret("purged"))!;
    await (await secrets.beginDeleteSecret("purged")).pollUntilDone();

    await secrets.purgeDeletedSecret("purged");
    const reads = [await failureOf(secrets.getSecret("purged")), await failureOf(secrets.getDeletedSecret("purged"))].map((e) => e.statusCode);
    const restore = await failureOf(secrets.restoreSecretBackup(blob));

    expect(reads).toEqual([404, 404]);
    expect(restore).toMatchObject({ statusCode: 409, message: expect.stringMatching(/^There was a conflict while restoring secret 'purged'/) });
    expect((await retryWhileConflict(() => secrets.restoreSecretBackup(blob))).name).toBe("purged");
  });

  it("when restarted on the same state directory, it keeps secrets, certificates and their keys, versions and material", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvbackup-emu-state-"));
    try {
      const first = await startEmulator({ stateDir: dir, softDeleteMs: 0, purgeMs: 0, certificateCreateMs: 0 });
      await first.vault.seedSecrets({ count: 3, versions: 2 });
      await first.vault.seedCertificates({ count: 2, versions: 2 });
      await (await secretClient(first.vaultUrl, first.caCert).beginDeleteSecret("secret-00002")).pollUntilDone();
      const before = { cert: first.vault.certificateDigests("cert-00001"), secret: first.vault.secretDigests("secret-00000"), key: first.vault.materialDigests("cert-00001") };
      await first.stop();

      const second = await startEmulator({ stateDir: dir, secrets: 50, certificates: 50 });
      try {
        // A reloaded state wins over seeding: the counts are the first run's.
        expect([second.vault.secretCount(), second.vault.certificateCount()]).toEqual([2 + 2, 2]);
        expect(second.vault.listDeletedSecretNames()).toEqual(["secret-00002"]);
        expect(second.vault.certificateDigests("cert-00001")).toEqual(before.cert);
        expect(second.vault.secretDigests("secret-00000")).toEqual(before.secret);
        expect(second.vault.materialDigests("cert-00001")).toEqual(before.key);
        const secret = await secretClient(second.vaultUrl, second.caCert).getSecret("cert-00001");
        expect(secret.properties.managed).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("when a Standard vault is asked for an HSM-protected certificate key, it refuses it with the tier's message", async () => {
    const standard = await emu.addVault({ sku: "standard" });
    const certs = certificateClient(standard.url, emu.caCert);

    expect(await failureOf(certs.beginCreateCertificate("hsm-cert", { issuerName: "Self", subject: "CN=x", keyType: "RSA-HSM" }))).toMatchObject({
      statusCode: 400,
      message: "Hardware key operation not allowed on standard vault",
    });
    const premium = certificateClient(emu.vaultUrl, emu.caCert);
    const cert = await (await premium.beginCreateCertificate("hsm-cert", { issuerName: "Self", subject: "CN=x", keyType: "RSA-HSM", exportable: false }, { intervalInMs: 20 })).pollUntilDone();
    expect((await emulatorClient(emu.vaultUrl, emu.caCert).getKey("hsm-cert")).keyType).toBe("RSA-HSM");
    // A key that cannot leave the vault stays out of the certificate's secret.
    const secret = await secretClient(emu.vaultUrl, emu.caCert).getSecret("hsm-cert");
    expect(cert.policy?.exportable).toBe(false);
    expect(Buffer.from(secret.value!, "base64").includes(Buffer.from(cert.cer!))).toBe(true);
    expect(secret.value!.length).toBeLessThan(2_000);
  });

  it("when a Managed HSM is asked for secrets or certificates, there are no such routes", async () => {
    const hsmEmu = await startEmulator({ hsm: true });
    try {
      const res = await rawRequest(`${hsmEmu.hsmUrl}/secrets?${V}`, hsmEmu.caCert, { headers: AUTH });
      const certs = await rawRequest(`${hsmEmu.hsmUrl}/certificates?${V}`, hsmEmu.caCert, { headers: AUTH });
      expect([res.status, certs.status]).toEqual([404, 404]);
      await expect(hsmEmu.hsm!.seedSecrets({ count: 1 })).rejects.toThrow(/holds no secrets/);
    } finally {
      await hsmEmu.stop();
    }
  });
});
