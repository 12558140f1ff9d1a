import { KIND_PLURALS, OBJECT_KINDS, type JobProgress, type KindSizes, type ObjectCounts, type ObjectKind, type ProgressCounts } from "../src/contracts";

type Tally = { total: number; succeeded: number; failed: number; skipped: number; pending: number };

const zero = (): Tally => ({ total: 0, succeeded: 0, failed: 0, skipped: 0, pending: 0 });

/** The custom status before anything is known. */
export function emptyProgress(phase: JobProgress["phase"]): JobProgress {
  return new ObjectTally({}, {}, 1, 0, undefined).progress(phase);
}

/** What a kind starts with, once the inventory or plan is known. */
export interface KindStart {
  readonly total: number;
  /** Settled before any batch runs (by the inventory or the plan). */
  readonly failed: number;
  readonly skipped: number;
  /** Waiting for a batch, or for the report (a certificate's key and secret). */
  readonly pending: number;
}

/**
 * The objects of a vault job counted as they settle, kind by kind, for its custom status: total =
 * succeeded + failed + skipped + pending at every point, for every kind and for all. The batches are
 * slices of one list ordered kind by kind (OBJECT_KINDS), so how many objects of each kind a batch holds
 * follows from the sizes of the kinds: nothing per object passes through here. Plain counting,
 * deterministic as its orchestrator.
 */
export class ObjectTally {
  private readonly kinds = new Map<ObjectKind, Tally>(OBJECT_KINDS.map((k) => [k, zero()]));
  private bytes = 0;
  private batchesDone = 0;
  /** Where each kind's objects start in the batch order. */
  private readonly ranges: { kind: ObjectKind; start: number; end: number }[] = [];
  /** Batches that failed as a whole (every attempt, or a final failure), with the reason: for the report. */
  readonly failedBatches: { batchIndex: number; reason: string }[] = [];

  constructor(
    start: { readonly [K in ObjectKind]?: KindStart },
    /** Objects of each kind that the batches work on. */
    inBatches: KindSizes,
    private readonly batchSize: number,
    private readonly batchCount: number,
    private readonly backupSetId: string | undefined,
  ) {
    for (const kind of OBJECT_KINDS) Object.assign(this.kinds.get(kind)!, start[kind] ?? {}, { succeeded: 0 });
    let at = 0;
    for (const kind of OBJECT_KINDS) {
      const size = inBatches[kind] ?? 0;
      this.ranges.push({ kind, start: at, end: at + size });
      at += size;
    }
  }

  /** How many objects of each kind batch `index` holds. */
  sizesOf(batchIndex: number): { kind: ObjectKind; size: number }[] {
    const from = batchIndex * this.batchSize, to = from + this.batchSize;
    return this.ranges.map((r) => ({ kind: r.kind, size: Math.max(0, Math.min(to, r.end) - Math.max(from, r.start)) })).filter((s) => s.size > 0);
  }

  /** Batch `index` reported these counts, by kind (a result without them, from before kinds, counted keys). */
  batchDone(
    batchIndex: number,
    counts: { readonly succeeded: number; readonly failed: number; readonly skipped: number; readonly bytes?: number },
    byKind: { readonly [K in ObjectKind]?: { readonly succeeded: number; readonly failed: number; readonly skipped: number } } | undefined,
  ): void {
    this.batchesDone++;
    this.bytes += counts.bytes ?? 0;
    for (const { kind, size } of this.sizesOf(batchIndex)) this.kinds.get(kind)!.pending -= size;
    for (const kind of OBJECT_KINDS) {
      const c = byKind ? byKind[kind] : kind === "key" ? counts : undefined;
      if (!c) continue;
      const t = this.kinds.get(kind)!;
      t.succeeded += c.succeeded;
      t.failed += c.failed;
      t.skipped += c.skipped;
    }
  }

  /** Batch `index` failed as a whole: the report records its objects as failed, with this reason. */
  batchFailed(batchIndex: number, reason: string): void {
    this.batchesDone++;
    for (const { kind, size } of this.sizesOf(batchIndex)) {
      const t = this.kinds.get(kind)!;
      t.pending -= size;
      t.failed += size;
    }
    this.failedBatches.push({ batchIndex, reason });
  }

  /** The report (a backup's manifest, a restore's report) is the record: the final status says what it says. */
  settle(kinds: { readonly [P in (typeof KIND_PLURALS)[ObjectKind]]: ObjectCounts }, bytes?: number): void {
    for (const kind of OBJECT_KINDS) Object.assign(this.kinds.get(kind)!, kinds[KIND_PLURALS[kind]], { pending: 0 });
    if (bytes !== undefined) this.bytes = bytes;
  }

  progress(phase: JobProgress["phase"]): JobProgress {
    const all = zero();
    for (const t of this.kinds.values()) for (const field of ["total", "succeeded", "failed", "skipped", "pending"] as const) all[field] += t[field];
    const keys = this.kinds.get("key")!;
    const of = (kind: ObjectKind): ProgressCounts => ({ ...this.kinds.get(kind)! });
    return {
      phase,
      objectsTotal: all.total,
      objectsSucceeded: all.succeeded,
      objectsFailed: all.failed,
      objectsSkipped: all.skipped,
      objectsPending: all.pending,
      keysTotal: keys.total,
      keysSucceeded: keys.succeeded,
      keysFailed: keys.failed,
      keysSkipped: keys.skipped,
      keysPending: keys.pending,
      kinds: { keys: of("key"), secrets: of("secret"), certificates: of("certificate") },
      bytes: this.bytes,
      batchesDone: this.batchesDone,
      batchCount: this.batchCount,
      ...(this.backupSetId !== undefined ? { backupSetId: this.backupSetId } : {}),
    };
  }
}
