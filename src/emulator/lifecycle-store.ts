/**
 * The soft-delete lifecycle every Key Vault object kind shares (keys, secrets, certificates): live and
 * soft-deleted records under case-insensitive names, the sorted name indexes that paging walks, and the
 * asynchronous delete / recover / purge of the service (a name between two states is in neither view).
 * No HTTP and no service rules here; each kind's store adds its records' shape and persistence.
 */

/** What every object kind's record has. */
export interface LifecycleRecord {
  /** Name with the case it was first created with; lookups ignore case, as the service does. */
  readonly name: string;
  /** Backs a certificate (keys and secrets only): listed with managed=true, its own backup refused. */
  managed: boolean;
  /** Oldest first; the last one is the current version. */
  readonly versions: readonly unknown[];
  deletedDate?: number;
  scheduledPurgeDate?: number;
}

/** Sorted lowercase names with binary-search insert/remove: paging by "names after X" stays O(log n). */
export class SortedNames {
  private readonly names: string[] = [];

  get size(): number {
    return this.names.length;
  }

  insert(lower: string): void {
    const i = this.lowerBound(lower);
    if (this.names[i] !== lower) this.names.splice(i, 0, lower);
  }

  remove(lower: string): void {
    const i = this.lowerBound(lower);
    if (this.names[i] === lower) this.names.splice(i, 1);
  }

  /** Up to `max` names strictly after `after` (or from the start). */
  after(after: string | undefined, max: number): string[] {
    let i = after === undefined ? 0 : this.lowerBound(after);
    if (after !== undefined && this.names[i] === after) i++;
    return this.names.slice(i, i + max);
  }

  all(): readonly string[] {
    return this.names;
  }

