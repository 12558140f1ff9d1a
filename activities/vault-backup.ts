import {
  type Activities,
  type BackupObjectBatchInput,
  type BackupSummary,
  type BatchCounts,
  type InventorySummary,
  type ObjectKind,
  type TakeInventoryInput,
  type WriteBackupManifestInput,
} from "../src/contracts";
import { createObjectFilter } from "../src/filters";
import { CertificateManagedError, ObjectNotFoundError, describeFailure, toKeyVaultError } from "../src/keyvault/errors";
import type { ObjectKindAdapter, ObjectVersion, VaultObjectsFactory } from "../src/keyvault/object-kinds";
import type { BackupStore } from "../src/storage/backup-store";
import {
  BackupSetPaths,
  INVENTORY_FORMAT,
  MANIFEST_FORMAT,
  batchRecordSchema,
  compareObjects,
  encodeDocument,
  inventorySchema,
  makeBackupSetId,
  manifestSchema,
  manifestState,
  objectId,
  parseDocument,
  sha256Hex,
  vaultFolder,
  type BatchRecord,
  type Inventory,
  type InventoryEntry,
  type Manifest,
  type ObjectResult,
} from "../src/storage/backup-set";
import { mapWithConcurrency } from "../src/util/pool";
import { BackupSetReader } from "../src/storage/backup-set-reader";
import { StoredChecksumMismatchError } from "../src/storage/errors";
import type { ActivityInvocation, ActivityLogger } from "./logging";
import { inventoryViewsOf } from "./backup/inventory-view";
import { fromStoredVersion, rotatedSince, timesWithoutVersions, toStoredVersion, versionSummary } from "./backup/versions";
import { ManifestWriter, inKindOrder, objectsInOrder, countBatch, summarizeInventory, summarizeManifest } from "./backup/manifest";
import { IdleBudgetPrefetch } from "./backup/prefetch";

export interface VaultBackupActivityDeps {
  readonly vaultObjects: VaultObjectsFactory;
  readonly store: BackupStore;
  readonly reader?: BackupSetReader;
  /** Used when an invocation brings no logger of its own. */
  readonly log?: ActivityLogger;
}

/** Why a certificate's key or secret is skipped when the job does not back up its certificate. */
function certificateLeftOut(kinds: readonly ObjectKind[]): string {
  return kinds.includes("certificate")
    ? "backs a certificate that this backup does not hold (its globs leave it out, or it was not listed): Key Vault backs it up only inside its certificate's backup"
    : "backs a certificate: Key Vault backs it up only inside its certificate's backup; back up certificates too (--kinds certificates) to keep it";
}

const REFUSED_AS_MANAGED = "backs a certificate: Key Vault refused to back it up on its own (its certificate's backup holds it)";

/** The activities of a vault backup, as their contracts (src/contracts.ts) name them. */
export type VaultBackupActivities = Pick<Activities<ActivityInvocation>, "takeInventory" | "backupObjectBatch" | "writeBackupManifest">;

type Entry = Inventory["toBackUp"][number];

