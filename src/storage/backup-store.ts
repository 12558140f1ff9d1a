/**
 * Where backup sets live. Activities talk to this interface only, so a backup set can sit in a
 * Blob Storage container or in a local folder with the same layout, manifest and checksums.
 *
 * Paths are relative, '/'-separated, never start with '/', and never contain '..' segments.
 */
export interface StoredObjectInfo {
  /** Relative path of the object inside the store, e.g. `vault.example/20261125T224500Z-abc/keys/k1.bin`. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: Date;
}

export type WriteOnceResult =
  /** The object did not exist and was written. */
  | { readonly outcome: "created" }
  /** An object already existed at that path; it was left untouched. Its bytes are returned so the caller can compare checksums. */
  | { readonly outcome: "exists"; readonly existing: Buffer };

export interface BackupStore {
  /** A short description for logs and output, e.g. `blob:http://127.0.0.1:10000/devstoreaccount1/kvbackup` or `file:/backups`. Never contains a secret. */
  readonly description: string;
  /**
   * A missing container or root folder holds no objects: list, listFolders, exists, read (not found) and
   * deletePrefix treat it as empty, so a fresh store lists no sets instead of failing. This says, in a
   * user's terms, that it is missing (`container "kvbackup" does not exist in …`), or undefined when it exists.
   */
  missingRoot(): Promise<string | undefined>;
  /** Creates the container or root folder when missing. Safe to call repeatedly. */
  ensureReady(): Promise<void>;
  /** Writes data at path only if nothing is there yet (never overwrites); atomic: readers never see a partial object. */
  writeOnce(path: string, data: Buffer): Promise<WriteOnceResult>;
  /** Reads the whole object; throws BackupObjectNotFoundError when missing. */
  read(path: string): Promise<Buffer>;
  /** True when an object exists at path. */
  exists(path: string): Promise<boolean>;
  /** Lists objects whose path starts with prefix (recursive), in no particular order. */
  list(prefix: string): AsyncIterable<StoredObjectInfo>;
  /** Lists the immediate child "folders" under prefix (which ends with '/' or is ''), as names without slashes. */
  listFolders(prefix: string): Promise<string[]>;
  /** Deletes every object whose path starts with prefix; returns how many were deleted. Used by retention only. */
  deletePrefix(prefix: string): Promise<number>;
}
