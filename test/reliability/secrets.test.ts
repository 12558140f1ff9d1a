import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { main, type Io } from "../../src/cli/main";
import { startEmulator } from "../../src/emulator";
import type { RunningEmulator } from "../../src/emulator/types";
import { EmulatorTokenCredential } from "../../src/keyvault/clients";
import { AZURITE_ACCOUNT_KEY, startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { LocalRuntime } from "../../src/local/runtime";
import { BackupSetPaths, vaultFolder } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { openBackupStore } from "../../src/storage/open-store";
import { tempDir } from "./helpers";

/**
 * Nothing secret is ever persisted or printed: backups, restores (successful, partial, refused, dry run)
 * and Managed HSM jobs whose activities mint a SAS are run with a state folder, then every history file,
 * custom status, output, log line and line of output is searched for tokens, SAS signatures, account keys
 * and private key material.
 */
const CONTAINER = "reliability-secrets";
const EMULATOR_TOKEN = new EmulatorTokenCredential();

/** Each finding names the needle, never the secret around it. */
const NEEDLES: ReadonlyArray<readonly [string, RegExp]> = [
  ["the emulator's bearer token", /kvbackup-local-emulator-token/],
  ["a bearer token", /Bearer\s/i],
  ["a SAS signature", /[?&;"'\s]sig=|^sig=/im],
  ["a SAS in a connection string", /SharedAccessSignature=/i],
  ["the Azurite account key", new RegExp(AZURITE_ACCOUNT_KEY.slice(0, 40).replace(/[+/]/g, (c) => `\\${c}`))],
  ["an account key", /AccountKey=/i],
  ["a SharedKey authorization", /SharedKey\s/],
  ["PEM material", /-----BEGIN/],
  ["a JWK private part", /"(d|p|q|dp|dq|qi|k)"\s*:/],
];

function findSecrets(where: string, text: string): string[] {
  return NEEDLES.filter(([, pattern]) => pattern.test(text)).map(([what]) => `${where}: ${what}`);
}

describe("secrets never reach histories, statuses, outputs or logs", () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let store: BackupStore;
  let cliState: { path: string; remove: () => void };
  let runtimeState: { path: string; remove: () => void };
  const printed: Array<[string, string]> = [];
  const logLines: string[] = [];
  const statuses: unknown[] = [];

  async function kvbackup(label: string, args: readonly string[]): Promise<{ code: number; out: string }> {
    let out = "";
    let err = "";
    const io: Io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    const code = await main(["node", "kvbackup", ...args], io);
    printed.push([`${label} stdout`, out], [`${label} stderr`, err]);
    return { code, out };
  }

  beforeAll(async () => {
    cliState = tempDir("kvbackup-secrets-cli-");
    runtimeState = tempDir("kvbackup-secrets-runtime-");
    azurite = await startAzurite();
    emulator = await startEmulator({
      seed: 17,
      throttle: 0,
      // Some 503s, so retried and failed calls leave their messages behind too.
      faults: { error503Rate: 0.03, retryAfterSeconds: 0 },
      hsm: { jobDurationMs: 200, retryAfterSeconds: 0, storageConnectionString: azurite.connectionString, keys: 3, versions: 2 },
    });
    store = openBackupStore({ storage: azurite.connectionString, container: CONTAINER });
    await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient("hsm-secrets").createIfNotExists();
  }, 120_000);

  afterAll(async () => {
    await emulator?.stop();
    await azurite?.stop();
    cliState?.remove();
    runtimeState?.remove();
  });

  it("when backups, restores and HSM jobs have run, no history, status, output or log line holds a token, a SAS, an account key or private key material", async () => {
    // Prepare: a vault with good keys, certificate-backed keys (skipped) and one key the service will not back up (failed).
    const vault = emulator.vault;
    await vault.seedKeys({ count: 30, versions: 2, prefix: "app", tags: { env: "prod" } });
    await vault.seedKeys({ count: 2, prefix: "cert", managed: true });
    await vault.seedKeys({ count: 1, versions: 501, prefix: "huge" });
    const cli = ["--emulator-ca", emulator.caCertPath, "--storage", azurite.connectionString, "--container", CONTAINER, "--state-dir", cliState.path, "--json"];

    // Act: through the command
    const backup = await kvbackup("backup", ["backup", "--vault", vault.url, "--job-id", "secret-backup", ...cli]);
    expect(backup.code).toBe(3);
    const setRef = `${vaultFolder(vault.url)}/${JSON.parse(backup.out).backupSetId}`;
    const target = await emulator.addVault({ name: "secrets-target" });
    expect((await kvbackup("restore", ["restore", "--backup-set", setRef, "--vault", target.url, "--job-id", "secret-restore", ...cli])).code).toBe(3);
    expect((await kvbackup("dry run", ["restore", "--backup-set", setRef, "--dry-run", "--job-id", "secret-dry-run", ...cli])).code).toBe(3);
    expect((await kvbackup("refused restore", ["restore", "--backup-set", setRef, "--vault", target.url, "--on-conflict", "fail", "--job-id", "secret-refused", ...cli])).code).toBe(1);
    expect((await kvbackup("resumed finished job", ["backup", "--vault", vault.url, "--job-id", "secret-backup", ...cli])).code).toBe(3);
    expect((await kvbackup("bad input", ["backup", "--vault", "https://u:p@x.vault.azure.net", ...cli])).code).toBe(2);
    const hsm = ["--hsm", emulator.hsmUrl!, "--emulator-ca", emulator.caCertPath, "--json", "--state-dir", cliState.path, "--poll-interval-ms", "100"];
    const sas = ["--sas-mode", "accountSas", "--storage", azurite.connectionString];
    const hsmBackup = await kvbackup("hsm-backup", ["hsm-backup", ...hsm, ...sas, "--container-url", `${azurite.blobEndpoint}/hsm-secrets`, "--job-id", "secret-hsm-backup"]);
    expect(hsmBackup.code).toBe(0);
    const folderUrl = JSON.parse(hsmBackup.out).folderUrl as string;
    expect((await kvbackup("hsm-restore", ["hsm-restore", ...hsm, ...sas, "--folder", folderUrl, "--job-id", "secret-hsm-restore"])).code).toBe(0);
    expect((await kvbackup("hsm-restore of a missing folder", ["hsm-restore", ...hsm, ...sas, "--folder", `${azurite.blobEndpoint}/hsm-secrets/mhsm-hsm-20200101000000`, "--job-id", "secret-hsm-fail"])).code).toBe(1);

    // Act: through the runtime, with its structured log lines, restoring a set with a damaged blob.
    const paths = new BackupSetPaths(vaultFolder(vault.url), JSON.parse(backup.out).backupSetId);
    const damaged = new BackupSetPaths(paths.vaultFolderName, paths.backupSetId.replace(/-[^-]+$/, "-damaged"));
    for await (const item of store.list(`${paths.root}/`)) {
      let data = await store.read(item.path);
      if (item.path.endsWith("manifest.json")) data = Buffer.from(data.toString("utf8").split(paths.backupSetId).join(damaged.backupSetId));
      if (item.path === paths.blob("key", "app-00004")) data = data.subarray(1);
      await store.writeOnce(`${damaged.root}${item.path.slice(paths.root.length)}`, data);
    }
    const runtime = new LocalRuntime({ store, emulatorCaCert: emulator.caCert, stateDir: runtimeState.path, logLine: (line) => logLines.push(line), maxOperationsPer10s: 0 });
    try {
      runtime.host.onStatusChange((s) => statuses.push(s));
      const second = await emulator.addVault({ name: "secrets-second" });
      const r = await (await runtime.startRestore({ backupSetId: damaged.root, targetVaultUrl: second.url, include: [], exclude: [], dryRun: false, onConflict: "skip" })).result;
      expect(r.output?.failures).toContainEqual({ kind: "key", name: "app-00004", reason: expect.stringContaining("SHA-256") });
      statuses.push(r.status);
      const b = await (await runtime.startBackup({ vaultUrl: vault.url, include: ["huge-*", "app-0000*"], exclude: [] })).result;
      statuses.push(b.status);
    } finally {
      await runtime.close();
    }

    // Assess: the scan saw real material (job histories, failure reasons, log lines)...
    const stateFiles = [cliState.path, runtimeState.path].flatMap((dir) => readdirSync(dir).map((f) => join(dir, f)));
    expect(stateFiles.length).toBeGreaterThanOrEqual(9);
    const everything = stateFiles.map((f) => readFileSync(f, "utf8")).join("\n");
    expect(everything).toContain("huge-00000");
    expect(everything).toContain("SHA-256");
    expect(logLines.some((l) => l.includes('"event":"keyFailed"'))).toBe(true);
    expect(printed.some(([, text]) => text.includes("mhsm-hsm-"))).toBe(true);
    expect(emulator.vault.stats().unavailable503).toBeGreaterThan(0);
    // ... and found nothing secret in it.
    const findings = [
      ...stateFiles.flatMap((f) => findSecrets(f, readFileSync(f, "utf8"))),
      ...printed.flatMap(([where, text]) => findSecrets(where, text)),
      ...logLines.flatMap((line, i) => findSecrets(`log line ${i}`, line)),
      ...statuses.flatMap((s, i) => findSecrets(`status ${i}`, JSON.stringify(s))),
    ];
    expect(findings).toEqual([]);
  }, 180_000);

  it("when the scan is shown a line with a secret, it finds it", async () => {
    // The needles must be able to match what they look for, or the test above proves nothing.
    const token = (await EMULATOR_TOKEN.getToken()).token;
    expect(findSecrets("x", `Authorization: Bearer ${token}`)).toHaveLength(2);
    expect(findSecrets("x", "https://a.blob.core.windows.net/c?sv=2025-01-05&sig=abc")).toEqual(["x: a SAS signature"]);
    expect(findSecrets("x", azurite.connectionString)).toEqual(["x: the Azurite account key", "x: an account key"]);
    expect(findSecrets("x", emulator.caCert)).toEqual(["x: PEM material"]);
    expect(findSecrets("x", JSON.stringify({ kty: "EC", d: "secret" }))).toEqual(["x: a JWK private part"]);
  });
});
