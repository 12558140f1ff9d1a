import type { KeyClient } from "@azure/keyvault-keys";
import type {
  BackupKeyBatchInput,
  BackupSummary,
  BatchCounts,
  KeyInventorySummary,
  TakeKeyInventoryInput,
  WriteBackupManifestInput,
} from "../src/contracts";
import { createNameFilter } from "../src/filters";
import { CertificateBackedKeyError, KeyNotFoundError, describeFailure, toKeyVaultError } from "../src/keyvault/errors";
import type { KeyClientFactory } from "../src/keyvault/clients";
import type { BackupStore } from "../src/storage/backup-store";
import {
  BackupSetPaths,
  INVENTORY_FORMAT,
  MANIFEST_FORMAT,
  batchRecordSchema,
  encodeDocument,
  inventorySchema,
  makeBackupSetId,
  manifestSchema,
  manifestState,
  parseDocument,
  sha256Hex,
  vaultFolder,
  type BatchRecord,
  type Inventory,
  type KeyResult,
  type Manifest,
} from "../src/storage/backup-set";
import { mapWithConcurrency } from "../src/util/pool";
import { BackupSetReader } from "./backup-set-reader";
import { StoredChecksumMismatchError } from "./errors";
import type { ActivityLogger } from "./logging";

export interface VaultBackupActivityDeps {
  readonly keyClients: KeyClientFactory;
  readonly store: BackupStore;
  readonly reader?: BackupSetReader;
  readonly log?: ActivityLogger;
}

const CERTIFICATE_BACKED_REASON =
  "backs a certificate: Key Vault refuses to back it up as a key; back up the certificate instead";
/** The summary lists at most this many failures; the manifest has every one. */
const SUMMARY_FAILURE_LIMIT = 100;

