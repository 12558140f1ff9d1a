/**
 * The emulator's Secrets API through the official SecretClient (and raw requests where the SDK hides the
 * wire): versions, content types, tags, paging, the asynchronous soft-delete lifecycle, and backup/restore
 * with the service's conflicts, messages and blob sizes.
 */
import type { SecretClient } from "@azure/keyvault-secrets";
import { SECRET_BACKUP_BYTES_ONE_VERSION, SECRET_BACKUP_BYTES_PER_EXTRA_VERSION, startEmulator, type EmulatedVault, type RunningEmulator } from "../../src/emulator";
import { AUTH, emulatorClient, failureOf, rawRequest, retryWhileConflict, secretClient } from "./helpers";

const V = "api-version=2025-07-01";
/** Short lifecycle times: these tests are about the API, the timing has its own tests. */
const FAST = { softDeleteMs: 50, purgeMs: 50 };

describe("Key Vault emulator: secrets through the official SecretClient", () => {
  let emu: RunningEmulator;
  let vault: EmulatedVault;
  let client: SecretClient;

  const raw = (path: string, method = "GET", body?: unknown) =>
    rawRequest(`${vault.url}${path}${path.includes("?") ? "&" : "?"}${V}`, emu.caCert, {
      method,
      headers: { ...AUTH, "Content-Type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    emu = await startEmulator({ seed: 21, ...FAST });
    vault = emu.vault;
    client = secretClient(vault.url, emu.caCert);
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("when a secret is set several times, each set is a version with its value, content type, tags and attributes", async () => {
    const first = await client.setSecret("db-password", "one", { contentType: "text/plain", tags: { env: "prod" } });
    const expires = new Date(Math.floor(Date.now() / 1000 + 86400) * 1000);
    const second = await client.setSecret("db-password", '{"p":"two"}', { contentType: "application/json", expiresOn: expires, enabled: true });

    const latest = await client.getSecret("db-password");
    const old = await client.getSecret("db-password", { version: first.properties.version! });

    expect(latest).toMatchObject({ value: '{"p":"two"}', properties: { version: second.properties.version, contentType: "application/json", expiresOn: expires } });
    expect(old).toMatchObject({ value: "one", properties: { contentType: "text/plain", tags: { env: "prod" }, recoveryLevel: "Recoverable+Purgeable" } });
    expect(vault.listSecretVersions("db-password")).toEqual([first.properties.version, second.properties.version]);
    expect(latest.properties.managed).toBeUndefined();
  });

  it("when a version is updated, its attributes and tags change and its value stays; a disabled version's value is refused with 403", async () => {
    const s = await client.setSecret("rotating", "v1");

    const updated = await client.updateSecretProperties("rotating", s.properties.version!, { enabled: false, tags: { owner: "ops" }, contentType: "text/x-key" });

    expect(updated).toMatchObject({ enabled: false, tags: { owner: "ops" }, contentType: "text/x-key" });
    expect(await failureOf(client.getSecret("rotating"))).toMatchObject({
      statusCode: 403,
      code: "Forbidden",
      message: "Operation get is not allowed on a disabled secret.",
    });
    await client.updateSecretProperties("rotating", s.properties.version!, { enabled: true });
    expect((await client.getSecret("rotating")).value).toBe("v1");
  });

  it("when secrets and versions are listed a page at a time, every one is seen once, following nextLink", async () => {
    await vault.seedSecrets({ count: 7, versions: 3, prefix: "paged" });
    const names: string[] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 2 })) {
      expect(page.length).toBeLessThanOrEqual(2);
      names.push(...page.map((p) => p.name).filter((n) => n.startsWith("paged-")));
    }
    const versions: string[] = [];
    for await (const page of client.listPropertiesOfSecretVersions("paged-00003").byPage({ maxPageSize: 1 })) versions.push(...page.map((p) => p.version!));

    expect(names).toEqual(Array.from({ length: 7 }, (_, i) => `paged-0000${i}`));
    expect(versions).toEqual(vault.listSecretVersions("paged-00003"));
    expect((await raw("/secrets/no-such-secret/versions")).json).toEqual({ value: [], nextLink: null });
    const listed = await raw("/secrets?maxresults=1");
    expect((listed.json as { nextLink: string }).nextLink).toMatch(/\/secrets\?api-version=2025-07-01&\$skiptoken=.+&maxresults=1$/);
  });

  it("when seeded, secrets carry several content types and a distinct value per version", async () => {
    await vault.seedSecrets({ count: 4, versions: 2, prefix: "typed" });
    const types: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) types.push((await client.getSecret(`typed-0000${i}`)).properties.contentType);
    const digests = vault.secretDigests("typed-00001")!;

    expect(types).toEqual(["text/plain", "application/json", undefined, "application/x-connection-string"]);
    expect(JSON.parse((await client.getSecret("typed-00001")).value!)).toMatchObject({ user: "typed-00001" });
    expect(new Set(Object.values(digests)).size).toBe(2);
  });

  it("when a secret is deleted and recovered, the pollers poll the deleted and the live secret until each is there", async () => {
    const slow = await emu.addVault({ knobs: { softDeleteMs: 600, purgeMs: 600 } });
    const c = secretClient(slow.url, emu.caCert);
    await c.setSecret("polled", "value", { tags: { t: "1" } });
    slow.resetStats();

    const deleted = await (await c.beginDeleteSecret("polled", { intervalInMs: 50 })).pollUntilDone();
    const afterDelete = slow.stats().operations;
    const listedDeleted: string[] = [];
    for await (const d of c.listDeletedSecrets()) listedDeleted.push(d.name);
    const recovered = await (await c.beginRecoverDeletedSecret("polled", { intervalInMs: 50 })).pollUntilDone();

    expect(deleted).toMatchObject({ name: "polled", properties: { recoveryId: `${slow.url}/deletedsecrets/polled` } });
    expect(afterDelete["getDeletedSecret"]).toBeGreaterThanOrEqual(2);
    expect(listedDeleted).toEqual(["polled"]);
    expect(recovered).toMatchObject({ name: "polled", tags: { t: "1" } });
    expect(slow.stats().operations["getSecret"]).toBeGreaterThanOrEqual(2);
    expect((await c.getSecret("polled")).value).toBe("value");
  });

  it("while a delete is in progress, a set of the name answers 409 'Secret is currently being deleted.'", async () => {
    const slow = await emu.addVault({ knobs: { softDeleteMs: 1_500, purgeMs: 0 } });
    const c = secretClient(slow.url, emu.caCert);
    await c.setSecret("limbo", "v");
    await c.beginDeleteSecret("limbo");

    expect(await failureOf(c.setSecret("limbo", "again"))).toMatchObject({ statusCode: 409, message: "Secret is currently being deleted." });
    expect(await failureOf(c.getDeletedSecret("limbo"))).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
  });

  it("when a backup is restored after delete and purge, the secret comes back with every version, value and attribute", async () => {
    await vault.seedSecrets({ count: 1, versions: 4, prefix: "roundtrip", tags: { app: "billing" } });
    const name = "roundtrip-00000";
    const before = vault.secretDigests(name)!;
    const values = await Promise.all(Object.keys(before).map(async (version) => (await client.getSecret(name, { version })).value));
    const blob = await client.backupSecret(name);

    await (await client.beginDeleteSecret(name, { intervalInMs: 20 })).pollUntilDone();
    await client.purgeDeletedSecret(name);
    const restored = await retryWhileConflict(() => client.restoreSecretBackup(blob!));

    expect(restored).toMatchObject({ name, tags: { app: "billing" } });
    expect(vault.secretDigests(name)).toEqual(before);
    const after = await Promise.all(Object.keys(before).map(async (version) => (await client.getSecret(name, { version })).value));
    expect(after).toEqual(values);
  });

  it("when a backup is restored over a live or a soft-deleted secret, it answers 409; a tampered blob is refused with the service's message", async () => {
    await client.setSecret("taken", "v");
    const blob = (await client.backupSecret("taken"))!;

    const overLive = await failureOf(client.restoreSecretBackup(blob));
    await (await client.beginDeleteSecret("taken", { intervalInMs: 20 })).pollUntilDone();
    const overDeleted = await failureOf(client.restoreSecretBackup(blob));
    const tampered = Uint8Array.from(blob);
    tampered[tampered.length - 5] ^= 0x01;
    const corrupt = await failureOf(client.restoreSecretBackup(tampered));

    expect(overLive).toMatchObject({ statusCode: 409, code: "Conflict", message: "Secret taken already exists." });
    expect(overDeleted).toMatchObject({ statusCode: 409, message: expect.stringMatching(/deleted but recoverable state/) });
    expect(corrupt).toEqual({ statusCode: 400, code: "BadParameter", message: "Backup blob contains invalid or corrupt version." });
  });

  it("when a key backup is given to the secrets' restore, it is refused as unreadable", async () => {
    const keys = emulatorClient(vault.url, emu.caCert);
    await keys.createEcKey("not-a-secret");
    const keyBlob = (await keys.backupKey("not-a-secret"))!;

    expect(await failureOf(client.restoreSecretBackup(keyBlob))).toMatchObject({ statusCode: 400, message: "Backup blob contains invalid or corrupt version." });
  });

  it("when backed up, a secret's blob is the service's size for one version and grows with versions", async () => {
    await vault.seedSecrets({ count: 1, versions: 1, prefix: "size-one" });
    await vault.seedSecrets({ count: 1, versions: 3, prefix: "size-three" });

    const one = (await client.backupSecret("size-one-00000"))!;
    const three = (await client.backupSecret("size-three-00000"))!;

    expect(one.length).toBe(SECRET_BACKUP_BYTES_ONE_VERSION);
    expect(three.length).toBe(SECRET_BACKUP_BYTES_ONE_VERSION + 2 * SECRET_BACKUP_BYTES_PER_EXTRA_VERSION);
  });

  it("when secret and key requests share a vault, they share its throttle budget", async () => {
    const tight = await emu.addVault({ knobs: { throttle: 6 } });
    const c = secretClient(tight.url, emu.caCert);
    const keys = emulatorClient(tight.url, emu.caCert);
    await keys.createEcKey("k");
    await c.setSecret("s", "v");
    for (let i = 0; i < 2; i++) {
      await keys.getKey("k");
      await c.getSecret("s");
    }

    expect(await failureOf(c.getSecret("s"))).toMatchObject({ statusCode: 429 });
    expect(tight.stats().throttled429).toBe(1);
  });

  it("when a value is over 25 KB, a name is invalid, or the body has no value, the set is refused with 400", async () => {
    expect(await failureOf(client.setSecret("too-big", "x".repeat(25_601)))).toMatchObject({ statusCode: 400, code: "BadParameter" });
    expect((await raw("/secrets/bad_name", "PUT", { value: "v" })).status).toBe(400);
    expect((await raw("/secrets/no-value", "PUT", { contentType: "text/plain" })).status).toBe(400);
    expect(vault.listSecretNames()).not.toContain("too-big");
  });
});
