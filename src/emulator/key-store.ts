/**
 * Key records of one emulated vault (or HSM) over the shared soft-delete lifecycle, and their persisted
 * form. No HTTP and no service rules here; those live in key-service.ts so a Managed HSM reuses both.
 */
import { LifecycleStore, type LifecycleRecord } from "./lifecycle-store";

export { SortedNames, type TransitState } from "./lifecycle-store";

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

/** A key record; `managed` is set when a certificate backs the key. */
export interface StoredKey extends LifecycleRecord {
  readonly versions: KeyVersion[];
}

export function latestVersion(key: StoredKey): KeyVersion {
  const v = key.versions[key.versions.length - 1];
  if (!v) throw new Error(`key ${key.name} has no versions`);
  return v;
}

export class KeyStore extends LifecycleStore<StoredKey> {
  /** Keys in transition, with the view they will end in (purges end in none and are left out). */
  transitKeys(): Array<{ state: "deleting" | "recovering"; key: StoredKey }> {
    return this.transitRecords().map((t) => ({ state: t.state, key: t.record }));
  }

  /** Adds a version to a live key, creating the key if needed. Caller checks the deleted state. */
  addVersion(name: string, version: KeyVersion, managed = false): StoredKey {
    let key = this.getLive(name);
    if (!key) {
      key = { name, managed, versions: [] };
      this.insertLive(key, false);
    }
    // A certificate takes over a plain key of its name (reported for secrets; assumed for keys).
    if (managed) key.managed = true;
    key.versions.push(version);
    this.onChange();
    return key;
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
    // An unfinished transition is written as the state it ends in: a restart does not bring back limbo.
    const views = this.settledViews();
    return { format: STATE_FORMAT, materials, keys: views.live.map(encode), deleted: views.deleted.map(encode) };
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
