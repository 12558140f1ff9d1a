/**
 * Public shapes of the local Key Vault emulator. Kept apart from the implementation so callers
 * (tests, the CLI, the bench) can import types without pulling in the server.
 */

/** Fault injection, as fractions of authenticated requests (0..1). */
export interface FaultKnobs {
  /** Share of requests answered 503 ServiceUnavailable with a Retry-After. */
  readonly error503Rate: number;
  /** Share of requests whose connection is destroyed without an answer. */
  readonly dropRate: number;
  /** Retry-After (whole seconds) sent with injected 503s. */
  readonly retryAfterSeconds: number;
}

export interface EmulatorKnobs {
  /** Delay added before each answer. */
  readonly latencyMs: number;
  /** Operations admitted per vault in any 10 s window (the service counts per 10 s). */
  readonly throttle: number;
  readonly faults: FaultKnobs;
  /**
   * How long a soft delete and a recover take after their request has been answered (0: done at once).
   * Meanwhile the key is neither readable nor readable as deleted, and writes to its name answer 409.
   */
  readonly softDeleteMs: number;
  /** How long a purge takes after its 204: the name answers 404 to reads and 409 to create/restore meanwhile. */
  readonly purgeMs: number;
  /**
   * How long the `Self` issuer takes to complete a certificate create (0: done when answered). Meanwhile
   * GET /certificates/{name}/pending answers status inProgress, so the SDK's create poller really polls.
   */
  readonly certificateCreateMs: number;
}

/** What setKnobs accepts: any subset, faults merged field by field. */
export interface KnobsPatch {
  readonly latencyMs?: number;
  readonly throttle?: number;
  readonly faults?: Partial<FaultKnobs>;
  readonly softDeleteMs?: number;
  readonly purgeMs?: number;
  readonly certificateCreateMs?: number;
}

export interface VaultStats {
  /** Every request that reached the handler, whatever its answer. */
  readonly requests: number;
  /** 401 challenges sent (requests without a bearer token). */
  readonly challenges: number;
  readonly throttled429: number;
  readonly unavailable503: number;
  readonly dropped: number;
  /** Authenticated requests per operation name (e.g. backupKey, restoreKey, getKeys). */
  readonly operations: Readonly<Record<string, number>>;
}

/** EC, RSA, or (Managed HSM only) oct: an AES-256 key. On a Managed HSM every type is stored HSM-backed. */
export type SeedKeyType = "EC" | "RSA" | "oct";