export function createVaultBackupActivities(deps: VaultBackupActivityDeps): VaultBackupActivities {
  const { vaultObjects, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);
  const inventoryView = inventoryViewsOf(store);

  function pathsFor(vaultUrl: string, backupSetId: string): BackupSetPaths {
    return new BackupSetPaths(vaultFolder(vaultUrl), backupSetId);
  }

  /**
   * Lists the objects of the job's kinds (certificates first), applies the filters and writes the
   * inventory; a re-run reuses the inventory it wrote. A certificate's key and secret are not backed up
   * on their own (Key Vault refuses it): they are recorded with their certificate when it is in the job.
   */
  async function takeInventory(input: TakeInventoryInput, invocation?: ActivityInvocation): Promise<InventorySummary> {
    const log = invocation?.logger ?? deps.log;
    const backupSetId = makeBackupSetId(input.startedAt, input.jobId);
    const paths = pathsFor(input.vaultUrl, backupSetId);
    await store.ensureReady();
    if (await store.exists(paths.inventory)) return summarizeInventory(await reader.inventory(paths));

    const kinds = inKindOrder(input.kinds);
    const accept = createObjectFilter(input.include, input.exclude);
    const objects = vaultObjects(input.vaultUrl);
    const toBackUp: Inventory["toBackUp"] = [];
    const skipped: Inventory["skipped"] = [];
    const withCertificate: Inventory["withCertificate"] = [];
    const certificates = new Set<string>();
    // What the budget the paging leaves unused is spent on: each seen object's versions, or without version
    // details its whole backup (the one vault operation it costs), so the job's first window is not idle.
    const aheadOfBatches = input.versionDetails
      ? async (entry: InventoryEntry) => {
          const versions = (await objects.of(entry.kind).listVersions(entry.name)).map(toStoredVersion);
          return () => void (entry.versions = versions);
        }
      : async (entry: InventoryEntry) => {
          const { backup, servedAt } = await objects.of(entry.kind).backup(entry.name);
          const stored = await storeBackup(paths, entry, backup);
          return () =>
            void (entry.backup = { size: stored.size, sha256: stored.sha256, ...(servedAt ? { backedUpAt: servedAt } : {}), ...(stored.reused ? { reused: true } : {}) });
        };
    const prefetch = new IdleBudgetPrefetch(() => objects.spareBudget(), aheadOfBatches);
    // Blobs already in the set now come from an earlier attempt of this inventory: they may predate this
    // listing, so the listed update time is no lower bound for them (see timesWithoutVersions).
    const earlierBlobs = new Set<string>();
    if (!input.versionDetails) for (const kind of kinds) for await (const item of store.list(paths.kindFolder(kind))) earlierBlobs.add(item.path);
    try {
      for (const kind of kinds) {
        for await (const page of objects.of(kind).listObjects()) {
          for (const object of page) {
            if (object.managed) {
              // A certificate's key or secret has its certificate's name. Its certificate's backup holds it
              // whatever the globs say, so it is recorded with it; otherwise the globs decide as for any object.
              if (certificates.has(object.name.toLowerCase())) withCertificate.push({ kind, name: object.name });
              else if (accept(kind, object.name)) skipped.push({ kind, name: object.name, reason: certificateLeftOut(kinds) });
              continue;
            }
            if (!accept(kind, object.name)) continue;
            if (kind === "certificate") certificates.add(object.name.toLowerCase());
            const entry: Entry = {
              kind,
              name: object.name,
              updatedOn: object.updatedOn?.toISOString(),
              ...(earlierBlobs.has(paths.blob(kind, object.name)) ? { earlierBlob: true as const } : {}),
            };
            toBackUp.push(entry);
            prefetch.offer(entry);
          }
          prefetch.pump();
        }
      }
    } finally {
      await prefetch.finish();
    }
    toBackUp.sort(compareObjects);
    skipped.sort(compareObjects);
    withCertificate.sort(compareObjects);
    const inventory: Inventory = {
      format: INVENTORY_FORMAT,
      jobId: input.jobId,
      backupSetId,
      vaultUrl: input.vaultUrl,
      startedAt: input.startedAt,
      kinds,
      include: [...input.include],
      exclude: [...input.exclude],
      batchSize: input.batchSize,
      ...(input.versionDetails ? {} : { versionDetails: false }),
      toBackUp,
      skipped,
      withCertificate,
    };
    const written = await store.writeOnce(paths.inventory, encodeDocument(inventory));
    const kept = written.outcome === "created" ? inventory : parseDocument(inventorySchema, paths.inventory, written.existing);
    log?.({
      event: "inventory", jobId: input.jobId, backupSetId, vaultUrl: input.vaultUrl,
      objects: kept.toBackUp.length, keys: kept.toBackUp.filter((e) => e.kind === "key").length, skipped: kept.skipped.length, withCertificate: kept.withCertificate.length,
    });
    return summarizeInventory(kept);
  }

  /** Backs up one batch of the inventory: one blob per object, then a batch record with every object's result. */
  async function backupObjectBatch(input: BackupObjectBatchInput, invocation?: ActivityInvocation): Promise<BatchCounts> {
    const log = invocation?.logger ?? deps.log;
    const paths = pathsFor(input.vaultUrl, input.backupSetId);
    const recordPath = paths.batch(input.batchIndex);
    if (await store.exists(recordPath)) return verifyRecordedBatch(paths, recordPath);

    const inventory = await inventoryView(paths);
    const start = input.batchIndex * inventory.batchSize;
    const entries: Entry[] = inventory.objects.slice(start, start + inventory.batchSize).map(({ kind, name }) => {
      const id = objectId(kind, name);
      return {
        kind,
        name,
        versions: inventory.versions.get(id),
        updatedOn: inventory.listedUpdatedOn.get(id),
        backup: inventory.backups.get(id),
        ...(inventory.earlierBlobs.has(id) ? { earlierBlob: true as const } : {}),
      };
    });
    const objects = vaultObjects(input.vaultUrl);
    const results = await mapWithConcurrency(entries, input.keyConcurrency, (entry) =>
      backUpOne(objects.of(entry.kind), paths, entry, input.jobId, inventory.versionDetails, log),
    );
    const record: BatchRecord = { batchIndex: input.batchIndex, objects: results };
    const written = await store.writeOnce(recordPath, encodeDocument(record));
    const kept = written.outcome === "created" ? record : parseDocument(batchRecordSchema, recordPath, written.existing);
    return countBatch(kept);
  }

  async function backUpOne(
    adapter: ObjectKindAdapter,
    paths: BackupSetPaths,
    entry: Entry,
    jobId: string,
    versionDetails: boolean,
    log: ActivityLogger | undefined,
  ): Promise<ObjectResult> {
    const { kind, name } = entry;
    // Taken and stored by the inventory, in this job.
    if (entry.backup) {
      const { size, sha256, backedUpAt, reused } = entry.backup;
      const times = timesWithoutVersions(entry.updatedOn, backedUpAt, reused === true || entry.earlierBlob === true);
      return { kind, name, result: "succeeded", ...times, blobPath: paths.blob(kind, name), size, sha256 };
    }
    let versions: ObjectVersion[] | undefined;
    let backup: Uint8Array | undefined;
    let servedAt: string | undefined;
    try {
      // Versions first (here, or already in the inventory): a version added meanwhile is then in the
      // backup, never only in the manifest.
      if (versionDetails) versions = entry.versions?.map(fromStoredVersion) ?? (await adapter.listVersions(name));
      ({ backup, servedAt } = await adapter.backup(name));
    } catch (error) {
      const kvError = toKeyVaultError(error);
      if (kvError instanceof CertificateManagedError) return { kind, name, result: "skipped", reason: REFUSED_AS_MANAGED };
      // Deleted between the inventory and its batch: nothing is left to back up, and nothing is lost by this job.
      if (kvError instanceof ObjectNotFoundError) return { kind, name, result: "skipped", reason: "deleted from the vault after the inventory was taken" };
      log?.({ event: "keyFailed", jobId, vaultUrl: adapter.vaultUrl, ...(kind === "key" ? {} : { kind }), key: name, reason: describeFailure(kvError) });
      return { kind, name, result: "failed", reason: describeFailure(kvError) };
    }
    if (!backup || backup.length === 0) return { kind, name, result: "failed", reason: "the vault returned an empty backup" };
    // A blob kept from an earlier attempt of this batch was taken after the listing; one from an earlier
    // attempt of the inventory maybe not.
    const { reused, ...stored } = await storeBackup(paths, entry, backup);
    if (!versions) return { kind, name, result: "succeeded", ...timesWithoutVersions(entry.updatedOn, servedAt, reused && entry.earlierBlob === true), ...stored };
    const rotated = rotatedSince(entry.updatedOn, versions);
    return { kind, name, result: "succeeded", ...versionSummary(versions), ...(rotated ? { rotatedDuringBackup: rotated } : {}), ...stored };
  }

  /** Writes an object's backup to its blob, once: an earlier attempt in this job (same path) keeps its blob, as written. */
  async function storeBackup(
    paths: BackupSetPaths,
    entry: { readonly kind: ObjectKind; readonly name: string },
    backup: Uint8Array | undefined,
  ): Promise<{ blobPath: string; size: number; sha256: string; reused: boolean }> {
    if (!backup || backup.length === 0) throw new Error(`the vault returned an empty backup of ${entry.kind} ${entry.name}`);
    const blobPath = paths.blob(entry.kind, entry.name);
    const data = Buffer.from(backup.buffer, backup.byteOffset, backup.byteLength);
    const written = await store.writeOnce(blobPath, data);
    const stored = written.outcome === "created" ? data : written.existing;
    return { blobPath, size: stored.length, sha256: sha256Hex(stored), reused: written.outcome !== "created" };
  }

  /** A batch that already finished in this job: check its blobs against the record rather than redo it. */
  async function verifyRecordedBatch(paths: BackupSetPaths, recordPath: string): Promise<BatchCounts> {
    const record = parseDocument(batchRecordSchema, recordPath, await store.read(recordPath));
    await mapWithConcurrency(record.objects, 16, async (object) => {
      if (object.result !== "succeeded") return;
      if (!object.blobPath.startsWith(`${paths.root}/`)) throw new StoredChecksumMismatchError(object.blobPath);
      if (sha256Hex(await store.read(object.blobPath)) !== object.sha256) throw new StoredChecksumMismatchError(object.blobPath);
    });
    return countBatch(record);
  }

  /** Writes the manifest last, from the inventory and the batch records: every object ends with a result. */
  async function writeBackupManifest(input: WriteBackupManifestInput): Promise<BackupSummary> {
    const paths = pathsFor(input.vaultUrl, input.backupSetId);
    if (await store.exists(paths.manifest)) {
      return summarizeManifest(parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest)), paths.manifest);
    }
    const inventory = await inventoryView(paths);
    const failedBatches = new Map(input.failedBatches.map((b) => [b.batchIndex, b.reason]));

    // The manifest is written from the batch records one at a time, as text (one object per line), so its
    // size in memory is its bytes only: no object per entry, no whole-document string. Two passes over the
    // records: the first counts and measures, the second writes into a buffer of the exact size.
    const writer = new ManifestWriter();
    for await (const object of objectsInOrder(store, paths, inventory, failedBatches)) writer.measure(object);
    const state = manifestState(writer.counts);
    const header: Omit<Manifest, "objects"> = {
      format: MANIFEST_FORMAT,
      jobId: input.jobId,
      backupSetId: input.backupSetId,
      vaultUrl: input.vaultUrl,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      kinds: [...inventory.kinds],
      include: inventory.include,
      exclude: inventory.exclude,
      state,
      ...(inventory.versionDetails ? {} : { versionDetails: false }),
      counts: { ...writer.counts, byKind: writer.byKind },
    };
    writer.begin(header);
    for await (const object of objectsInOrder(store, paths, inventory, failedBatches)) writer.write(object);
    const written = await store.writeOnce(paths.manifest, writer.end());
    if (written.outcome === "exists") return summarizeManifest(parseDocument(manifestSchema, paths.manifest, written.existing), paths.manifest);
    return { ...summarizeManifest({ ...header, objects: [] }, paths.manifest), failures: writer.failures, skipped: writer.skipped };
  }

  return { takeInventory, backupObjectBatch, writeBackupManifest } satisfies VaultBackupActivities;
}
