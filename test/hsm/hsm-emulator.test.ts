import { promises as fs } from "node:fs";
import { startEmulator, type RunningEmulator } from "../../src/emulator";
import { runEmulatorCli } from "../../src/emulator/cli";
import { EmulatorTokenCredential } from "../../src/keyvault/clients";
import { KeyVaultBadRequestError } from "../../src/keyvault/errors";
import { HsmAdminClient, retryAfterSeconds, unixToIso } from "../../src/keyvault/hsm-admin-client";
import { createHsmStorageAccess, parseContainerUrl, scrubSas, splitFolderUrl } from "../../src/storage/hsm-storage-access";
import { redactUrl } from "../../src/util/redact-url";
import { AZURITE_ACCOUNT_KEY, azuriteConnectionString } from "../../src/local/azurite";
import { AUTH, rawRequest } from "../emulator/helpers";

/**
 * The emulator's Managed HSM mode as the wire sees it (routes, bodies, headers, errors), the HSM admin
 * client's parsing, and the storage-access helpers. No Azurite: jobs that need storage fail, which is
 * itself part of what is checked.
 */
describe("emulator Managed HSM mode", () => {
  let emulator: RunningEmulator;
  let hsm: string;
  const api = "api-version=2025-07-01";

  beforeAll(async () => {
    emulator = await startEmulator({ seed: 3, hsm: { jobDurationMs: 100, retryAfterSeconds: 2, keys: 2 } });
    hsm = emulator.hsmUrl!;
  });
  afterAll(() => emulator?.stop());

  async function waitForEnd(kind: "backup" | "restore", jobId: string): Promise<Record<string, unknown>> {
    for (;;) {
      const res = await rawRequest(`${hsm}/${kind}/${jobId}/pending?${api}`, emulator.caCert, { headers: AUTH });
      const body = res.json as Record<string, unknown>;
      if (body["status"] !== "InProgress") return body;
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  it("when started with hsm, it serves the keys API on its own port and challenges for the managedhsm.azure.net resource", async () => {
    expect(hsm).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(hsm).not.toBe(emulator.vaultUrl);
    expect(emulator.vaults).toHaveLength(1);
    expect(emulator.hsm!.kind).toBe("managedHsm");
    expect(emulator.hsm!.keyCount()).toBe(2);
    const challenge = await rawRequest(`${hsm}/keys?${api}`, emulator.caCert);
    expect(challenge.status).toBe(401);
    expect(challenge.headers["www-authenticate"]).toContain('resource="https://managedhsm.azure.net"');
  });

  it("when a backup starts, it answers 202 with Azure-AsyncOperation, Retry-After and an InProgress body; a missing identity fails the job", async () => {
    const res = await rawRequest(`${hsm}/backup?${api}`, emulator.caCert, {
      method: "POST",
      headers: { ...AUTH, "Content-Type": "application/json" },
      body: JSON.stringify({ storageResourceUri: "http://127.0.0.1:1/devstoreaccount1/c01", useManagedIdentity: true }),
    });
    expect(res.status).toBe(202);
    const body = res.json as Record<string, unknown>;
    expect(body).toMatchObject({ status: "InProgress", statusDetails: "Full backup is in progress", endTime: 0, error: null });
    expect(body["azureStorageBlobContainerUri"]).toMatch(/^http:\/\/127\.0\.0\.1:1\/devstoreaccount1\/c01\/mhsm-hsm-\d{14}$/);
    expect(res.headers["azure-asyncoperation"]).toBe(`${hsm}/backup/${body["jobId"]}/pending`);
    expect(res.headers["retry-after"]).toBe("2");

    const end = await waitForEnd("backup", String(body["jobId"]));
    expect(end).toMatchObject({ status: "Failed", error: { code: "ManagedIdentityNotConfigured" } });
    expect(end["endTime"]).toEqual(expect.any(Number));
  });

  it("when a selective restore names its folder 'folderToRestore' (the full restore's field), it is refused 400; 'folder' is accepted", async () => {
    const client = new HsmAdminClient(hsm, { credential: new EmulatorTokenCredential(), emulatorCaCert: emulator.caCert, retry: { maxRetries: 0 } });
    const sasTokenParameters = { storageResourceUri: "http://127.0.0.1:1/devstoreaccount1/c01", token: "sv=x&sig=secret" };
    const wrong = await rawRequest(`${hsm}/keys/key-00000/restore?${api}`, emulator.caCert, {
      method: "PUT",
      headers: { ...AUTH, "Content-Type": "application/json" },
      body: JSON.stringify({ sasTokenParameters, folderToRestore: "mhsm-hsm-20260101000000" }),
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json).toEqual({ error: { code: "BadParameter", message: "The 'folder' property (the backup folder name) is required." } });

    const op = await client.beginSelectiveKeyRestore("key-00000", sasTokenParameters, "mhsm-hsm-20260101000000");
    expect(op).toMatchObject({ status: "InProgress", statusDetails: "Selective Key restore is in progress", retryAfterSeconds: 2 });
    const end = await client.getRestoreStatus(op.jobId);
    expect(end.jobId).toBe(op.jobId);
    const done = await waitForEnd("restore", op.jobId);
    // Storage is unreachable here: the job fails, and its message never repeats the token.
    expect(done).toMatchObject({ status: "Failed", error: { code: "StorageUnavailable" } });
    expect(JSON.stringify(done)).not.toContain("secret");
    expect(emulator.hsm!.listKeyNames()).toEqual(["key-00000", "key-00001"]);
  });

  it("when a start body lacks both a token and useManagedIdentity, the request (not a job) is refused 400", async () => {
    const client = new HsmAdminClient(hsm, { credential: new EmulatorTokenCredential(), emulatorCaCert: emulator.caCert, retry: { maxRetries: 0 } });
    await expect(client.beginFullBackup({ storageResourceUri: "https://acct.blob.core.windows.net/c01" })).rejects.toBeInstanceOf(KeyVaultBadRequestError);
    const pending = await rawRequest(`${hsm}/restore/0123456789abcdef/pending?${api}`, emulator.caCert, { headers: AUTH });
    expect(pending.status).toBe(404);
    const pre = await client.beginPreRestore({ storageResourceUri: "https://acct.blob.core.windows.net/c01", useManagedIdentity: true }, "mhsm-hsm-1");
    expect(pre.status).toBe("InProgress");
    await waitForEnd("restore", pre.jobId);
  });

  it("when started from the command line with --hsm, the ready line carries hsmUrl", async () => {
    const stop = new AbortController();
    let stdout = "";
    let ready: () => void = () => {};
    const isReady = new Promise<void>((r) => (ready = r));
    const exit = runEmulatorCli(["--hsm", "--hsm-job-ms", "10"], { stdout: (t) => ((stdout += t), ready()), stderr: () => {}, signal: stop.signal });
    await isReady;
    const info = JSON.parse(stdout) as { vaultUrl: string; caCertPath: string; hsmUrl: string };
    expect(Object.keys(info)).toEqual(["vaultUrl", "caCertPath", "hsmUrl"]);
    const challenge = await rawRequest(`${info.hsmUrl}/backup/x/pending?${api}`, await fs.readFile(info.caCertPath, "utf8"));
    expect(challenge.status).toBe(401);
    stop.abort();
    await expect(exit).resolves.toBe(0);
  });
});

describe("HSM client and storage-access helpers", () => {
  it("when Retry-After is seconds or an HTTP date, it is read as whole seconds; unparseable is ignored", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterSeconds("5", now)).toBe(5);
    expect(retryAfterSeconds("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
    expect(retryAfterSeconds("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(retryAfterSeconds("soon", now)).toBeUndefined();
    expect(retryAfterSeconds(undefined, now)).toBeUndefined();
  });

  it("when a job time is Unix seconds, it becomes ISO; 0 and null (still running) become undefined", () => {
    expect(unixToIso(1490790000)).toBe("2017-03-29T12:20:00.000Z");
    expect(unixToIso(0)).toBeUndefined();
    expect(unixToIso(null)).toBeUndefined();
  });

  it("when container and folder URLs are parsed, host-style and Azurite path-style work and a SAS is refused", () => {
    expect(parseContainerUrl("https://acct.blob.core.windows.net/hsm-backups")).toEqual({
      containerUrl: "https://acct.blob.core.windows.net/hsm-backups",
      accountUrl: "https://acct.blob.core.windows.net",
      accountName: "acct",
      containerName: "hsm-backups",
    });
    expect(parseContainerUrl("http://127.0.0.1:10000/devstoreaccount1/c01")).toMatchObject({ accountName: "devstoreaccount1", containerName: "c01" });
    expect(parseContainerUrl("https://acct.blob.core.windows.net/c01?sv=1&sig=x")).toMatch(/must not have a query/);
    expect(parseContainerUrl("http://acct.blob.core.windows.net/c01")).toBe("must use https://");
    expect(splitFolderUrl("https://acct.blob.core.windows.net/c01/mhsm-h-20260101000000")).toMatchObject({
      folderName: "mhsm-h-20260101000000",
      container: { containerUrl: "https://acct.blob.core.windows.net/c01" },
    });
    expect(typeof splitFolderUrl("https://acct.blob.core.windows.net/c01")).toBe("string");
    expect(redactUrl("https://a.blob.core.windows.net/c/f?sv=1&sig=abc")).toBe("https://a.blob.core.windows.net/c/f");
    expect(scrubSas("failed at https://a/c?sv=1&sig=abc%2B&se=2 and sig=xyz")).toBe("failed at https://a/c?sv=1&sig=REDACTED&se=2 and sig=REDACTED");
  });

  it("when an account SAS is minted, it is scoped to the container with read-only rights for a restore, and managed identity sends no token", async () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const access = createHsmStorageAccess({ mode: "accountSas", storage: azuriteConnectionString(10000), now: () => now });
    const restore = await access.forRestore("http://127.0.0.1:10000/devstoreaccount1/c01");
    const params = new URLSearchParams(restore.token);
    expect(restore.storageResourceUri).toBe("http://127.0.0.1:10000/devstoreaccount1/c01");
    expect(params.get("sr")).toBe("c");
    expect(params.get("sp")).toBe("rl");
    expect(params.get("se")).toBe("2026-01-02T00:15:00Z");
    expect(restore.token).not.toContain(AZURITE_ACCOUNT_KEY);
    expect(new URLSearchParams((await access.forBackup("http://127.0.0.1:10000/devstoreaccount1/c01")).token).get("sp")).toBe("rcwdl");
    await expect(access.forBackup("https://other.blob.core.windows.net/c01")).rejects.toThrow(/not the account of the configured connection string/);
    expect(await createHsmStorageAccess().forBackup("https://acct.blob.core.windows.net/c01")).toEqual({
      storageResourceUri: "https://acct.blob.core.windows.net/c01",
      useManagedIdentity: true,
    });
    expect(() => createHsmStorageAccess({ mode: "accountSas", storage: "https://acct.blob.core.windows.net" })).toThrow(/AccountName and AccountKey/);
  });
});
