import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { BackupStore, StoredObjectInfo, WriteOnceResult } from "./backup-store";
import { BackupObjectNotFoundError, InvalidStorageError } from "./errors";
import { TEMP_NAME, checkFolderPrefix, checkObjectPath, checkPrefix } from "./object-path";

/** How often writeOnce starts over when a concurrent delete removed its folder or the file it collided with. */
const WRITE_ONCE_ATTEMPTS = 3;
/** Backups hold key material (encrypted by Key Vault, but still): readable by the owner only. */
const FILE_MODE = 0o600;

/**
 * A backup store in a local folder, with the same layout as a container: object `a/b/c.json` is the file
 * `<root>/a/b/c.json`. Writes go to a temporary file next to the target (`.<name>.tmp-<hex>`, skipped by
 * list) and are published with a hard link, which fails when the target exists: a crash never leaves a
 * partial file under the final name, and an existing file is never replaced.
 */
export class FileBackupStore implements BackupStore {
  readonly root: string;
  readonly description: string;
  /** The root with a trailing separator, for "is inside" checks (also right when the root is `/`). */
  private readonly rootPrefix: string;

  constructor(root: string) {
    if (!path.isAbsolute(root)) throw new InvalidStorageError(`backup folder must be an absolute path: ${root}`);
    this.root = path.resolve(root);
    this.rootPrefix = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    this.description = `file:${this.root}`;
  }

  async missingRoot(): Promise<string | undefined> {
    // stat, not lstat: the root itself may be a link to a folder.
    const stat = await fsp.stat(this.root).catch(() => undefined);
    return stat?.isDirectory() ? undefined : `folder ${this.root} does not exist`;
  }

  async ensureReady(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    const stat = await fsp.stat(this.root);
    if (!stat.isDirectory()) throw new InvalidStorageError(`backup folder is not a directory: ${this.root}`);
  }