  private lowerBound(x: string): number {
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.names[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * A name between two states: a soft delete (live -> deleted), a recover (deleted -> live) or a purge
 * (deleted -> gone) that the service has accepted but not finished. Meanwhile the object is in neither view.
 */
export type TransitState = "deleting" | "recovering" | "purging";

interface Transit<T> {
  readonly state: TransitState;
  readonly record: T;
  /** Clock time (ms) at which it ends. */
  readonly until: number;
}

export class LifecycleStore<T extends LifecycleRecord> {
  private readonly live = new Map<string, T>();
  private readonly deleted = new Map<string, T>();
  private readonly liveIndex = new SortedNames();
  private readonly deletedIndex = new SortedNames();
  private readonly transit = new Map<string, Transit<T>>();
  /** Earliest end of a transition, so most calls skip the scan. */
  private nextSettle = Number.POSITIVE_INFINITY;
  /** Called after every mutation (persistence hooks in here). */
  onChange: () => void = () => {};

  constructor(protected readonly clock: () => number = Date.now) {}

  get liveCount(): number {
    this.settleDue();
    return this.live.size;
  }

  getLive(name: string): T | undefined {
    this.settleDue();
    return this.live.get(name.toLowerCase());
  }

  getDeleted(name: string): T | undefined {
    this.settleDue();
    return this.deleted.get(name.toLowerCase());
  }

  /** The unfinished transition of a name, if any. */
  transitOf(name: string): TransitState | undefined {
    this.settleDue();
    return this.transit.get(name.toLowerCase())?.state;
  }

  /** Whether the name is taken in any way: live, soft-deleted or between two states. */
  holds(name: string): boolean {
    return this.getLive(name) !== undefined || this.getDeleted(name) !== undefined || this.transitOf(name) !== undefined;
  }

  /** Milliseconds until the name's transition ends (0 when it has none). */
  settlesIn(name: string): number {
    this.settleDue();
    const t = this.transit.get(name.toLowerCase());
    return t ? Math.max(0, t.until - this.clock()) : 0;
  }

  /** Records in transition, with the view they will end in (purges end in none and are left out). */
  transitRecords(): Array<{ state: "deleting" | "recovering"; record: T }> {
    this.settleDue();
    const out: Array<{ state: "deleting" | "recovering"; record: T }> = [];
    for (const t of this.transit.values()) if (t.state !== "purging") out.push({ state: t.state, record: t.record });
    return out;
  }

  /** Ends every transition at once (a full HSM restore replaces the whole key set). */
  clearTransit(): void {
    this.transit.clear();
    this.nextSettle = Number.POSITIVE_INFINITY;
  }

  /** Finishes the transitions whose time has come; lazily, on every access, so no timer is ever left running. */
  protected settleDue(): void {
    if (this.transit.size === 0) return;
    const now = this.clock();
    if (now < this.nextSettle) return;
    let next = Number.POSITIVE_INFINITY;
    let changed = false;
    for (const [lower, t] of this.transit) {
      if (t.until > now) {
        next = Math.min(next, t.until);
        continue;
      }
      this.transit.delete(lower);
      changed = true;
      if (t.state === "deleting") {
        this.deleted.set(lower, t.record);
        this.deletedIndex.insert(lower);
      } else if (t.state === "recovering") {
        this.live.set(lower, t.record);
        this.liveIndex.insert(lower);
      }
    }
    this.nextSettle = next;
    if (changed) this.onChange();
  }

  private startTransit(lower: string, state: TransitState, record: T, settleMs: number): void {
    const until = this.clock() + settleMs;
    this.transit.set(lower, { state, record, until });
    this.nextSettle = Math.min(this.nextSettle, until);
  }

  /** Inserts a whole record (restore, seeding, reload). Caller checks for conflicts. */
  insertLive(record: T, notify = true): void {
    const lower = record.name.toLowerCase();
    this.live.set(lower, record);
    this.liveIndex.insert(lower);
    if (notify) this.onChange();
  }

  insertDeleted(record: T, notify = true): void {
    const lower = record.name.toLowerCase();
    this.deleted.set(lower, record);
    this.deletedIndex.insert(lower);
    if (notify) this.onChange();
  }

  /** Live -> deleted, at once or after `settleMs` (the record is in neither view meanwhile). */
  softDelete(name: string, deletedDate: number, scheduledPurgeDate: number, settleMs = 0): T | undefined {
    this.settleDue();
    const lower = name.toLowerCase();
    const record = this.live.get(lower);
    if (!record) return undefined;
    this.live.delete(lower);
    this.liveIndex.remove(lower);
    record.deletedDate = deletedDate;
    record.scheduledPurgeDate = scheduledPurgeDate;
    if (settleMs > 0) {
      this.startTransit(lower, "deleting", record, settleMs);
      this.onChange();
    } else {
      this.insertDeleted(record);
    }
    return record;
  }

  /** Deleted -> live, at once or after `settleMs`. */
  recover(name: string, settleMs = 0): T | undefined {
    this.settleDue();
    const lower = name.toLowerCase();
    const record = this.deleted.get(lower);
    if (!record) return undefined;
    this.deleted.delete(lower);
    this.deletedIndex.remove(lower);
    delete record.deletedDate;
    delete record.scheduledPurgeDate;
    if (settleMs > 0) {
      this.startTransit(lower, "recovering", record, settleMs);
      this.onChange();
    } else {
      this.insertLive(record);
    }
    return record;
  }

  /** Deleted -> gone; with `settleMs`, the name stays taken (in neither view) that long. */
  purge(name: string, settleMs = 0): boolean {
    this.settleDue();
    const lower = name.toLowerCase();
    const record = this.deleted.get(lower);
    if (!record) return false;
    this.deleted.delete(lower);
    this.deletedIndex.remove(lower);
    if (settleMs > 0) this.startTransit(lower, "purging", record, settleMs);
    this.onChange();
    return true;
  }

  /** A page of live records after the given lowercase name. */
  livePage(after: string | undefined, max: number): T[] {
    this.settleDue();
    return this.liveIndex.after(after, max).map((n) => this.live.get(n)!);
  }

  deletedPage(after: string | undefined, max: number): T[] {
    this.settleDue();
    return this.deletedIndex.after(after, max).map((n) => this.deleted.get(n)!);
  }

  liveNames(): string[] {
    this.settleDue();
    return this.liveIndex.all().map((n) => this.live.get(n)!.name);
  }

  deletedNames(): string[] {
    this.settleDue();
    return this.deletedIndex.all().map((n) => this.deleted.get(n)!.name);
  }

  /**
   * For persistence: the live and deleted records, an unfinished transition counted as the state it ends
   * in, so a restart does not bring back limbo.
   */
  settledViews(): { live: T[]; deleted: T[] } {
    this.settleDue();
    const ending = this.transitRecords();
    return {
      live: [...this.liveIndex.all().map((n) => this.live.get(n)!), ...ending.filter((t) => t.state === "recovering").map((t) => t.record)],
      deleted: [...this.deletedIndex.all().map((n) => this.deleted.get(n)!), ...ending.filter((t) => t.state === "deleting").map((t) => t.record)],
    };
  }
}
