/**
 * Every error of the storage side: the store itself, the paths in it, and the backup sets and documents
 * it holds. Each names what is wrong in the user's terms; the store's own failure, when there is one, is
 * its `cause`. What each means to a user (exit code, HTTP status) is in src/error-responses.ts; whether an
 * activity that met one is tried again is in activities/failures.ts.
 */

/** The storage setting names nothing usable (neither a folder nor a Blob Storage account). */
export class InvalidStorageError extends Error {
  override readonly name = "InvalidStorageError";
}

/** A path or prefix that breaks the store's rules (absolute, `..`, backslash, NUL, ...); nothing was touched. */
export class InvalidObjectPathError extends Error {
  override readonly name = "InvalidObjectPathError";
  constructor(readonly path: string, reason: string) {
    super(`invalid backup object path ${JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path)}: ${reason}`);
  }
}

export class BackupObjectNotFoundError extends Error {
  override readonly name = "BackupObjectNotFoundError";
  constructor(readonly path: string, options?: ErrorOptions) {
    super(`backup object not found: ${path}`, options);
  }
}

export class InvalidBackupSetIdError extends Error {
  override readonly name = "InvalidBackupSetIdError";
  constructor(readonly value: string) {
    super(`invalid backup set id "${truncate(value)}": expected <UTC timestamp>-<job id>, e.g. 20261125T224500Z-3f2a9c, optionally prefixed by "<vault host>/"`);
  }
}

/** A document of a set that does not parse, does not match its schema, or does not belong where it is stored. */
export class DamagedBackupDocumentError extends Error {
  override readonly name = "DamagedBackupDocumentError";
  constructor(readonly path: string, detail: string, options?: ErrorOptions) {
    super(`${path} is damaged or not a kvbackup document: ${detail}`, options);
  }
}

export class BackupSetNotFoundError extends Error {
  override readonly name = "BackupSetNotFoundError";
  constructor(readonly backupSetId: string) {
    super(`no backup set "${backupSetId}" in the store`);
  }
}

export class AmbiguousBackupSetError extends Error {
  override readonly name = "AmbiguousBackupSetError";
  constructor(readonly backupSetId: string, readonly vaultFolders: readonly string[]) {
    super(`backup set "${backupSetId}" exists for several vaults (${vaultFolders.join(", ")}): name it as <vault host>/${backupSetId}`);
  }
}

export class BackupSetIncompleteError extends Error {
  override readonly name = "BackupSetIncompleteError";
  constructor(readonly backupSetId: string) {
    super(`backup set "${backupSetId}" has no manifest: its backup did not finish, so it cannot be restored`);
  }
}

export class StoredChecksumMismatchError extends Error {
  override readonly name = "StoredChecksumMismatchError";
  constructor(readonly path: string) {
    super(`${path} no longer matches the checksum recorded when it was written`);
  }
}

export function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
