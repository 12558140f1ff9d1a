import type { BackupSetState, CountsByKind, ObjectCounts } from "../contracts";
import type { BackupStore } from "./backup-store";
import { BackupSetPaths, countsOfManifest, inventorySchema, isBackupSetFolderName, manifestSchema, parseBackupSetRef, parseDocument, vaultFolder } from "./backup-set";
import { DamagedBackupDocumentError } from "./errors";
import { mapWithConcurrency } from "../util/pool";

export interface BackupSetEntry {
  readonly backupSetId: string;
  readonly vaultFolder: string;
  readonly vaultUrl?: string;
  /** complete: every object backed up; partial: a manifest with failed objects; incomplete: no manifest (the job did not finish). */
  readonly state: BackupSetState;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly jobId: string;
  /** The set's keys (a set of format 1 holds keys only). */
  readonly keys?: ObjectCounts;
  /** Every object of the set, and each kind. */
  readonly objects?: ObjectCounts;
  readonly kinds?: CountsByKind;
  /** Absent for a set taken without version details (its manifest does not count versions). */
  readonly versions?: number;
  readonly bytes?: number;
  /** Set when a document of the set cannot be read: the set is listed as incomplete. */
  readonly problem?: string;
}

/** The backup sets of one vault, newest first. */
export async function listBackupSets(store: BackupStore, vaultUrl: string): Promise<BackupSetEntry[]> {
  const folder = vaultFolder(vaultUrl);
  const ids = (await store.listFolders(`${folder}/`)).filter(isBackupSetFolderName);
  const entries = await mapWithConcurrency(ids, 8, (id) => describeBackupSet(store, folder, id));
  return entries.sort((a, b) => (a.backupSetId < b.backupSetId ? 1 : a.backupSetId > b.backupSetId ? -1 : 0));
}

export async function describeBackupSet(store: BackupStore, folder: string, backupSetId: string): Promise<BackupSetEntry> {
  const ref = parseBackupSetRef(backupSetId);
  const paths = new BackupSetPaths(folder, backupSetId);
  const base = { backupSetId, vaultFolder: folder, jobId: ref.jobId, startedAt: isoFromCompact(ref.timestamp) };
  try {
    if (await store.exists(paths.manifest)) {
      const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
      return {
        ...base,
        vaultUrl: manifest.vaultUrl,
        state: manifest.state,
        startedAt: manifest.startedAt,
        endedAt: manifest.endedAt,
        ...countsOfManifest(manifest),
        ...(manifest.versionDetails === false ? {} : { versions: manifest.counts.versions }),
        bytes: manifest.counts.bytes,
      };
    }
    if (await store.exists(paths.inventory)) {
      const inventory = parseDocument(inventorySchema, paths.inventory, await store.read(paths.inventory));
      return { ...base, vaultUrl: inventory.vaultUrl, state: "incomplete" };
    }
    return { ...base, state: "incomplete" };
  } catch (error) {
    if (error instanceof DamagedBackupDocumentError) return { ...base, state: "incomplete", problem: error.message };
    throw error;
  }
}

function isoFromCompact(compact: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(compact);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : compact;
}
