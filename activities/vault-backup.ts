import type { KeyClient } from "@azure/keyvault-keys";
import {
  type Activities,
  type BackupKeyBatchInput,
  type BackupSummary,
  type BatchCounts,
  type KeyInventorySummary,
  type TakeKeyInventoryInput,
  type WriteBackupManifestInput,
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
  type InventoryEntry,
  type KeyResult,
  type Manifest,
} from "../src/storage/backup-set";
import { mapWithConcurrency } from "../src/util/pool";
import { BackupSetReader } from "../src/storage/backup-set-reader";
import { StoredChecksumMismatchError } from "../src/storage/errors";
import type { ActivityInvocation, ActivityLogger } from "./logging";
import { inventoryViewsOf } from "./backup/inventory-view";
import { backupKeyServed, fromStoredVersion, listKeyVersions, timesWithoutVersions, toStoredVersion, versionSummary, type KeyVersionInfo } from "./backup/key-calls";
import { ManifestWriter, compareNames, countBatch, keysInOrder, summarizeInventory, summarizeManifest } from "./backup/manifest";
import { IdleBudgetPrefetch } from "./backup/prefetch";

export interface VaultBackupActivityDeps {
  readonly keyClients: KeyClientFactory;
  readonly store: BackupStore;
  readonly reader?: BackupSetReader;
  /** Used when an invocation brings no logger of its own. */
  readonly log?: ActivityLogger;
}

const CERTIFICATE_BACKED_REASON =
  "backs a certificate: Key Vault refuses to back it up as a key; back up the certificate instead";

/** The activities of a vault backup, as their contracts (src/contracts.ts) name them. */
export type VaultBackupActivities = Pick<Activities<ActivityInvocation>, "takeKeyInventory" | "backupKeyBatch" | "writeBackupManifest">;

