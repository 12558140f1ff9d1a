import type { KeyClient } from "@azure/keyvault-keys";
import {
  SUMMARY_LIST_LIMIT,
  type Activities,
  type BackupKeyBatchInput,
  type BackupSummary,
  type BatchCounts,
  type KeyInventorySummary,
  type KeyIssue,
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
import { INVENTORY_PREFETCH } from "../src/tuning";
import { mapWithConcurrency } from "../src/util/pool";
import { PromiseCache } from "../src/util/promise-cache";
import { BackupSetReader } from "../src/storage/backup-set-reader";
import { StoredChecksumMismatchError } from "../src/storage/errors";
import type { ActivityInvocation, ActivityLogger } from "./logging";

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

  /**
   * What the batches and the manifest need from an inventory, kept for the few sets in progress: names and
   * the versions the inventory already listed, not the parsed document (a job holds it from its first
   * batch to its manifest, and at 50,000 keys the document's objects are several megabytes).
   */
  const inventoryViews = PromiseCache.bounded<string, InventoryView>(INVENTORY_VIEWS_KEPT);
  function inventoryView(paths: BackupSetPaths): Promise<InventoryView> {
    return inventoryViews.get(paths.inventory, async () => {
      const doc = parseDocument(inventorySchema, paths.inventory, await store.read(paths.inventory));
      const versionDetails = doc.versionDetails !== false;
      const versions = new Map<string, StoredVersion[]>();
      const listedUpdatedOn = new Map<string, string>();
      const backups = new Map<string, StoredBackup>();
      const earlierBlobs = new Set<string>();
      for (const entry of doc.toBackUp) {
        if (entry.earlierBlob) earlierBlobs.add(entry.name);
        if (entry.versions) versions.set(entry.name, entry.versions);
        if (entry.backup) backups.set(entry.name, entry.backup);
        // Without version details the key list's update time is all the manifest gets (and what a resumed restore compares).
        if (!versionDetails && entry.updatedOn) listedUpdatedOn.set(entry.name, entry.updatedOn);
      }
      return {
        batchSize: doc.batchSize,
        versionDetails,
        names: doc.toBackUp.map((e) => e.name),
        versions,
        listedUpdatedOn,
        backups,
        earlierBlobs,
        skipped: doc.skipped,
        include: doc.include,
        exclude: doc.exclude,
      };
    });
  }

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
    const batchCount = Math.ceil(inventory.names.length / inventory.batchSize);
    const failedBatches = new Map(input.failedBatches.map((b) => [b.batchIndex, b.reason]));
    const readRecord = async (i: number): Promise<BatchRecord | undefined> => {
      const path = paths.batch(i);
      return (await store.exists(path)) ? parseDocument(batchRecordSchema, path, await store.read(path)) : undefined;
    };

    // The manifest is written from the batch records one at a time, as text (one key per line), so its
    // size in memory is its bytes only: no object per key, no whole-document string. The inventory is
    // sorted by name and the batches are slices of it, so keys come out in name order; the certificate-
    // backed (skipped) keys, also sorted, are merged in. Two passes over the records: the first counts
    // and measures, the second writes into a buffer of the exact size.
    const keysInOrder = async function* (): AsyncGenerator<KeyResult> {
      const skippedKeys = inventory.skipped;
      let s = 0;
      const ahead = new Map<number, Promise<BatchRecord | undefined>>();
      for (let i = 0; i < batchCount; i++) {
        for (let j = i; j < Math.min(batchCount, i + MANIFEST_READ_AHEAD); j++) if (!ahead.has(j)) ahead.set(j, readRecord(j));
        const record = await ahead.get(i)!;
        ahead.delete(i);
        const byName = new Map((record?.keys ?? []).map((k) => [k.name, k]));
        for (const name of inventory.names.slice(i * inventory.batchSize, (i + 1) * inventory.batchSize)) {
          while (s < skippedKeys.length && compareNames(skippedKeys[s]!.name, name) < 0) yield skippedResult(skippedKeys[s++]!);
          yield byName.get(name) ?? { name, result: "failed", reason: `batch ${i} did not complete: ${failedBatches.get(i) ?? "no result recorded"}` };
        }
      }
      while (s < skippedKeys.length) yield skippedResult(skippedKeys[s++]!);
    };
    const writer = new ManifestWriter();
    for await (const key of keysInOrder()) writer.measure(key);
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
    for await (const key of keysInOrder()) writer.write(key);
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

export function summarizeInventory(inventory: Inventory): KeyInventorySummary {
  return {
    backupSetId: inventory.backupSetId,
    keysMatched: inventory.toBackUp.length + inventory.skipped.length,
    keysToBackUp: inventory.toBackUp.length,
    keysSkipped: inventory.skipped.length,
    batchCount: Math.ceil(inventory.toBackUp.length / inventory.batchSize),
    batchSize: inventory.batchSize,
  };
}

export function summarizeManifest(manifest: Manifest, manifestPath: string): BackupSummary {
  return {
    backupSetId: manifest.backupSetId,
    vaultUrl: manifest.vaultUrl,
    state: manifest.state,
    keys: { total: manifest.counts.total, succeeded: manifest.counts.succeeded, failed: manifest.counts.failed, skipped: manifest.counts.skipped },
    versions: manifest.counts.versions,
    versionDetails: manifest.versionDetails !== false,
    bytes: manifest.counts.bytes,
    startedAt: manifest.startedAt,
    endedAt: manifest.endedAt,
    failures: manifest.keys
      .filter((k): k is Extract<KeyResult, { result: "failed" }> => k.result === "failed")
      .slice(0, SUMMARY_LIST_LIMIT)
      .map((k) => ({ name: k.name, reason: k.reason })),
    skipped: manifest.keys
      .filter((k): k is Extract<KeyResult, { result: "skipped" }> => k.result === "skipped")
      .slice(0, SUMMARY_LIST_LIMIT)
      .map((k) => ({ name: k.name, reason: k.reason })),
    reportPath: manifestPath,
  };
}

function countBatch(record: BatchRecord): BatchCounts {
  let succeeded = 0, failed = 0, skipped = 0, bytes = 0;
  for (const key of record.keys) {
    if (key.result === "succeeded") {
      succeeded++;
      bytes += key.size;
    } else if (key.result === "failed") failed++;
    else skipped++;
  }
  return { batchIndex: record.batchIndex, succeeded, failed, skipped, bytes };
}

interface KeyVersionInfo {
  version: string;
  createdOn?: Date;
  updatedOn?: Date;
}

/**
 * What the manifest records of a key backed up without version details: the update time the key list
 * gave (before the backup) and when the vault served the backup; the key's state in the blob was last
 * updated between them. A blob kept from an earlier attempt may predate this attempt's listing: then
 * only the later bound holds, and the lower one is left out.
 */
function timesWithoutVersions(listedUpdatedOn: string | undefined, servedAt: string | undefined, mayPredateListing: boolean): { updatedOn?: string; backedUpAt?: string } {
  return { ...(mayPredateListing || !listedUpdatedOn ? {} : { updatedOn: listedUpdatedOn }), ...(servedAt ? { backedUpAt: servedAt } : {}) };
}

/**
 * backupKey, and when the vault served it: the answer's Date header, stamped by the vault's clock like
 * the keys' update times, so the two compare without this machine's clock in between.
 */
async function backupKeyServed(client: KeyClient, name: string): Promise<{ backup: Uint8Array | undefined; servedAt?: string }> {
  let servedAt: string | undefined;
  const backup = await client.backupKey(name, {
    onResponse: (response) => {
      const date = Date.parse(response.headers.get("date") ?? "");
      servedAt = Number.isNaN(date) ? undefined : new Date(date).toISOString();
    },
  });
  return { backup, servedAt };
}

/** What the manifest records of a key's versions: how many, the latest (by creation time) and its update time. */
function versionSummary(versions: readonly KeyVersionInfo[]): { versionCount: number; latestVersion: string; updatedOn?: string } {
  const latest = versions.reduce<KeyVersionInfo | undefined>(
    (best, v) => (!best || (v.createdOn?.getTime() ?? 0) >= (best.createdOn?.getTime() ?? 0) ? v : best),
    undefined,
  );
  return { versionCount: versions.length, latestVersion: latest?.version ?? "", updatedOn: latest?.updatedOn?.toISOString() };
}

async function listKeyVersions(client: KeyClient, name: string): Promise<KeyVersionInfo[]> {
  const versions: KeyVersionInfo[] = [];
  for await (const page of client.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: 25 })) {
    for (const v of page) versions.push({ version: v.version ?? "", createdOn: v.createdOn, updatedOn: v.updatedOn });
  }
  return versions;
}