export interface SeedKeysOptions {
  readonly count: number;
  /** Versions per key (default 1). */
  readonly versions?: number;
  /** Names are `${prefix}-${index}` with the index zero-padded (default prefix "key"). */
  readonly prefix?: string;
  /** First index (default 0), so several batches can share a prefix. */
  readonly startIndex?: number;
  /** EC P-256 (default), RSA 2048 (material from a small shared pool) or AES-256 (fresh per version). */
  readonly kty?: SeedKeyType;
  /** Mark the keys as certificate-backed: listed with managed=true, backup refused with 403. */
  readonly managed?: boolean;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface SeedSecretsOptions {
  readonly count: number;
  /** Versions per secret (default 1); every version gets its own random value. */
  readonly versions?: number;
  /** Names are `${prefix}-${index}` with the index zero-padded (default prefix "secret"). */
  readonly prefix?: string;
  readonly startIndex?: number;
  /**
   * Content types the seeded secrets cycle through, one per secret (undefined: none set). Default:
   * text/plain, application/json (a JSON value), none, application/x-connection-string.
   */
  readonly contentTypes?: ReadonlyArray<string | undefined>;
  /** Random bytes per value before base64url (default 24: 32 characters). */
  readonly valueBytes?: number;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface SeedCertificatesOptions {
  readonly count: number;
  /** Versions per certificate (default 1); each brings a key version and a secret version of the same id. */
  readonly versions?: number;
  /** Names are `${prefix}-${index}` with the index zero-padded (default prefix "cert"). */
  readonly prefix?: string;
  readonly startIndex?: number;
  /** RSA 2048 (default; key pairs from a small shared pool) or EC P-256 (a fresh key per version). */
  readonly kty?: "RSA" | "EC";
  /** Secret content types the certificates cycle through (default: application/x-pkcs12, application/x-pem-file). */
  readonly contentTypes?: readonly string[];
  /** Validity of each version (default 12 months). */
  readonly validityMonths?: number;
  readonly tags?: Readonly<Record<string, string>>;
}

/** Which service a listener imitates; decides the challenge resource. */
export type ServiceKind = "vault" | "managedHsm";

/**
 * A vault's pricing tier: premium (the default) holds HSM-protected keys (RSA-HSM, EC-HSM), standard
 * refuses them as the service does.
 */
export type VaultSku = "standard" | "premium";

export interface AddVaultOptions {
  /** 0/undefined: a free port. */
  readonly port?: number;
  /** Names this vault's state file in stateDir (default: vault-<n>). */
  readonly name?: string;
  /** Overrides on top of the emulator-wide knobs. */
  readonly knobs?: KnobsPatch;
  /** Keys seeded at start (EC P-256). */
  readonly keys?: number;
  /** Secrets seeded at start (see SeedSecretsOptions' defaults). */
  readonly secrets?: number;
  /** Certificates seeded at start (RSA, self-signed, PKCS#12 and PEM alternating). */
  readonly certificates?: number;
  /** Versions per seeded key, secret and certificate. */
  readonly versions?: number;
  /** Default: the emulator's `sku`. */
  readonly sku?: VaultSku;
}

export interface EmulatorOptions {
  /** 0/undefined: a free port. */
  readonly port?: number;
  /** Folder for the certificate and the vault state (JSON, written shortly after each change). */
  readonly stateDir?: string;
  /** Keys seeded into the first vault at start (EC P-256, names key-00000...). */
  readonly keys?: number;
  /** Secrets seeded into the first vault at start (names secret-00000...). */
  readonly secrets?: number;
  /** Certificates seeded into the first vault at start (names cert-00000...), with their keys and secrets. */
  readonly certificates?: number;
  /** Versions per seeded key, secret and certificate (default 1). */
  readonly versions?: number;
  readonly latencyMs?: number;
  /** Operations per 10 s per vault (default 4000, the service's limit for software keys). */
  readonly throttle?: number;
  readonly faults?: Partial<FaultKnobs>;
  /** Time a soft delete or a recover takes (default DEFAULT_SOFT_DELETE_MS; 0: at once). */
  readonly softDeleteMs?: number;
  /** Time a purge takes (default DEFAULT_PURGE_MS; 0: at once). */
  readonly purgeMs?: number;
  /** Time the Self issuer takes to complete a certificate create (default DEFAULT_CERTIFICATE_CREATE_MS; 0: at once). */
  readonly certificateCreateMs?: number;
  /** Tier of the vaults (default premium); the Managed HSM has no tier. */
  readonly sku?: VaultSku;
  /** Makes fault injection reproducible. */
  readonly seed?: number;
  /**
   * Secret from which the backup encryption key is derived. Every emulator with the same secret
   * restores the others' backups, as vaults of one geography do. A default is built in.
   */
  readonly geographySecret?: string;
  /** Largest request body accepted (default 8 MiB: the restore of a 500-version certificate fits). */
  readonly maxBodyBytes?: number;
  /** Also serve a Managed HSM on its own port (keys API plus full backup/restore); true for the defaults. */
  readonly hsm?: boolean | HsmEmulatorOptions;
}

export interface HsmEmulatorOptions {
  /** 0/undefined: a free port. */
  readonly port?: number;
  /** Names the backup folders (mhsm-<name>-<YYYYMMDDHHmmss>) and the state file; default "hsm". */
  readonly name?: string;
  /** How long a backup/restore job stays InProgress before it ends (default 1500 ms). */
  readonly jobDurationMs?: number;
  /** Retry-After (seconds) sent when a job starts (default 1; the service sends 5). */
  readonly retryAfterSeconds?: number;
  /**
   * Storage the HSM's "managed identity" can reach (a connection string with an account key, e.g. Azurite's):
   * used for requests with useManagedIdentity: true. Without it such jobs fail, as on an HSM without access.
   */
  readonly storageConnectionString?: string;
  /** Keys seeded at start. */
  readonly keys?: number;
  readonly versions?: number;
}

export interface EmulatedVault {
  /** `https://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly kind: ServiceKind;
  seedKeys(options: SeedKeysOptions): Promise<void>;
  setKnobs(patch: KnobsPatch): void;
  knobs(): EmulatorKnobs;
  stats(): VaultStats;
  resetStats(): void;
  /** Names of live (not deleted) keys, sorted case-insensitively; a name being deleted, recovered or purged is in neither list. */
  listKeyNames(): string[];
  listDeletedKeyNames(): string[];
  /** Version ids of a live key, oldest first; undefined if there is no such key. */
  listVersions(name: string): string[] | undefined;
  /** Live key count, cheaper than listKeyNames().length. */
  keyCount(): number;
  /**
   * SHA-256 (hex) of each version's private key material, by version id: what no client can read (an AES
   * key has no public part), so tests can prove a restore brought back the very same keys. A certificate's
   * key is a key of the certificate's name.
   */
  materialDigests(name: string): Record<string, string> | undefined;

  /** Seeds secrets into the vault (not on a Managed HSM); throws if a name is taken. */
  seedSecrets(options: SeedSecretsOptions): Promise<void>;
  /** Seeds self-signed certificates with their managed keys and secrets (not on a Managed HSM). */
  seedCertificates(options: SeedCertificatesOptions): Promise<void>;
  /** Names of live secrets (a certificate's secret included), sorted case-insensitively. */
  listSecretNames(): string[];
  listDeletedSecretNames(): string[];
  /** Version ids of a live secret, oldest first. */
  listSecretVersions(name: string): string[] | undefined;
  secretCount(): number;
  /** Names of live certificates, sorted case-insensitively. */
  listCertificateNames(): string[];
  listDeletedCertificateNames(): string[];
  /** Version ids of a live certificate, oldest first (the same ids as its key's and secret's versions). */
  listCertificateVersions(name: string): string[] | undefined;
  certificateCount(): number;
  /**
   * SHA-256 (hex) of each version's content type and value, by version id: a restore can be compared
   * with the original without the test reading values.
   */
  secretDigests(name: string): Record<string, string> | undefined;
  /**
   * Per certificate version: SHA-256 (hex) over its X.509 (DER), its key's private material and its
   * secret's value, so one comparison proves a restore brought back the whole certificate.
   */
  certificateDigests(name: string): Record<string, string> | undefined;
}

export interface RunningEmulator {
  readonly vaultUrl: string;
  readonly caCertPath: string;
  readonly caCert: string;
  /** The first vault. */
  readonly vault: EmulatedVault;
  /** Every vault, the first included. */
  readonly vaults: readonly EmulatedVault[];
  /** The Managed HSM's URL, when started with `hsm`. */
  readonly hsmUrl?: string;
  /** The Managed HSM (not among `vaults`), when started with `hsm`. */
  readonly hsm?: EmulatedVault;
  /** Another vault on its own port: same certificate, same backup key, same knobs as a start. */
  addVault(options?: AddVaultOptions): Promise<EmulatedVault>;
  /** Changes the knobs of every vault, and of vaults added later. */
  setKnobs(patch: KnobsPatch): void;
  /** Closes every listener and writes pending state. Safe to call twice. */
  stop(): Promise<void>;
}
