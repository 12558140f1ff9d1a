/**
 * The rules of the Keys API that its operations and the certificates' managed keys share: key operations
 * and their defaults, release policies, new versions, and the key backup document.
 */
import { randomBytes } from "node:crypto";
import type { KeyMaterial, KeyVersion, ReleasePolicy, VersionAttributes } from "./key-store";
import { MAX_BACKUP_VERSIONS, OBJECT_NAME, VERSION_ID, badParameter, isObject, nowSeconds, type ParsedAttributes } from "./service-common";
import type { ServiceKind } from "./types";

const KEY_OPS = new Set(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"]);
export const DEFAULT_OPS: Readonly<Record<"EC" | "RSA" | "oct", readonly string[]>> = {
  EC: ["sign", "verify"],
  RSA: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
  oct: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
};
/** The size the service gives an AES key when the request names none (not documented; 256 assumed). */
export const DEFAULT_AES_BITS = 256;
export const KEY_BACKUP_FORMAT = "kvbackup-emulator-key-backup/1";
/**
 * Decoded size of a key backup. The spec's BackupKey example, a key of one version, is 8,031 bytes (10,708
 * base64url characters); a backup grows with each version (reported; by how much is not documented). The
 * emulator pads its sealed documents to that, plus 1 KiB per further version (assumed; a 500-version key,
 * the service's limit, still fits in a 1 MiB request), so bytes, memory and storage figures measure blobs
 * of a real vault's size. A document larger than that (many RSA-4096 versions) is sealed as it is.
 */
export const BACKUP_BYTES_ONE_VERSION = 8_031;
export const BACKUP_BYTES_PER_EXTRA_VERSION = 1_024;

export function parseKeyOps(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.some((op) => typeof op !== "string" || !KEY_OPS.has(op))) {
    throw badParameter(`key_ops must be a list of: ${[...KEY_OPS].join(", ")}.`);
  }
  return [...new Set(raw as string[])];
}

/** A release policy as given (contentType defaulted as the spec says); its data must be a JSON document. */
export function parseReleasePolicy(raw: unknown): ReleasePolicy | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw badParameter("release_policy must be a JSON object.");
  const { contentType, immutable, data } = raw;
  if (contentType !== undefined && contentType !== null && typeof contentType !== "string") throw badParameter("release_policy.contentType must be a string.");
  if (immutable !== undefined && immutable !== null && typeof immutable !== "boolean") throw badParameter("release_policy.immutable must be a boolean.");
  if (typeof data !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(data)) throw badParameter("release_policy.data must be the policy document, base64url-encoded.");
  let policy: unknown;
  try {
    policy = JSON.parse(Buffer.from(data, "base64url").toString("utf8")) as unknown;
  } catch {
    policy = undefined;
  }
  if (!isObject(policy)) throw badParameter("release_policy.data is not a valid release policy document (a JSON object).");
  return {
    contentType: typeof contentType === "string" ? contentType : "application/json; charset=utf-8",
    ...(typeof immutable === "boolean" ? { immutable } : {}),
    data,
  };
}

export function baseType(kty: string): "EC" | "RSA" | "oct" {
  return kty.startsWith("EC") ? "EC" : kty.startsWith("oct") ? "oct" : "RSA";
}

export function newKeyVersion(
  kty: string,
  material: KeyMaterial,
  keyOps: string[],
  attrs: ParsedAttributes,
  tags: Record<string, string> | undefined,
  releasePolicy?: ReleasePolicy,
  id: string = randomBytes(16).toString("hex"),
): KeyVersion {
  const now = nowSeconds();
  return {
    id,
    kty,
    material,
    keyOps,
    attributes: {
      enabled: attrs.enabled ?? true,
      ...(attrs.nbf !== undefined ? { nbf: attrs.nbf } : {}),
      ...(attrs.exp !== undefined ? { exp: attrs.exp } : {}),
      ...(attrs.exportable !== undefined ? { exportable: attrs.exportable } : {}),
      created: now,
      updated: now,
    },
    ...(tags ? { tags } : {}),
    ...(releasePolicy ? { releasePolicy } : {}),
  };
}

// ------------------------------------------------------------------ backup document

export interface KeyVersionDocument {
  id: string;
  kty: string;
  material: KeyMaterial;
  keyOps: string[];
  attributes: VersionAttributes;
  tags?: Record<string, string>;
  releasePolicy?: ReleasePolicy;
}

export interface KeyBackupDocument {
  format: string;
  kind: ServiceKind;
  name: string;
  versions: KeyVersionDocument[];
}

export function keyVersionDocument(v: KeyVersion): KeyVersionDocument {
  return {
    id: v.id,
    kty: v.kty,
    material: v.material,
    keyOps: v.keyOps,
    attributes: v.attributes,
    ...(v.tags ? { tags: v.tags } : {}),
    ...(v.releasePolicy ? { releasePolicy: v.releasePolicy } : {}),
  };
}

/** A restored version: copies, so that two restores of one blob share nothing mutable. */
export function keyVersionFromDocument(v: KeyVersionDocument): KeyVersion {
  return {
    id: v.id,
    kty: v.kty,
    material: v.material,
    keyOps: [...v.keyOps],
    attributes: { ...v.attributes },
    ...(v.tags ? { tags: { ...v.tags } } : {}),
    ...(v.releasePolicy ? { releasePolicy: { ...v.releasePolicy } } : {}),
  };
}

/** Structural check of one version of a decrypted document. */
export function isKeyVersionDocument(v: unknown): v is KeyVersionDocument {
  if (!isObject(v) || typeof v["id"] !== "string" || !VERSION_ID.test(v["id"])) return false;
  const m = v["material"];
  if (!isObject(m) || (m["kty"] !== "EC" && m["kty"] !== "RSA" && m["kty"] !== "oct")) return false;
  return typeof v["kty"] === "string" && Array.isArray(v["keyOps"]) && isObject(v["attributes"]);
}

/** Structural check of a decrypted document; a valid tag already rules out tampering, this rules out bugs. */
export function parseKeyBackupDocument(doc: unknown): KeyBackupDocument | undefined {
  if (!isObject(doc) || doc["format"] !== KEY_BACKUP_FORMAT) return undefined;
  const { name, versions, kind } = doc;
  if (typeof name !== "string" || !OBJECT_NAME.test(name) || (kind !== "vault" && kind !== "managedHsm")) return undefined;
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > MAX_BACKUP_VERSIONS) return undefined;
  if (!versions.every(isKeyVersionDocument) || new Set(versions.map((v) => v.id)).size !== versions.length) return undefined;
  return doc as unknown as KeyBackupDocument;
}