type StoredVersion = NonNullable<InventoryEntry["versions"]>[number];
type StoredBackup = NonNullable<InventoryEntry["backup"]>;

function toStoredVersion(v: KeyVersionInfo): StoredVersion {
  return { version: v.version, createdOn: v.createdOn?.toISOString(), updatedOn: v.updatedOn?.toISOString() };
}

function fromStoredVersion(v: StoredVersion): KeyVersionInfo {
  return { version: v.version, createdOn: v.createdOn ? new Date(v.createdOn) : undefined, updatedOn: v.updatedOn ? new Date(v.updatedOn) : undefined };
}

/**
 * Does the per-key work of keys the inventory has already seen (their version listing, or without
 * version details their backup) while it is still paging through the vault: paging is one request at a
 * time, so without this the vault's budget sits mostly idle for the first seconds of every job. Only with
 * budget the paging leaves unused (a slot stays free for its next page), only until the paging ends, for
 * at most `maxKeys` keys; a key whose work did not finish or failed is simply done by its batch.
 * (The room is counted as if every call in flight had yet to take its slot, so they never queue in front
 * of the next page.)
 */
class IdleBudgetPrefetch {
  private readonly waiting: InventoryEntry[] = [];
  private readonly running = new Set<Promise<void>>();
  private started = 0;
  private stopped = false;

