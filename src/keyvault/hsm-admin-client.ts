import type { TokenCredential } from "@azure/core-auth";
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type HttpMethods,
  type Pipeline,
  type PipelineResponse,
  type PipelineRetryOptions,
} from "@azure/core-rest-pipeline";
import { keyVaultAuthenticationPolicy } from "@azure/keyvault-common";
import { DEFAULT_HSM_CLIENT_RETRY } from "../retry-policies";
import { normalizeVaultUrl } from "./clients";
import { toKeyVaultError, type KeyVaultOperationError } from "./errors";

/**
 * The Managed HSM full backup / full restore / selective key restore REST API (api-version 2025-07-01),
 * spoken directly over a core-rest-pipeline: there is no administration SDK in our dependency set. Each call
 * starts or reads one service-side job; polling is the orchestrator's business, never done here.
 */

export const HSM_API_VERSION = "2025-07-01";

/** Where the HSM reads or writes: a container URL plus either a SAS (without "?") or its managed identity. */
export interface HsmStorageParameters {
  readonly storageResourceUri: string;
  readonly token?: string;
  readonly useManagedIdentity?: boolean;
}

export type HsmOperationStatus = "InProgress" | "Succeeded" | "Failed" | "Canceled";

/** One job as the service reports it, with Unix times turned into ISO strings. */
export interface HsmOperation {
  readonly jobId: string;
  readonly status: HsmOperationStatus;
  readonly statusDetails?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly startTime?: string;
  readonly endTime?: string;
  /** Backups only: where the backup folder is (the service may add a query; callers strip it). */
  readonly azureStorageBlobContainerUri?: string;
  /** From the Retry-After header, in seconds, when the answer had one. */
  readonly retryAfterSeconds?: number;
}

export interface HsmAdminClientOptions {
  readonly credential: TokenCredential;
  /** PEM to trust for this client only: the local emulator's self-signed certificate. */
  readonly emulatorCaCert?: string;
  /** Retries of one request (429/503 honour Retry-After; 5xx, 408 and dropped connections back off). */
  readonly retry?: PipelineRetryOptions;
  readonly apiVersion?: string;
  /** Shared between the clients of a factory, so they reuse connections. */
  readonly httpClient?: HttpClient;
}

const REQUEST_TIMEOUT_MS = 60_000;


export class HsmAdminClient {
  readonly hsmUrl: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly apiVersion: string;

  constructor(hsmUrl: string, options: HsmAdminClientOptions, tlsOptions?: { ca: string }) {
    this.hsmUrl = normalizeVaultUrl(hsmUrl);
    this.apiVersion = options.apiVersion ?? HSM_API_VERSION;
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
    const tls = tlsOptions ?? (options.emulatorCaCert ? { ca: options.emulatorCaCert } : undefined);
    this.pipeline = createPipelineFromOptions({
      retryOptions: { ...DEFAULT_HSM_CLIENT_RETRY, ...options.retry },
      userAgentOptions: { userAgentPrefix: "kvbackup" },
      ...(tls ? { tlsOptions: tls } : {}),
    });
    // The same challenge flow as the SDK clients; the emulator listens on 127.0.0.1, which is not a
    // subdomain of managedhsm.azure.net, so resource verification is relaxed for it alone.
    this.pipeline.addPolicy(keyVaultAuthenticationPolicy(options.credential, { disableChallengeResourceVerification: tls !== undefined }));
  }

  /** POST /backup: writes a new `mhsm-<name>-<time>` folder into the container. */
  beginFullBackup(storage: HsmStorageParameters): Promise<HsmOperation> {
    return this.send("POST", "/backup", storageBody(storage));
  }

  getBackupStatus(jobId: string): Promise<HsmOperation> {
    return this.send("GET", `/backup/${encodeURIComponent(jobId)}/pending`, undefined);
  }

  /** PUT /restore: replaces every key of the HSM with the folder's. */
  beginFullRestore(storage: HsmStorageParameters, folderToRestore: string): Promise<HsmOperation> {
    return this.send("PUT", "/restore", { sasTokenParameters: storageBody(storage), folderToRestore });
  }

  /** PUT /keys/{name}/restore: one key from a full backup folder. The body field is `folder` here. */
  beginSelectiveKeyRestore(keyName: string, storage: HsmStorageParameters, folder: string): Promise<HsmOperation> {
    return this.send("PUT", `/keys/${encodeURIComponent(keyName)}/restore`, { sasTokenParameters: storageBody(storage), folder });
  }

  /** Full and selective restores are both polled here. */
  getRestoreStatus(jobId: string): Promise<HsmOperation> {
    return this.send("GET", `/restore/${encodeURIComponent(jobId)}/pending`, undefined);
  }

