/**
 * A Managed HSM's keys: AES keys (oct-HSM, 128/192/256 bits, real key material), and RSA/EC requests
 * accepted and stored HSM-backed, through the official KeyClient and raw requests.
 */
import type { KeyClient } from "@azure/keyvault-keys";
import { startEmulator, type RunningEmulator } from "../../src/emulator";
import { AUTH, emulatorClient, failureOf, rawRequest, restoreAfterPurge } from "./helpers";

const V = "api-version=2025-07-01";

describe("Managed HSM emulator: key types", () => {
  let emu: RunningEmulator;
  let hsm: KeyClient;

  beforeAll(async () => {
    emu = await startEmulator({ seed: 21, hsm: { jobDurationMs: 50 } });
    hsm = emulatorClient(emu.hsmUrl!, emu.caCert);
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it.each([128, 192, 256])("when an AES-%i key is created, it is an oct-HSM key whose bytes never leave the HSM", async (bits) => {
    const name = `aes-${bits}`;
    const key = await hsm.createOctKey(name, { hsm: true, keySize: bits });
    expect(key.keyType).toBe("oct-HSM");
    expect(key.key?.k).toBeUndefined();
    expect(key.keyOperations).toEqual(["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
    const res = await rawRequest(`${emu.hsmUrl}/keys/${name}/?${V}`, emu.caCert, { headers: AUTH });
    expect(Object.keys((res.json as { key: object }).key).sort()).toEqual(["key_ops", "kid", "kty"]);
    // Real material: each key its own bytes.
    const digests = Object.values(emu.hsm!.materialDigests(name)!);
    expect(digests).toHaveLength(1);
    expect(digests[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("when AES keys of several versions are backed up, purged and restored, every version comes back with the same bytes", async () => {
    for (let v = 0; v < 3; v++) await hsm.createOctKey("aes-rotated", { hsm: true, keySize: 256, tags: { round: String(v) } });
    const before = emu.hsm!.materialDigests("aes-rotated")!;
    expect(new Set(Object.values(before)).size).toBe(3);
    const blob = (await hsm.backupKey("aes-rotated"))!;

    await (await hsm.beginDeleteKey("aes-rotated", { intervalInMs: 50 })).pollUntilDone();
    await hsm.purgeDeletedKey("aes-rotated");
    const restored = await restoreAfterPurge(hsm, blob);

    expect(restored.keyType).toBe("oct-HSM");
    expect(emu.hsm!.materialDigests("aes-rotated")).toEqual(before);
    const tags: string[] = [];
    for await (const p of hsm.listPropertiesOfKeyVersions("aes-rotated")) tags.push(p.tags!["round"]!);
    expect(tags.sort()).toEqual(["0", "1", "2"]);
  });

  it("when an AES key of an unsupported size or a plain 'oct' key is asked for, it refuses with 400", async () => {
    expect(await failureOf(hsm.createOctKey("aes-512", { hsm: true, keySize: 512 }))).toMatchObject({ statusCode: 400, code: "BadParameter" });
    expect(await failureOf(hsm.createOctKey("aes-soft", { keySize: 256 }))).toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  it("when an AES key is imported, it keeps the given bytes", async () => {
    const k = Buffer.alloc(32, 7);
    const imported = await hsm.importKey("aes-imported", { kty: "oct-HSM", k: new Uint8Array(k) });
    expect(imported.keyType).toBe("oct-HSM");
    expect(imported.key?.k).toBeUndefined();
    // The same bytes imported under another name are the same key; other bytes are not.
    await hsm.importKey("aes-imported-again", { kty: "oct-HSM", k: new Uint8Array(k) });
    await hsm.importKey("aes-imported-other", { kty: "oct-HSM", k: new Uint8Array(Buffer.alloc(32, 8)) });
    const digest = (name: string) => Object.values(emu.hsm!.materialDigests(name)!)[0];
    expect(digest("aes-imported-again")).toBe(digest("aes-imported"));
    expect(digest("aes-imported-other")).not.toBe(digest("aes-imported"));
    const short = await failureOf(hsm.importKey("aes-short", { kty: "oct-HSM", k: new Uint8Array(Buffer.alloc(10)) }));
    expect(short).toMatchObject({ statusCode: 400 });
  });

  it("when RSA and EC keys are asked for by their software types, the HSM creates them HSM-backed", async () => {
    const rsa = await hsm.createKey("rsa-plain", "RSA");
    const ec = await hsm.createEcKey("ec-plain", { curve: "P-384" });
    const rsaHsm = await hsm.createRsaKey("rsa-hsm", { hsm: true, keySize: 3072 });
    expect([rsa.keyType, ec.keyType, rsaHsm.keyType]).toEqual(["RSA-HSM", "EC-HSM", "RSA-HSM"]);
    expect(ec.key?.crv).toBe("P-384");
    expect(Buffer.from(rsaHsm.key!.n!).length * 8).toBe(3072);
  });

  it("when keys are seeded into the HSM, they are HSM-backed, AES keys included", async () => {
    await emu.hsm!.seedKeys({ count: 2, versions: 2, prefix: "seeded-aes", kty: "oct" });
    await emu.hsm!.seedKeys({ count: 1, prefix: "seeded-rsa", kty: "RSA" });
    const types = new Map<string, string>();
    for await (const p of hsm.listPropertiesOfKeys()) {
      if (p.name.startsWith("seeded-")) types.set(p.name, (await hsm.getKey(p.name)).keyType!);
    }
    expect(Object.fromEntries(types)).toEqual({ "seeded-aes-00000": "oct-HSM", "seeded-aes-00001": "oct-HSM", "seeded-rsa-00000": "RSA-HSM" });
    const digests = emu.hsm!.materialDigests("seeded-aes-00000")!;
    expect(new Set(Object.values(digests)).size).toBe(2);
    await expect(emu.vault.seedKeys({ count: 1, prefix: "vault-aes", kty: "oct" })).rejects.toThrow(/not held/);
  });

  it("when an HSM key's backup is restored into a vault, it is refused as unreadable there", async () => {
    const blob = (await hsm.backupKey("aes-256"))!;
    const vault = emulatorClient(emu.vaultUrl, emu.caCert);
    expect(await failureOf(vault.restoreKeyBackup(blob))).toEqual({ statusCode: 400, code: "BadParameter", message: "Backup blob contains invalid or corrupt version." });
  });
});
