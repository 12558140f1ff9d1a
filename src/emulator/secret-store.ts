/** Secret records of one emulated vault over the shared soft-delete lifecycle, and their persisted form. */
import { LifecycleStore, type LifecycleRecord } from "./lifecycle-store";

export interface SecretAttributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  /** Unix seconds. */
  created: number;
  updated: number;
}

export interface SecretVersion {
  /** 32 lowercase hex characters; a certificate's secret shares its version ids with the certificate. */
  readonly id: string;
  readonly value: string;
  contentType?: string;
  attributes: SecretAttributes;
  tags?: Record<string, string>;
}

/** A secret; `managed` when it backs a certificate (its value is the certificate with its key, PFX or PEM). */
export interface StoredSecret extends LifecycleRecord {
  readonly versions: SecretVersion[];
}

export function latestSecretVersion(secret: StoredSecret): SecretVersion {
  const v = secret.versions[secret.versions.length - 1];
  if (!v) throw new Error(`secret ${secret.name} has no versions`);
  return v;
}

export interface PersistedSecrets {
  live: StoredSecret[];
  deleted: StoredSecret[];
}

export class SecretStore extends LifecycleStore<StoredSecret> {
  /** Adds a version to a live secret, creating the secret if needed. Caller checks the deleted state. */
  addVersion(name: string, version: SecretVersion, managed = false): StoredSecret {
    let secret = this.getLive(name);
    if (!secret) {
      secret = { name, managed, versions: [] };
      this.insertLive(secret, false);
    }
    // A certificate takes over a plain secret of its name (reported: it is then refused its delete).
    if (managed) secret.managed = true;
    secret.versions.push(version);
    this.onChange();
    return secret;
  }

  /** Plain JSON, an unfinished transition written as the state it ends in. */
  toJSON(): PersistedSecrets {
    return this.settledViews();
  }

  /** Loads into an empty store. Throws on a malformed document. */
  load(state: PersistedSecrets): void {
    if (!Array.isArray(state.live) || !Array.isArray(state.deleted)) throw new Error("state file: malformed secrets");
    const decode = (s: StoredSecret): StoredSecret => {
      if (typeof s.name !== "string" || !Array.isArray(s.versions) || s.versions.length === 0) throw new Error("state file: malformed secret");
      return { ...s, managed: s.managed === true };
    };
    for (const s of state.live) this.insertLive(decode(s), false);
    for (const s of state.deleted) this.insertDeleted(decode(s), false);
  }
}
