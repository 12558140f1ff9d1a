/** The Certificates API route table (certificates.json, api-version 2025-07-01). */
import { allowFor, type Route } from "./route-common";

export type CertificateOperation =
  | "getCertificates"
  | "getCertificate"
  | "getCertificateVersions"
  | "createCertificate"
  | "importCertificate"
  | "updateCertificate"
  | "deleteCertificate"
  | "backupCertificate"
  | "restoreCertificate"
  | "getCertificatePolicy"
  | "updateCertificatePolicy"
  | "getCertificateOperation"
  | "updateCertificateOperation"
  | "deleteCertificateOperation"
  | "getDeletedCertificates"
  | "getDeletedCertificate"
  | "purgeDeletedCertificate"
  | "recoverDeletedCertificate";

/** Vault-wide certificate settings of the spec that are not emulated (contacts and issuers). */
const UNSUPPORTED_COLLECTIONS = new Set(["contacts", "issuers"]);

/** Undefined when the path is not under /certificates or /deletedcertificates. */
export function resolveCertificateRoute(method: string, segments: readonly string[]): Route | undefined {
  const [collection, name, third, fourth] = segments;
  const n = segments.length;
  const allow = allowFor(method, segments);
  if (collection === "certificates") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getCertificates" });
    if (UNSUPPORTED_COLLECTIONS.has(name!)) return { op: "unsupported", feature: `certificates/${name!}` };
    if (n === 2 && name === "restore" && method === "POST") return { op: "restoreCertificate" };
    if (n === 2) {
      if (method === "DELETE") return { op: "deleteCertificate", name: name! };
      return allow(method === "GET", { op: "getCertificate", name: name!, version: "" });
    }
    if (n === 3) {
      switch (third) {
        case "create":
          return allow(method === "POST", { op: "createCertificate", name: name! });
        case "import":
          return allow(method === "POST", { op: "importCertificate", name: name! });
        case "backup":
          return allow(method === "POST", { op: "backupCertificate", name: name! });
        case "versions":
          return allow(method === "GET", { op: "getCertificateVersions", name: name! });
        case "policy":
          if (method === "PATCH") return { op: "updateCertificatePolicy", name: name! };
          return allow(method === "GET", { op: "getCertificatePolicy", name: name! });
        case "pending":
          if (method === "PATCH") return { op: "updateCertificateOperation", name: name! };
          if (method === "DELETE") return { op: "deleteCertificateOperation", name: name! };
          return allow(method === "GET", { op: "getCertificateOperation", name: name! });
        default:
          if (method === "PATCH") return { op: "updateCertificate", name: name!, version: third! };
          return allow(method === "GET", { op: "getCertificate", name: name!, version: third! });
      }
    }
    if (n === 4 && third === "versions" && fourth === "") return allow(method === "GET", { op: "getCertificateVersions", name: name! });
    if (n === 4 && third === "pending" && fourth === "merge") return allow(method === "POST", { op: "unsupported", name: name!, feature: "merge" });
  } else if (collection === "deletedcertificates") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getDeletedCertificates" });
    if (n === 2) {
      if (method === "DELETE") return { op: "purgeDeletedCertificate", name: name! };
      return allow(method === "GET", { op: "getDeletedCertificate", name: name! });
    }
    if (n === 3 && third === "recover") return allow(method === "POST", { op: "recoverDeletedCertificate", name: name! });
  }
  return undefined;
}
