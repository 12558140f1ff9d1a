import { generateKeyPairSync } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { KeyVaultKey } from "@azure/keyvault-keys";
import { startEmulator, type RunningEmulator } from "../../src/emulator";
import { AUTH, emulatorClient, rawRequest, restoreAfterPurge } from "./helpers";

const V = "api-version=2025-07-01";

/** The public part of a key, to compare material across backup and restore. */
function publicPart(k: KeyVaultKey): string {
  const j = k.key!;
  const b = (u: Uint8Array | undefined): string => (u ? Buffer.from(u).toString("base64url") : "");
  return `${j.kty}|${j.crv ?? ""}|${b(j.n)}|${b(j.e)}|${b(j.x)}|${b(j.y)}`;
}

async function statusOf(p: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { statusCode?: number; code?: string; message: string };
    return { statusCode: err.statusCode, code: err.code, message: err.message };
  }
  throw new Error("expected the call to fail");
}

describe("Key Vault emulator with the real KeyClient", () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    emu = await startEmulator({ seed: 7 });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("when keys are created, listed, backed up, deleted, purged and restored, it brings back every version with the same material", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    const names = ["alpha-ec", "bravo-rsa", "charlie-p384"];
    const originals = new Map<string, KeyVaultKey[]>();
    for (const name of names) {
      const versions: KeyVaultKey[] = [];
      for (let v = 0; v < 3; v++) {
        const tags = { round: String(v), owner: "tests" };
        const key =
          name === "bravo-rsa"
            ? await client.createRsaKey(name, { keySize: 2048, tags })
            : await client.createEcKey(name, { curve: name === "charlie-p384" ? "P-384" : "P-256", tags });
        expect(key.properties.version).toMatch(/^[0-9a-f]{32}$/);
        expect(key.id).toBe(`${emu.vaultUrl}/keys/${name}/${key.properties.version}`);
        versions.push(key);
      }
      originals.set(name, versions);
    }

    const pages: string[][] = [];
    for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 2 })) {
      pages.push(page.map((p) => p.name));
    }
    expect(pages).toEqual([["alpha-ec", "bravo-rsa"], ["charlie-p384"]]);
    const versionIds: string[] = [];
    for await (const p of client.listPropertiesOfKeyVersions("bravo-rsa")) versionIds.push(p.version!);
    expect(versionIds.sort()).toEqual(originals.get("bravo-rsa")!.map((k) => k.properties.version!).sort());
    const versionPages: number[] = [];
    for await (const page of client.listPropertiesOfKeyVersions("alpha-ec").byPage({ maxPageSize: 2 })) {
      versionPages.push(page.length);
    }
    expect(versionPages).toEqual([2, 1]);

    const blobs = new Map<string, Uint8Array>();
    for (const name of names) blobs.set(name, (await client.backupKey(name))!);

    for (const name of names) {
      const poller = await client.beginDeleteKey(name, { intervalInMs: 10 });
      const deleted = await poller.pollUntilDone();
      expect(deleted.properties.recoveryId).toBe(`${emu.vaultUrl}/deletedkeys/${name}`);
      expect(deleted.properties.scheduledPurgeDate!.getTime() - deleted.properties.deletedOn!.getTime()).toBe(90 * 86400 * 1000);
    }
    // A soft-deleted name blocks a restore until it is purged.
    const blocked = await statusOf(client.restoreKeyBackup(blobs.get("alpha-ec")!));
    expect(blocked.statusCode).toBe(409);
    expect(blocked.message).toMatch(/deleted but recoverable state/);

    for (const name of names) await client.purgeDeletedKey(name);
    expect(emu.vault.listKeyNames()).toEqual([]);
    expect(emu.vault.listDeletedKeyNames()).toEqual([]);

    for (const name of names) {
      const restored = await restoreAfterPurge(client, blobs.get(name)!);
      const versions = originals.get(name)!;
      expect(restored.properties.version).toBe(versions[2]!.properties.version);
      for (const original of versions) {
        const back = await client.getKey(name, { version: original.properties.version! });
        expect(publicPart(back)).toBe(publicPart(original));
        expect(back.properties.tags).toEqual(original.properties.tags);
        expect(back.properties.createdOn).toEqual(original.properties.createdOn);
      }
    }
    expect(emu.vault.listVersions("bravo-rsa")).toEqual(originals.get("bravo-rsa")!.map((k) => k.properties.version));

    const conflict = await statusOf(client.restoreKeyBackup(blobs.get("bravo-rsa")!));
    expect(conflict).toMatchObject({ statusCode: 409, code: "Conflict" });
    expect(conflict.message).toMatch(/Key bravo-rsa already exists/);
  });

  it("when a key is updated, deleted and recovered, it keeps the new properties", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert, { maxRetries: 0 }, { serviceVersion: "7.5" });
    const key = await client.createEcKey("update-me");
    const updated = await client.updateKeyProperties("update-me", key.properties.version!, {
      enabled: false,
      tags: { a: "b" },
      keyOps: ["verify"],
    });
    expect(updated.properties.enabled).toBe(false);
    expect(updated.keyOperations).toEqual(["verify"]);
    await (await client.beginDeleteKey("update-me", { intervalInMs: 10 })).pollUntilDone();
    const deletedNames: string[] = [];
    for await (const d of client.listDeletedKeys()) deletedNames.push(d.name);
    expect(deletedNames).toContain("update-me");
    const recovered = await (await client.beginRecoverDeletedKey("update-me", { intervalInMs: 10 })).pollUntilDone();
    expect(recovered.properties.tags).toEqual({ a: "b" });
    expect((await client.getKey("UPDATE-ME")).properties.enabled).toBe(false);
  });

  it("when a key is imported, it serves the given public material and keeps it through backup and restore", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert, { maxRetries: 0 }, { serviceVersion: "7.6" });
    for (const [name, pair] of [
      ["imported-rsa", generateKeyPairSync("rsa", { modulusLength: 2048 })],
      ["imported-p521", generateKeyPairSync("ec", { namedCurve: "secp521r1" })],
    ] as const) {
      const jwk = pair.privateKey.export({ format: "jwk" });
      const bin = (s: string | undefined): Uint8Array | undefined => (s ? Buffer.from(s, "base64url") : undefined);
      const imported = await client.importKey(name, {
        kty: jwk.kty === "EC" ? "EC" : "RSA",
        ...(jwk.crv ? { crv: "P-521" as const } : {}),
        n: bin(jwk.n), e: bin(jwk.e), d: bin(jwk.d), p: bin(jwk.p), q: bin(jwk.q),
        dp: bin(jwk.dp), dq: bin(jwk.dq), qi: bin(jwk.qi), x: bin(jwk.x), y: bin(jwk.y),
      });
      const served = imported.key!;
      expect(Buffer.from((served.n ?? served.x)!).toString("base64url")).toBe(jwk.n ?? jwk.x);
      expect(served.d).toBeUndefined();
      const blob = (await client.backupKey(name))!;
      await (await client.beginDeleteKey(name, { intervalInMs: 10 })).pollUntilDone();
      await client.purgeDeletedKey(name);
      expect(publicPart(await restoreAfterPurge(client, blob))).toBe(publicPart(imported));
    }
  });

  it("when a backup blob is tampered with, truncated or from another geography, it refuses the restore with 400", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    await client.createEcKey("tamper-source");
    const blob = Buffer.from((await client.backupKey("tamper-source"))!);
    await client.purgeDeletedKey((await (await client.beginDeleteKey("tamper-source", { intervalInMs: 10 })).pollUntilDone()).name);

    const flipped = Buffer.from(blob);
    flipped[flipped.length - 5]! ^= 0x01;
    // The SDK's own public tests send 8,693 zero bytes and expect the service's exact message.
    for (const bad of [flipped, blob.subarray(0, blob.length - 20), Buffer.from("not a backup at all"), new Uint8Array(8693)]) {
      const refused = await statusOf(client.restoreKeyBackup(bad));
      expect(refused).toEqual({ statusCode: 400, code: "BadParameter", message: "Backup blob contains invalid or corrupt version." });
    }

    const elsewhere = await startEmulator({ geographySecret: "another-geography" });
    try {
      const other = emulatorClient(elsewhere.vaultUrl, elsewhere.caCert);
      expect((await statusOf(other.restoreKeyBackup(blob))).statusCode).toBe(400);
    } finally {
      await elsewhere.stop();
    }
    // The untouched blob still restores (once the purge has finished).
    expect((await restoreAfterPurge(client, blob)).name).toBe("tamper-source");
  });

  it("when a certificate-backed key is backed up, it answers 403 with the service's message", async () => {
    await emu.vault.seedKeys({ count: 1, prefix: "cert-backed", managed: true });
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    const listed = [];
    for await (const p of client.listPropertiesOfKeys()) if (p.name.startsWith("cert-backed")) listed.push(p);
    expect(listed.map((p) => p.managed)).toEqual([true]);
    const refused = await statusOf(client.backupKey(listed[0]!.name));
    expect(refused).toMatchObject({ statusCode: 403, code: "Forbidden" });
    expect(refused.message).toBe(
      'Operation "backup" is not allowed on this Key, since it is associated with a certificate. Perform the operation on the corresponding certificate. For more information refer to https://docs.microsoft.com/en-us/azure/key-vault/certificates/about-certificates#composition-of-a-certificate',
    );
  });

  it("when a key has more than 500 versions, it refuses the backup with 400", async () => {
    await emu.vault.seedKeys({ count: 1, prefix: "many-versions", versions: 501 });
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    const refused = await statusOf(client.backupKey("many-versions-00000"));
    expect(refused.statusCode).toBe(400);
    expect(refused.message).toMatch(/more than 500 versions/);
  });

  it("when a request has no bearer token, it answers 401 with the exact challenge header", async () => {
    const res = await rawRequest(`${emu.vaultUrl}/keys?${V}`, emu.caCert);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toBe(
      'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
    );
    expect(res.json).toMatchObject({ error: { code: "Unauthorized" } });
  });

  it("when requests are malformed, it answers 4xx with the service's error JSON", async () => {
    const cases: Array<{ url: string; method?: string; body?: string; status: number; code: string }> = [
      { url: "/keys?api-version=2016-10-01", status: 400, code: "BadParameter" },
      { url: "/keys", status: 400, code: "BadParameter" },
      { url: `/keys/bad_name!/create?${V}`, method: "POST", body: '{"kty":"EC"}', status: 400, code: "BadParameter" },
      { url: `/keys/${"a".repeat(128)}?${V}`, status: 400, code: "BadParameter" },
      { url: `/keys/good-name/create?${V}`, method: "POST", body: "{not json", status: 400, code: "BadParameter" },
      { url: `/keys/good-name/create?${V}`, method: "POST", body: '{"kty":"oct"}', status: 400, code: "BadParameter" },
      { url: `/keys/good-name/create?${V}`, method: "POST", body: '{"kty":"RSA","key_size":1024}', status: 400, code: "BadParameter" },
      { url: `/keys/restore?${V}`, method: "POST", body: '{"value":""}', status: 400, code: "BadParameter" },
      { url: `/keys?${V}&maxresults=26`, status: 400, code: "BadParameter" },
      { url: `/keys/no-such-key/?${V}`, status: 404, code: "KeyNotFound" },
      { url: `/deletedkeys/no-such-key?${V}`, status: 404, code: "KeyNotFound" },
      { url: `/storage?${V}`, status: 404, code: "NotFound" },
      { url: `/keys/x/backup?${V}`, method: "GET", status: 405, code: "MethodNotAllowed" },
    ];
    for (const c of cases) {
      const res = await rawRequest(`${emu.vaultUrl}${c.url}`, emu.caCert, {
        method: c.method ?? "GET",
        headers: { ...AUTH, "Content-Type": "application/json" },
        ...(c.body !== undefined ? { body: c.body } : {}),
      });
      expect({ url: c.url, status: res.status, code: (res.json as { error?: { code?: string } })?.error?.code }).toEqual({
        url: c.url,
        status: c.status,
        code: c.code,
      });
      expect(typeof (res.json as { error: { message: unknown } }).error.message).toBe("string");
    }
    // Still serving after all that.
    expect((await rawRequest(`${emu.vaultUrl}/keys?${V}`, emu.caCert, { headers: AUTH })).status).toBe(200);
  });

  it("when a second vault is added, it restores a backup taken from the first", async () => {
    const client = emulatorClient(emu.vaultUrl, emu.caCert);
    const original = await client.createRsaKey("travelling-key", { tags: { from: "first" } });
    const blob = (await client.backupKey("travelling-key"))!;

    const second = await emu.addVault();
    expect(second.url).not.toBe(emu.vaultUrl);
    const other = emulatorClient(second.url, emu.caCert);
    const restored = await other.restoreKeyBackup(blob);
    expect(restored.id).toBe(`${second.url}/keys/travelling-key/${original.properties.version}`);
    expect(publicPart(restored)).toBe(publicPart(original));
    expect(restored.properties.tags).toEqual({ from: "first" });
    expect(second.listKeyNames()).toEqual(["travelling-key"]);
  });

  it("when faults are injected with a seed, it answers 503 and drops connections, and the client's retries get through", async () => {
    const vault = await emu.addVault({ knobs: { faults: { error503Rate: 0.2, dropRate: 0.1, retryAfterSeconds: 0 } } });
    await vault.seedKeys({ count: 20, prefix: "faulty" });
    const client = emulatorClient(vault.url, emu.caCert, { maxRetries: 10, retryDelayInMs: 5, maxRetryDelayInMs: 20 });
    for (const name of vault.listKeyNames()) expect((await client.backupKey(name))!.length).toBeGreaterThan(0);
    const s = vault.stats();
    expect(s.unavailable503).toBeGreaterThan(0);
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.operations["backupKey"]).toBe(20);
    vault.setKnobs({ faults: { error503Rate: 0, dropRate: 0 } });
  });

  it("when 10,000 keys with 2 versions each are seeded, it takes a few seconds and lists them all in pages of 25", async () => {
    const vault = await emu.addVault();
    const started = Date.now();
    await vault.seedKeys({ count: 10_000, versions: 2, prefix: "bulk" });
    expect(Date.now() - started).toBeLessThan(20_000); // generous: speed is the bench's to judge
    expect(vault.keyCount()).toBe(10_000);
    const client = emulatorClient(vault.url, emu.caCert);
    let pages = 0;
    let items = 0;
    for await (const page of client.listPropertiesOfKeys().byPage()) {
      pages++;
      items += page.length;
    }
    expect({ pages, items }).toEqual({ pages: 400, items: 10_000 });
  });
});

