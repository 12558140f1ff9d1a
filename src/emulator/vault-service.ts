/**
 * One emulated vault (or Managed HSM) independent of HTTP: its objects (VaultState) and the Keys, Secrets
 * and Certificates APIs over them, under one ServiceProfile. Routes in, status and JSON out, failures as
 * ServiceError with the service's error codes.
 */
import type { BackupCipher } from "./backup-cipher";
import { CertificateService } from "./certificate-service";
import { KeyService } from "./key-service";
import type { MaterialPool } from "./key-material";
import type { KeyStore } from "./key-store";
import type { ServiceProfile } from "./profiles";
import { resolveRoute, type Route } from "./routes";
import { SecretService } from "./secret-service";
import { checkObjectName, notImplemented, type ObjectKind, type RequestContext, type ServiceReply } from "./service-common";
import type { SeedCertificatesOptions, SeedKeysOptions, SeedSecretsOptions } from "./types";
import { VaultState } from "./vault-state";

export { MANAGED_HSM_PROFILE, VAULT_PROFILE, VAULT_STANDARD_PROFILE, vaultProfile, type ServiceProfile } from "./profiles";
export { BACKUP_BYTES_ONE_VERSION, BACKUP_BYTES_PER_EXTRA_VERSION } from "./key-rules";
export { SECRET_BACKUP_BYTES_ONE_VERSION, SECRET_BACKUP_BYTES_PER_EXTRA_VERSION } from "./secret-service";
export { CERTIFICATE_BACKUP_BYTES_ONE_VERSION, CERTIFICATE_BACKUP_BYTES_PER_EXTRA_VERSION } from "./certificate-versions";
export { LATEST_API_VERSION, MAX_BACKUP_VERSIONS, SUPPORTED_API_VERSIONS, ServiceError, badParameter, type RequestContext, type ServiceReply } from "./service-common";
export { resolveRoute, type Route } from "./routes";

const IMPLEMENTED: Readonly<Record<string, string>> = {
  keys: "key management and backup/restore",
  secrets: "secret management and backup/restore",
  certificates: "certificate management with the Self and Unknown issuers, and backup/restore",
};
const KIND_OF_API: Readonly<Record<string, ObjectKind>> = { keys: "Key", secrets: "Secret", certificates: "Certificate" };

/** A Key Vault name check, for the HSM's own routes. */
export function checkName(name: string): void {
  checkObjectName(name, "Key");
}

export class VaultService {
  readonly keys: KeyService;
  readonly secrets: SecretService;
  readonly certificates: CertificateService;

  constructor(
    readonly profile: ServiceProfile,
    cipher: BackupCipher,
    pool: MaterialPool,
    readonly state: VaultState = new VaultState(),
  ) {
    this.keys = new KeyService(state.keys, profile, cipher, pool);
    this.secrets = new SecretService(state.secrets, profile, cipher);
    this.certificates = new CertificateService(state.certificates, state.keys, state.secrets, profile, cipher, pool);
    this.secrets.convertManaged = (secret, version, contentType) => this.certificates.convertSecret(secret, version, contentType);
  }

  /** The keys (the Managed HSM's backup jobs work on them directly). */
  get store(): KeyStore {
    return this.state.keys;
  }

  route(method: string, segments: readonly string[]): Route {
    return resolveRoute(method, segments, this.profile.secretsAndCertificates);
  }

  async execute(route: Route, ctx: RequestContext): Promise<ServiceReply> {
    this.settle();
    if (route.op === "unsupported") throw notImplemented(route.feature, IMPLEMENTED[route.api ?? "keys"]!);
    if (route.name !== undefined) checkObjectName(route.name, KIND_OF_API[route.api ?? "keys"]);
    if (route.api === "secrets") return this.secrets.execute(route, ctx);
    if (route.api === "certificates") return this.certificates.execute(route, ctx);
    return this.keys.execute(route, ctx);
  }

  /** Ends what has come due (certificate creates), before anything reads the stores. */
  settle(): void {
    this.certificates.settle();
  }

  seed(options: SeedKeysOptions): Promise<void> {
    return this.keys.seed(options);
  }

  async seedSecrets(options: SeedSecretsOptions): Promise<void> {
    if (!this.profile.secretsAndCertificates) throw new Error("seedSecrets: a Managed HSM holds no secrets");
    this.secrets.seed(options);
  }

  async seedCertificates(options: SeedCertificatesOptions): Promise<void> {
    if (!this.profile.secretsAndCertificates) throw new Error("seedCertificates: a Managed HSM holds no certificates");
    await this.certificates.seed(options);
  }

  materialDigests(name: string): Record<string, string> | undefined {
    this.settle();
    return this.keys.materialDigests(name);
  }
}
