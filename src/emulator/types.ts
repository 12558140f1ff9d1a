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
}

/** What setKnobs accepts: any subset, faults merged field by field. */
export interface KnobsPatch {
  readonly latencyMs?: number;
  readonly throttle?: number;
  readonly faults?: Partial<FaultKnobs>;
  readonly softDeleteMs?: number;
  readonly purgeMs?: number;
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
  /** Versions per seeded key (default 1). */
  readonly versions?: number;
  readonly latencyMs?: number;
  /** Operations per 10 s per vault (default 4000, the service's limit for software keys). */
  readonly throttle?: number;
  readonly faults?: Partial<FaultKnobs>;
  /** Time a soft delete or a recover takes (default DEFAULT_SOFT_DELETE_MS; 0: at once). */
  readonly softDeleteMs?: number;
  /** Time a purge takes (default DEFAULT_PURGE_MS; 0: at once). */
  readonly purgeMs?: number;
  /** Tier of the vaults (default premium); the Managed HSM has no tier. */
  readonly sku?: VaultSku;
  /** Makes fault injection reproducible. */
  readonly seed?: number;
  /**
   * Secret from which the backup encryption key is derived. Every emulator with the same secret
   * restores the others' backups, as vaults of one geography do. A default is built in.
   */
  readonly geographySecret?: string;
  /** Largest request body accepted (default 1 MiB). */
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
   * key has no public part), so tests can prove a restore brought back the very same keys.
   */
  materialDigests(name: string): Record<string, string> | undefined;
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
