import type { z } from "zod";
import { PromiseCache } from "../util/promise-cache";
import type { BackupStore } from "./backup-store";
import { BackupSetPaths, inventorySchema, isVaultFolderName, manifestPlacementProblem, manifestSchema, parseBackupSetRef, parseDocument, type Inventory, type Manifest } from "./backup-set";
import { AmbiguousBackupSetError, BackupSetIncompleteError, BackupSetNotFoundError, DamagedBackupDocumentError } from "./errors";

/**
 * Reads the documents of backup sets, keeping a few in memory: every batch activity of a job needs
 * the same inventory or manifest, and re-reading a 10,000-key document per batch wastes minutes.
 */
export class BackupSetReader {
  private readonly cache: PromiseCache<string, unknown>;

  constructor(private readonly store: BackupStore, maxCached = 4) {
    this.cache = PromiseCache.bounded(maxCached);
  }

  inventory(paths: BackupSetPaths): Promise<Inventory> {
    return this.cached(paths.inventory, async () => parseDocument(inventorySchema, paths.inventory, await this.store.read(paths.inventory)));
  }

  manifest(paths: BackupSetPaths): Promise<Manifest> {
    return this.cached(paths.manifest, async () => {
      if (!(await this.store.exists(paths.manifest))) throw new BackupSetIncompleteError(paths.backupSetId);
      const manifest = parseDocument(manifestSchema, paths.manifest, await this.store.read(paths.manifest));
      const problem = manifestPlacementProblem(manifest, paths);
      if (problem) throw new DamagedBackupDocumentError(paths.manifest, problem);
      return manifest;
    });
  }

  /** A document that is written once and never changes (a restore's plan): parsed once, kept like the others. */
  document<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return this.cached(path, async () => parseDocument(schema, path, await this.store.read(path)));
  }

  /** Finds the folder of a set from `<id>` or `<vault folder>/<id>`. */
  async locate(ref: string): Promise<BackupSetPaths> {
    const parsed = parseBackupSetRef(ref);
    if (parsed.vaultFolder) {
      const paths = new BackupSetPaths(parsed.vaultFolder, parsed.backupSetId);
      if (!(await this.hasAnyDocument(paths))) throw new BackupSetNotFoundError(ref);
      return paths;
    }
    const found: string[] = [];
    for (const folder of await this.store.listFolders("")) {
      if (!isVaultFolderName(folder)) continue;
      if (await this.hasAnyDocument(new BackupSetPaths(folder, parsed.backupSetId))) found.push(folder);
    }
    if (found.length === 0) throw new BackupSetNotFoundError(ref);
    if (found.length > 1) throw new AmbiguousBackupSetError(ref, found);
    return new BackupSetPaths(found[0]!, parsed.backupSetId);
  }

  private async hasAnyDocument(paths: BackupSetPaths): Promise<boolean> {
    return (await this.store.exists(paths.manifest)) || (await this.store.exists(paths.inventory));
  }

  /** Each path holds one kind of document, so what was loaded for it is of the type its caller loads. */
  private cached<T>(path: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(path, load) as Promise<T>;
  }
}
