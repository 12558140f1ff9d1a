/**
 * In-memory key records of one emulated vault (or HSM): live keys, soft-deleted keys, and the
 * sorted name indexes that paging walks. No HTTP and no service rules here; those live in
 * vault-service.ts so a Managed HSM listener can reuse both.
 */

/**
 * Private key material as JWK fields (node:crypto's JWK export; `k` for an AES key); shared between
 * versions when seeded.
 */
export interface KeyMaterial {
  readonly kty: "EC" | "RSA" | "oct";
  /** AES key bytes (oct), base64url. */
  readonly k?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
  readonly d?: string;
  readonly p?: string;
  readonly q?: string;
  readonly dp?: string;
  readonly dq?: string;
  readonly qi?: string;
}

export interface VersionAttributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  exportable?: boolean;
  /** Unix seconds. */
  created: number;
  updated: number;
}

/** The rules under which an exportable key may be released (stored as given, carried in backups). */
export interface ReleasePolicy {
  contentType: string;
  immutable?: boolean;
  /** The policy document, base64url. */
  data: string;
}

export interface KeyVersion {
  /** 32 lowercase hex characters. */
  readonly id: string;
  /** The type as the service reports it (EC, EC-HSM, RSA, RSA-HSM, oct-HSM). */
  readonly kty: string;
  readonly material: KeyMaterial;
  keyOps: string[];
  attributes: VersionAttributes;
  tags?: Record<string, string>;
  releasePolicy?: ReleasePolicy;
}

export interface StoredKey {
  /** Name with the case it was first created with; lookups ignore case, as the service does. */
  readonly name: string;
  readonly managed: boolean;
  /** Oldest first; the last one is the current version. */
  readonly versions: KeyVersion[];
  deletedDate?: number;
  scheduledPurgeDate?: number;
}

