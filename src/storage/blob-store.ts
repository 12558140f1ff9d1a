import { createHash } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import {
  BlobServiceClient,
  StorageRetryPolicyType,
  type ContainerClient,
  type StoragePipelineOptions,
  type StorageRetryOptions,
} from "@azure/storage-blob";
import { isContainerName } from "../names";
import { DEFAULT_BLOB_STORE_RETRY } from "../retry-policies";
import { mapWithConcurrency } from "../util/pool";
import { redactUrl } from "../util/redact-url";
import type { BackupStore, StoredObjectInfo, WriteOnceResult } from "./backup-store";
import { BackupObjectNotFoundError, InvalidStorageError } from "./errors";
import { checkFolderPrefix, checkObjectPath, checkPrefix } from "./object-path";

/**
 * How the blob store rides out a storage outage, in one place.
 *
 * Exponential retry waits (2^(n-1) - 1) × retryDelayInMs before try n+1, capped at maxRetryDelayInMs:
 * 0, 1, 3, 7, 10, 10, 10 s, so eight tries span about 41 s and a write survives Blob Storage (or Azurite)
 * being unreachable for 20–30 s. Connection refusals and resets, timeouts, 500 and 503 are retried.
 *
 * operationTimeoutMs bounds one store call including its retries: the SDK has no client-side per-try
 * timeout that it retries (tryTimeoutInMs is only sent to the server), so a silently dropped connection
 * would otherwise hang an activity forever.
 */
export const BLOB_STORE_RESILIENCE: {
  readonly retryOptions: Readonly<StorageRetryOptions>;
  readonly operationTimeoutMs: number;
  readonly deleteConcurrency: number;
  readonly listPageSize: number;
} = Object.freeze({
  retryOptions: Object.freeze({ retryPolicyType: StorageRetryPolicyType.EXPONENTIAL, ...DEFAULT_BLOB_STORE_RETRY }),
  operationTimeoutMs: 180_000,
  deleteConcurrency: 16,
  listPageSize: 5_000,
});

/** Larger objects are uploaded as blocks and committed with the same no-overwrite condition. */
const MAX_SINGLE_PUT_BYTES = 256 * 1024 * 1024;
/** How often writeOnce retries when the object it collided with vanished before it could be read. */
const WRITE_ONCE_ATTEMPTS = 3;

export interface BlobStoreOptions {
  /** A connection string, or the account's blob endpoint URL (e.g. `https://acct.blob.core.windows.net`). */
  readonly storage: string;
  readonly container: string;
  /** Used with a URL (managed identity in Azure); ignored for a connection string. */
  readonly credential?: TokenCredential;
}

export function createBlobBackupStore(opts: BlobStoreOptions): BlobBackupStore {
  checkContainerName(opts.container);
  const service = createBlobServiceClient(opts.storage, opts.credential);
  return new BlobBackupStore(service.getContainerClient(opts.container));
}

/** A connection string or an http(s) URL to a service client with the shared retry settings. */
export function createBlobServiceClient(storage: string, credential?: TokenCredential): BlobServiceClient {
  // Keep-alive stays on (the default) and every client shares the SDK's cached HTTP client, so all stores
  // reuse the same connections.
  const options: StoragePipelineOptions = {
    retryOptions: { ...BLOB_STORE_RESILIENCE.retryOptions },
    keepAliveOptions: { enable: true },
  };
  const value = storage.trim();
  if (isConnectionString(value)) {
    try {
      return BlobServiceClient.fromConnectionString(value, options);
    } catch (err) {
      // The SDK's message may quote parts of the string; never echo a connection string (it holds a key),
      // so the SDK's error is not kept as the cause either.
      throw new InvalidStorageError(`invalid storage connection string (${connectionStringProblem(err)})`);
    }
  }
  if (/^https?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // Not kept as the cause: Node's URL error carries the input, which may hold a SAS.
      throw new InvalidStorageError("invalid storage account URL");
    }
    return new BlobServiceClient(url.toString().replace(/\/$/, ""), credential, options);
  }
  throw new InvalidStorageError("storage must be a connection string or an http(s) blob account URL");
}

/** Account-key and development-storage strings, and SAS strings (BlobEndpoint=…;SharedAccessSignature=…). */
export function isConnectionString(value: string): boolean {
  return /(^|;)\s*(AccountName=|UseDevelopmentStorage=true|BlobEndpoint=)/i.test(value);
}

function connectionStringProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  return /protocol/i.test(message) ? "bad DefaultEndpointsProtocol"
    : /account ?name/i.test(message) ? "bad AccountName"
    : /account ?key/i.test(message) ? "bad AccountKey"
    : /endpoint/i.test(message) ? "bad endpoint"
    : "not understood";
}

/** Container names: 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit. */
export function checkContainerName(container: string): string {
  if (!isContainerName(container)) {
    throw new InvalidStorageError(
      `invalid container name "${container.slice(0, 80)}": use 3-63 lowercase letters, digits and single hyphens`);
  }
  return container;
}

export class BlobBackupStore implements BackupStore {
  readonly description: string;

  constructor(private readonly container: ContainerClient) {
    this.description = `blob:${redactUrl(container.url)}`;
  }

  async missingRoot(): Promise<string | undefined> {
    if (await this.container.exists({ abortSignal: deadline() })) return undefined;
    return `container "${this.container.containerName}" does not exist in ${redactUrl(this.container.url.slice(0, this.container.url.lastIndexOf("/")))}`;
  }

  async ensureReady(): Promise<void> {
    try {
      await this.container.createIfNotExists({ abortSignal: deadline() });
    } catch (err) {
      // An identity (or container SAS) may be allowed to use the container without being allowed to create it.
      if (statusOf(err) === 403 && (await this.container.exists({ abortSignal: deadline() }).catch(() => false))) return;
      throw err;
    }
  }

