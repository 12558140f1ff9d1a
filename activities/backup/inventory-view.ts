import type { BackupStore } from "../../src/storage/backup-store";
import { inventorySchema, parseDocument, type BackupSetPaths, type Inventory, type InventoryEntry } from "../../src/storage/backup-set";
import { PromiseCache } from "../../src/util/promise-cache";

export type StoredVersion = NonNullable<InventoryEntry["versions"]>[number];
export type StoredBackup = NonNullable<InventoryEntry["backup"]>;

export interface InventoryView {
  readonly batchSize: number;
  readonly versionDetails: boolean;
  /** Inventory order (sorted by name); batch i is names[i*batchSize … (i+1)*batchSize). */
  readonly names: readonly string[];
  readonly versions: ReadonlyMap<string, StoredVersion[]>;
  /** Only without version details: each key's update time from the key list. */
  readonly listedUpdatedOn: ReadonlyMap<string, string>;
  /** Only without version details: the backups the inventory already took and stored. */
  readonly backups: ReadonlyMap<string, StoredBackup>;
  /** Only without version details: keys whose blob an earlier attempt of the inventory had written. */
  readonly earlierBlobs: ReadonlySet<string>;
  readonly skipped: Inventory["skipped"];
  readonly include: string[];
  readonly exclude: string[];
}

/** Inventories kept in memory (one per backup job in progress in this process). */
const INVENTORY_VIEWS_KEPT = 4;

/**
 * What the batches and the manifest need from an inventory, kept for the few sets in progress: names and
 * the versions the inventory already listed, not the parsed document (a job holds it from its first
 * batch to its manifest, and at 50,000 keys the document's objects are several megabytes).
 */
export function inventoryViewsOf(store: BackupStore): (paths: BackupSetPaths) => Promise<InventoryView> {
  const views = PromiseCache.bounded<string, InventoryView>(INVENTORY_VIEWS_KEPT);
  return (paths) =>
    views.get(paths.inventory, async () => {
      const doc = parseDocument(inventorySchema, paths.inventory, await store.read(paths.inventory));
      const versionDetails = doc.versionDetails !== false;
      const versions = new Map<string, StoredVersion[]>();
      const listedUpdatedOn = new Map<string, string>();
      const backups = new Map<string, StoredBackup>();
      const earlierBlobs = new Set<string>();
      for (const entry of doc.toBackUp) {
        if (entry.earlierBlob) earlierBlobs.add(entry.name);
        if (entry.versions) versions.set(entry.name, entry.versions);
        if (entry.backup) backups.set(entry.name, entry.backup);
        // Without version details the key list's update time is all the manifest gets (and what a resumed restore compares).
        if (!versionDetails && entry.updatedOn) listedUpdatedOn.set(entry.name, entry.updatedOn);
      }
      return {
        batchSize: doc.batchSize,
        versionDetails,
        names: doc.toBackUp.map((e) => e.name),
        versions,
        listedUpdatedOn,
        backups,
        earlierBlobs,
        skipped: doc.skipped,
        include: doc.include,
        exclude: doc.exclude,
      };
    });
  }
