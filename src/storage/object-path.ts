import { InvalidObjectPathError } from "./errors";

/**
 * The one set of path rules for every store, so a backup set that fits in a container also fits in a
 * folder (and no path can climb out of the folder).
 */

/** Blob names are limited to 1,024 characters. */
const MAX_PATH_LENGTH = 1024;
/** Names the file store uses for files being written; never valid object names. */
export const TEMP_NAME = /^\..*\.tmp-[0-9a-f]+$/;

/** Throws InvalidObjectPathError unless `path` is a valid object path; returns it unchanged. */
export function checkObjectPath(path: string): string {
  const problem = pathProblem(path);
  if (problem) throw new InvalidObjectPathError(path, problem);
  return path;
}

/** A prefix for list/delete: '' (everything) or a path, possibly ending with '/'. */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== "string") throw new InvalidObjectPathError(String(prefix), "not a string");
  if (prefix === "") return prefix;
  const problem = pathProblem(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  if (problem) throw new InvalidObjectPathError(prefix, problem);
  return prefix;
}

/** A folder prefix for listFolders: '' or a path ending with '/'. */
export function checkFolderPrefix(prefix: string): string {
  checkPrefix(prefix);
  if (prefix !== "" && !prefix.endsWith("/")) throw new InvalidObjectPathError(prefix, "a folder prefix must end with '/'");
  return prefix;
}

function pathProblem(path: string): string | undefined {
  if (typeof path !== "string") return "not a string";
  if (path === "") return "empty";
  if (path.length > MAX_PATH_LENGTH) return `longer than ${MAX_PATH_LENGTH} characters`;
  if (path.includes("\0")) return "contains NUL";
  if (hasControlCharacter(path)) return "contains a control character";
  if (path.includes("\\")) return "contains a backslash";
  if (path.startsWith("/")) return "absolute";
  // A colon makes a drive letter or an alternate data stream on Windows.
  if (path.includes(":")) return "contains ':'";
  for (const segment of path.split("/")) {
    if (segment === "") return "has an empty segment";
    if (segment === "." || segment === "..") return `has a '${segment}' segment`;
    if (TEMP_NAME.test(segment)) return "uses a reserved temporary-file name";
  }
  return undefined;
}

/** U+0001-U+001F or U+007F (NUL is refused on its own). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code >= 0x01 && code <= 0x1f) || code === 0x7f) return true;
  }
  return false;
}
