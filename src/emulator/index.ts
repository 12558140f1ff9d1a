/**
 * Local Azure Key Vault emulator that the real @azure/keyvault-keys KeyClient, @azure/keyvault-secrets
 * SecretClient and @azure/keyvault-certificates CertificateClient talk to over HTTPS. Layers:
 *   VaultState (key, secret and certificate records over one soft-delete lifecycle) -> VaultService
 *   (the Keys, Secrets and Certificates APIs' rules, ServiceProfile) -> VaultListener (HTTPS, challenge
 *   auth, knobs). With `hsm`, a Managed HSM is one more VaultListener over a VaultService built with
 *   MANAGED_HSM_PROFILE (challenge resource https://managedhsm.azure.net; keys only), whose extension
 *   (hsm-jobs.ts) adds the full backup/restore and selective key restore routes.
 *
 * Client side: new KeyClient(vaultUrl, anyTokenCredential, { disableChallengeResourceVerification:
 * true, tlsOptions: { ca: caCert } }), and the same options for SecretClient and CertificateClient.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BackupCipher } from "./backup-cipher";
import { loadOrCreateCertificate } from "./cert";
import { MaterialPool } from "./key-material";
import { applyKnobs, defaultKnobs } from "./knobs";
import { StatePersister } from "./persist";
import { MANAGED_HSM_PROFILE, VaultService, vaultProfile } from "./vault-service";
import { VaultState } from "./vault-state";
import { HsmJobs } from "./hsm-jobs";
import { VaultListener } from "./vault-listener";
import type { AddVaultOptions, EmulatedVault, EmulatorKnobs, EmulatorOptions, HsmEmulatorOptions, KnobsPatch, RunningEmulator } from "./types";

export * from "./types";
export { DEFAULT_GEOGRAPHY_SECRET } from "./backup-cipher";
export { DEFAULT_CERTIFICATE_CREATE_MS, DEFAULT_PURGE_MS, DEFAULT_SOFT_DELETE_MS, DEFAULT_THROTTLE } from "./knobs";
export {
  BACKUP_BYTES_ONE_VERSION,
  BACKUP_BYTES_PER_EXTRA_VERSION,
  CERTIFICATE_BACKUP_BYTES_ONE_VERSION,
  CERTIFICATE_BACKUP_BYTES_PER_EXTRA_VERSION,
  MANAGED_HSM_PROFILE,
  MAX_BACKUP_VERSIONS,
  SECRET_BACKUP_BYTES_ONE_VERSION,
  SECRET_BACKUP_BYTES_PER_EXTRA_VERSION,
  SUPPORTED_API_VERSIONS,
  VAULT_PROFILE,
  VAULT_STANDARD_PROFILE,
} from "./vault-service";

/**
 * Largest request body (the service's is not documented): room for the restore of the largest backup the
 * emulator makes, a 500-version certificate (about 3 MB, 4.1 MB as base64url).
 */
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const emulator = new Emulator(options);
  try {
    await emulator.init();
  } catch (err) {
    await emulator.stop();
    throw err;
  }
  return emulator;
}

class Emulator implements RunningEmulator {
  private readonly listeners: VaultListener[] = [];
  private readonly cipher: BackupCipher;
  private readonly pool = new MaterialPool();
  private knobsValue: EmulatorKnobs;
  private tempDir: string | undefined;
  private cert: { certPem: string; keyPem: string; certPath: string } | undefined;
  private stopping: Promise<void> | undefined;
  private hsmListener: VaultListener | undefined;
  private hsmJobs: HsmJobs | undefined;

  constructor(private readonly options: EmulatorOptions) {
    this.cipher = new BackupCipher(options.geographySecret);
    this.knobsValue = applyKnobs(defaultKnobs(), {
      ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
      ...(options.throttle !== undefined ? { throttle: options.throttle } : {}),
      ...(options.faults ? { faults: options.faults } : {}),
      ...(options.softDeleteMs !== undefined ? { softDeleteMs: options.softDeleteMs } : {}),
      ...(options.purgeMs !== undefined ? { purgeMs: options.purgeMs } : {}),
      ...(options.certificateCreateMs !== undefined ? { certificateCreateMs: options.certificateCreateMs } : {}),
    });
    if (options.sku !== undefined && options.sku !== "standard" && options.sku !== "premium") throw new Error(`sku must be standard or premium, got ${String(options.sku)}`);
  }

  async init(): Promise<void> {
    let dir = this.options.stateDir;
    if (dir === undefined) {
      this.tempDir = await fs.mkdtemp(path.join(os.tmpdir(), "kvbackup-emulator-"));
      dir = this.tempDir;
    }
    this.cert = await loadOrCreateCertificate(dir);
    await this.addVault({
      name: "vault",
      ...(this.options.port !== undefined ? { port: this.options.port } : {}),
      ...(this.options.keys !== undefined ? { keys: this.options.keys } : {}),
      ...(this.options.secrets !== undefined ? { secrets: this.options.secrets } : {}),
      ...(this.options.certificates !== undefined ? { certificates: this.options.certificates } : {}),
      ...(this.options.versions !== undefined ? { versions: this.options.versions } : {}),
    });
    if (this.options.hsm) await this.startHsm(this.options.hsm === true ? {} : this.options.hsm);
  }

