/**
 * Certificate records of one emulated vault over the shared soft-delete lifecycle, their pending create
 * operations, and their persisted form. A certificate's key and secret live in the key and secret stores
 * under the same name and version ids (`managed: true` there).
 */
import { LifecycleStore, type LifecycleRecord } from "./lifecycle-store";
import type { KeyVersion } from "./key-store";
import type { SecretVersion } from "./secret-store";
import type { SubjectAlternativeNames } from "./x509";

export interface CertificateAttributes {
  enabled: boolean;
  /** The X.509 validity, Unix seconds. */
  nbf: number;
  exp: number;
  created: number;
  updated: number;
}

export interface CertificateVersion {
  /** The same id as the key and secret versions made with it. */
  readonly id: string;
  /** DER, standard base64 (the bundle's `cer`). */
  readonly cer: string;
  /** SHA-1 thumbprint, base64url. */
  readonly x5t: string;
  attributes: CertificateAttributes;
  tags?: Record<string, string>;
}

/** The management policy in the service's wire form (snake_case), without its `id`. */
export interface CertificatePolicy {
  key_props: { exportable: boolean; kty: string; key_size?: number; crv?: string; reuse_key: boolean };
  secret_props: { contentType: string };
  x509_props: { subject: string; sans?: SubjectAlternativeNames; ekus: string[]; key_usage: string[]; validity_months: number };
  lifetime_actions: Array<{ trigger: { lifetime_percentage?: number; days_before_expiry?: number }; action: { action_type: string } }>;
  issuer: { name: string; cty?: string; cert_transparency?: boolean };
  attributes: { enabled: boolean; created: number; updated: number };
}

export interface StoredCertificate extends LifecycleRecord {
  readonly versions: CertificateVersion[];
  policy: CertificatePolicy;
}

export function latestCertificateVersion(cert: StoredCertificate): CertificateVersion {
  const v = cert.versions[cert.versions.length - 1];
  if (!v) throw new Error(`certificate ${cert.name} has no versions`);
  return v;
}

/** One version as made by a create: the certificate with its key and its secret. */
export interface PreparedVersion {
  certificate: CertificateVersion;
  key: KeyVersion;
  secret: SecretVersion;
  policy: CertificatePolicy;
}

/** A create's certificate operation (GET /certificates/{name}/pending). */
export interface PendingOperation {
  readonly name: string;
  readonly requestId: string;
  readonly issuerName: string;
  /** The PKCS#10 request, standard base64. */
  readonly csr: string;
  status: "inProgress" | "completed" | "cancelled" | "failed";
  cancellationRequested: boolean;
  /** Clock time (ms) at which the issuer completes it; absent: it waits (issuer "Unknown": a merge would end it). */
  until?: number;
  /** What the operation makes; dropped once it has ended. */
  prepared?: PreparedVersion;
  error?: { code: string; message: string };
}

export interface PersistedCertificates {
  live: StoredCertificate[];
  deleted: StoredCertificate[];
  pending: PendingOperation[];
}

export class CertificateStore extends LifecycleStore<StoredCertificate> {
  private readonly pendingOps = new Map<string, PendingOperation>();
  /** Earliest end of an operation in progress, so most requests skip the scan. */
  private nextDue = Number.POSITIVE_INFINITY;

  pending(name: string): PendingOperation | undefined {
    return this.pendingOps.get(name.toLowerCase());
  }

  setPending(op: PendingOperation): void {
    this.pendingOps.set(op.name.toLowerCase(), op);
    if (op.status === "inProgress" && op.until !== undefined) this.nextDue = Math.min(this.nextDue, op.until);
    this.onChange();
  }

  dropPending(name: string): void {
    if (this.pendingOps.delete(name.toLowerCase())) this.onChange();
  }

  /** Operations still in progress whose issuer has finished by `now`. */
  duePending(now: number): PendingOperation[] {
    if (now < this.nextDue) return [];
    const due: PendingOperation[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const op of this.pendingOps.values()) {
      if (op.status !== "inProgress" || op.until === undefined) continue;
      if (op.until <= now) due.push(op);
      else next = Math.min(next, op.until);
    }
    this.nextDue = next;
    return due;
  }

  /** Adds a version to a live certificate, creating it if needed. Caller checks the deleted state. */
  addVersion(name: string, version: CertificateVersion, policy: CertificatePolicy): StoredCertificate {
    let cert = this.getLive(name);
    if (!cert) {
      cert = { name, managed: false, versions: [], policy };
      this.insertLive(cert, false);
    }
    cert.policy = policy;
    cert.versions.push(version);
    this.onChange();
    return cert;
  }

  /** Plain JSON; an unfinished transition written as the state it ends in, pending operations as they are. */
  toJSON(): PersistedCertificates {
    return { ...this.settledViews(), pending: [...this.pendingOps.values()] };
  }

  /** Loads into an empty store; an operation whose time passed while the emulator was stopped ends on first access. */
  load(state: PersistedCertificates): void {
    if (!Array.isArray(state.live) || !Array.isArray(state.deleted) || !Array.isArray(state.pending)) throw new Error("state file: malformed certificates");
    const decode = (c: StoredCertificate): StoredCertificate => {
      if (typeof c.name !== "string" || !Array.isArray(c.versions) || c.versions.length === 0 || typeof c.policy !== "object") {
        throw new Error("state file: malformed certificate");
      }
      return { ...c, managed: false };
    };
    for (const c of state.live) this.insertLive(decode(c), false);
    for (const c of state.deleted) this.insertDeleted(decode(c), false);
    for (const op of state.pending) this.setPending(op);
  }
}