describe("Key Vault emulator throttling", () => {
  let emu: RunningEmulator;
  afterAll(async () => {
    await emu?.stop();
  });

  it("when a burst is twice the 10 s budget, it answers 429 with Retry-After and every request finally succeeds", async () => {
    const budget = 100;
    emu = await startEmulator({ throttle: budget, keys: 10 });
    const client = emulatorClient(emu.vaultUrl, emu.caCert, { maxRetries: 10, maxRetryDelayInMs: 15_000 });
    // One call first so the challenge round trip is out of the way (401s do not use the budget).
    await client.getKey("key-00000");
    emu.vault.resetStats();

    const raw = await rawRequest(`${emu.vaultUrl}/keys?${V}`, emu.caCert, { headers: AUTH });
    expect(raw.status).toBe(200);
    const started = Date.now();
    const names = emu.vault.listKeyNames();
    const results = await Promise.all(
      Array.from({ length: 2 * budget - 2 }, (_, i) => client.backupKey(names[i % names.length]!).then((b) => b!.length)),
    );
    expect(results.every((n) => n > 0)).toBe(true);

    const s = emu.vault.stats();
    expect(s.throttled429).toBeGreaterThanOrEqual(budget - 2);
    expect(s.operations["backupKey"]).toBe(2 * budget - 2);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(9_000);
    expect(elapsed).toBeLessThan(45_000);

    // The retried half fills the window again, so a raw request now sees the exact 429 shape.
    const throttled = await rawRequest(`${emu.vaultUrl}/keys?${V}`, emu.caCert, { headers: AUTH });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(throttled.json).toMatchObject({ error: { code: "Throttled" } });
    expect((throttled.json as { error: { message: string } }).error.message).toMatch(/^Operations per second is over the limit/);
  }, 30_000);
});

describe("Key Vault emulator state directory", () => {
  it("when restarted on the same state directory, it keeps the keys and the certificate", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvbackup-emu-state-"));
    try {
      const first = await startEmulator({ stateDir: dir, keys: 3, versions: 2 });
      let ca: string;
      let versions: string[] | undefined;
      try {
        const client = emulatorClient(first.vaultUrl, first.caCert);
        await client.createEcKey("persisted", { tags: { kept: "yes" } });
        versions = first.vault.listVersions("key-00001");
        ca = first.caCert;
        expect(first.caCertPath.startsWith(dir)).toBe(true);
      } finally {
        await first.stop();
      }
      const second = await startEmulator({ stateDir: dir, keys: 3 });
      try {
        expect(second.caCert).toBe(ca);
        expect(second.vault.listKeyNames()).toEqual(["key-00000", "key-00001", "key-00002", "persisted"]);
        expect(second.vault.listVersions("key-00001")).toEqual(versions);
        const client = emulatorClient(second.vaultUrl, await fs.readFile(second.caCertPath, "utf8"));
        expect((await client.getKey("persisted")).properties.tags).toEqual({ kept: "yes" });
      } finally {
        await second.stop();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
