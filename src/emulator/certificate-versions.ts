/**
 * A certificate version and what comes with it: the X.509 material, the managed key version and the
 * managed secret version (same id), and the certificate backup document that carries all three.
 */
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import type { CertificatePolicy, CertificateVersion, PreparedVersion } from "./certificate-store";
import { DEFAULT_OPS, baseType, isKeyVersionDocument, newKeyVersion, type KeyVersionDocument } from "./key-rules";
import { materialDigest } from "./key-material";
import type { KeyMaterial } from "./key-store";
import { secretDigest, isSecretVersion } from "./secret-service";
import type { SecretVersion } from "./secret-store";
import { MAX_BACKUP_VERSIONS, OBJECT_NAME, VERSION_ID, isObject, type ParsedAttributes } from "./service-common";
import { privateKeyOf, secretValue, selfSignedCertificate, thumbprint } from "./x509";

export const CERTIFICATE_BACKUP_FORMAT = "kvbackup-emulator-certificate-backup/1";
/**
 * Decoded size of a certificate backup: the spec's BackupCertificate example, one version, is 30,623
 * bytes (40,831 base64url characters). Each further version is assumed to add 6 KiB (what a version of an
 * RSA-2048 certificate holds here: its X.509, its key and its PFX); larger documents are sealed as they are.
 */
export const CERTIFICATE_BACKUP_BYTES_ONE_VERSION = 30_623;
export const CERTIFICATE_BACKUP_BYTES_PER_EXTRA_VERSION = 6_144;
/** The service's self-signed certificates start 10 minutes before their creation (the spec's examples). */
const BACKDATE_SECONDS = 600;

export interface CertificateVersionDocument {
  certificate: CertificateVersion;
  key?: KeyVersionDocument;
  secret?: SecretVersion;
}

export interface CertificateBackupDocument {
  format: string;
  name: string;
  policy: CertificatePolicy;
  versions: CertificateVersionDocument[];
}

/** `created` plus `months` calendar months (the service's 12 months are 365 or 366 days). */
export function addMonths(seconds: number, months: number): number {
  const d = new Date(seconds * 1000);
  d.setUTCMonth(d.getUTCMonth() + months);
  return Math.floor(d.getTime() / 1000);
}

/**
 * A version from certificates (DER, leaf first) and key material: the key and secret versions get the
 * certificate's id, validity, enabled state and tags. A non-exportable key stays out of the secret.
 */
export function versionFrom(
  certs: readonly Buffer[],
  material: KeyMaterial,
  key: KeyObject,
  validity: { nbf: number; exp: number },
  policy: CertificatePolicy,
  storedKty: string,
  attrs: ParsedAttributes,
  tags: Record<string, string> | undefined,
  now: number,
  macSalt?: Buffer,
): PreparedVersion {
  const id = randomBytes(16).toString("hex");
  const enabled = attrs.enabled ?? true;
  const times = { nbf: validity.nbf, exp: validity.exp, created: now, updated: now };
  const secretKey = policy.key_props.exportable ? key : undefined;
  const keyVersion = newKeyVersion(storedKty, material, [...DEFAULT_OPS[baseType(storedKty)]], { enabled, nbf: validity.nbf, exp: validity.exp }, tags, undefined, id);
  return {
    certificate: { id, cer: certs[0]!.toString("base64"), x5t: thumbprint(certs[0]!), attributes: { enabled, ...times }, ...(tags ? { tags: { ...tags } } : {}) },
    key: keyVersion,
    secret: {
      id,
      value: secretValue(policy.secret_props.contentType, certs, secretKey, macSalt),
      contentType: policy.secret_props.contentType,
      attributes: { enabled, ...times },
      ...(tags ? { tags: { ...tags } } : {}),
    },
    policy,
  };
}

/** A self-signed version under the policy, from the given key material. */
export function selfSignedVersion(
  material: KeyMaterial,
  policy: CertificatePolicy,
  storedKty: string,
  attrs: ParsedAttributes,
  tags: Record<string, string> | undefined,
  now: number,
  macSalt?: Buffer,
): PreparedVersion {
  const key = privateKeyOf(material);
  const nbf = now - BACKDATE_SECONDS;
  const exp = addMonths(now, policy.x509_props.validity_months);
  const x = policy.x509_props;
  const der = selfSignedCertificate(
    key,
    { subject: x.subject !== "" ? x.subject : `CN=${x.sans?.dns_names?.[0] ?? "certificate"}`, ...(x.sans ? { sans: x.sans } : {}), ekus: x.ekus, keyUsage: x.key_usage },
    new Date(nbf * 1000),
    new Date(exp * 1000),
  );
  return versionFrom([der], material, key, { nbf, exp }, policy, storedKty, attrs, tags, now, macSalt);
}

/** SHA-256 over a version's X.509, key material and secret value (see EmulatedVault.certificateDigests). */
export function certificateDigest(cer: string, keyMaterial: KeyMaterial | undefined, secret: SecretVersion | undefined): string {
  return createHash("sha256")
    .update(`${cer}|${keyMaterial ? materialDigest(keyMaterial) : ""}|${secret ? secretDigest(secret) : ""}`)
    .digest("hex");
}

/** Structural check of a decrypted certificate backup document. */
export function parseCertificateBackupDocument(doc: unknown): CertificateBackupDocument | undefined {
  if (!isObject(doc) || doc["format"] !== CERTIFICATE_BACKUP_FORMAT) return undefined;
  const { name, versions, policy } = doc;
  if (typeof name !== "string" || !OBJECT_NAME.test(name) || !isObject(policy)) return undefined;
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > MAX_BACKUP_VERSIONS) return undefined;
  for (const v of versions as unknown[]) {
    if (!isObject(v) || !isObject(v["certificate"])) return undefined;
    const c = v["certificate"];
    if (typeof c["id"] !== "string" || !VERSION_ID.test(c["id"]) || typeof c["cer"] !== "string" || typeof c["x5t"] !== "string" || !isObject(c["attributes"])) return undefined;
    if (v["key"] !== undefined && (!isKeyVersionDocument(v["key"]) || v["key"].id !== c["id"])) return undefined;
    if (v["secret"] !== undefined && (!isSecretVersion(v["secret"]) || v["secret"].id !== c["id"])) return undefined;
  }
  const ids = (versions as CertificateVersionDocument[]).map((v) => v.certificate.id);
  return new Set(ids).size === ids.length ? (doc as unknown as CertificateBackupDocument) : undefined;
}
