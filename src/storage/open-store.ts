import { statSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { TokenCredential } from "@azure/core-auth";
import type { BackupStore } from "./backup-store";
import { InvalidStorageError } from "./errors";
import { createBlobBackupStore, isConnectionString } from "./blob-store";
import { FileBackupStore } from "./file-store";

export interface OpenStoreOptions {
  /**
   * Where backup sets live: a folder (absolute path, `./…`, `../…`, an existing directory, or a `file:` URL),
   * a Blob Storage connection string, or a blob account URL (`https://acct.blob.core.windows.net`).
   */
  readonly storage: string;
  /** Blob container; not used for a folder (the folder itself is the root). */
  readonly container: string;
  /** For a blob account URL; ignored otherwise. */
  readonly credential?: TokenCredential;
}

/** Picks the store from the shape of `storage`; throws InvalidStorageError with a one-line reason otherwise. */
export function openBackupStore(opts: OpenStoreOptions): BackupStore {
  const storage = (opts.storage ?? "").trim();
  if (!storage) {
    throw new InvalidStorageError("no storage given: name a folder, a file: URL, a connection string or a blob account URL");
  }
  if (/^file:/i.test(storage)) {
    let folder: string;
    try {
      folder = fileURLToPath(storage);
    } catch (error) {
      throw new InvalidStorageError(`invalid file: URL ${quote(storage)}: use an absolute one, e.g. file:///var/backups`, { cause: error });
    }
    return new FileBackupStore(folder);
  }
  if (isConnectionString(storage) || /^https?:\/\//i.test(storage)) {
    return createBlobBackupStore({ storage, container: opts.container, credential: opts.credential });
  }
  if (looksLikeFolder(storage)) return new FileBackupStore(path.resolve(storage));
  throw new InvalidStorageError(
    `storage ${quote(storage)} is not a folder (absolute, ./ or ../ path, or an existing directory), a file: URL, ` +
      "a connection string (with AccountName=, BlobEndpoint= or UseDevelopmentStorage=true) or an http(s) blob account URL",
  );
}

function looksLikeFolder(storage: string): boolean {
  if (path.isAbsolute(storage) || storage === "." || storage === "..") return true;
  if (/^\.\.?[\\/]/.test(storage)) return true;
  try {
    return statSync(storage).isDirectory();
  } catch {
    return false;
  }
}

/** Echoes the value only when it cannot be (part of) a connection string or a SAS, which carry secrets. */
function quote(value: string): string {
  return /^[\w./ ~-]{1,120}$/.test(value) ? `"${value}"` : "(value not shown)";
}
