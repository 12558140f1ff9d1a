import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import type { KvBackupConfig } from "./config";
import { EmulatorTokenCredential, createVaultConnections, keyClientsOf, type KeyClientFactory, type VaultConnections } from "./keyvault/clients";
import { createHsmClientFactory, type HsmClientFactory } from "./keyvault/hsm-admin-client";
import { vaultObjectsOf, type VaultObjectsFactory } from "./keyvault/object-kinds";
import { logLine, type RecordLogger } from "./monitoring/log-events";
import type { VaultClients } from "./local/vault-contents";
import type { BackupStore } from "./storage/backup-store";
import { createHsmStorageAccess, type HsmSasMode, type HsmStorageAccess } from "./storage/hsm-storage-access";
import { openBackupStore } from "./storage/open-store";
import { DEFAULT_MAX_OPERATIONS_PER_10S } from "./tuning";

/**
 * Where kvbackup's services are built: credentials, the connections to vaults (with their pacing), the
 * Managed HSM clients and the HSM's access to storage, the backup store and the logger. The Functions app
 * (src/functions), the CLI and the local runtime (src/cli, src/local), the scripts and the tests all build
 * them here, so each is made one way. Each service is built when it is first asked for, so a caller pays
 * (and has settings checked) only for the services it uses.
 */
export interface ServiceOptions {
  /** The backup store: a folder, a file: URL, a connection string or a blob account URL ... */
  readonly storage?: string;
  /** ... and its blob container (default "kvbackup"). */
  readonly container?: string;
  /** Or a store made already (tests, tools). */
  readonly store?: BackupStore;
  /** Trust this PEM for Key Vault and Managed HSM, and use the emulator's local token instead of Azure identity. */
  readonly emulatorCaCert?: string;
  /** Or a PEM file holding it, read when the first Key Vault or Managed HSM service is built. */
  readonly emulatorCaPath?: string;
  /** The Key Vault / Managed HSM credential when not talking to the emulator (default: DefaultAzureCredential). */
  readonly credential?: TokenCredential;
  /** Client-side pacing per vault, in operations per 10 s (default 4,000); 0 turns it off. */
  readonly maxOperationsPer10s?: number;
  readonly keyClientMaxRetries?: number;
  /** Longest wait for one Key Vault attempt's answer (default 60 s). */
  readonly tryTimeoutMs?: number;
  /** How a Managed HSM reaches the backup container (default: its managed identity). */
  readonly hsmSasMode?: HsmSasMode;
  /** With hsmSasMode accountSas: the connection string whose account key signs the SAS. */
  readonly hsmSasStorage?: string;
  /** Or the HSM's storage access made already (tests). */
  readonly hsmStorageAccess?: HsmStorageAccess;
  /** For activity invocations that bring no logger of their own (the local host). */
  readonly log?: RecordLogger;
}

export interface Services {
  /** For Key Vault and Managed HSM: the emulator's token when trusting the emulator, else Azure identity. */
  readonly keyVaultCredential: TokenCredential;
  /** For Blob Storage (a blob account URL, a user delegation SAS): Azure identity; Azurite is reached by connection string. */
  readonly storageCredential: TokenCredential;
  /** One connection per vault, each with its one pacing budget. */
  readonly vaults: VaultConnections;
  /** The keys clients of those connections. */
  readonly keyClients: KeyClientFactory;
  /** The objects of each vault, kind by kind (keys, secrets, certificates), over those connections: what the jobs use. */
  readonly vaultObjects: VaultObjectsFactory;
  readonly hsmClients: HsmClientFactory;
  /** Built on first use: a SAS mode without what it needs throws HsmStorageAccessError then. */
  readonly hsmStorageAccess: HsmStorageAccess;
  /** Built on first use: throws InvalidStorageError when no usable storage was given. */
  readonly store: BackupStore;
  readonly log?: RecordLogger;
}

