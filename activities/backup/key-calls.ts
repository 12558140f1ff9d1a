import type { KeyClient } from "@azure/keyvault-keys";
import type { StoredVersion } from "./inventory-view";

/** The Key Vault calls of a key's backup, and what the manifest records of their answers. */

export interface KeyVersionInfo {
  version: string;
  createdOn?: Date;
  updatedOn?: Date;
}

/**
 * What the manifest records of a key backed up without version details: the update time the key list
 * gave (before the backup) and when the vault served the backup; the key's state in the blob was last
 * updated between them. A blob kept from an earlier attempt may predate this attempt's listing: then
 * only the later bound holds, and the lower one is left out.
 */
export function timesWithoutVersions(listedUpdatedOn: string | undefined, servedAt: string | undefined, mayPredateListing: boolean): { updatedOn?: string; backedUpAt?: string } {
  return { ...(mayPredateListing || !listedUpdatedOn ? {} : { updatedOn: listedUpdatedOn }), ...(servedAt ? { backedUpAt: servedAt } : {}) };
}

/**
 * backupKey, and when the vault served it: the answer's Date header, stamped by the vault's clock like
 * the keys' update times, so the two compare without this machine's clock in between.
 */
export async function backupKeyServed(client: KeyClient, name: string): Promise<{ backup: Uint8Array | undefined; servedAt?: string }> {
  let servedAt: string | undefined;
  const backup = await client.backupKey(name, {
    onResponse: (response) => {
      const date = Date.parse(response.headers.get("date") ?? "");
      servedAt = Number.isNaN(date) ? undefined : new Date(date).toISOString();
    },
  });
  return { backup, servedAt };
}

/** What the manifest records of a key's versions: how many, the latest (by creation time) and its update time. */
export function versionSummary(versions: readonly KeyVersionInfo[]): { versionCount: number; latestVersion: string; updatedOn?: string } {
  const latest = versions.reduce<KeyVersionInfo | undefined>(
    (best, v) => (!best || (v.createdOn?.getTime() ?? 0) >= (best.createdOn?.getTime() ?? 0) ? v : best),
    undefined,
  );
  return { versionCount: versions.length, latestVersion: latest?.version ?? "", updatedOn: latest?.updatedOn?.toISOString() };
}

export async function listKeyVersions(client: KeyClient, name: string): Promise<KeyVersionInfo[]> {
  const versions: KeyVersionInfo[] = [];
  for await (const page of client.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: 25 })) {
    for (const v of page) versions.push({ version: v.version ?? "", createdOn: v.createdOn, updatedOn: v.updatedOn });
  }
  return versions;
}

export function toStoredVersion(v: KeyVersionInfo): StoredVersion {
  return { version: v.version, createdOn: v.createdOn?.toISOString(), updatedOn: v.updatedOn?.toISOString() };
}

export function fromStoredVersion(v: StoredVersion): KeyVersionInfo {
  return { version: v.version, createdOn: v.createdOn ? new Date(v.createdOn) : undefined, updatedOn: v.updatedOn ? new Date(v.updatedOn) : undefined };
}
