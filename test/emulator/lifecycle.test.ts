/**
 * Soft delete, recover and purge take time on Key Vault, as they do here: the official KeyClient's pollers
 * really poll, a stopped poller resumes unfinished, and a name between two states answers as the service's
 * does (404 to reads, 409 with the service's messages to writes).
 */
import type { KeyClient } from "@azure/keyvault-keys";
import { startEmulator, type EmulatedVault, type RunningEmulator } from "../../src/emulator";
import { AUTH, emulatorClient, failureOf, rawRequest, restoreAfterPurge } from "./helpers";

const V = "api-version=2025-07-01";
/** Long enough that the first poll surely comes before the end, even on a busy 2-core machine. */
const SLOW_MS = 1_200;

describe("Key Vault emulator: asynchronous delete, recover and purge", () => {
  let emu: RunningEmulator;
  let vault: EmulatedVault;
  let client: KeyClient;

  const raw = (path: string, method = "GET", body?: unknown) =>
    rawRequest(`${vault.url}${path}${path.includes("?") ? "&" : "?"}${V}`, emu.caCert, {
      method,
      headers: { ...AUTH, "Content-Type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    emu = await startEmulator({ seed: 3 });
    vault = await emu.addVault({ knobs: { softDeleteMs: SLOW_MS, purgeMs: SLOW_MS } });
    client = emulatorClient(vault.url, emu.caCert);
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("when started with no timing options, deletes, recovers and purges take a few hundred milliseconds", () => {
    expect(emu.vault.knobs()).toMatchObject({ softDeleteMs: 300, purgeMs: 300 });
  });

  it("when a key is deleted, beginDeleteKey polls GET /deletedkeys, answered 404 until the delete is done", async () => {
    // Prepare
    await client.createEcKey("polled-delete");
    vault.resetStats();

    // Act
    const poller = await client.beginDeleteKey("polled-delete", { intervalInMs: 50 });
    const unfinished = poller.isDone();
    const deleted = await poller.pollUntilDone();

    // Assess
    expect(unfinished).toBe(false);
    expect(deleted.name).toBe("polled-delete");
    expect(deleted.properties.recoveryId).toBe(`${vault.url}/deletedkeys/polled-delete`);
    const ops = vault.stats().operations;
    expect(ops["deleteKey"]).toBe(1);
    expect(ops["getDeletedKey"]).toBeGreaterThanOrEqual(2);
    expect(vault.listDeletedKeyNames()).toContain("polled-delete");
  });

  it("when a delete poller is stopped before the delete is done, a poller resumed from its state finishes it without deleting again", async () => {
    await client.createEcKey("resumed-delete");
    vault.resetStats();
    const first = await client.beginDeleteKey("resumed-delete", { intervalInMs: 50 });
    first.stopPolling();
    expect(first.isDone()).toBe(false);
    const state = first.toString();

    const resumed = await client.beginDeleteKey("resumed-delete", { resumeFrom: state, intervalInMs: 50 });
    const deleted = await resumed.pollUntilDone();

    expect(deleted.name).toBe("resumed-delete");
    expect(vault.stats().operations["deleteKey"]).toBe(1);
    expect(vault.listDeletedKeyNames()).toContain("resumed-delete");
  });

  it("while a delete is in progress, the key is neither readable nor deleted-readable, and writes to the name answer 409 'is currently being deleted'", async () => {
    await client.createRsaKey("being-deleted");
    const blob = (await client.backupKey("being-deleted"))!;

    expect((await raw("/keys/being-deleted", "DELETE")).status).toBe(200);

    expect((await raw("/keys/being-deleted/")).status).toBe(404);
    expect((await raw("/deletedkeys/being-deleted")).status).toBe(404);
    const versions = await raw("/keys/being-deleted/versions");
    expect({ status: versions.status, json: versions.json }).toEqual({ status: 200, json: { value: [], nextLink: null } });
    const listed: string[] = [];
    for await (const p of client.listPropertiesOfKeys()) listed.push(p.name);
    for await (const d of client.listDeletedKeys()) listed.push(d.name);
    expect(listed).not.toContain("being-deleted");
    for (const attempt of [client.createRsaKey("being-deleted"), client.restoreKeyBackup(blob), client.purgeDeletedKey("being-deleted")]) {
      expect(await failureOf(attempt)).toEqual({ statusCode: 409, code: "Conflict", message: "Key is currently being deleted." });
    }
  });

  it("when a deleted key is recovered, beginRecoverDeletedKey polls GET /keys until the key is back, and meanwhile writes answer 409 ObjectIsBeingRecovered", async () => {
    // Prepare: a key deleted (and the delete finished)
    await client.createEcKey("recovered", { tags: { kept: "yes" } });
    await (await client.beginDeleteKey("recovered", { intervalInMs: 50 })).pollUntilDone();
    vault.resetStats();

    // Act
    const poller = await client.beginRecoverDeletedKey("recovered", { intervalInMs: 50 });
    const unfinished = poller.isDone();
    const whileRecovering = await raw("/keys/recovered/create", "POST", { kty: "EC" });
    const deletedView = await raw("/deletedkeys/recovered");
    const recovered = await poller.pollUntilDone();

    // Assess
    expect(unfinished).toBe(false);
    expect(whileRecovering.status).toBe(409);
    expect(whileRecovering.json).toEqual({
      error: {
        code: "Conflict",
        message: "Key recovered is currently being recovered and cannot be re-created; retry later.",
        innererror: { code: "ObjectIsBeingRecovered" },
      },
    });
    expect(deletedView.status).toBe(404);
    expect(recovered.properties.tags).toEqual({ kept: "yes" });
    expect(vault.stats().operations["recoverDeletedKey"]).toBe(1);
    // The poller read the key until it was back: at least one 404, then the key.
    expect(vault.stats().operations["getKey"]).toBeGreaterThanOrEqual(2);
    expect(vault.listKeyNames()).toContain("recovered");
  });

  it("after a purge answers 204, the name is in limbo: get and get-deleted answer 404, create and restore 409, until the purge is done", async () => {
    // Prepare
    await client.createEcKey("limbo");
    const blob = (await client.backupKey("limbo"))!;
    await (await client.beginDeleteKey("limbo", { intervalInMs: 50 })).pollUntilDone();

    // Act
    expect((await raw("/deletedkeys/limbo", "DELETE")).status).toBe(204);

    // Assess
    expect((await failureOf(client.getKey("limbo"))).statusCode).toBe(404);
    expect((await failureOf(client.getDeletedKey("limbo"))).statusCode).toBe(404);
    expect((await failureOf(client.purgeDeletedKey("limbo"))).statusCode).toBe(404);
    const restore = await failureOf(client.restoreKeyBackup(blob));
    expect(restore).toMatchObject({ statusCode: 409, code: "Conflict" });
    expect(restore.message).toMatch(/^There was a conflict while restoring key 'limbo'\./);
    expect(await failureOf(client.createEcKey("limbo"))).toMatchObject({ statusCode: 409, code: "Conflict" });
    expect(vault.listKeyNames()).not.toContain("limbo");
    expect(vault.listDeletedKeyNames()).not.toContain("limbo");
    // As the SDK's samples do: retry the restore until the purge is done.
    expect((await restoreAfterPurge(client, blob)).name).toBe("limbo");
  });

  it("when the timings are 0, delete, recover and purge are done when they are answered", async () => {
    const instant = await emu.addVault({ knobs: { softDeleteMs: 0, purgeMs: 0 } });
    const c = emulatorClient(instant.url, emu.caCert);
    await c.createEcKey("instant");
    const blob = (await c.backupKey("instant"))!;
    const deleted = await c.beginDeleteKey("instant", { intervalInMs: 50 });
    expect(deleted.isDone()).toBe(true);
    const recovered = await c.beginRecoverDeletedKey("instant", { intervalInMs: 50 });
    expect(recovered.isDone()).toBe(true);
    await (await c.beginDeleteKey("instant")).pollUntilDone();
    await c.purgeDeletedKey("instant");
    expect((await c.restoreKeyBackup(blob)).name).toBe("instant");
  });

  it("when a key name holds no key, listing its versions answers 200 with an empty list, as the service does", async () => {
    const versions: string[] = [];
    for await (const v of client.listPropertiesOfKeyVersions("never-existed")) versions.push(v.version!);
    expect(versions).toEqual([]);
    const res = await raw("/keys/never-existed/versions");
    expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: { value: [], nextLink: null } });
  });
});
