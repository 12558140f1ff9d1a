/**
 * The emulator refuses what Key Vault refuses, says so with the service's words where they are known,
 * answers 501 for what it does not implement, and makes backup blobs of the service's size.
 */
import { BACKUP_BYTES_ONE_VERSION, BACKUP_BYTES_PER_EXTRA_VERSION, startEmulator, type RunningEmulator } from "../../src/emulator";
import { AUTH, emulatorClient, failureOf, rawRequest, restoreAfterPurge } from "./helpers";

const V = "api-version=2025-07-01";
const policyDocument = { version: "1.0.0", anyOf: [{ authority: "https://attest.example", allOf: [{ claim: "x-ms-sevsnpvm-is-debuggable", equals: false }] }] };
const encodedPolicy = new Uint8Array(Buffer.from(JSON.stringify(policyDocument)));

describe("Key Vault emulator: what the service refuses, and what it does not implement", () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    emu = await startEmulator({ seed: 11, hsm: { jobDurationMs: 50 } });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("when a route of the spec is not emulated, it answers 501 NotImplemented, not a misleading 404", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    const key = await client.createEcKey("not-emulated");
    const hsm = emulatorClient(emu.hsmUrl!, emu.caCert);
    for (const call of [
      () => client.getKeyAttestation("not-emulated"),
      () => client.getKeyAttestation("not-emulated", { version: key.properties.version! }),
      () => client.rotateKey("not-emulated"),
      () => client.getKeyRotationPolicy("not-emulated"),
      () => client.releaseKey("not-emulated", "attestation-token"),
      () => client.releaseKey("not-emulated", "attestation-token", { version: key.properties.version! }),
      () => hsm.getRandomBytes(16),
    ]) {
      expect(await failureOf(call())).toMatchObject({ statusCode: 501, code: "NotImplemented" });
    }
    expect(emu.vault.stats().operations["unsupported"]).toBe(6);
    const rng = await rawRequest(`${emu.vaultUrl}/rng?${V}`, emu.caCert, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: '{"count":8}' });
    expect(rng.status).toBe(501);
    expect((rng.json as { error: { message: string } }).error.message).toMatch(/'rng'/);
  });

  it("when a tag name is over 512 characters or a tag value over 256, it refuses the key with 400", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    expect(await failureOf(client.createEcKey("long-tag-value", { tags: { t: "v".repeat(257) } }))).toMatchObject({ statusCode: 400, code: "BadParameter" });
    expect(await failureOf(client.createEcKey("long-tag-name", { tags: { ["n".repeat(513)]: "v" } }))).toMatchObject({ statusCode: 400, code: "BadParameter" });
    const longest = await client.createEcKey("longest-tags", { tags: { ["n".repeat(512)]: "v".repeat(256) } });
    expect(Object.values(longest.properties.tags!)).toEqual(["v".repeat(256)]);
    const key = await client.createEcKey("tag-update");
    expect(await failureOf(client.updateKeyProperties("tag-update", key.properties.version!, { tags: { t: "v".repeat(257) } }))).toMatchObject({ statusCode: 400 });
    expect(emu.vault.listKeyNames()).not.toContain("long-tag-value");
  });

  it("when an exportable key is created without a release policy, it refuses it with the service's message", async () => {
    const hsm = emulatorClient(emu.hsmUrl!, emu.caCert);
    expect(await failureOf(hsm.createRsaKey("exportable-bare", { exportable: true }))).toEqual({
      statusCode: 400,
      code: "BadParameter",
      message: "Exportable keys must have release policy",
    });
    expect(emu.hsm!.listKeyNames()).not.toContain("exportable-bare");
  });

  it("when a key is created with a release policy, it keeps the policy and carries it through backup and restore", async () => {
    // Prepare
    const hsm = emulatorClient(emu.hsmUrl!, emu.caCert);
    const created = await hsm.createRsaKey("exportable", { exportable: true, releasePolicy: { encodedPolicy, immutable: true } });
    const blob = (await hsm.backupKey("exportable"))!;

    // Act
    await (await hsm.beginDeleteKey("exportable", { intervalInMs: 50 })).pollUntilDone();
    await hsm.purgeDeletedKey("exportable");
    const restored = await restoreAfterPurge(hsm, blob);

    // Assess
    expect(created.properties.exportable).toBe(true);
    for (const key of [created, restored, await hsm.getKey("exportable")]) {
      expect(key.properties.releasePolicy?.immutable).toBe(true);
      expect(JSON.parse(Buffer.from(key.properties.releasePolicy!.encodedPolicy!).toString("utf8"))).toEqual(policyDocument);
    }
    // Immutable means immutable.
    const refused = await failureOf(
      hsm.updateKeyProperties("exportable", created.properties.version!, { releasePolicy: { encodedPolicy: new Uint8Array(Buffer.from("{}")) } }),
    );
    expect(refused).toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  it("when a release policy is not a JSON document, it refuses it rather than store what no service would", async () => {
    const hsm = emulatorClient(emu.hsmUrl!, emu.caCert);
    const bad = new Uint8Array(Buffer.from("not json"));
    expect(await failureOf(hsm.createRsaKey("bad-policy", { exportable: true, releasePolicy: { encodedPolicy: bad } }))).toMatchObject({ statusCode: 400 });
  });

  it("when a key is backed up, its blob is the size of the service's (8,031 bytes for one version) and grows with each version", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    const sizes: number[] = [];
    for (let v = 1; v <= 3; v++) {
      await client.createEcKey("sized");
      sizes.push((await client.backupKey("sized"))!.length);
    }
    expect(sizes).toEqual([0, 1, 2].map((extra) => BACKUP_BYTES_ONE_VERSION + extra * BACKUP_BYTES_PER_EXTRA_VERSION));
    // As sent over the wire: 10,708 base64url characters, the size of the spec's BackupKey example.
    const res = await rawRequest(`${emu.vaultUrl}/keys/longest-tags/backup?${V}`, emu.caCert, { method: "POST", headers: AUTH });
    expect((res.json as { value: string }).value).toHaveLength(10_708);
  });
});

