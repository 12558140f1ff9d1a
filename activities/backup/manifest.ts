import {
  KIND_PLURALS,
  OBJECT_KINDS,
  SUMMARY_LIST_LIMIT,
  type BackupSummary,
  type BatchCounts,
  type InventorySummary,
  type KindBatchCounts,
  type KindSizes,
  type ObjectIssue,
  type ObjectKind,
} from "../../src/contracts";
import type { BackupStore } from "../../src/storage/backup-store";
import {
  batchRecordSchema,
  compareObjects,
  countsOfManifest,
  emptyManifestCounts,
  objectId,
  parseDocument,
  type BackupSetPaths,
  type BatchRecord,
  type Inventory,
  type Manifest,
  type ManifestCounts,
  type ManifestCountsByKind,
  type ObjectResult,
} from "../../src/storage/backup-set";
import type { InventoryView } from "./inventory-view";

/** Batch records read ahead of the one being written into the manifest. */
const MANIFEST_READ_AHEAD = 8;

type Settled = Inventory["skipped"][number] | (Inventory["withCertificate"][number] & { readonly withCertificate: true });

/**
 * Every object of the set with its result, in inventory order (kind order, then name), read from the
 * batch records one at a time: the inventory is sorted and the batches are slices of it; the objects the
 * inventory settled itself (skipped, or in a certificate's backup), also sorted, are merged in. An object
 * whose batch left no record failed, with the batch's reason. A certificate's key or secret ends as its
 * certificate did: certificates come first in kind order, so each is known by the time its key and secret
 * come by.
 */
export async function* objectsInOrder(
  store: BackupStore,
  paths: BackupSetPaths,
  inventory: InventoryView,
  failedBatches: ReadonlyMap<number, string>,
): AsyncGenerator<ObjectResult> {
  const batchCount = Math.ceil(inventory.objects.length / inventory.batchSize);
  const readRecord = async (i: number): Promise<BatchRecord | undefined> => {
    const path = paths.batch(i);
    return (await store.exists(path)) ? parseDocument(batchRecordSchema, path, await store.read(path)) : undefined;
  };
  const settled: Settled[] = [...inventory.skipped, ...inventory.withCertificate.map((o) => ({ ...o, withCertificate: true as const }))].sort(compareObjects);
  const certificates = new Map<string, ObjectResult>();
  const resolve = (entry: Settled): ObjectResult =>
    "withCertificate" in entry ? withItsCertificate(entry, certificates.get(entry.name.toLowerCase())) : { kind: entry.kind, name: entry.name, result: "skipped", reason: entry.reason };
  let s = 0;
  const ahead = new Map<number, Promise<BatchRecord | undefined>>();
  for (let i = 0; i < batchCount; i++) {
    for (let j = i; j < Math.min(batchCount, i + MANIFEST_READ_AHEAD); j++) if (!ahead.has(j)) ahead.set(j, readRecord(j));
    const record = await ahead.get(i)!;
    ahead.delete(i);
    const byId = new Map((record?.objects ?? []).map((o) => [objectId(o.kind, o.name), o]));
    for (const object of inventory.objects.slice(i * inventory.batchSize, (i + 1) * inventory.batchSize)) {
      while (s < settled.length && compareObjects(settled[s]!, object) < 0) yield resolve(settled[s++]!);
      const result: ObjectResult = byId.get(objectId(object.kind, object.name)) ?? {
        kind: object.kind,
        name: object.name,
        result: "failed",
        reason: `batch ${i} did not complete: ${failedBatches.get(i) ?? "no result recorded"}`,
      };
      if (result.kind === "certificate") certificates.set(result.name.toLowerCase(), result);
      yield result;
    }
  }
  while (s < settled.length) yield resolve(settled[s++]!);
}

/** A certificate's key or secret: backed up (or not) with its certificate. */
function withItsCertificate(entry: { kind: ObjectKind; name: string }, certificate: ObjectResult | undefined): ObjectResult {
  const { kind, name } = entry;
  if (certificate?.result === "succeeded") return { kind, name, result: "withCertificate" };
  if (certificate?.result === "skipped") return { kind, name, result: "skipped", reason: `its certificate was skipped: ${certificate.reason}` };
  const why = certificate?.result === "failed" ? certificate.reason : "no result recorded";
  return { kind, name, result: "failed", reason: `its certificate's backup failed: ${why}` };
}

/** How many of a list of objects are of each kind. */
export function sizesByKind(objects: readonly { readonly kind: ObjectKind }[]): KindSizes {
  const sizes: { [K in ObjectKind]?: number } = {};
  for (const o of objects) sizes[o.kind] = (sizes[o.kind] ?? 0) + 1;
  return sizes;
}