export function createVaultBackupActivities(deps: VaultBackupActivityDeps) {
  const { keyClients, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);

  function pathsFor(vaultUrl: string, backupSetId: string): BackupSetPaths {
    return new BackupSetPaths(vaultFolder(vaultUrl), backupSetId);
  }

  /** Lists the keys, applies the filters and writes the inventory; a re-run reuses the inventory it wrote. */
  async function takeKeyInventory(input: TakeKeyInventoryInput): Promise<KeyInventorySummary> {
    const backupSetId = makeBackupSetId(input.startedAt, input.jobId);
    const paths = pathsFor(input.vaultUrl, backupSetId);
    await store.ensureReady();
    if (await store.exists(paths.inventory)) return summarizeInventory(await reader.inventory(paths));

    const accept = createNameFilter(input.include, input.exclude);
    const client = keyClients(input.vaultUrl);
    const toBackUp: Inventory["toBackUp"] = [];
    const skipped: Inventory["skipped"] = [];
    try {
      for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 25 })) {
        for (const key of page) {
          if (!accept(key.name)) continue;
          if (key.managed) skipped.push({ name: key.name, reason: CERTIFICATE_BACKED_REASON });
          else toBackUp.push({ name: key.name, managed: false, updatedOn: key.updatedOn?.toISOString() });
        }
      }
    } catch (error) {
      throw toKeyVaultError(error);
    }
    toBackUp.sort((a, b) => compareNames(a.name, b.name));
    skipped.sort((a, b) => compareNames(a.name, b.name));
    const inventory: Inventory = {
      format: INVENTORY_FORMAT,
      jobId: input.jobId,
      backupSetId,
      vaultUrl: input.vaultUrl,
      startedAt: input.startedAt,
      include: [...input.include],
      exclude: [...input.exclude],
      batchSize: input.batchSize,
      toBackUp,
      skipped,
    };
    const written = await store.writeOnce(paths.inventory, encodeDocument(inventory));
    const kept = written.outcome === "created" ? inventory : parseDocument(inventorySchema, paths.inventory, written.existing);
    deps.log?.({ event: "inventory", jobId: input.jobId, backupSetId, vaultUrl: input.vaultUrl, keys: kept.toBackUp.length, skipped: kept.skipped.length });
    return summarizeInventory(kept);
  }

  /** Backs up one batch of the inventory: one blob per key, then a batch record with every key's result. */
  async function backupKeyBatch(input: BackupKeyBatchInput): Promise<BatchCounts> {
    const paths = pathsFor(input.vaultUrl, input.backupSetId);
    const recordPath = paths.batch(input.batchIndex);
    if (await store.exists(recordPath)) return verifyRecordedBatch(paths, recordPath);

    const inventory = await reader.inventory(paths);
    const start = input.batchIndex * inventory.batchSize;
    const keys = inventory.toBackUp.slice(start, start + inventory.batchSize);
    const client = keyClients(input.vaultUrl);
    const results = await mapWithConcurrency(keys, input.keyConcurrency, (key) => backUpOneKey(client, paths, key.name, input.jobId));
    const record: BatchRecord = { batchIndex: input.batchIndex, keys: results };
    const written = await store.writeOnce(recordPath, encodeDocument(record));
    const kept = written.outcome === "created" ? record : parseDocument(batchRecordSchema, recordPath, written.existing);
    return countBatch(kept);
  }

  async function backUpOneKey(client: KeyClient, paths: BackupSetPaths, name: string, jobId: string): Promise<KeyResult> {
    let versions: { version: string; createdOn?: Date; updatedOn?: Date }[];
    let backup: Uint8Array | undefined;
    try {
      // Versions first: a version added meanwhile is then in the backup, never only in the manifest.
      versions = [];
      for await (const page of client.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: 25 })) {
        for (const v of page) versions.push({ version: v.version ?? "", createdOn: v.createdOn, updatedOn: v.updatedOn });
      }
      backup = await client.backupKey(name);
    } catch (error) {
      const kvError = toKeyVaultError(error);
      if (kvError instanceof CertificateBackedKeyError) return { name, result: "skipped", reason: CERTIFICATE_BACKED_REASON };
      // Deleted between the inventory and its batch: nothing is left to back up, and nothing is lost by this job.
      if (kvError instanceof KeyNotFoundError) return { name, result: "skipped", reason: "deleted from the vault after the inventory was taken" };
      deps.log?.({ event: "keyFailed", jobId, vaultUrl: client.vaultUrl, key: name, reason: describeFailure(kvError) });
      return { name, result: "failed", reason: describeFailure(kvError) };
    }
    if (!backup || backup.length === 0) return { name, result: "failed", reason: "the vault returned an empty backup" };

    const blobPath = paths.keyBlob(name);
    const data = Buffer.from(backup.buffer, backup.byteOffset, backup.byteLength);
    const written = await store.writeOnce(blobPath, data);
    // An earlier attempt of this batch (same job) already wrote this key: keep that blob, as written.
    const stored = written.outcome === "created" ? data : written.existing;
    const latest = versions.reduce<(typeof versions)[number] | undefined>(
      (best, v) => (!best || (v.createdOn?.getTime() ?? 0) >= (best.createdOn?.getTime() ?? 0) ? v : best),
      undefined,
    );
    return {
      name,
      result: "succeeded",
      versionCount: versions.length,
      latestVersion: latest?.version ?? "",
      updatedOn: latest?.updatedOn?.toISOString(),
      blobPath,
      size: stored.length,
      sha256: sha256Hex(stored),
    };
  }

  /** A batch that already finished in this job: check its blobs against the record rather than redo it. */
  async function verifyRecordedBatch(paths: BackupSetPaths, recordPath: string): Promise<BatchCounts> {
    const record = parseDocument(batchRecordSchema, recordPath, await store.read(recordPath));
    await mapWithConcurrency(record.keys, 16, async (key) => {
      if (key.result !== "succeeded") return;
      if (!key.blobPath.startsWith(`${paths.root}/`)) throw new StoredChecksumMismatchError(key.blobPath);
      if (sha256Hex(await store.read(key.blobPath)) !== key.sha256) throw new StoredChecksumMismatchError(key.blobPath);
    });
    return countBatch(record);
  }

  /** Writes the manifest last, from the inventory and the batch records: every key ends with a result. */
  async function writeBackupManifest(input: WriteBackupManifestInput): Promise<BackupSummary> {
    const paths = pathsFor(input.vaultUrl, input.backupSetId);
    if (await store.exists(paths.manifest)) {
      return summarizeManifest(parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest)));
    }
    const inventory = await reader.inventory(paths);
    const batchCount = Math.ceil(inventory.toBackUp.length / inventory.batchSize);
    const failedBatches = new Map(input.failedBatches.map((b) => [b.batchIndex, b.reason]));
    const records = await mapWithConcurrency(Array.from({ length: batchCount }, (_, i) => i), 8, async (i) => {
      const path = paths.batch(i);
      return (await store.exists(path)) ? parseDocument(batchRecordSchema, path, await store.read(path)) : undefined;
    });

    const keys: KeyResult[] = [];
    for (let i = 0; i < batchCount; i++) {
      const record = records[i];
      const expected = inventory.toBackUp.slice(i * inventory.batchSize, (i + 1) * inventory.batchSize);
      const byName = new Map((record?.keys ?? []).map((k) => [k.name, k]));
      for (const key of expected) {
        const result = byName.get(key.name);
        if (result) keys.push(result);
        else keys.push({ name: key.name, result: "failed", reason: `batch ${i} did not complete: ${failedBatches.get(i) ?? "no result recorded"}` });
      }
    }
    for (const skipped of inventory.skipped) keys.push({ name: skipped.name, result: "skipped", reason: skipped.reason });
    keys.sort((a, b) => compareNames(a.name, b.name));

    let succeeded = 0, failed = 0, skipped = 0, versions = 0, bytes = 0;
    for (const key of keys) {
      if (key.result === "succeeded") {
        succeeded++;
        versions += key.versionCount;
        bytes += key.size;
      } else if (key.result === "failed") failed++;
      else skipped++;
    }
    const counts = { total: keys.length, succeeded, failed, skipped, versions, bytes };
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      jobId: input.jobId,
      backupSetId: input.backupSetId,
      vaultUrl: input.vaultUrl,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      include: inventory.include,
      exclude: inventory.exclude,
      state: manifestState(counts),
      counts,
      keys,
    };
    const written = await store.writeOnce(paths.manifest, encodeDocument(manifest));
    const kept = written.outcome === "created" ? manifest : parseDocument(manifestSchema, paths.manifest, written.existing);
    return summarizeManifest(kept);
  }

  return { takeKeyInventory, backupKeyBatch, writeBackupManifest };
}

