import { createHash } from "node:crypto";
import type { CertificateClient } from "@azure/keyvault-certificates";
import type { KeyClient } from "@azure/keyvault-keys";
import type { SecretClient } from "@azure/keyvault-secrets";
import { mapWithConcurrency } from "../util/pool";
import { compareSnapshots, countVersions, snapshotVault, type VaultSnapshot } from "./vault-snapshot";

/**
 * What a whole vault holds (keys, secrets, certificates), version by version, to prove that a restore
 * brought back exactly what was backed up: for the demo, the bench and the tests only, never for a job.
 * This is the one place that reads secret values (through the caller's own client, to compare them); the
 * values are kept as SHA-256 digests only. kvbackup's jobs never read one.
 */
export interface VaultClients {
  readonly keys: KeyClient;
  readonly secrets: SecretClient;
  readonly certificates: CertificateClient;
}

export interface SecretVersionPrint {
  readonly version: string;
  /** SHA-256 of the value. */
  readonly value: string;
  readonly contentType: string;
  readonly enabled: boolean | undefined;
  readonly tags: string;
  readonly managed: boolean;
}

export interface CertificateVersionPrint {
  readonly version: string;
  /** SHA-256 of the X.509 certificate (DER). */
  readonly cer: string;
  readonly enabled: boolean | undefined;
  readonly tags: string;
}

export interface VaultContents {
  readonly keys: VaultSnapshot;
  readonly secrets: Map<string, SecretVersionPrint[]>;
  readonly certificates: Map<string, CertificateVersionPrint[]>;
}

const digest = (data: string | Uint8Array | undefined) => createHash("sha256").update(data ?? "").digest("hex");
const tagsOf = (tags: Record<string, string> | undefined) => JSON.stringify(Object.entries(tags ?? {}).sort());

export async function snapshotContents(clients: VaultClients, concurrency = 16): Promise<VaultContents> {
  const keys = await snapshotVault(clients.keys, { concurrency });
  const secretNames: string[] = [];
  for await (const s of clients.secrets.listPropertiesOfSecrets()) secretNames.push(s.name);
  const secrets = new Map<string, SecretVersionPrint[]>();
  await mapWithConcurrency(secretNames.sort(), concurrency, async (name) => {
    const versions: SecretVersionPrint[] = [];
    for await (const v of clients.secrets.listPropertiesOfSecretVersions(name)) {
      const secret = await clients.secrets.getSecret(name, { version: v.version });
      const p = secret.properties;
      versions.push({ version: v.version ?? "", value: digest(secret.value), contentType: p.contentType ?? "", enabled: p.enabled, tags: tagsOf(p.tags), managed: p.managed === true });
    }
    secrets.set(name, versions.sort((a, b) => a.version.localeCompare(b.version)));
  });
  const certificateNames: string[] = [];
  for await (const c of clients.certificates.listPropertiesOfCertificates()) certificateNames.push(c.name ?? "");
  const certificates = new Map<string, CertificateVersionPrint[]>();
  await mapWithConcurrency(certificateNames.sort(), concurrency, async (name) => {
    const versions: CertificateVersionPrint[] = [];
    for await (const v of clients.certificates.listPropertiesOfCertificateVersions(name)) {
      const cert = await clients.certificates.getCertificateVersion(name, v.version ?? "");
      versions.push({ version: v.version ?? "", cer: digest(cert.cer), enabled: cert.properties.enabled, tags: tagsOf(cert.properties.tags) });
    }
    certificates.set(name, versions.sort((a, b) => a.version.localeCompare(b.version)));
  });
  return { keys, secrets, certificates };
}

/** Differences between two snapshots of whole vaults, one line each; empty when they match. */
export function compareContents(expected: VaultContents, actual: VaultContents): string[] {
  return [
    ...compareSnapshots(expected.keys, actual.keys).map((p) => `key ${p}`),
    ...compareVersions("secret", expected.secrets, actual.secrets),
    ...compareVersions("certificate", expected.certificates, actual.certificates),
  ];
}

function compareVersions<V extends { readonly version: string }>(kind: string, expected: Map<string, V[]>, actual: Map<string, V[]>): string[] {
  const problems: string[] = [];
  for (const [name, versions] of expected) {
    const got = actual.get(name);
    if (!got) {
      problems.push(`${kind} ${name}: missing`);
      continue;
    }
    if (got.length !== versions.length) problems.push(`${kind} ${name}: ${got.length} versions, expected ${versions.length}`);
    const byVersion = new Map(got.map((v) => [v.version, v]));
    for (const v of versions) {
      const g = byVersion.get(v.version);
      if (!g) problems.push(`${kind} ${name}/${v.version}: missing version`);
      else if (JSON.stringify(g) !== JSON.stringify(v)) problems.push(`${kind} ${name}/${v.version}: differs`);
    }
  }
  for (const name of actual.keys()) if (!expected.has(name)) problems.push(`${kind} ${name}: unexpected`);
  return problems;
}

/** Objects and versions of each kind in a snapshot (a certificate's key and secret are counted with keys and secrets). */
export function countContents(contents: VaultContents): { keys: number; secrets: number; certificates: number; versions: number } {
  const versions = (m: Map<string, unknown[]>) => [...m.values()].reduce((n, v) => n + v.length, 0);
  return {
    keys: contents.keys.size,
    secrets: contents.secrets.size,
    certificates: contents.certificates.size,
    versions: countVersions(contents.keys) + versions(contents.secrets) + versions(contents.certificates),
  };
}

/**
 * Deletes and purges every object of a vault, as an operator would before a restore drill: certificates
 * first (which takes their keys and secrets along), then the other keys and secrets.
 */
export async function emptyVault(clients: VaultClients, concurrency = 16): Promise<void> {
  const certificates: string[] = [];
  for await (const c of clients.certificates.listPropertiesOfCertificates()) certificates.push(c.name ?? "");
  await mapWithConcurrency(certificates, concurrency, async (name) => {
    await (await clients.certificates.beginDeleteCertificate(name, { intervalInMs: 50 })).pollUntilDone();
    await clients.certificates.purgeDeletedCertificate(name);
  });
  const keys: string[] = [];
  for await (const k of clients.keys.listPropertiesOfKeys()) if (!k.managed) keys.push(k.name);
  await mapWithConcurrency(keys, concurrency, async (name) => {
    await (await clients.keys.beginDeleteKey(name, { intervalInMs: 50 })).pollUntilDone();
    await clients.keys.purgeDeletedKey(name);
  });
  const secrets: string[] = [];
  for await (const s of clients.secrets.listPropertiesOfSecrets()) if (!s.managed) secrets.push(s.name);
  await mapWithConcurrency(secrets, concurrency, async (name) => {
    await (await clients.secrets.beginDeleteSecret(name, { intervalInMs: 50 })).pollUntilDone();
    await clients.secrets.purgeDeletedSecret(name);
  });
}
