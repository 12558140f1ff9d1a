/**
 * A certificate's backup holds every version with its key and secret versions; its restore brings all
 * three back, and needs the name free in all three collections.
 */
import type { BackupCipher } from "./backup-cipher";
import { certificateBundle } from "./certificate-answers";
import { latestCertificateVersion, type CertificateStore, type StoredCertificate } from "./certificate-store";
import {
  CERTIFICATE_BACKUP_BYTES_ONE_VERSION,
  CERTIFICATE_BACKUP_BYTES_PER_EXTRA_VERSION,
  CERTIFICATE_BACKUP_FORMAT,
  parseCertificateBackupDocument,
  type CertificateBackupDocument,
} from "./certificate-versions";
import { keyVersionDocument, keyVersionFromDocument } from "./key-rules";
import type { KeyStore } from "./key-store";
import type { ServiceProfile } from "./profiles";
import { copySecretVersion } from "./secret-service";
import type { SecretStore } from "./secret-store";
import { MAX_BACKUP_VERSIONS, badParameter, checkSettled, deletedConflict, existsConflict, notFound, requireObject, type RequestContext, type ServiceReply } from "./service-common";

/** The stores and settings a certificate operation works on. */
export interface CertificateParts {
  readonly certificates: CertificateStore;
  readonly keys: KeyStore;
  readonly secrets: SecretStore;
  readonly profile: ServiceProfile;
  readonly cipher: BackupCipher;
}

export function backupCertificate(p: CertificateParts, name: string): ServiceReply {
  const cert = p.certificates.getLive(name);
  if (!cert) throw notFound("Certificate", name);
  if (cert.versions.length > MAX_BACKUP_VERSIONS) {
    throw badParameter(`Certificate ${cert.name} has ${cert.versions.length} versions; a certificate with more than ${MAX_BACKUP_VERSIONS} versions cannot be backed up.`);
  }
  const keys = new Map((p.keys.getLive(name)?.versions ?? []).map((k) => [k.id, k]));
  const secrets = new Map((p.secrets.getLive(name)?.versions ?? []).map((s) => [s.id, s]));
  const doc: CertificateBackupDocument = {
    format: CERTIFICATE_BACKUP_FORMAT,
    name: cert.name,
    policy: cert.policy,
    versions: cert.versions.map((v) => {
      const key = keys.get(v.id);
      const secret = secrets.get(v.id);
      return { certificate: v, ...(key ? { key: keyVersionDocument(key) } : {}), ...(secret ? { secret } : {}) };
    }),
  };
  const size = CERTIFICATE_BACKUP_BYTES_ONE_VERSION + CERTIFICATE_BACKUP_BYTES_PER_EXTRA_VERSION * (cert.versions.length - 1);
  return { status: 200, body: { value: p.cipher.seal(doc, size, "certificate") } };
}

export function restoreCertificate(p: CertificateParts, ctx: RequestContext): ServiceReply {
  const body = requireObject(ctx.body);
  const blob = body["value"];
  if (typeof blob !== "string" || blob.length === 0) throw badParameter("The 'value' property (the backup blob) is required.");
  // The keys' wording for a blob the service cannot read (assumed the same for certificates).
  const doc = parseCertificateBackupDocument(p.cipher.open(blob, "certificate"));
  if (!doc) throw badParameter("Backup blob contains invalid or corrupt version.");
  const refused = p.profile.refusedKeyTypes;
  if (refused && doc.versions.some((v) => v.key && refused.types.includes(v.key.kty))) throw badParameter(refused.message);
  // The certificate's name must be free in all three collections (assumed for its key and secret).
  const name = doc.name;
  for (const [kind, store] of [["Certificate", p.certificates], ["Key", p.keys], ["Secret", p.secrets]] as const) {
    checkSettled(kind, name, store.transitOf(name), "restore");
    if (store.getDeleted(name)) throw deletedConflict(kind, name);
    if (store.getLive(name)) throw existsConflict(kind, name);
  }
  const cert: StoredCertificate = {
    name,
    managed: false,
    policy: structuredClone(doc.policy),
    versions: doc.versions.map((v) => structuredClone(v.certificate)),
  };
  const keyVersions = doc.versions.flatMap((v) => (v.key ? [keyVersionFromDocument(v.key)] : []));
  const secretVersions = doc.versions.flatMap((v) => (v.secret ? [copySecretVersion(v.secret)] : []));
  p.certificates.insertLive(cert);
  if (keyVersions.length) p.keys.insertLive({ name, managed: true, versions: keyVersions });
  if (secretVersions.length) p.secrets.insertLive({ name, managed: true, versions: secretVersions });
  return { status: 200, body: certificateBundle(p.profile, ctx.baseUrl, cert, latestCertificateVersion(cert)) };
}