export function latestVersion(key: StoredKey): KeyVersion {
  const v = key.versions[key.versions.length - 1];
  if (!v) throw new Error(`key ${key.name} has no versions`);
  return v;
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
 * (deleted -> gone) that the service has accepted but not finished. Meanwhile the key is in neither view.
 */
export type TransitState = "deleting" | "recovering" | "purging";

interface Transit {
  readonly state: TransitState;
  readonly key: StoredKey;
  /** Clock time (ms) at which it ends. */
  readonly until: number;
}

export class KeyStore {
  private readonly live = new Map<string, StoredKey>();
  private readonly deleted = new Map<string, StoredKey>();
  private readonly liveIndex = new SortedNames();
  private readonly deletedIndex = new SortedNames();
  private readonly transit = new Map<string, Transit>();
  /** Earliest end of a transition, so most calls skip the scan. */
  private nextSettle = Number.POSITIVE_INFINITY;
  /** Called after every mutation (persistence hooks in here). */
  onChange: () => void = () => {};

  constructor(private readonly clock: () => number = Date.now) {}

  get liveCount(): number {
    this.settleDue();
    return this.live.size;
  }

  getLive(name: string): StoredKey | undefined {
    this.settleDue();
    return this.live.get(name.toLowerCase());
  }

  getDeleted(name: string): StoredKey | undefined {
    this.settleDue();
    return this.deleted.get(name.toLowerCase());
  }

  /** The unfinished transition of a name, if any. */
  transitOf(name: string): TransitState | undefined {
    this.settleDue();
    return this.transit.get(name.toLowerCase())?.state;
  }

  /** Milliseconds until the name's transition ends (0 when it has none). */
  settlesIn(name: string): number {
    this.settleDue();
    const t = this.transit.get(name.toLowerCase());
    return t ? Math.max(0, t.until - this.clock()) : 0;
  }

  /** Keys in transition, with the view they will end in (purges end in none and are left out). */
  transitKeys(): Array<{ state: "deleting" | "recovering"; key: StoredKey }> {
    this.settleDue();
    const out: Array<{ state: "deleting" | "recovering"; key: StoredKey }> = [];
    for (const t of this.transit.values()) if (t.state !== "purging") out.push({ state: t.state, key: t.key });
    return out;
  }

  /** Ends every transition at once (a full HSM restore replaces the whole key set). */
  clearTransit(): void {
    this.transit.clear();
    this.nextSettle = Number.POSITIVE_INFINITY;
  }

  /** Finishes the transitions whose time has come; lazily, on every access, so no timer is ever left running. */
  private settleDue(): void {
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
        this.deleted.set(lower, t.key);
        this.deletedIndex.insert(lower);
      } else if (t.state === "recovering") {
        this.live.set(lower, t.key);
        this.liveIndex.insert(lower);
      }
    }
    this.nextSettle = next;
    if (changed) this.onChange();
  }

  private startTransit(lower: string, state: TransitState, key: StoredKey, settleMs: number): void {
    const until = this.clock() + settleMs;
    this.transit.set(lower, { state, key, until });
    this.nextSettle = Math.min(this.nextSettle, until);
  }

  /** Adds a version to a live key, creating the key if needed. Caller checks the deleted state. */
  addVersion(name: string, version: KeyVersion, managed = false): StoredKey {
    const lower = name.toLowerCase();
    let key = this.live.get(lower);
    if (!key) {
      key = { name, managed, versions: [] };
      this.live.set(lower, key);
      this.liveIndex.insert(lower);
    }
    key.versions.push(version);
    this.onChange();
    return key;
  }

  /** Inserts a whole key (restore, seeding, reload). Caller checks for conflicts. */
  insertLive(key: StoredKey, notify = true): void {
    const lower = key.name.toLowerCase();
    this.live.set(lower, key);
    this.liveIndex.insert(lower);
    if (notify) this.onChange();
  }

  insertDeleted(key: StoredKey, notify = true): void {
    const lower = key.name.toLowerCase();
    this.deleted.set(lower, key);
    this.deletedIndex.insert(lower);
    if (notify) this.onChange();
  }

  /** Live -> deleted, at once or after `settleMs` (the key is in neither view meanwhile). */
  softDelete(name: string, deletedDate: number, scheduledPurgeDate: number, settleMs = 0): StoredKey | undefined {
    this.settleDue();
    const lower = name.toLowerCase();
    const key = this.live.get(lower);
    if (!key) return undefined;
    this.live.delete(lower);
    this.liveIndex.remove(lower);
    key.deletedDate = deletedDate;
    key.scheduledPurgeDate = scheduledPurgeDate;
    if (settleMs > 0) {
      this.startTransit(lower, "deleting", key, settleMs);
      this.onChange();
    } else {
      this.insertDeleted(key);
    }
    return key;
  }

  /** Deleted -> live, at once or after `settleMs`. */
  recover(name: string, settleMs = 0): StoredKey | undefined {
    this.settleDue();
    const lower = name.toLowerCase();
    const key = this.deleted.get(lower);
    if (!key) return undefined;
    this.deleted.delete(lower);
    this.deletedIndex.remove(lower);
    delete key.deletedDate;
    delete key.scheduledPurgeDate;
    if (settleMs > 0) {
      this.startTransit(lower, "recovering", key, settleMs);
      this.onChange();
    } else {
      this.insertLive(key);
    }
    return key;
  }

  /** Deleted -> gone; with `settleMs`, the name stays taken (in neither view) that long. */
  purge(name: string, settleMs = 0): boolean {
    this.settleDue();
    const lower = name.toLowerCase();
    const key = this.deleted.get(lower);
    if (!key) return false;
    this.deleted.delete(lower);
    this.deletedIndex.remove(lower);
    if (settleMs > 0) this.startTransit(lower, "purging", key, settleMs);
    this.onChange();
    return true;
  }

  /** A page of live keys after the given lowercase name. */
  livePage(after: string | undefined, max: number): StoredKey[] {
    this.settleDue();
    return this.liveIndex.after(after, max).map((n) => this.live.get(n)!);
  }

  deletedPage(after: string | undefined, max: number): StoredKey[] {
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

  // ------------------------------------------------------------------ persistence

  /** Plain JSON; material shared between versions is written once and referenced by index. */
  toJSON(): PersistedState {
    const materialIndex = new Map<KeyMaterial, number>();
    const materials: KeyMaterial[] = [];
    const encode = (key: StoredKey): PersistedKey => ({
      name: key.name,
      managed: key.managed,
      ...(key.deletedDate !== undefined ? { deletedDate: key.deletedDate } : {}),
      ...(key.scheduledPurgeDate !== undefined ? { scheduledPurgeDate: key.scheduledPurgeDate } : {}),
      versions: key.versions.map((v) => {
        let m = materialIndex.get(v.material);
        if (m === undefined) {
          m = materials.length;
          materials.push(v.material);
          materialIndex.set(v.material, m);
        }
        return {
          id: v.id,
          kty: v.kty,
          material: m,
          keyOps: v.keyOps,
          attributes: v.attributes,
          ...(v.tags ? { tags: v.tags } : {}),
          ...(v.releasePolicy ? { releasePolicy: v.releasePolicy } : {}),
        };
      }),
    });
    this.settleDue();
    // An unfinished transition is written as the state it ends in: a restart does not bring back limbo.
    const ending = this.transitKeys();
    const keys = [...this.liveIndex.all().map((n) => this.live.get(n)!), ...ending.filter((t) => t.state === "recovering").map((t) => t.key)].map(encode);
    const deleted = [...this.deletedIndex.all().map((n) => this.deleted.get(n)!), ...ending.filter((t) => t.state === "deleting").map((t) => t.key)].map(encode);
    return { format: STATE_FORMAT, materials, keys, deleted };
  }

  /** Replaces nothing: loads into an empty store. Throws on a malformed document. */
  load(state: PersistedState): void {
    if (state.format !== STATE_FORMAT || !Array.isArray(state.materials)) throw new Error("not an emulator state file");
    const decode = (k: PersistedKey): StoredKey => ({
      name: k.name,
      managed: k.managed === true,
      ...(k.deletedDate !== undefined ? { deletedDate: k.deletedDate } : {}),
      ...(k.scheduledPurgeDate !== undefined ? { scheduledPurgeDate: k.scheduledPurgeDate } : {}),
      versions: k.versions.map((v) => {
        const material = state.materials[v.material];
        if (!material) throw new Error(`state file: key ${k.name} references missing material ${v.material}`);
        return {
          id: v.id,
          kty: v.kty,
          material,
          keyOps: v.keyOps,
          attributes: v.attributes,
          ...(v.tags ? { tags: v.tags } : {}),
          ...(v.releasePolicy ? { releasePolicy: v.releasePolicy } : {}),
        };
      }),
    });
    for (const k of state.keys) this.insertLive(decode(k), false);
    for (const k of state.deleted) this.insertDeleted(decode(k), false);
  }
}

export const STATE_FORMAT = "kvbackup-emulator-state/1";

export interface PersistedKey {
  name: string;
  managed: boolean;
  deletedDate?: number;
  scheduledPurgeDate?: number;
  versions: Array<{
    id: string;
    kty: string;
    material: number;
    keyOps: string[];
    attributes: VersionAttributes;
    tags?: Record<string, string>;
    releasePolicy?: ReleasePolicy;
  }>;
}

export interface PersistedState {
  format: string;
  materials: KeyMaterial[];
  keys: PersistedKey[];
  deleted: PersistedKey[];
}
