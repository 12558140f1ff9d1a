/** What differs between a vault tier and a Managed HSM, as far as the emulated APIs go. */
import type { ServiceKind, VaultSku } from "./types";

const SOFT_DELETE_DAYS = 90;

export interface ServiceProfile {
  readonly kind: ServiceKind;
  /** Vaults only. */
  readonly sku?: VaultSku;
  /** The `resource` of the 401 challenge; the SDK asks its credential for `<resource>/.default`. */
  readonly challengeResource: string;
  readonly recoveryLevel: string;
  readonly recoverableDays: number;
  /** Key types as stored and reported. */
  readonly keyTypes: readonly string[];
  /** Types a create or import may name that are stored as another (a Managed HSM makes every key HSM-backed). */
  readonly keyTypeAliases?: Readonly<Record<string, string>>;
  /** Key types this tier refuses with its own error (a Standard vault: the HSM-protected ones). */
  readonly refusedKeyTypes?: { readonly types: readonly string[]; readonly message: string };
  /** Whether the Secrets and Certificates APIs are served (a Managed HSM holds keys only). */
  readonly secretsAndCertificates: boolean;
}

/** A Premium vault (the default): software and HSM-protected RSA and EC keys, secrets and certificates. */
export const VAULT_PROFILE: ServiceProfile = {
  kind: "vault",
  sku: "premium",
  challengeResource: "https://vault.azure.net",
  recoveryLevel: "Recoverable+Purgeable",
  recoverableDays: SOFT_DELETE_DAYS,
  // oct-HSM on Premium vaults is in preview (About keys): not emulated.
  keyTypes: ["EC", "EC-HSM", "RSA", "RSA-HSM"],
  secretsAndCertificates: true,
};

/**
 * A Standard vault: software keys only (documented: HSM key types need Premium). The refusal's message is
 * the one reported for the service; its status (400 BadParameter) is assumed.
 */
export const VAULT_STANDARD_PROFILE: ServiceProfile = {
  ...VAULT_PROFILE,
  sku: "standard",
  keyTypes: ["EC", "RSA"],
  refusedKeyTypes: { types: ["EC-HSM", "RSA-HSM"], message: "Hardware key operation not allowed on standard vault" },
};

/**
 * A Managed HSM: other challenge resource, HSM-protected keys only, AES keys (oct-HSM) besides RSA and EC
 * (documented, About keys). A create or import of `RSA` or `EC` is accepted and stored as RSA-HSM / EC-HSM
 * (reported behaviour of the service).
 */
export const MANAGED_HSM_PROFILE: ServiceProfile = {
  kind: "managedHsm",
  challengeResource: "https://managedhsm.azure.net",
  recoveryLevel: "CustomizedRecoverable+Purgeable",
  recoverableDays: SOFT_DELETE_DAYS,
  keyTypes: ["EC-HSM", "RSA-HSM", "oct-HSM"],
  keyTypeAliases: { EC: "EC-HSM", RSA: "RSA-HSM" },
  secretsAndCertificates: false,
};

export function vaultProfile(sku: VaultSku = "premium"): ServiceProfile {
  return sku === "standard" ? VAULT_STANDARD_PROFILE : VAULT_PROFILE;
}
