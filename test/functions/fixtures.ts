import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HttpRequest, InvocationContext } from "@azure/functions";
import { loadConfig, type KvBackupConfig } from "../../src/config";
import { BackupSetPaths, INVENTORY_FORMAT, MANIFEST_FORMAT, encodeDocument, makeBackupSetId, vaultFolder, type Inventory, type Manifest } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { FileBackupStore } from "../../src/storage/file-store";

export const VAULT = "https://prod-keys.vault.azure.net";
export const OTHER_VAULT = "https://dr-keys.vault.azure.net";
export const FOREIGN_VAULT = "https://not-ours.vault.azure.net";
export const HSM = "https://prod-hsm.managedhsm.azure.net";
export const HSM_CONTAINER = "https://backupacct.blob.core.windows.net/hsm-backups";

export function testConfig(env: Record<string, string> = {}): KvBackupConfig {
  return loadConfig({
    KVBACKUP_STORAGE: "/tmp/unused",
    KVBACKUP_ALLOWED_VAULTS: `${VAULT}, ${OTHER_VAULT}/`,
    KVBACKUP_ALLOWED_HSMS: HSM,
    KVBACKUP_HSM_BACKUP_CONTAINER_URL: HSM_CONTAINER,
    KVBACKUP_SCHEDULE: "0 0 2 * * *",
    KVBACKUP_RETENTION_DAYS: "30",
    KVBACKUP_RETENTION_MIN_COMPLETE: "2",
    ...env,
  });
}

export async function tempStore(): Promise<{ store: FileBackupStore; cleanup: () => void }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kvbackup-functions-"));
  const store = new FileBackupStore(path.join(root, "store"));
  await store.ensureReady();
  return { store, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** Writes a backup set: inventory and a key blob, plus a manifest unless it is "incomplete". */
export async function writeSet(
  store: BackupStore,
  vaultUrl: string,
  startedAt: string,
  jobId: string,
  state: "complete" | "partial" | "incomplete",
): Promise<string> {
  const backupSetId = makeBackupSetId(startedAt, jobId);
  const paths = new BackupSetPaths(vaultFolder(vaultUrl), backupSetId);
  const inventory: Inventory = {
    format: INVENTORY_FORMAT, jobId, backupSetId, vaultUrl, startedAt, kinds: ["key"], include: [], exclude: [], batchSize: 100,
    toBackUp: [{ kind: "key", name: "k1" }], skipped: [], withCertificate: [],
  };
  await store.writeOnce(paths.inventory, encodeDocument(inventory));
  await store.writeOnce(paths.blob("key", "k1"), Buffer.from("blob"));
  if (state !== "incomplete") {
    const keyCounts = { total: 2, succeeded: state === "complete" ? 2 : 1, failed: state === "complete" ? 0 : 1, skipped: 0, versions: 2, bytes: 4 };
    const noObjects = { total: 0, succeeded: 0, failed: 0, skipped: 0, versions: 0, bytes: 0 };
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      jobId,
      backupSetId,
      vaultUrl,
      startedAt,
      endedAt: startedAt,
      include: [],
      exclude: [],
      state,
      kinds: ["key"],
      counts: { ...keyCounts, byKind: { keys: keyCounts, secrets: noObjects, certificates: noObjects } },
      objects: [],
    };
    await store.writeOnce(paths.manifest, encodeDocument(manifest));
  }
  return backupSetId;
}

export const BASE = "https://kvbackup.example.net";

export function post(route: string, body: unknown, headers: Record<string, string> = {}): HttpRequest {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new HttpRequest({ method: "POST", url: `${BASE}/api/${route}`, body: { string: text }, headers: { "content-type": "application/json", ...headers } });
}

/** The query string is taken from the URL, as the host does (repeated names included). */
export function get(route: string, query: string | Record<string, string> = {}, params: Record<string, string> = {}): HttpRequest {
  const qs = typeof query === "string" ? query : new URLSearchParams(query).toString();
  return new HttpRequest({ method: "GET", url: `${BASE}/api/${route}${qs ? `?${qs}` : ""}`, params });
}

export function postTo(route: string, params: Record<string, string>): HttpRequest {
  return new HttpRequest({ method: "POST", url: `${BASE}/api/${route}`, params });
}

export interface CapturedContext {
  readonly context: InvocationContext;
  readonly lines: string[];
  /** The JSON log lines, parsed. */
  records(): Record<string, unknown>[];
}

export function capturingContext(): CapturedContext {
  const lines: string[] = [];
  const context = new InvocationContext({
    functionName: "test",
    invocationId: "test-invocation",
    logHandler: (_level, ...args) => lines.push(args.map(String).join(" ")),
  });
  return {
    context,
    lines,
    records: () => lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
