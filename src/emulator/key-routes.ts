/** The Keys API route table (keys.json, api-version 2025-07-01). */
import { allowFor, type Route } from "./route-common";

export type KeyOperation =
  | "getKeys"
  | "getKey"
  | "getKeyVersions"
  | "createKey"
  | "importKey"
  | "updateKey"
  | "deleteKey"
  | "backupKey"
  | "restoreKey"
  | "getDeletedKeys"
  | "getDeletedKey"
  | "purgeDeletedKey"
  | "recoverDeletedKey";

const CRYPTO_OPS = new Set(["encrypt", "decrypt", "sign", "verify", "wrapkey", "unwrapkey", "release", "attestation"]);
/**
 * Key routes of the spec without a version segment that are not emulated. The SDK leaves the version out
 * of a crypto route when none is given (`/keys/{name}/attestation`, `/keys/{name}/release`).
 */
const UNVERSIONED_UNSUPPORTED = new Set(["rotate", "rotationpolicy", ...CRYPTO_OPS]);

/** Undefined when the path is not under /keys or /deletedkeys. */
export function resolveKeyRoute(method: string, segments: readonly string[]): Route | undefined {
  const [collection, name, third, fourth] = segments;
  const n = segments.length;
  const allow = allowFor(method, segments);
  if (collection === "keys") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getKeys" });
    if (n === 2 && name === "restore" && method === "POST") return { op: "restoreKey" };
    if (n === 2) {
      if (method === "PUT") return { op: "importKey", name: name! };
      if (method === "DELETE") return { op: "deleteKey", name: name! };
      return allow(method === "GET", { op: "getKey", name: name!, version: "" });
    }
    if (n === 3) {
      switch (third) {
        case "create":
          return allow(method === "POST", { op: "createKey", name: name! });
        case "backup":
          return allow(method === "POST", { op: "backupKey", name: name! });
        case "versions":
          return allow(method === "GET", { op: "getKeyVersions", name: name! });
        default:
          // Read as a version id, `attestation` would answer KeyNotFound for a key that exists.
          if (UNVERSIONED_UNSUPPORTED.has(third!.toLowerCase())) return { op: "unsupported", name: name!, feature: third!.toLowerCase() };
          if (method === "PATCH") return { op: "updateKey", name: name!, version: third! };
          return allow(method === "GET", { op: "getKey", name: name!, version: third! });
      }
    }
    if (n === 4 && third === "versions" && fourth === "") return allow(method === "GET", { op: "getKeyVersions", name: name! });
    if (n === 4 && CRYPTO_OPS.has(fourth!.toLowerCase())) return { op: "unsupported", name: name!, feature: fourth!.toLowerCase() };
  } else if (collection === "deletedkeys") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getDeletedKeys" });
    if (n === 2) {
      if (method === "DELETE") return { op: "purgeDeletedKey", name: name! };
      return allow(method === "GET", { op: "getDeletedKey", name: name! });
    }
    if (n === 3 && third === "recover") return allow(method === "POST", { op: "recoverDeletedKey", name: name! });
  }
  return undefined;
}
