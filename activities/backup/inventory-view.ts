import type { ObjectKind } from "../../src/contracts";
import type { BackupStore } from "../../src/storage/backup-store";
import { inventorySchema, objectId, parseDocument, type BackupSetPaths, type Inventory, type InventoryEntry } from "../../src/storage/backup-set";
import { PromiseCache } from "../../src/util/promise-cache";

export type StoredVersion = NonNullable<InventoryEntry["versions"]>[number];
export type StoredBackup = NonNullable<InventoryEntry["backup"]>;

export interface InventoryView {
  readonly batchSize: number;
  readonly versionDetails: boolean;
  readonly kinds: readonly ObjectKind[];
  /** Inventory order (kind order, then name); batch i is objects[i*batchSize … (i+1)*batchSize). */
  readonly objects: readonly { readonly kind: ObjectKind; readonly name: string }[];
  /** By objectId (kind/name), as for every map below. */
  readonly versions: ReadonlyMap<string, StoredVersion[]>;
  /** Each object's update time from the object list (what a set without version details records, and how a rotation is told). */
  readonly listedUpdatedOn: ReadonlyMap<string, string>;
  /** Only without version details: the backups the inventory already took and stored. */
  readonly backups: ReadonlyMap<string, StoredBackup>;
  /** Only without version details: objects whose blob an earlier attempt of the inventory had written. */
  readonly earlierBlobs: ReadonlySet<string>;
  readonly skipped: Inventory["skipped"];
  readonly withCertificate: Inventory["withCertificate"];
  readonly include: string[];
  readonly exclude: string[];
}

/** Inventories kept in memory (one per backup job in progress in this process). */
const INVENTORY_VIEWS_KEPT = 4;

/**
 * What the batches and the manifest need from an inventory, kept for the few sets in progress: names and
 * the versions the inventory already listed, not the parsed document (a job holds it from its first
 * batch to its manifest, and at 50,000 objects the document's objects are several megabytes).
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
        const id = objectId(entry.kind, entry.name);
        if (entry.earlierBlob) earlierBlobs.add(id);
        if (entry.versions) versions.set(id, entry.versions);
        if (entry.backup) backups.set(id, entry.backup);
        if (entry.updatedOn) listedUpdatedOn.set(id, entry.updatedOn);
      }
      return {
        batchSize: doc.batchSize,
        versionDetails,
        kinds: doc.kinds,
        objects: doc.toBackUp.map((e) => ({ kind: e.kind, name: e.name })),
        versions,
        listedUpdatedOn,
        backups,
        earlierBlobs,
        skipped: doc.skipped,
        withCertificate: doc.withCertificate,
        include: doc.include,
        exclude: doc.exclude,
      };
    });
}
