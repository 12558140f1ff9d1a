/** The Secrets API route table (secrets.json, api-version 2025-07-01). */
import { allowFor, type Route } from "./route-common";

export type SecretOperation =
  | "getSecrets"
  | "getSecret"
  | "getSecretVersions"
  | "setSecret"
  | "updateSecret"
  | "deleteSecret"
  | "backupSecret"
  | "restoreSecret"
  | "getDeletedSecrets"
  | "getDeletedSecret"
  | "purgeDeletedSecret"
  | "recoverDeletedSecret";

/** Undefined when the path is not under /secrets or /deletedsecrets. */
export function resolveSecretRoute(method: string, segments: readonly string[]): Route | undefined {
  const [collection, name, third, fourth] = segments;
  const n = segments.length;
  const allow = allowFor(method, segments);
  if (collection === "secrets") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getSecrets" });
    if (n === 2 && name === "restore" && method === "POST") return { op: "restoreSecret" };
    if (n === 2) {
      if (method === "PUT") return { op: "setSecret", name: name! };
      if (method === "DELETE") return { op: "deleteSecret", name: name! };
      return allow(method === "GET", { op: "getSecret", name: name!, version: "" });
    }
    if (n === 3) {
      if (third === "backup") return allow(method === "POST", { op: "backupSecret", name: name! });
      if (third === "versions") return allow(method === "GET", { op: "getSecretVersions", name: name! });
      if (method === "PATCH") return { op: "updateSecret", name: name!, version: third! };
      return allow(method === "GET", { op: "getSecret", name: name!, version: third! });
    }
    if (n === 4 && third === "versions" && fourth === "") return allow(method === "GET", { op: "getSecretVersions", name: name! });
  } else if (collection === "deletedsecrets") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getDeletedSecrets" });
    if (n === 2) {
      if (method === "DELETE") return { op: "purgeDeletedSecret", name: name! };
      return allow(method === "GET", { op: "getDeletedSecret", name: name! });
    }
    if (n === 3 && third === "recover") return allow(method === "POST", { op: "recoverDeletedSecret", name: name! });
  }
  return undefined;
}
