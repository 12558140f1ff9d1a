import { createServices, directKeyClient } from "../../src/composition";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyClient } from "@azure/keyvault-keys";
import { BlobServiceClient } from "@azure/storage-blob";
import { OrchestratorNames, type HsmBackupInput, type HsmJobSummary, type HsmRestoreInput } from "../../src/contracts";
import { startEmulator, type RunningEmulator } from "../../src/emulator";
import { ObjectConflictError } from "../../src/keyvault/errors";
import { type HsmClientFactory } from "../../src/keyvault/hsm-admin-client";
import { AZURITE_ACCOUNT_KEY, startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { LocalDurableHost, type OrchestrationStatus } from "../../src/local/durable-host";
import { createHsmActivityHandlers, forLocalHost, orchestrators } from "../../src/registry";
import { createHsmStorageAccess, type HsmStorageAccess } from "../../src/storage/hsm-storage-access";
import { main } from "../../src/cli/main";

/**
 * Managed HSM backup and restore end to end: the real orchestrators and activities on the in-process host,
 * the HSM admin REST client, the emulator's HSM mode, and Azurite. The last test reads back every status and
 * persisted history these tests produced and checks that no SAS and no account key ever got into one.
 */
const JOB_MS = 250;
const polling = { initialIntervalMs: 100, maxIntervalMs: 400, backoffCoefficient: 2, timeoutMs: 30_000 };

let azurite: RunningAzurite;
let emulator: RunningEmulator;
let hsmUrl: string;
let keys: KeyClient;
let blobs: BlobServiceClient;
let hsmClients: HsmClientFactory;
let stateDir: string;
const statuses: OrchestrationStatus[] = [];
/** Every token the SAS-minting storage access handed out, to prove the scan looks for something real. */
const mintedTokens: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  // The emulator's "managed identity" reaches Azurite through Azurite's connection string.
  emulator = await startEmulator({
    seed: 11,
    hsm: { jobDurationMs: JOB_MS, retryAfterSeconds: 0, storageConnectionString: azurite.connectionString },
  });
  hsmUrl = emulator.hsmUrl!;
  keys = directKeyClient(hsmUrl, { emulatorCaCert: emulator.caCert, maxRetries: 2 });
  hsmClients = createServices({ emulatorCaCert: emulator.caCert }).hsmClients;
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  for (const c of ["hsm-backups", "hsm-mi-backups", "hsm-cli-backups"]) await blobs.getContainerClient(c).create();
  stateDir = mkdtempSync(join(tmpdir(), "kvbackup-hsm-test-"));
});