  /** `work` does a key's calls and returns how to record the result in its entry. */
  constructor(
    private readonly spareBudget: () => number,
    private readonly work: (entry: InventoryEntry) => Promise<() => void>,
    private readonly concurrency = INVENTORY_PREFETCH.concurrency,
    private readonly maxKeys = INVENTORY_PREFETCH.maxKeys,
  ) {}

  offer(entry: InventoryEntry): void {
    if (!this.stopped && this.started + this.waiting.length < this.maxKeys) this.waiting.push(entry);
  }

  pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.waiting.length > 0 && this.spareBudget() > this.running.size + 1) {
      const entry = this.waiting.shift()!;
      this.started++;
      const run: Promise<void> = this.work(entry).then(
        (record) => {
          if (!this.stopped) record();
        },
        () => undefined,
      );
      this.running.add(run);
      void run.finally(() => {
        this.running.delete(run);
        this.pump();
      });
    }
  }

  /** Stops starting work and waits for what is in flight: results that come in by then are kept. */
  async finish(): Promise<void> {
    this.waiting.length = 0;
    await Promise.all([...this.running]);
    this.stopped = true;
  }
}

interface InventoryView {
  readonly batchSize: number;
  readonly versionDetails: boolean;
  /** Inventory order (sorted by name); batch i is names[i*batchSize … (i+1)*batchSize). */
  readonly names: readonly string[];
  readonly versions: ReadonlyMap<string, StoredVersion[]>;
  /** Only without version details: each key's update time from the key list. */
  readonly listedUpdatedOn: ReadonlyMap<string, string>;
  /** Only without version details: the backups the inventory already took and stored. */
  readonly backups: ReadonlyMap<string, StoredBackup>;
  /** Only without version details: keys whose blob an earlier attempt of the inventory had written. */
  readonly earlierBlobs: ReadonlySet<string>;
  readonly skipped: Inventory["skipped"];
  readonly include: string[];
  readonly exclude: string[];
}

/** Inventories kept in memory (one per backup job in progress in this process). */
const INVENTORY_VIEWS_KEPT = 4;

/** Batch records read ahead of the one being written into the manifest. */
const MANIFEST_READ_AHEAD = 8;

function skippedResult(entry: { name: string; reason: string }): KeyResult {
  return { name: entry.name, result: "skipped", reason: entry.reason };
}

/**
 * Builds the manifest's bytes key by key: `{ <header fields>, "keys": [` then one key result per line,
 * then `]}`: the document encodeDocument would make (to any JSON reader), laid out one key per line.
 * measure() every key first (counts, failures, size), then begin(), write() the same keys, end().
 */
class ManifestWriter {
  readonly counts = { total: 0, succeeded: 0, failed: 0, skipped: 0, versions: 0, bytes: 0 };
  readonly failures: KeyIssue[] = [];
  readonly skipped: KeyIssue[] = [];
  private keyBytes = 0;
  private buffer: Buffer | undefined;
  private offset = 0;
  private written = 0;
  private close = "";

  measure(key: KeyResult): void {
    const c = this.counts;
    c.total++;
    if (key.result === "succeeded") {
      c.succeeded++;
      c.versions += key.versionCount ?? 0;
      c.bytes += key.size;
    } else if (key.result === "failed") {
      c.failed++;
      if (this.failures.length < SUMMARY_LIST_LIMIT) this.failures.push({ name: key.name, reason: key.reason });
    } else {
      c.skipped++;
      if (this.skipped.length < SUMMARY_LIST_LIMIT) this.skipped.push({ name: key.name, reason: key.reason });
    }
    this.keyBytes += Buffer.byteLength(this.line(key, c.total - 1), "utf8");
  }

  begin(header: Omit<Manifest, "keys">): void {
    const head = JSON.stringify(header, null, 1);
    const open = `${head.slice(0, head.lastIndexOf("}")).trimEnd()},\n "keys": [\n`;
    this.close = `${this.counts.total > 0 ? "\n" : ""} ]\n}\n`;
    const size = Buffer.byteLength(open, "utf8") + this.keyBytes + Buffer.byteLength(this.close, "utf8");
    this.buffer = Buffer.allocUnsafe(size);
    this.offset = this.buffer.write(open, 0, "utf8");
  }

  write(key: KeyResult): void {
    const line = this.line(key, this.written++);
    const length = Buffer.byteLength(line, "utf8");
    if (this.offset + length > this.buffer!.length) throw new Error("the batch records changed while the manifest was being written");
    this.offset += this.buffer!.write(line, this.offset, "utf8");
  }

  end(): Buffer {
    const buffer = this.buffer!;
    this.offset += buffer.write(this.close, this.offset, "utf8");
    if (this.written !== this.counts.total || this.offset !== buffer.length) throw new Error("the batch records changed while the manifest was being written");
    return buffer;
  }

  private line(key: KeyResult, index: number): string {
    return `${index === 0 ? "" : ",\n"}  ${JSON.stringify(key)}`;
  }
}

export function compareNames(a: string, b: string): number {
  const x = a.toLowerCase(), y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