  get hsm(): EmulatedVault | undefined {
    return this.hsmListener;
  }

  get hsmUrl(): string | undefined {
    return this.hsmListener?.url;
  }

  /** The Managed HSM: the same Keys API under MANAGED_HSM_PROFILE, plus full backup/restore routes. */
  private async startHsm(options: HsmEmulatorOptions): Promise<void> {
    const name = options.name ?? "hsm";
    if (!/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`hsm: invalid name ${name}`);
    const state = new VaultState();
    const store = state.keys;
    let persister: StatePersister | undefined;
    if (this.options.stateDir !== undefined) {
      // An HSM holds keys only: its state file keeps the keys-only format.
      persister = new StatePersister(store, path.join(this.options.stateDir, `hsm-${name}.json`));
      await persister.load();
      store.onChange = () => persister!.schedule();
    }
    const service = new VaultService(MANAGED_HSM_PROFILE, this.cipher, this.pool, state);
    if (options.keys && store.liveCount === 0) await service.seed({ count: options.keys, versions: options.versions ?? 1 });
    this.hsmJobs = new HsmJobs({
      name,
      store,
      cipher: this.cipher,
      jobDurationMs: options.jobDurationMs ?? 1_500,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      ...(options.storageConnectionString ? { storageConnectionString: options.storageConnectionString } : {}),
    });
    this.hsmListener = await VaultListener.start(
      {
        service,
        certPem: this.cert!.certPem,
        keyPem: this.cert!.keyPem,
        knobs: this.knobsValue,
        seed: this.options.seed === undefined ? undefined : this.options.seed + 1000,
        maxBodyBytes: this.options.maxBodyBytes ?? DEFAULT_MAX_BODY,
        extension: this.hsmJobs,
        ...(persister ? { persister } : {}),
      },
      options.port ?? 0,
    );
  }

  get vault(): EmulatedVault {
    return this.listeners[0]!;
  }

  get vaults(): readonly EmulatedVault[] {
    return [...this.listeners];
  }

  get vaultUrl(): string {
    return this.vault.url;
  }

  get caCertPath(): string {
    return this.cert!.certPath;
  }

  get caCert(): string {
    return this.cert!.certPem;
  }

  async addVault(options: AddVaultOptions = {}): Promise<EmulatedVault> {
    if (this.stopping) throw new Error("the emulator is stopped");
    if (!this.cert) throw new Error("the emulator is not started");
    const state = new VaultState();
    const name = options.name ?? `vault-${this.listeners.length}`;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`addVault: invalid name ${name}`);
    let persister: StatePersister | undefined;
    if (this.options.stateDir !== undefined) {
      persister = new StatePersister(state, path.join(this.options.stateDir, `${name}.json`));
      await persister.load();
      state.onChange = () => persister!.schedule();
    }
    const sku = options.sku ?? this.options.sku ?? "premium";
    if (sku !== "standard" && sku !== "premium") throw new Error(`addVault: sku must be standard or premium, got ${String(sku)}`);
    const service = new VaultService(vaultProfile(sku), this.cipher, this.pool, state);
    // Objects given at start seed an empty vault only: a reloaded state wins over re-seeding.
    const empty = state.keys.liveCount === 0 && state.secrets.liveCount === 0 && state.certificates.liveCount === 0;
    const versions = options.versions ?? 1;
    if (empty) {
      if (options.keys) await service.seed({ count: options.keys, versions });
      if (options.secrets) await service.seedSecrets({ count: options.secrets, versions });
      if (options.certificates) await service.seedCertificates({ count: options.certificates, versions });
    }
    const listener = await VaultListener.start(
      {
        service,
        certPem: this.cert.certPem,
        keyPem: this.cert.keyPem,
        knobs: applyKnobs(this.knobsValue, options.knobs),
        // Each vault draws its own sequence, still reproducible from the one seed.
        seed: this.options.seed === undefined ? undefined : this.options.seed + this.listeners.length,
        maxBodyBytes: this.options.maxBodyBytes ?? DEFAULT_MAX_BODY,
        ...(persister ? { persister } : {}),
      },
      options.port ?? 0,
    );
    this.listeners.push(listener);
    return listener;
  }

  setKnobs(patch: KnobsPatch): void {
    this.knobsValue = applyKnobs(this.knobsValue, patch);
    for (const l of this.listeners) l.setKnobs(patch);
    this.hsmListener?.setKnobs(patch);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.hsmJobs?.stop();
      await Promise.all([...this.listeners, ...(this.hsmListener ? [this.hsmListener] : [])].map((l) => l.stop()));
      if (this.tempDir) await fs.rm(this.tempDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}