export function createVaultBackupActivities(deps: VaultBackupActivityDeps): VaultBackupActivities {
  const { keyClients, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);
  const inventoryView = inventoryViewsOf(store);


  function pathsFor(vaultUrl: string, backupSetId: string): BackupSetPaths {
    return new BackupSetPaths(vaultFolder(vaultUrl), backupSetId);
  }

  /** Lists the keys, applies the filters and writes the inventory; a re-run reuses the inventory it wrote. */
  async function takeKeyInventory(input: TakeKeyInventoryInput, invocation?: ActivityInvocation): Promise<KeyInventorySummary> {
    const log = invocation?.logger ?? deps.log;
    const backupSetId = makeBackupSetId(input.startedAt, input.jobId);
    const paths = pathsFor(input.vaultUrl, backupSetId);
    await store.ensureReady();
    if (await store.exists(paths.inventory)) return summarizeInventory(await reader.inventory(paths));

    const accept = createNameFilter(input.include, input.exclude);
    const client = keyClients(input.vaultUrl);
    const toBackUp: Inventory["toBackUp"] = [];
    const skipped: Inventory["skipped"] = [];
    // What the budget the paging leaves unused is spent on: each seen key's versions, or without version
    // details its whole backup (the one vault operation it costs), so the job's first window is not idle.
    const aheadOfBatches = input.versionDetails
      ? async (entry: InventoryEntry) => {
          const versions = (await listKeyVersions(client, entry.name)).map(toStoredVersion);
          return () => void (entry.versions = versions);
        }
      : async (entry: InventoryEntry) => {
          const { backup, servedAt } = await backupKeyServed(client, entry.name);
          const stored = await storeBackup(paths, entry.name, backup);
          return () =>
            void (entry.backup = { size: stored.size, sha256: stored.sha256, ...(servedAt ? { backedUpAt: servedAt } : {}), ...(stored.reused ? { reused: true } : {}) });
        };
    const prefetch = new IdleBudgetPrefetch(() => keyClients.spareBudget?.(input.vaultUrl) ?? 0, aheadOfBatches);
    // Blobs already in the set now come from an earlier attempt of this inventory: they may predate this
    // listing, so the listed update time is no lower bound for them (see timesWithoutVersions).
    const earlierBlobs = new Set<string>();
    if (!input.versionDetails) for await (const item of store.list(`${paths.root}/keys/`)) earlierBlobs.add(item.path);
    try {
      for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 25 })) {
        for (const key of page) {
          if (!accept(key.name)) continue;
          if (key.managed) skipped.push({ name: key.name, reason: CERTIFICATE_BACKED_REASON });
          else {
            const entry: Inventory["toBackUp"][number] = {
              name: key.name,
              managed: false,
              updatedOn: key.updatedOn?.toISOString(),
              ...(earlierBlobs.has(paths.keyBlob(key.name)) ? { earlierBlob: true as const } : {}),
            };
            toBackUp.push(entry);
            prefetch.offer(entry);
          }
        }
        prefetch.pump();
      }
    } catch (error) {
      throw toKeyVaultError(error);
    } finally {
      await prefetch.finish();
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
      ...(input.versionDetails ? {} : { versionDetails: false }),
      toBackUp,
      skipped,
    };
    const written = await store.writeOnce(paths.inventory, encodeDocument(inventory));
    const kept = written.outcome === "created" ? inventory : parseDocument(inventorySchema, paths.inventory, written.existing);
    log?.({ event: "inventory", jobId: input.jobId, backupSetId, vaultUrl: input.vaultUrl, keys: kept.toBackUp.length, skipped: kept.skipped.length });
    return summarizeInventory(kept);
  }

  /** Backs up one batch of the inventory: one blob per key, then a batch record with every key's result. */
  async function backupKeyBatch(input: BackupKeyBatchInput, invocation?: ActivityInvocation): Promise<BatchCounts> {
    const log = invocation?.logger ?? deps.log;
    const paths = pathsFor(input.vaultUrl, input.backupSetId);
    const recordPath = paths.batch(input.batchIndex);
    if (await store.exists(recordPath)) return verifyRecordedBatch(paths, recordPath);

    const inventory = await inventoryView(paths);
    const start = input.batchIndex * inventory.batchSize;
    const keys: InventoryEntry[] = inventory.names
      .slice(start, start + inventory.batchSize)
      .map((name) => ({
        name,
        managed: false,
        versions: inventory.versions.get(name),
        updatedOn: inventory.listedUpdatedOn.get(name),
        backup: inventory.backups.get(name),
        ...(inventory.earlierBlobs.has(name) ? { earlierBlob: true as const } : {}),
      }));
    const client = keyClients(input.vaultUrl);
    const results = await mapWithConcurrency(keys, input.keyConcurrency, (key) => backUpOneKey(client, paths, key, input.jobId, inventory.versionDetails, log));
    const record: BatchRecord = { batchIndex: input.batchIndex, keys: results };
    const written = await store.writeOnce(recordPath, encodeDocument(record));
    const kept = written.outcome === "created" ? record : parseDocument(batchRecordSchema, recordPath, written.existing);
    return countBatch(kept);
  }

  async function backUpOneKey(
    client: KeyClient,
    paths: BackupSetPaths,
    key: InventoryEntry,
    jobId: string,
    versionDetails: boolean,
    log: ActivityLogger | undefined,
  ): Promise<KeyResult> {
    const name = key.name;
    // Taken and stored by the inventory, in this job.
    if (key.backup) {
      const { size, sha256, backedUpAt, reused } = key.backup;
      return { name, result: "succeeded", ...timesWithoutVersions(key.updatedOn, backedUpAt, reused === true || key.earlierBlob === true), blobPath: paths.keyBlob(name), size, sha256 };
    }
    let versions: KeyVersionInfo[] | undefined;
    let backup: Uint8Array | undefined;
    let servedAt: string | undefined;
    try {
      // Versions first (here, or already in the inventory): a version added meanwhile is then in the
      // backup, never only in the manifest.
      if (versionDetails) versions = key.versions?.map(fromStoredVersion) ?? (await listKeyVersions(client, name));
      ({ backup, servedAt } = await backupKeyServed(client, name));
    } catch (error) {
      const kvError = toKeyVaultError(error);
      if (kvError instanceof CertificateBackedKeyError) return { name, result: "skipped", reason: CERTIFICATE_BACKED_REASON };
      // Deleted between the inventory and its batch: nothing is left to back up, and nothing is lost by this job.
      if (kvError instanceof KeyNotFoundError) return { name, result: "skipped", reason: "deleted from the vault after the inventory was taken" };
      log?.({ event: "keyFailed", jobId, vaultUrl: client.vaultUrl, key: name, reason: describeFailure(kvError) });
      return { name, result: "failed", reason: describeFailure(kvError) };
    }
    if (!backup || backup.length === 0) return { name, result: "failed", reason: "the vault returned an empty backup" };
    // A blob kept from an earlier attempt of this batch was taken after the listing; one from an earlier
    // attempt of the inventory maybe not.
    const { reused, ...stored } = await storeBackup(paths, name, backup);
    const details = versions ? versionSummary(versions) : timesWithoutVersions(key.updatedOn, servedAt, reused && key.earlierBlob === true);
    return { name, result: "succeeded", ...details, ...stored };
  }

  /** Writes a key's backup to its blob, once: an earlier attempt in this job (same path) keeps its blob, as written. */
  async function storeBackup(
    paths: BackupSetPaths,
    name: string,
    backup: Uint8Array | undefined,
  ): Promise<{ blobPath: string; size: number; sha256: string; reused: boolean }> {
    if (!backup || backup.length === 0) throw new Error(`the vault returned an empty backup of ${name}`);
    const blobPath = paths.keyBlob(name);
    const data = Buffer.from(backup.buffer, backup.byteOffset, backup.byteLength);
    const written = await store.writeOnce(blobPath, data);
    const stored = written.outcome === "created" ? data : written.existing;
    return { blobPath, size: stored.length, sha256: sha256Hex(stored), reused: written.outcome !== "created" };
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
      return summarizeManifest(parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest)), paths.manifest);
    }
    const inventory = await inventoryView(paths);
    const failedBatches = new Map(input.failedBatches.map((b) => [b.batchIndex, b.reason]));

    // The manifest is written from the batch records one at a time, as text (one key per line), so its
    // size in memory is its bytes only: no object per key, no whole-document string. Two passes over the
    // records: the first counts and measures, the second writes into a buffer of the exact size.
    const writer = new ManifestWriter();
    for await (const key of keysInOrder(store, paths, inventory, failedBatches)) writer.measure(key);
    const state = manifestState(writer.counts);
    const header: Omit<Manifest, "keys"> = {
      format: MANIFEST_FORMAT,
      jobId: input.jobId,
      backupSetId: input.backupSetId,
      vaultUrl: input.vaultUrl,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      include: inventory.include,
      exclude: inventory.exclude,
      state,
      ...(inventory.versionDetails ? {} : { versionDetails: false }),
      counts: writer.counts,
    };
    writer.begin(header);
    for await (const key of keysInOrder(store, paths, inventory, failedBatches)) writer.write(key);
    const written = await store.writeOnce(paths.manifest, writer.end());
    if (written.outcome === "exists") return summarizeManifest(parseDocument(manifestSchema, paths.manifest, written.existing), paths.manifest);
    return {
      backupSetId: header.backupSetId,
      vaultUrl: header.vaultUrl,
      state,
      keys: { total: header.counts.total, succeeded: header.counts.succeeded, failed: header.counts.failed, skipped: header.counts.skipped },
      versions: header.counts.versions,
      versionDetails: inventory.versionDetails,
      bytes: header.counts.bytes,
      startedAt: header.startedAt,
      endedAt: header.endedAt,
      failures: writer.failures,
      skipped: writer.skipped,
      reportPath: paths.manifest,
    };
  }

  return { takeKeyInventory, backupKeyBatch, writeBackupManifest } satisfies VaultBackupActivities;
}