describe("Key Vault emulator: vault tiers", () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    emu = await startEmulator({ seed: 12, sku: "standard", softDeleteMs: 0, purgeMs: 0 });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("when the vault is Standard, it refuses HSM-protected key types with the service's error and accepts software keys", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    for (const call of [() => client.createKey("hsm-rsa", "RSA-HSM"), () => client.createEcKey("hsm-ec", { hsm: true }), () => client.createRsaKey("hsm-rsa2", { hsm: true })]) {
      expect(await failureOf(call())).toEqual({ statusCode: 400, code: "BadParameter", message: "Hardware key operation not allowed on standard vault" });
    }
    expect((await client.createRsaKey("software-rsa")).keyType).toBe("RSA");
    expect(emu.vault.listKeyNames()).toEqual(["software-rsa"]);
  });

  it("when a Premium vault's HSM-protected key is restored into a Standard vault, it is refused the same way; a software key restores", async () => {
    const premium = await emu.addVault({ sku: "premium" });
    const source = emulatorClient(premium.url, emu.caCert);
    await source.createKey("premium-hsm", "RSA-HSM");
    await source.createKey("premium-soft", "EC");
    const target = emulatorClient(emu.vaultUrl, emu.caCert);
    expect(await failureOf(target.restoreKeyBackup((await source.backupKey("premium-hsm"))!))).toMatchObject({
      statusCode: 400,
      message: "Hardware key operation not allowed on standard vault",
    });
    expect((await target.restoreKeyBackup((await source.backupKey("premium-soft"))!)).name).toBe("premium-soft");
  });

  it("when an HSM key type or an AES key is created in a vault, it is refused: a vault holds no oct-HSM keys", async () => {
    const premium = await emu.addVault({ sku: "premium" });
    const client = emulatorClient(premium.url, emu.caCert);
    expect((await client.createKey("premium-rsa-hsm", "RSA-HSM")).keyType).toBe("RSA-HSM");
    expect(await failureOf(client.createOctKey("vault-aes", { hsm: true, keySize: 256 }))).toMatchObject({ statusCode: 400, code: "BadParameter" });
  });
});