afterAll(async () => {
  await emulator?.stop();
  await azurite?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

function accountSasAccess(): HsmStorageAccess {
  const inner = createHsmStorageAccess({ mode: "accountSas", storage: azurite.connectionString });
  const record = async (p: ReturnType<HsmStorageAccess["forBackup"]>) => {
    const params = await p;
    if (params.token) mintedTokens.push(params.token);
    return params;
  };
  return { mode: inner.mode, forBackup: (u) => record(inner.forBackup(u)), forRestore: (u) => record(inner.forRestore(u)) };
}

/** Runs one HSM orchestration to its end, keeping every status it went through for the final scan. */
async function runJob(orchestrator: string, input: HsmBackupInput | HsmRestoreInput, storageAccess: HsmStorageAccess, instanceId: string): Promise<OrchestrationStatus> {
  const host = new LocalDurableHost({
    orchestrators,
    activities: forLocalHost(createHsmActivityHandlers({ hsmClients, storageAccess })),
    clock: "real",
    stateDir,
  });
  const unsubscribe = host.onStatusChange((s) => statuses.push(s));
  try {
    await host.startNew(orchestrator, { instanceId, input });
    const status = await host.waitForCompletion(instanceId, { timeoutMs: 20_000 });
    statuses.push(status);
    return status;
  } finally {
    unsubscribe();
    await host.close();
  }
}

async function createKeyWithVersions(name: string, versions: number): Promise<void> {
  for (let i = 0; i < versions; i++) await keys.createKey(name, "EC-HSM", { curve: "P-256" });
}

interface KeySnapshot {
  versions: string[];
  material: Record<string, string>;
  enabled: Record<string, boolean | undefined>;
  tags: Record<string, Record<string, string> | undefined>;
}

async function snapshot(): Promise<Map<string, KeySnapshot>> {
  const out = new Map<string, KeySnapshot>();
  for await (const props of keys.listPropertiesOfKeys()) {
    const snap: KeySnapshot = { versions: [], material: {}, enabled: {}, tags: {} };
    for await (const v of keys.listPropertiesOfKeyVersions(props.name)) {
      const key = await keys.getKey(props.name, { version: v.version! });
      snap.versions.push(v.version!);
      snap.material[v.version!] = `${key.key?.x && Buffer.from(key.key.x).toString("hex")}`;
      snap.enabled[v.version!] = key.properties.enabled;
      snap.tags[v.version!] = key.properties.tags;
    }
    snap.versions.sort();
    out.set(props.name, snap);
  }
  return out;
}

async function deleteAndPurge(name: string): Promise<void> {
  const poller = await keys.beginDeleteKey(name, { intervalInMs: 20 });
  await poller.pollUntilDone();
  await keys.purgeDeletedKey(name);
}

async function folderBlobs(containerName: string, folderUrl: string): Promise<string[]> {
  const folder = folderUrl.slice(folderUrl.lastIndexOf("/") + 1);
  const names: string[] = [];
  for await (const b of blobs.getContainerClient(containerName).listBlobsFlat({ prefix: `${folder}/` })) names.push(b.name.slice(folder.length + 1));
  return names.sort();
}

describe("Managed HSM full backup and restore (emulator + Azurite)", () => {
  let backupFolderUrl: string;
  let before: Map<string, KeySnapshot>;

  it("when an HSM with keys is backed up with a minted SAS, the job succeeds and its folder exists in the container", async () => {
    await createKeyWithVersions("payments", 3);
    await createKeyWithVersions("mail", 1);
    await createKeyWithVersions("archive", 2);
    await keys.updateKeyProperties("mail", { enabled: false, tags: { owner: "mail-team" } });
    before = await snapshot();

    const containerUrl = `${azurite.blobEndpoint}/hsm-backups`;
    const status = await runJob(OrchestratorNames.hsmBackup, { hsmUrl, containerUrl, polling }, accountSasAccess(), "hsm-backup-1");

    expect(status.runtimeStatus).toBe("Completed");
    const output = status.output as HsmJobSummary;
    expect(output.status).toBe("Succeeded");
    expect(output.folderUrl).toMatch(new RegExp(`^${containerUrl}/mhsm-hsm-\\d{14}$`));
    expect(output.polls).toBeGreaterThanOrEqual(1);
    expect(Date.parse(output.endTime!)).toBeGreaterThanOrEqual(Date.parse(output.startTime!));
    expect(await folderBlobs("hsm-backups", output.folderUrl!)).toEqual(["backup.json", "keys.bin"]);
    backupFolderUrl = output.folderUrl!;
  });

  it("when every key is then deleted and purged, a full restore brings back every key and every version as it was", async () => {
    for (const name of before.keys()) await deleteAndPurge(name);
    expect(emulator.hsm!.keyCount()).toBe(0);

    const status = await runJob(OrchestratorNames.hsmRestore, { hsmUrl, folderUrl: backupFolderUrl, polling }, accountSasAccess(), "hsm-restore-1");

    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output).toMatchObject({ operation: "restore", status: "Succeeded", folderUrl: backupFolderUrl });
    const after = await snapshot();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, snap] of before) expect(after.get(name)).toEqual(snap);
    expect(after.get("payments")!.versions).toHaveLength(3);
    expect(Object.values(after.get("mail")!.enabled)).toEqual([false]);
  });

  it("when one key is deleted and purged, a selective restore (managed identity) brings it back and touches no other key", async () => {
    // A backup of its own, through the HSM's managed identity (no SAS at all).
    const backup = await runJob(
      OrchestratorNames.hsmBackup,
      { hsmUrl, containerUrl: `${azurite.blobEndpoint}/hsm-mi-backups`, polling },
      createHsmStorageAccess(),
      "hsm-backup-mi",
    );
    expect(backup.runtimeStatus).toBe("Completed");
    const folderUrl = (backup.output as HsmJobSummary).folderUrl!;

    await deleteAndPurge("mail");
    await keys.createKey("payments", "EC-HSM"); // a version made after the backup
    const others = await snapshot();

    const status = await runJob(
      OrchestratorNames.hsmRestore,
      { hsmUrl, folderUrl, keyName: "mail", polling },
      createHsmStorageAccess(),
      "hsm-restore-mail",
    );

    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output).toMatchObject({ operation: "selectiveRestore", keyName: "mail", status: "Succeeded" });
    const after = await snapshot();
    expect(after.get("mail")).toEqual(before.get("mail"));
    for (const [name, snap] of others) expect(after.get(name)).toEqual(snap);
    expect(after.get("payments")!.versions).toHaveLength(4);
  });

  it("when the container does not exist, the job (not the request) fails and the orchestration ends Failed with the service's code and message", async () => {
    const status = await runJob(
      OrchestratorNames.hsmBackup,
      { hsmUrl, containerUrl: `${azurite.blobEndpoint}/no-such-container`, polling },
      accountSasAccess(),
      "hsm-backup-missing-container",
    );
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toMatch(/ended Failed: ContainerNotFound: The storage container http:\/\/\S+\/no-such-container does not exist\./);
  });

  it("when the SAS token is refused by storage, the job fails with StorageAccessDenied and the token appears nowhere", async () => {
    const forged: HsmStorageAccess = {
      mode: "accountSas",
      forBackup: async (containerUrl) => {
        const token = `sv=2025-01-05&ss=b&srt=co&sp=rcwdl&se=2099-01-01T00:00:00Z&sig=${encodeURIComponent("Zm9yZ2VkLXNpZ25hdHVyZQ==")}`;
        mintedTokens.push(token);
        return { storageResourceUri: containerUrl, token };
      },
      forRestore: async () => {
        throw new Error("unused");
      },
    };
    const status = await runJob(OrchestratorNames.hsmBackup, { hsmUrl, containerUrl: `${azurite.blobEndpoint}/hsm-backups`, polling }, forged, "hsm-backup-bad-sas");
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.failureDetails?.errorMessage).toContain("StorageAccessDenied: Azure Storage refused access to");
  });

  it("when a backup is running, a second start is refused with 409 Conflict, as the service allows one operation at a time", async () => {
    const client = hsmClients(hsmUrl);
    const storage = { storageResourceUri: `${azurite.blobEndpoint}/hsm-mi-backups`, useManagedIdentity: true };
    const first = await client.beginFullBackup(storage);
    expect(first.status).toBe("InProgress");
    expect(first.retryAfterSeconds).toBe(0);
    await expect(client.beginFullRestore(storage, "mhsm-hsm-20200101000000")).rejects.toBeInstanceOf(ObjectConflictError);
    // Let it finish so later tests start from an idle HSM.
    let status = first;
    while (status.status === "InProgress") {
      await new Promise((r) => setTimeout(r, 50));
      status = await client.getBackupStatus(first.jobId);
    }
    expect(status.status).toBe("Succeeded");
  });

  it("when run from the CLI, hsm-backup and hsm-restore --key exit 0 and print folderUrl and the final status", async () => {
    const caPath = join(stateDir, "emulator-ca.pem");
    writeFileSync(caPath, emulator.caCert);
    const common = ["--hsm", hsmUrl, "--emulator-ca", caPath, "--json", "--state-dir", stateDir, "--poll-interval-ms", "100"];
    const sas = ["--sas-mode", "accountSas", "--storage", azurite.connectionString];

    const backup = collect();
    const backupCode = await main(["node", "kvbackup", "hsm-backup", ...common, ...sas, "--container-url", `${azurite.blobEndpoint}/hsm-cli-backups`, "--job-id", "cli-backup"], backup.io);
    expect({ code: backupCode, stderr: backup.stderr() }).toEqual({ code: 0, stderr: "" });
    const backupJson = JSON.parse(backup.stdout()) as { jobId: string; folderUrl: string; status: string };
    expect(backupJson).toMatchObject({ jobId: "cli-backup", status: "Succeeded", operation: "backup" });
    expect(backupJson.folderUrl).toMatch(/\/hsm-cli-backups\/mhsm-hsm-\d{14}$/);

    // The same job id again: the stored outcome is reported, no second backup is taken.
    const again = collect();
    const againCode = await main(["node", "kvbackup", "hsm-backup", ...common, ...sas, "--container-url", `${azurite.blobEndpoint}/hsm-cli-backups`, "--job-id", "cli-backup"], again.io);
    expect(againCode).toBe(0);
    expect(JSON.parse(again.stdout())).toMatchObject({ jobId: "cli-backup", folderUrl: backupJson.folderUrl });
    const folders = new Set<string>();
    for await (const b of blobs.getContainerClient("hsm-cli-backups").listBlobsFlat()) folders.add(b.name.split("/")[0]!);
    expect([...folders]).toHaveLength(1);

    // The same job id with another container: refused, not resumed as the stored job.
    const other = collect();
    const otherCode = await main(["node", "kvbackup", "hsm-backup", ...common, ...sas, "--container-url", `${azurite.blobEndpoint}/hsm-other`, "--job-id", "cli-backup"], other.io);
    expect(otherCode).toBe(2);
    expect(other.stderr()).toMatch(/^kvbackup: job cli-backup was started with other arguments \(containerUrl differ\)/);

    await deleteAndPurge("archive");
    const restore = collect();
    const restoreCode = await main(["node", "kvbackup", "hsm-restore", ...common, "--folder", backupJson.folderUrl, "--key", "archive", "--job-id", "cli-restore"], restore.io);
    expect(restoreCode).toBe(0);
    expect(JSON.parse(restore.stdout())).toMatchObject({ jobId: "cli-restore", status: "Succeeded", operation: "selectiveRestore", keyName: "archive" });
    expect(emulator.hsm!.listVersions("archive")).toHaveLength(2);

    const failing = collect();
    const failCode = await main(["node", "kvbackup", "hsm-backup", ...common, "--container-url", `${azurite.blobEndpoint}/no-such-container`, "--job-id", "cli-fail"], failing.io);
    expect(failCode).toBe(1);
    expect(JSON.parse(failing.stdout())).toMatchObject({ jobId: "cli-fail", status: "Failed", hsmStatus: "Failed", error: expect.stringContaining("ContainerNotFound") });
    expect(failing.stderr().trimEnd().split("\n")).toHaveLength(1);
  });

  it("when the CLI is given a SAS in a URL or a wrong HSM URL, it exits 2 with one line and starts nothing", async () => {
    const container = "https://acct.blob.core.windows.net/hsm-backups";
    const cases: Array<[string[], string]> = [
      [["hsm-backup", "--hsm", hsmUrl, "--emulator-ca", join(stateDir, "emulator-ca.pem"), "--container-url", `${azurite.blobEndpoint}/hsm-backups?sv=x&sig=abc`], "--container-url"],
      [["hsm-backup", "--hsm", "https://example.com", "--container-url", container], "--hsm"],
      [["hsm-backup", "--hsm", "https://myhsm.managedhsm.azure.net", "--container-url", `${azurite.blobEndpoint}/hsm-backups`], "loopback"],
      [["hsm-restore", "--hsm", "https://myhsm.managedhsm.azure.net", "--folder", `${container}/mhsm-x-1`, "--key", "bad_name"], "--key"],
      [["hsm-restore", "--hsm", "https://myhsm.managedhsm.azure.net", "--folder", container], "--folder"],
      [["hsm-backup", "--hsm", "https://myhsm.managedhsm.azure.net", "--container-url", container, "--sas-mode", "accountSas"], "--sas-mode accountSas"],
    ];
    for (const [args, flag] of cases) {
      const out = collect();
      const code = await main(["node", "kvbackup", ...args], out.io);
      expect({ args, code, lines: out.stderr().trimEnd().split("\n").length }).toEqual({ args, code: 2, lines: 1 });
      expect(out.stderr()).toContain(flag);
      expect(out.stderr()).not.toContain("sig=abc");
      expect(out.stdout()).toBe("");
    }
  });

  it("when every status and persisted history of these jobs is read back, none holds a SAS signature or an account key", () => {
    expect(mintedTokens.length).toBeGreaterThanOrEqual(3);
    expect(mintedTokens.every((t) => t.includes("sig="))).toBe(true);
    const persisted = readdirSync(stateDir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => readFileSync(join(stateDir, f), "utf8"));
    // The HSM jobs of this file, the CLI's included.
    expect(persisted.length).toBeGreaterThanOrEqual(8);
    const texts = [...persisted, ...statuses.map((s) => JSON.stringify(s))];
    const signatures = mintedTokens.map((t) => new URLSearchParams(t).get("sig")!);
    for (const text of texts) {
      expect(text).not.toMatch(/sig=/i);
      expect(text).not.toContain(AZURITE_ACCOUNT_KEY);
      expect(text).not.toMatch(/AccountKey=/i);
      for (const sig of signatures) {
        expect(text).not.toContain(sig);
        expect(text).not.toContain(encodeURIComponent(sig));
      }
    }
    // The histories are there to scan: activity inputs and results are in them.
    expect(persisted.some((t) => t.includes("startHsmBackup") && t.includes("hsm-backups"))).toBe(true);
  });
});

function collect() {
  let out = "";
  let err = "";
  return {
    io: { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } },
    stdout: () => out,
    stderr: () => err,
  };
}