export function summarizeInventory(inventory: Inventory): InventorySummary {
  const matched = [...inventory.toBackUp, ...inventory.skipped, ...inventory.withCertificate];
  return {
    backupSetId: inventory.backupSetId,
    objectsMatched: matched.length,
    objectsToBackUp: inventory.toBackUp.length,
    objectsSkipped: inventory.skipped.length,
    objectsWithCertificate: inventory.withCertificate.length,
    matchedByKind: sizesByKind(matched),
    toBackUpByKind: sizesByKind(inventory.toBackUp),
    skippedByKind: sizesByKind(inventory.skipped),
    withCertificateByKind: sizesByKind(inventory.withCertificate),
    batchCount: Math.ceil(inventory.toBackUp.length / inventory.batchSize),
    batchSize: inventory.batchSize,
  };
}

export function summarizeManifest(manifest: Manifest, manifestPath: string): BackupSummary {
  const issues = (result: "failed" | "skipped"): ObjectIssue[] =>
    manifest.objects
      .filter((o): o is Extract<ObjectResult, { result: "failed" | "skipped" }> => o.result === result)
      .slice(0, SUMMARY_LIST_LIMIT)
      .map((o) => ({ kind: o.kind, name: o.name, reason: o.reason }));
  return {
    backupSetId: manifest.backupSetId,
    vaultUrl: manifest.vaultUrl,
    state: manifest.state,
    ...countsOfManifest(manifest),
    versions: manifest.counts.versions,
    versionDetails: manifest.versionDetails !== false,
    bytes: manifest.counts.bytes,
    startedAt: manifest.startedAt,
    endedAt: manifest.endedAt,
    failures: issues("failed"),
    skipped: issues("skipped"),
    reportPath: manifestPath,
  };
}

export function countBatch(record: BatchRecord): BatchCounts {
  const byKind: { [K in ObjectKind]?: { succeeded: number; failed: number; skipped: number } } = {};
  let succeeded = 0, failed = 0, skipped = 0, bytes = 0;
  for (const object of record.objects) {
    const kind = (byKind[object.kind] ??= { succeeded: 0, failed: 0, skipped: 0 });
    if (object.result === "succeeded" || object.result === "withCertificate") {
      succeeded++;
      kind.succeeded++;
      if (object.result === "succeeded") bytes += object.size;
    } else if (object.result === "failed") {
      failed++;
      kind.failed++;
    } else {
      skipped++;
      kind.skipped++;
    }
  }
  return { batchIndex: record.batchIndex, succeeded, failed, skipped, bytes, byKind: byKind as { [K in ObjectKind]?: KindBatchCounts } };
}

/**
 * Builds the manifest's bytes object by object: `{ <header fields>, "objects": [` then one result per
 * line, then `]}`: the document encodeDocument would make (to any JSON reader), laid out one object per
 * line. measure() every object first (counts, failures, size), then begin(), write() the same objects, end().
 */
export class ManifestWriter {
  readonly counts: ManifestCounts = emptyManifestCounts();
  readonly byKind: ManifestCountsByKind = { keys: emptyManifestCounts(), secrets: emptyManifestCounts(), certificates: emptyManifestCounts() };
  readonly failures: ObjectIssue[] = [];
  readonly skipped: ObjectIssue[] = [];
  private objectBytes = 0;
  private buffer: Buffer | undefined;
  private offset = 0;
  private written = 0;
  private close = "";

  measure(object: ObjectResult): void {
    for (const c of [this.counts, this.byKind[KIND_PLURALS[object.kind]]]) {
      c.total++;
      if (object.result === "succeeded") {
        c.succeeded++;
        c.versions += object.versionCount ?? 0;
        c.bytes += object.size;
      } else if (object.result === "withCertificate") c.succeeded++;
      else if (object.result === "failed") c.failed++;
      else c.skipped++;
    }
    if (object.result === "failed" && this.failures.length < SUMMARY_LIST_LIMIT) this.failures.push({ kind: object.kind, name: object.name, reason: object.reason });
    if (object.result === "skipped" && this.skipped.length < SUMMARY_LIST_LIMIT) this.skipped.push({ kind: object.kind, name: object.name, reason: object.reason });
    this.objectBytes += Buffer.byteLength(this.line(object, this.counts.total - 1), "utf8");
  }

  begin(header: Omit<Manifest, "objects">): void {
    const head = JSON.stringify(header, null, 1);
    const open = `${head.slice(0, head.lastIndexOf("}")).trimEnd()},\n "objects": [\n`;
    this.close = `${this.counts.total > 0 ? "\n" : ""} ]\n}\n`;
    const size = Buffer.byteLength(open, "utf8") + this.objectBytes + Buffer.byteLength(this.close, "utf8");
    this.buffer = Buffer.allocUnsafe(size);
    this.offset = this.buffer.write(open, 0, "utf8");
  }

  write(object: ObjectResult): void {
    const line = this.line(object, this.written++);
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

  private line(object: ObjectResult, index: number): string {
    return `${index === 0 ? "" : ",\n"}  ${JSON.stringify(object)}`;
  }
}

/** The kinds in job order (OBJECT_KINDS), each once. */
export function inKindOrder(kinds: readonly ObjectKind[]): ObjectKind[] {
  return OBJECT_KINDS.filter((k) => kinds.includes(k));
}