export function createServices(options: ServiceOptions = {}): Services {
  const emulatorCa = once(() => options.emulatorCaCert ?? (options.emulatorCaPath ? readFileSync(options.emulatorCaPath, "utf8") : undefined));
  const services: Services = builtOnFirstUse<Services>({
    keyVaultCredential: () => keyVaultCredentialFor(emulatorCa(), options.credential),
    storageCredential: () => azureCredential(),
    vaults: () =>
      createVaultConnections({
        credential: services.keyVaultCredential,
        emulatorCaCert: emulatorCa(),
        maxOperationsPer10s: options.maxOperationsPer10s ?? DEFAULT_MAX_OPERATIONS_PER_10S,
        maxRetries: options.keyClientMaxRetries,
        tryTimeoutMs: options.tryTimeoutMs,
      }),
    keyClients: () => keyClientsOf(services.vaults),
    vaultObjects: () => vaultObjectsOf(services.vaults),
    hsmClients: () => createHsmClientFactory({ credential: services.keyVaultCredential, emulatorCaCert: emulatorCa() }),
    hsmStorageAccess: () =>
      options.hsmStorageAccess ??
      createHsmStorageAccess({
        mode: options.hsmSasMode ?? "managedIdentity",
        ...(options.hsmSasStorage !== undefined ? { storage: options.hsmSasStorage } : {}),
        ...(options.hsmSasMode === "userDelegationSas" ? { credential: services.storageCredential } : {}),
      }),
    store: () => options.store ?? openBackupStore({ storage: options.storage ?? "", container: options.container ?? "kvbackup", credential: services.storageCredential }),
    log: () => options.log,
  });
  return services;
}

/** The services of the Functions app, from its settings. */
export function servicesFromConfig(config: KvBackupConfig): Services {
  return createServices({
    storage: config.storage,
    container: config.container,
    emulatorCaPath: config.emulatorCaPath,
    maxOperationsPer10s: config.maxOperationsPer10s,
    hsmSasMode: config.hsmSasMode,
    hsmSasStorage: config.storage,
  });
}

let sharedAzureCredential: TokenCredential | undefined;

/** An object whose every property is made by its function when first read, and then kept (a make that throws is not kept). */
function builtOnFirstUse<T extends object>(makers: { readonly [K in keyof T]-?: () => T[K] }): T {
  const target = {} as T;
  for (const key of Object.keys(makers) as (keyof T)[]) {
    const make = once(makers[key]);
    Object.defineProperty(target, key, { enumerable: true, get: make });
  }
  return target;
}

/** The value of `make()`, made on the first call; a call that throws is not remembered. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** Azure identity (managed identity in Azure, a developer's login locally): one per process, so its tokens are cached once. */
export function azureCredential(): TokenCredential {
  return (sharedAzureCredential ??= new DefaultAzureCredential());
}

/** The one rule of which credential talks to Key Vault and Managed HSM. */
export function keyVaultCredentialFor(emulatorCaCert: string | undefined, credential?: TokenCredential): TokenCredential {
  if (emulatorCaCert !== undefined) return new EmulatorTokenCredential();
  return credential ?? azureCredential();
}

/**
 * A plain KeyClient, without kvbackup's pacing or counters: for seeding and checking vaults (the demo, the
 * bench, the soak and the tests), never for a job's own calls.
 */
export function directKeyClient(vaultUrl: string, options: { readonly emulatorCaCert?: string; readonly maxRetries?: number } = {}): KeyClient {
  const tls = options.emulatorCaCert !== undefined;
  return new KeyClient(vaultUrl, keyVaultCredentialFor(options.emulatorCaCert), {
    ...(tls ? { disableChallengeResourceVerification: true, tlsOptions: { ca: options.emulatorCaCert } } : {}),
    ...(options.maxRetries !== undefined ? { retryOptions: { maxRetries: options.maxRetries } } : {}),
  });
}

/**
 * Plain clients of every kind of a vault, without kvbackup's pacing or counters: for seeding and checking
 * vaults (the demo, the bench and the tests), never for a job's own calls.
 */
export function directVaultClients(vaultUrl: string, options: { readonly emulatorCaCert?: string; readonly maxRetries?: number } = {}): VaultClients {
  const tls = options.emulatorCaCert !== undefined;
  const credential = keyVaultCredentialFor(options.emulatorCaCert);
  const clientOptions = {
    ...(tls ? { disableChallengeResourceVerification: true, tlsOptions: { ca: options.emulatorCaCert } } : {}),
    ...(options.maxRetries !== undefined ? { retryOptions: { maxRetries: options.maxRetries } } : {}),
  };
  return {
    keys: directKeyClient(vaultUrl, options),
    secrets: new SecretClient(vaultUrl, credential, clientOptions),
    certificates: new CertificateClient(vaultUrl, credential, clientOptions),
  };
}

/** A logger whose records go to one invocation's log, each as one JSON line (src/monitoring/log-events.ts). */
export function invocationLogger(context: { log(...args: unknown[]): void }): RecordLogger {
  return (record) => context.log(logLine(record));
}
