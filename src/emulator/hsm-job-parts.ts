/**
 * What the Managed HSM's backup and restore jobs share with their routes: job records and their view, the
 * backup document, the storage parameters of a request, and storage failures named as the service names them.
 */
import { StorageSharedKeyCredential } from "@azure/storage-blob";
import { accountKeyOf } from "../util/connection-string";
import { redactUrl } from "../util/redact-url";
import type { StoredKey } from "./key-store";
import { ServiceError, badParameter, isObject } from "./service-common";

export const KEYS_FORMAT = "kvbackup-emulator-hsm-keys/1";

export type JobKind = "backup" | "prebackup" | "restore" | "selectiveRestore" | "prerestore";
export type JobStatus = "InProgress" | "Succeeded" | "Failed";

export interface Job {
  readonly id: string;
  readonly kind: JobKind;
  status: JobStatus;
  statusDetails: string;
  error?: { code: string; message: string };
  readonly startTime: number;
  endTime?: number;
  /** Backups: the folder URL (never with the token). */
  readonly folderUrl?: string;
}

export interface StorageParams {
  readonly storageResourceUri: string;
  readonly token?: string;
  readonly useManagedIdentity: boolean;
}

/** A failure that ends a job (not the request) with the service-like code and message. */
export class JobFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

// ------------------------------------------------------------------ documents

export interface BackupContent {
  live: StoredKey[];
  deleted: StoredKey[];
}

export function parseBackup(doc: unknown): BackupContent | undefined {
  if (!isObject(doc) || doc["format"] !== KEYS_FORMAT || !Array.isArray(doc["live"]) || !Array.isArray(doc["deleted"])) return undefined;
  const valid = (k: unknown): boolean =>
    isObject(k) && typeof k["name"] === "string" && Array.isArray(k["versions"]) && (k["versions"] as unknown[]).length > 0;
  if (!(doc["live"] as unknown[]).every(valid) || !(doc["deleted"] as unknown[]).every(valid)) return undefined;
  return { live: doc["live"] as StoredKey[], deleted: doc["deleted"] as StoredKey[] };
}

export function view(job: Job): Record<string, unknown> {
  return {
    status: job.status,
    statusDetails: job.statusDetails,
    error: job.error ?? null,
    jobId: job.id,
    startTime: job.startTime,
    // As the service's examples show it: 0 while the job runs.
    endTime: job.endTime ?? 0,
    ...(job.kind === "backup" ? { azureStorageBlobContainerUri: job.folderUrl ?? null } : {}),
    ...(job.kind === "prebackup" ? { azureStorageBlobContainerUri: null } : {}),
  };
}

// ------------------------------------------------------------------ request parsing

export function parseStorage(raw: Record<string, unknown>, prefix: string): StorageParams {
  const uri = raw["storageResourceUri"];
  if (typeof uri !== "string" || uri === "") throw badParameter(`The '${prefix}storageResourceUri' property is required.`);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw badParameter(`The '${prefix}storageResourceUri' property is not a valid URI.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw badParameter(`The '${prefix}storageResourceUri' must be an https URI.`);
  const token = raw["token"];
  const mi = raw["useManagedIdentity"];
  if (token !== undefined && token !== null && typeof token !== "string") throw badParameter(`The '${prefix}token' property must be a string.`);
  if (mi !== undefined && mi !== null && typeof mi !== "boolean") throw badParameter(`The '${prefix}useManagedIdentity' property must be a boolean.`);
  const useManagedIdentity = mi === true;
  if (!useManagedIdentity && (typeof token !== "string" || token === "")) {
    throw badParameter(`Either '${prefix}token' (a SAS token) or '${prefix}useManagedIdentity': true is required.`);
  }
  return { storageResourceUri: uri, useManagedIdentity, ...(!useManagedIdentity ? { token: token as string } : {}) };
}

// ------------------------------------------------------------------ storage errors

/** Runs one storage call; a refusal becomes the job's failure, named like the service would. */
export async function storageCall<T>(storage: StorageParams, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof JobFailure) throw error;
    const e = error as { statusCode?: number; code?: string; message?: string };
    const where = redactUrl(storage.storageResourceUri);
    const status = e.statusCode;
    const code = e.code ?? "";
    if (status === 404 && code === "ContainerNotFound") throw new JobFailure("ContainerNotFound", `The storage container ${where} does not exist.`);
    if (status === 404) throw new JobFailure("BlobNotFound", `A blob the operation needs was not found in ${where}.`);
    if (status === 403 || status === 401) {
      const how = storage.useManagedIdentity ? "the HSM's managed identity" : "the SAS token";
      throw new JobFailure("StorageAccessDenied", `Azure Storage refused access to ${where} with ${how} (${status} ${code || "Forbidden"}).`);
    }
    if (status === undefined) throw new JobFailure("StorageUnavailable", `Azure Storage at ${where} could not be reached (${code || "no answer"}).`);
    throw new JobFailure("StorageError", `Azure Storage answered ${status} ${code} for ${where}.`);
  }
}

export function toFailure(error: unknown): { code: string; message: string } {
  if (error instanceof JobFailure || error instanceof ServiceError) return { code: error.code, message: error.message };
  return { code: "InternalError", message: `The operation failed: ${(error as Error)?.message ?? String(error)}` };
}

export function sharedKeyCredential(connectionString: string | undefined): StorageSharedKeyCredential | undefined {
  const account = connectionString ? accountKeyOf(connectionString) : undefined;
  return account ? new StorageSharedKeyCredential(account.name, account.key) : undefined;
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

