import {
  SUMMARY_LIST_LIMIT,
  type BackupSummary,
  type BatchCounts,
  type KeyInventorySummary,
  type KeyIssue,
} from "../../src/contracts";
import type { BackupStore } from "../../src/storage/backup-store";
import { batchRecordSchema, parseDocument, type BackupSetPaths, type BatchRecord, type Inventory, type KeyResult, type Manifest } from "../../src/storage/backup-set";
import type { InventoryView } from "./inventory-view";

/** Batch records read ahead of the one being written into the manifest. */
const MANIFEST_READ_AHEAD = 8;

/**
 * Every key of the set with its result, in name order, read from the batch records one at a time: the
 * inventory is sorted by name and the batches are slices of it; the certificate-backed (skipped) keys, also
 * sorted, are merged in. A key whose batch left no record failed, with the batch's reason.
 */
export async function* keysInOrder(
  store: BackupStore,
  paths: BackupSetPaths,
  inventory: InventoryView,
  failedBatches: ReadonlyMap<number, string>,
): AsyncGenerator<KeyResult> {
  const batchCount = Math.ceil(inventory.names.length / inventory.batchSize);
  const readRecord = async (i: number): Promise<BatchRecord | undefined> => {
    const path = paths.batch(i);
    return (await store.exists(path)) ? parseDocument(batchRecordSchema, path, await store.read(path)) : undefined;
  };
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

export function countBatch(record: BatchRecord): BatchCounts {
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

export function skippedResult(entry: { name: string; reason: string }): KeyResult {
  return { name: entry.name, result: "skipped", reason: entry.reason };
}

/**
 * Builds the manifest's bytes key by key: `{ <header fields>, "keys": [` then one key result per line,
 * then `]}`: the document encodeDocument would make (to any JSON reader), laid out one key per line.
 * measure() every key first (counts, failures, size), then begin(), write() the same keys, end().
 */
export class ManifestWriter {
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
