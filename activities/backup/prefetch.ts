import type { InventoryEntry } from "../../src/storage/backup-set";
import { INVENTORY_PREFETCH } from "../../src/tuning";

/**
 * Does the per-key work of keys the inventory has already seen (their version listing, or without
 * version details their backup) while it is still paging through the vault: paging is one request at a
 * time, so without this the vault's budget sits mostly idle for the first seconds of every job. Only with
 * budget the paging leaves unused (a slot stays free for its next page), only until the paging ends, for
 * at most `maxKeys` keys; a key whose work did not finish or failed is simply done by its batch.
 * (The room is counted as if every call in flight had yet to take its slot, so they never queue in front
 * of the next page.)
 */
export class IdleBudgetPrefetch {
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