  async writeOnce(objectPath: string, data: Buffer): Promise<WriteOnceResult> {
    const target = this.resolve(checkObjectPath(objectPath));
    const dir = path.dirname(target);
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= WRITE_ONCE_ATTEMPTS;
      await fsp.mkdir(dir, { recursive: true });
      const temp = path.join(dir, `.${path.basename(target)}.tmp-${randomBytes(6).toString("hex")}`);
      try {
        try {
          await writeDurably(temp, data);
        } catch (err) {
          // The folder was pruned by a concurrent deletePrefix between mkdir and open.
          if (errno(err) === "ENOENT" && !last) continue;
          throw err;
        }
        try {
          await fsp.link(temp, target);
          await syncDirectory(dir);
          return { outcome: "created" };
        } catch (err) {
          const code = errno(err);
          if (code === "ENOENT" && !last) continue;
          if (code !== "EEXIST") throw linkError(err, this.root);
        }
        try {
          return { outcome: "exists", existing: await fsp.readFile(target) };
        } catch (err) {
          // Deleted between our link attempt and our read: try to write again.
          if (errno(err) === "ENOENT" && !last) continue;
          throw err;
        }
      } finally {
        await fsp.rm(temp, { force: true });
      }
    }
  }

  async read(objectPath: string): Promise<Buffer> {
    const file = this.resolve(checkObjectPath(objectPath));
    try {
      return await fsp.readFile(file);
    } catch (err) {
      if (isMissing(err)) throw new BackupObjectNotFoundError(objectPath, { cause: err });
      throw err;
    }
  }

  async exists(objectPath: string): Promise<boolean> {
    const file = this.resolve(checkObjectPath(objectPath));
    try {
      return (await fsp.lstat(file)).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    checkPrefix(prefix);
    for await (const entry of this.walk(prefix)) {
      if (entry.kind !== "file") continue;
      const stat = await lstatOrUndefined(entry.absolute);
      if (stat?.isFile()) yield { path: entry.relative, size: stat.size, lastModified: new Date(stat.mtimeMs) };
    }
  }

  /** Like a container, a folder only counts when it holds at least one object somewhere below it. */
  async listFolders(prefix: string): Promise<string[]> {
    checkFolderPrefix(prefix);
    const dir = this.resolveFolder(prefix);
    const folders: string[] = [];
    for (const entry of await readDirOrEmpty(dir)) {
      if (entry.isDirectory() && (await holdsAnObject(path.join(dir, entry.name)))) folders.push(entry.name);
    }
    return folders.sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix);
    if (prefix === "") throw new Error("refusing to delete with an empty prefix (that would empty the whole store)");
    let deleted = 0;
    const dirs: string[] = [];
    for await (const entry of this.walk(prefix)) {
      if (entry.kind === "dir") {
        dirs.push(entry.absolute);
        continue;
      }
      try {
        await fsp.unlink(entry.absolute);
        if (entry.kind === "file") deleted++;
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    // Remove the folders that are now empty, deepest first, then the prefix's own folders up to the root,
    // so listFolders stops showing them (as a container would).
    const base = path.dirname(this.resolve(prefix.replace(/\/$/, "/x")));
    for (let dir = base; dir.startsWith(this.rootPrefix) && dir !== this.root; dir = path.dirname(dir)) dirs.push(dir);
    dirs.sort((a, b) => b.length - a.length);
    for (const dir of dirs) await fsp.rmdir(dir).catch(() => undefined);
    return deleted;
  }

  /** Objects (and temp files and folders, for deletePrefix) whose relative path starts with prefix. */
  private async *walk(prefix: string): AsyncGenerator<WalkEntry> {
    const slash = prefix.lastIndexOf("/");
    const baseRelative = prefix.slice(0, slash + 1);
    const partial = prefix.slice(slash + 1);
    const baseDir = this.resolveFolder(baseRelative);
    const pending: Array<{ dir: string; relative: string; filter: string }> = [
      { dir: baseDir, relative: baseRelative, filter: partial },
    ];
    while (pending.length) {
      const { dir, relative, filter } = pending.pop()!;
      for (const entry of await readDirOrEmpty(dir)) {
        if (!entry.name.startsWith(filter)) continue;
        const absolute = path.join(dir, entry.name);
        const rel = relative + entry.name;
        // Symbolic links are neither followed nor listed: nothing outside the root is reachable.
        if (entry.isDirectory()) {
          pending.push({ dir: absolute, relative: `${rel}/`, filter: "" });
          yield { kind: "dir", absolute, relative: rel };
        } else if (entry.isFile()) {
          if (TEMP_NAME.test(entry.name)) yield { kind: "temp", absolute, relative: rel };
          else if (isValidPath(rel)) yield { kind: "file", absolute, relative: rel };
        }
      }
    }
  }

  private resolve(objectPath: string): string {
    const absolute = path.join(this.root, ...objectPath.split("/"));
    // Defence in depth: the path rules already exclude every way out of the root.
    if (!absolute.startsWith(this.rootPrefix)) throw new Error(`path escapes the backup folder: ${objectPath}`);
    return absolute;
  }

  private resolveFolder(prefix: string): string {
    return prefix === "" ? this.root : this.resolve(prefix.replace(/\/$/, ""));
  }
}

interface WalkEntry {
  readonly kind: "file" | "temp" | "dir";
  readonly absolute: string;
  readonly relative: string;
}

async function writeDurably(file: string, data: Buffer): Promise<void> {
  const handle = await fsp.open(file, "wx", FILE_MODE);
  try {
    await handle.writeFile(data);
    // On disk before it gets its final name, so a power cut cannot leave a named but empty file.
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the new directory entry durable; not possible everywhere (Windows), so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, "r");
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function linkError(err: unknown, root: string): unknown {
  const code = errno(err);
  if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS" || code === "EXDEV") {
    return new Error(
      `the file system of ${root} does not support hard links (${code}), which writing without overwriting needs; use another folder`,
    );
  }
  return err;
}

async function holdsAnObject(dir: string): Promise<boolean> {
  const pending = [dir];
  while (pending.length) {
    const current = pending.pop()!;
    for (const entry of await readDirOrEmpty(current)) {
      if (entry.isFile() && !TEMP_NAME.test(entry.name)) return true;
      if (entry.isDirectory()) pending.push(path.join(current, entry.name));
    }
  }
  return false;
}

async function readDirOrEmpty(dir: string): Promise<Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

async function lstatOrUndefined(file: string) {
  try {
    return await fsp.lstat(file);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

function isValidPath(relative: string): boolean {
  try {
    checkObjectPath(relative);
    return true;
  } catch {
    return false;
  }
}

function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** ENOTDIR: a parent is a file; EISDIR: the path is a folder. Either way there is no object there. */
function isMissing(err: unknown): boolean {
  const code = errno(err);
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