  /** POST /prebackup: checks that a backup could run (polled like a backup). */
  beginPreBackup(storage: HsmStorageParameters): Promise<HsmOperation> {
    return this.send("POST", "/prebackup", storageBody(storage));
  }

  /** PUT /prerestore: checks that a restore of the folder could run (polled like a restore). */
  beginPreRestore(storage: HsmStorageParameters, folderToRestore: string): Promise<HsmOperation> {
    return this.send("PUT", "/prerestore", { sasTokenParameters: storageBody(storage), folderToRestore });
  }

  private async send(method: HttpMethods, path: string, body: unknown): Promise<HsmOperation> {
    const request = createPipelineRequest({
      url: `${this.hsmUrl}${path}?api-version=${encodeURIComponent(this.apiVersion)}`,
      method,
      headers: createHttpHeaders(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      // These calls answer at once (the work happens in the job); a silent connection must not hang the activity.
      timeout: REQUEST_TIMEOUT_MS,
    });
    let response: PipelineResponse;
    try {
      response = await this.pipeline.sendRequest(this.httpClient, request);
    } catch (error) {
      throw toKeyVaultError(error);
    }
    const parsed = parseJson(response.bodyAsText);
    // The spec says 202 for a start and 200 for a status; any 2xx is taken as an answer.
    if (response.status < 200 || response.status >= 300) {
      throw serviceError(response.status, parsed, `${method} ${path}`);
    }
    return toOperation(parsed, retryAfterSeconds(response.headers.get("retry-after")), `${method} ${path}`);
  }
}

export type HsmClientFactory = (hsmUrl: string) => HsmAdminClient;

/** One client per HSM, all sharing one HTTP client (and so its keep-alive connections). */
export function createHsmClientFactory(options: HsmAdminClientOptions): HsmClientFactory {
  const clients = new Map<string, HsmAdminClient>();
  const httpClient = options.httpClient ?? createDefaultHttpClient();
  // One object for every client: the HTTP client caches its TLS agent by this identity.
  const tls = options.emulatorCaCert ? { ca: options.emulatorCaCert } : undefined;
  return (hsmUrl) => {
    const key = normalizeVaultUrl(hsmUrl);
    let client = clients.get(key);
    if (!client) {
      client = new HsmAdminClient(key, { ...options, httpClient }, tls);
      clients.set(key, client);
    }
    return client;
  };
}

// ------------------------------------------------------------------ parsing

function storageBody(storage: HsmStorageParameters): Record<string, unknown> {
  return {
    storageResourceUri: storage.storageResourceUri,
    ...(storage.token !== undefined ? { token: storage.token } : {}),
    ...(storage.useManagedIdentity ? { useManagedIdentity: true } : {}),
  };
}

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function serviceError(status: number, body: unknown, what: string): KeyVaultOperationError {
  const error = isObject(body) && isObject(body["error"]) ? body["error"] : undefined;
  const code = typeof error?.["code"] === "string" ? error["code"] : undefined;
  const message = typeof error?.["message"] === "string" ? error["message"] : `${what} answered ${status}`;
  return toKeyVaultError({ statusCode: status, code, message, details: { error: { code, message } } });
}

const STATUSES: readonly HsmOperationStatus[] = ["InProgress", "Succeeded", "Failed", "Canceled"];

function toOperation(body: unknown, retryAfter: number | undefined, what: string): HsmOperation {
  if (!isObject(body) || typeof body["jobId"] !== "string" || !STATUSES.includes(body["status"] as HsmOperationStatus)) {
    throw toKeyVaultError({ message: `${what}: the answer is not a backup/restore operation` });
  }
  const error = isObject(body["error"]) ? body["error"] : undefined;
  const startTime = unixToIso(body["startTime"]);
  const endTime = unixToIso(body["endTime"]);
  return {
    jobId: body["jobId"],
    status: body["status"] as HsmOperationStatus,
    ...(typeof body["statusDetails"] === "string" ? { statusDetails: body["statusDetails"] } : {}),
    // The service sends `error: null` (or an empty object) while all is well.
    ...(error && (error["code"] || error["message"])
      ? { error: { code: String(error["code"] ?? "Unknown"), message: String(error["message"] ?? "") } }
      : {}),
    ...(startTime ? { startTime } : {}),
    ...(endTime ? { endTime } : {}),
    ...(typeof body["azureStorageBlobContainerUri"] === "string" ? { azureStorageBlobContainerUri: body["azureStorageBlobContainerUri"] } : {}),
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  };
}

/** Unix seconds to ISO; 0 and null mean "not yet" (a running job's endTime). */
export function unixToIso(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
  return new Date(value * 1000).toISOString();
}

/** Retry-After as whole seconds: a number of seconds, or an HTTP date (counted from now). */
export function retryAfterSeconds(header: string | undefined, now: number = Date.now()): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
