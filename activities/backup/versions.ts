import type { ObjectVersion } from "../../src/keyvault/object-kinds";
import type { StoredVersion } from "./inventory-view";

/** What the manifest records of an object's versions and of its backup's time. */

/**
 * What the manifest records of an object backed up without version details: the update time the object
 * list gave (before the backup) and when the vault served the backup; the object's state in the blob was
 * last updated between them. A blob kept from an earlier attempt may predate this attempt's listing: then
 * only the later bound holds, and the lower one is left out.
 */
export function timesWithoutVersions(listedUpdatedOn: string | undefined, servedAt: string | undefined, mayPredateListing: boolean): { updatedOn?: string; backedUpAt?: string } {
  return { ...(mayPredateListing || !listedUpdatedOn ? {} : { updatedOn: listedUpdatedOn }), ...(servedAt ? { backedUpAt: servedAt } : {}) };
}

/** What the manifest records of an object's versions: how many, the latest (by creation time) and its update time. */
export function versionSummary(versions: readonly ObjectVersion[]): { versionCount: number; latestVersion: string; updatedOn?: string } {
  const latest = latestOf(versions);
  return { versionCount: versions.length, latestVersion: latest?.version ?? "", updatedOn: latest?.updatedOn?.toISOString() };
}

/** The newest version by creation time (the last of equals). */
export function latestOf(versions: readonly ObjectVersion[]): ObjectVersion | undefined {
  return versions.reduce<ObjectVersion | undefined>((best, v) => (!best || (v.createdOn?.getTime() ?? 0) >= (best.createdOn?.getTime() ?? 0) ? v : best), undefined);
}

/**
 * A rotation while the job ran: the object's latest version was made after the inventory listed the
 * object (its update time then). The backup, taken after the versions were listed, holds that version.
 */
export function rotatedSince(listedUpdatedOn: string | undefined, versions: readonly ObjectVersion[]): { listedUpdatedOn: string } | undefined {
  if (!listedUpdatedOn) return undefined;
  const created = latestOf(versions)?.createdOn?.getTime();
  return created !== undefined && created > Date.parse(listedUpdatedOn) ? { listedUpdatedOn } : undefined;
}

export function toStoredVersion(v: ObjectVersion): StoredVersion {
  return { version: v.version, createdOn: v.createdOn?.toISOString(), updatedOn: v.updatedOn?.toISOString() };
}

export function fromStoredVersion(v: StoredVersion): ObjectVersion {
  return { version: v.version, createdOn: v.createdOn ? new Date(v.createdOn) : undefined, updatedOn: v.updatedOn ? new Date(v.updatedOn) : undefined };
}
