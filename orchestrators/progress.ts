import type { JobProgress, KeyCounts } from "../src/contracts";

/** The custom status before anything is known. */
export function emptyProgress(phase: JobProgress["phase"]): JobProgress {
  return { phase, keysTotal: 0, keysSucceeded: 0, keysFailed: 0, keysSkipped: 0, keysPending: 0, bytes: 0, batchesDone: 0, batchCount: 0 };
}

/**
 * The keys of a vault job counted as they settle, for its custom status: keysTotal = keysSucceeded +
 * keysFailed + keysSkipped + keysPending at every point. Plain counting, deterministic as its orchestrator.
 */
export class KeyTally {
  private succeeded = 0;
  private bytes = 0;
  private batchesDone = 0;
  /** Batches that failed as a whole (every attempt, or a final failure), with the reason: for the report. */
  readonly failedBatches: { batchIndex: number; reason: string }[] = [];

  constructor(
    private total: number,
    /** Settled before any batch runs (by the inventory or the plan), and waiting for a batch. */
    private failed: number,
    private skipped: number,
    private pending: number,
    private readonly batchCount: number,
    private readonly backupSetId: string,
  ) {}

  /** A batch of `size` keys reported these counts. */
  batchDone(size: number, counts: { readonly succeeded: number; readonly failed: number; readonly skipped: number; readonly bytes?: number }): void {
    this.batchesDone++;
    this.pending -= size;
    this.succeeded += counts.succeeded;
    this.failed += counts.failed;
    this.skipped += counts.skipped;
    this.bytes += counts.bytes ?? 0;
  }

  /** A batch of `size` keys failed as a whole: the report records its keys as failed, with this reason. */
  batchFailed(batchIndex: number, size: number, reason: string): void {
    this.batchesDone++;
    this.pending -= size;
    this.failed += size;
    this.failedBatches.push({ batchIndex, reason });
  }

  /** The report (a backup's manifest, a restore's report) is the record: the final status says what it says. */
  settle(keys: KeyCounts, bytes?: number): void {
    Object.assign(this, { total: keys.total, succeeded: keys.succeeded, failed: keys.failed, skipped: keys.skipped, pending: 0 });
    if (bytes !== undefined) this.bytes = bytes;
  }

  progress(phase: JobProgress["phase"]): JobProgress {
    return {
      phase,
      keysTotal: this.total,
      keysSucceeded: this.succeeded,
      keysFailed: this.failed,
      keysSkipped: this.skipped,
      keysPending: this.pending,
      bytes: this.bytes,
      batchesDone: this.batchesDone,
      batchCount: this.batchCount,
      backupSetId: this.backupSetId,
    };
  }
}