  /**
   * A conditional put (If-None-Match: *): the service refuses to replace an existing blob, so the check and
   * the write are one atomic step. When a retry follows a put whose answer was lost, the blob found is our
   * own; the caller's checksum comparison tells the two cases apart.
   */
  async writeOnce(path: string, data: Buffer): Promise<WriteOnceResult> {
    checkObjectPath(path);
    const blob = this.container.getBlockBlobClient(path);
    for (let attempt = 1; ; attempt++) {
      try {
        await blob.uploadData(data, {
          conditions: { ifNoneMatch: "*" },
          maxSingleShotSize: MAX_SINGLE_PUT_BYTES,
          blobHTTPHeaders: {
            blobContentType: contentTypeOf(path),
            // Stored with the blob, so anyone can check integrity later without our manifest.
            blobContentMD5: createHash("md5").update(data).digest(),
          },
          abortSignal: deadline(),
        });
        return { outcome: "created" };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      try {
        return { outcome: "exists", existing: await this.read(path) };
      } catch (err) {
        // Deleted between our put and our read (retention racing a re-run): try the put again.
        if (!(err instanceof BackupObjectNotFoundError) || attempt >= WRITE_ONCE_ATTEMPTS) throw err;
      }
    }
  }

  async read(path: string): Promise<Buffer> {
    checkObjectPath(path);
    const blob = this.container.getBlobClient(path);
    try {
      // One GET (downloadToBuffer would add a HEAD first); the SDK resumes a broken body stream.
      const response = await blob.download(0, undefined, { abortSignal: deadline(), maxRetryRequests: 5 });
      const body = response.readableStreamBody;
      if (!body) throw new Error(`no body in the download of ${path}`);
      const data = await readAll(body);
      if (response.contentLength !== undefined && data.length !== response.contentLength) {
        throw new Error(`short read of ${path}: ${data.length} of ${response.contentLength} bytes`);
      }
      return data;
    } catch (err) {
      if (statusOf(err) === 404) throw new BackupObjectNotFoundError(path, { cause: err });
      throw err;
    }
  }

  async exists(path: string): Promise<boolean> {
    checkObjectPath(path);
    return this.container.getBlobClient(path).exists({ abortSignal: deadline() });
  }

  async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    checkPrefix(prefix);
    for await (const page of this.flatPages(prefix)) {
      for (const item of page) yield item;
    }
  }

  async listFolders(prefix: string): Promise<string[]> {
    checkFolderPrefix(prefix);
    const folders: string[] = [];
    let continuationToken: string | undefined;
    do {
      // A fresh iterator per page, so each page gets its own deadline.
      const iterator = this.container
        .listBlobsByHierarchy("/", { prefix: prefix || undefined, abortSignal: deadline() })
        .byPage({ continuationToken, maxPageSize: BLOB_STORE_RESILIENCE.listPageSize });
      const next = await nextPageOrEmpty(iterator);
      if (next.done || !next.value) break;
      for (const item of next.value.segment.blobPrefixes ?? []) {
        const name = item.name.slice(prefix.length).replace(/\/$/, "");
        if (name) folders.push(name);
      }
      continuationToken = next.value.continuationToken || undefined;
    } while (continuationToken);
    return folders.sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix);
    if (prefix === "") throw new Error("refusing to delete with an empty prefix (that would empty the whole store)");
    let deleted = 0;
    for await (const page of this.flatPages(prefix)) {
      const results = await mapWithConcurrency(page, BLOB_STORE_RESILIENCE.deleteConcurrency, async (item) => {
        const response = await this.container
          .getBlobClient(item.path)
          .deleteIfExists({ deleteSnapshots: "include", abortSignal: deadline() });
        return response.succeeded;
      });
      deleted += results.filter(Boolean).length;
    }
    return deleted;
  }

  private async *flatPages(prefix: string): AsyncGenerator<StoredObjectInfo[]> {
    let continuationToken: string | undefined;
    do {
      const iterator = this.container
        .listBlobsFlat({ prefix: prefix || undefined, abortSignal: deadline() })
        .byPage({ continuationToken, maxPageSize: BLOB_STORE_RESILIENCE.listPageSize });
      const next = await nextPageOrEmpty(iterator);
      if (next.done || !next.value) return;
      yield next.value.segment.blobItems.map((item) => ({
        path: item.name,
        size: item.properties.contentLength ?? 0,
        lastModified: item.properties.lastModified,
      }));
      continuationToken = next.value.continuationToken || undefined;
    } while (continuationToken);
  }
}

/**
 * The next page of a listing, or an empty end when the container does not exist (yet): before the first
 * backup creates it, a container holds no sets, so listing, the catalog and retention see an empty store.
 */
async function nextPageOrEmpty<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T | undefined>> {
  try {
    return await iterator.next();
  } catch (err) {
    if (statusOf(err) === 404 && (err as { code?: unknown }).code === "ContainerNotFound") return { done: true, value: undefined };
    throw err;
  }
}

function deadline(): AbortSignal {
  return AbortSignal.timeout(BLOB_STORE_RESILIENCE.operationTimeoutMs);
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** Azure answers an If-None-Match: * put over an existing blob with 409 BlobAlreadyExists; some versions (and Azurite) with 412. */
function isAlreadyExists(err: unknown): boolean {
  const status = statusOf(err);
  const code = (err as { code?: unknown } | null)?.code;
  return status === 412 || (status === 409 && code === "BlobAlreadyExists");
}

function contentTypeOf(path: string): string {
  return path.endsWith(".json") ? "application/json" : "application/octet-stream";
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
