/** Errors that end an activity (and, after its retries, the job): each names what is wrong. */

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