export function summarizeInventory(inventory: Inventory): KeyInventorySummary {
  return {
    backupSetId: inventory.backupSetId,
    keysMatched: inventory.toBackUp.length + inventory.skipped.length,
    keysToBackUp: inventory.toBackUp.length,
    keysSkipped: inventory.skipped.length,
    batchCount: Math.ceil(inventory.toBackUp.length / inventory.batchSize),
  };
}

export function summarizeManifest(manifest: Manifest): BackupSummary {
  return {
    backupSetId: manifest.backupSetId,
    vaultUrl: manifest.vaultUrl,
    state: manifest.state,
    keys: { total: manifest.counts.total, succeeded: manifest.counts.succeeded, failed: manifest.counts.failed, skipped: manifest.counts.skipped },
    versions: manifest.counts.versions,
    bytes: manifest.counts.bytes,
    startedAt: manifest.startedAt,
    endedAt: manifest.endedAt,
    failures: manifest.keys
      .filter((k): k is Extract<KeyResult, { result: "failed" }> => k.result === "failed")
      .slice(0, SUMMARY_FAILURE_LIMIT)
      .map((k) => ({ name: k.name, reason: k.reason })),
  };
}

function countBatch(record: BatchRecord): BatchCounts {
  let succeeded = 0, failed = 0, bytes = 0;
  for (const key of record.keys) {
    if (key.result === "succeeded") {
      succeeded++;
      bytes += key.size;
    } else if (key.result === "failed") failed++;
  }
  return { batchIndex: record.batchIndex, succeeded, failed, bytes };
}

export function compareNames(a: string, b: string): number {
  const x = a.toLowerCase(), y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
