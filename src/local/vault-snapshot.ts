import { createHash } from "node:crypto";
import type { JsonWebKey, KeyClient } from "@azure/keyvault-keys";
import { mapWithConcurrency } from "../util/pool";

/**
 * What a key is, version by version, as a client sees it: the public material, the attributes that
 * a restore must bring back, and the tags. Used by the demo, the bench and the tests to prove that a
 * restored vault holds exactly what was backed up.
 */
export interface VersionFingerprint {
  readonly version: string;
  readonly material: string;
  readonly enabled: boolean | undefined;
  readonly tags: string;
}

export type VaultSnapshot = Map<string, VersionFingerprint[]>;

export async function snapshotVault(client: KeyClient, options: { concurrency?: number; names?: readonly string[] } = {}): Promise<VaultSnapshot> {
  let names = options.names ? [...options.names] : [];
  if (!options.names) {
    for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 25 })) for (const key of page) names.push(key.name);
  }
  names = names.sort();
  const snapshot: VaultSnapshot = new Map();
  await mapWithConcurrency(names, options.concurrency ?? 16, async (name) => {
    const versions: VersionFingerprint[] = [];
    for await (const page of client.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: 25 })) {
      for (const v of page) {
        const key = await client.getKey(name, { version: v.version });
        versions.push({
          version: v.version ?? "",
          material: fingerprint(key.key),
          enabled: key.properties.enabled,
          tags: JSON.stringify(Object.entries(key.properties.tags ?? {}).sort()),
        });
      }
    }
    versions.sort((a, b) => a.version.localeCompare(b.version));
    snapshot.set(name, versions);
  });
  return snapshot;
}

/** Differences between two snapshots, one line each; empty when they match. */
export function compareSnapshots(expected: VaultSnapshot, actual: VaultSnapshot): string[] {
  const problems: string[] = [];
  for (const [name, versions] of expected) {
    const got = actual.get(name);
    if (!got) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (got.length !== versions.length) problems.push(`${name}: ${got.length} versions, expected ${versions.length}`);
    const byVersion = new Map(got.map((v) => [v.version, v]));
    for (const v of versions) {
      const g = byVersion.get(v.version);
      if (!g) problems.push(`${name}/${v.version}: missing version`);
      else if (g.material !== v.material) problems.push(`${name}/${v.version}: key material differs`);
      else if (g.tags !== v.tags || g.enabled !== v.enabled) problems.push(`${name}/${v.version}: attributes or tags differ`);
    }
  }
  for (const name of actual.keys()) if (!expected.has(name)) problems.push(`${name}: unexpected key`);
  return problems;
}

export function countVersions(snapshot: VaultSnapshot): number {
  let n = 0;
  for (const versions of snapshot.values()) n += versions.length;
  return n;
}

function fingerprint(jwk: JsonWebKey | undefined): string {
  if (!jwk) return "none";
  const parts = [jwk.kty, jwk.crv, jwk.n, jwk.e, jwk.x, jwk.y].map((p) => (p instanceof Uint8Array ? Buffer.from(p).toString("base64url") : String(p ?? "")));
  return createHash("sha256").update(parts.join("|")).digest("hex");
}

/** Deletes and purges keys as an operator would before a restore drill. */
export async function deleteAndPurge(client: KeyClient, names: readonly string[], concurrency = 16): Promise<void> {
  await mapWithConcurrency(names, concurrency, async (name) => {
    const poller = await client.beginDeleteKey(name, { intervalInMs: 50 });
    await poller.pollUntilDone();
    await client.purgeDeletedKey(name);
  });
}
