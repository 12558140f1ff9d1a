/**
 * Everything one vault holds: its keys, secrets and certificates, persisted together in one state file
 * (a certificate and its key and secret must never be written apart).
 */
import { CertificateStore, type PersistedCertificates } from "./certificate-store";
import { KeyStore, STATE_FORMAT as KEYS_ONLY_FORMAT, type PersistedState as PersistedKeys } from "./key-store";
import { SecretStore, type PersistedSecrets } from "./secret-store";

export const VAULT_STATE_FORMAT = "kvbackup-emulator-state/2";

interface PersistedVault {
  format: string;
  keys: PersistedKeys;
  secrets: PersistedSecrets;
  certificates: PersistedCertificates;
}

export class VaultState {
  readonly keys: KeyStore;
  readonly secrets: SecretStore;
  readonly certificates: CertificateStore;

  constructor(clock: () => number = Date.now) {
    this.keys = new KeyStore(clock);
    this.secrets = new SecretStore(clock);
    this.certificates = new CertificateStore(clock);
  }

  /** Called after every change to any of the three. */
  set onChange(fn: () => void) {
    this.keys.onChange = fn;
    this.secrets.onChange = fn;
    this.certificates.onChange = fn;
  }

  toJSON(): PersistedVault {
    return { format: VAULT_STATE_FORMAT, keys: this.keys.toJSON(), secrets: this.secrets.toJSON(), certificates: this.certificates.toJSON() };
  }

  /** Loads into empty stores; a keys-only file of an earlier emulator loads as the keys. Throws on a malformed document. */
  load(state: unknown): void {
    const doc = state as Partial<PersistedVault> & { format?: unknown };
    if (doc?.format === KEYS_ONLY_FORMAT) {
      this.keys.load(state as PersistedKeys);
      return;
    }
    if (doc?.format !== VAULT_STATE_FORMAT || !doc.keys || !doc.secrets || !doc.certificates) throw new Error("not an emulator state file");
    this.keys.load(doc.keys);
    this.secrets.load(doc.secrets);
    this.certificates.load(doc.certificates);
  }
}
