/**
 * In-memory key records of one emulated vault (or HSM): live keys, soft-deleted keys, and the
 * sorted name indexes that paging walks. No HTTP and no service rules here; those live in
 * vault-service.ts so a Managed HSM listener can reuse both.
 */

/** Private key material as JWK fields (node:crypto's JWK export); shared between versions when seeded. */
export interface KeyMaterial {
  readonly kty: "EC" | "RSA";
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

export interface KeyVersion {
  /** 32 lowercase hex characters. */
  readonly id: string;
  /** The type as the service reports it (EC, EC-HSM, RSA, RSA-HSM). */
  readonly kty: string;
  readonly material: KeyMaterial;
  keyOps: string[];
  attributes: VersionAttributes;
  tags?: Record<string, string>;
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

export class KeyStore {
  private readonly live = new Map<string, StoredKey>();
  private readonly deleted = new Map<string, StoredKey>();
  private readonly liveIndex = new SortedNames();
  private readonly deletedIndex = new SortedNames();
  /** Called after every mutation (persistence hooks in here). */
  onChange: () => void = () => {};

  get liveCount(): number {
    return this.live.size;
  }

  getLive(name: string): StoredKey | undefined {
    return this.live.get(name.toLowerCase());
  }

  getDeleted(name: string): StoredKey | undefined {
    return this.deleted.get(name.toLowerCase());
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

  softDelete(name: string, deletedDate: number, scheduledPurgeDate: number): StoredKey | undefined {
    const lower = name.toLowerCase();
    const key = this.live.get(lower);
    if (!key) return undefined;
    this.live.delete(lower);
    this.liveIndex.remove(lower);
    key.deletedDate = deletedDate;
    key.scheduledPurgeDate = scheduledPurgeDate;
    this.insertDeleted(key);
    return key;
  }

  recover(name: string): StoredKey | undefined {
    const lower = name.toLowerCase();
    const key = this.deleted.get(lower);
    if (!key) return undefined;
    this.deleted.delete(lower);
    this.deletedIndex.remove(lower);
    delete key.deletedDate;
    delete key.scheduledPurgeDate;
    this.insertLive(key);
    return key;
  }

  purge(name: string): boolean {
    const lower = name.toLowerCase();
    if (!this.deleted.delete(lower)) return false;
    this.deletedIndex.remove(lower);
    this.onChange();
    return true;
  }

  /** A page of live keys after the given lowercase name. */
  livePage(after: string | undefined, max: number): StoredKey[] {
    return this.liveIndex.after(after, max).map((n) => this.live.get(n)!);
  }

  deletedPage(after: string | undefined, max: number): StoredKey[] {
    return this.deletedIndex.after(after, max).map((n) => this.deleted.get(n)!);
  }

  liveNames(): string[] {
    return this.liveIndex.all().map((n) => this.live.get(n)!.name);
  }

  deletedNames(): string[] {
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
        return { id: v.id, kty: v.kty, material: m, keyOps: v.keyOps, attributes: v.attributes, ...(v.tags ? { tags: v.tags } : {}) };
      }),
    });
    const keys = this.liveIndex.all().map((n) => encode(this.live.get(n)!));
    const deleted = this.deletedIndex.all().map((n) => encode(this.deleted.get(n)!));
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
        return { id: v.id, kty: v.kty, material, keyOps: v.keyOps, attributes: v.attributes, ...(v.tags ? { tags: v.tags } : {}) };
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
  }>;
}

export interface PersistedState {
  format: string;
  materials: KeyMaterial[];
  keys: PersistedKey[];
  deleted: PersistedKey[];
}
