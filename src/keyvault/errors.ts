/**
 * Key Vault failures as named errors, and the one place that decides what is worth retrying.
 * Everything above the adapters reasons about these classes, never about raw status codes.
 */

export abstract class KeyVaultOperationError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** 404: the key (or deleted key) does not exist. */
export class KeyNotFoundError extends KeyVaultOperationError {
  override readonly name = "KeyNotFoundError";
  readonly retryable = false;
}

/**
 * 409: a key of that name exists or is soft-deleted, or the name is between two states (a delete,
 * recover or purge the service accepted and has not finished).
 */
export class KeyConflictError extends KeyVaultOperationError {
  override readonly name = "KeyConflictError";
  readonly retryable = false;
  constructor(
    message: string,
    statusCode: number | undefined,
    code: string | undefined,
    /** The body's `innererror.code`, when the client kept it (the keys SDK does not). */
    readonly innerCode?: string,
  ) {
    super(message, statusCode, code);
  }

  /** The name is held by a soft-deleted key (recover or purge it first). */
  get softDeleted(): boolean {
    return /deleted/i.test(this.message) && this.inProgress === undefined;
  }

  /**
   * A delete or a recover of the name is still running: the service's answers are reported as
   * "… is currently being deleted." and "… is currently being recovered and cannot be re-created; retry
   * later." (inner code ObjectIsBeingRecovered). A purge still running gives a plain 409 (see settling.ts).
   */
  get inProgress(): "delete" | "recover" | undefined {
    if (this.innerCode === "ObjectIsBeingRecovered" || /is currently being recovered/i.test(this.message)) return "recover";
    if (/is currently being deleted/i.test(this.message)) return "delete";
    return undefined;
  }
}

/** 403 on backup of a key that backs a certificate: back up the certificate instead. */
export class CertificateBackedKeyError extends KeyVaultOperationError {
  override readonly name = "CertificateBackedKeyError";
  readonly retryable = false;
}

/** 401/403: the identity may not do this. */
export class KeyVaultAccessDeniedError extends KeyVaultOperationError {
  override readonly name = "KeyVaultAccessDeniedError";
  readonly retryable = false;
}

/** 400: the service refused the request or the backup blob (e.g. damaged, or from another geography). */
export class KeyVaultBadRequestError extends KeyVaultOperationError {
  override readonly name = "KeyVaultBadRequestError";
  readonly retryable = false;
}

/** 429 after the client's own retries ran out. */
export class KeyVaultThrottledError extends KeyVaultOperationError {
  override readonly name = "KeyVaultThrottledError";
  readonly retryable = true;
}

/** 5xx, 408, or no answer at all (connection reset, timeout). */
export class KeyVaultUnavailableError extends KeyVaultOperationError {
  override readonly name = "KeyVaultUnavailableError";
  readonly retryable = true;
}

export class KeyVaultUnexpectedError extends KeyVaultOperationError {
  override readonly name = "KeyVaultUnexpectedError";
  readonly retryable = false;
}

interface RestLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { error?: { code?: string; message?: string; innerError?: { code?: string }; innererror?: { code?: string } } };
}

const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "REQUEST_SEND_ERROR",
  "UND_ERR_SOCKET",
]);

/** Maps an error thrown by the Key Vault SDK or our REST client to a named error. */
export function toKeyVaultError(error: unknown): KeyVaultOperationError {
  if (error instanceof KeyVaultOperationError) return error;
  const e = (error ?? {}) as RestLikeError & Error;
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const code = e.details?.error?.code ?? e.code;
  const message = firstLine(e.details?.error?.message ?? e.message ?? String(error));
  if (status === undefined) {
    if ((code && TRANSIENT_NETWORK_CODES.has(code)) || e.name === "AbortError" || /socket hang up|ECONNRESET|timeout/i.test(message)) {
      return new KeyVaultUnavailableError(message, status, code);
    }
    return new KeyVaultUnexpectedError(message, status, code);
  }
  if (status === 404) return new KeyNotFoundError(message, status, code);
  if (status === 409) return new KeyConflictError(message, status, code, e.details?.error?.innerError?.code ?? e.details?.error?.innererror?.code);
  if (status === 403 && /associated with a certificate/i.test(message)) return new CertificateBackedKeyError(message, status, code);
  if (status === 401 || status === 403) return new KeyVaultAccessDeniedError(message, status, code);
  if (status === 429) return new KeyVaultThrottledError(message, status, code);
  if (status === 408 || status >= 500) return new KeyVaultUnavailableError(message, status, code);
  if (status === 400) return new KeyVaultBadRequestError(message, status, code);
  return new KeyVaultUnexpectedError(message, status, code);
}

export function isRetryable(error: unknown): boolean {
  return toKeyVaultError(error).retryable;
}

/** A one-line reason for reports: `<code or status>: <message>`. */
export function describeFailure(error: unknown): string {
  const kv = toKeyVaultError(error);
  const tag = kv.code ?? (kv.statusCode !== undefined ? String(kv.statusCode) : kv.name);
  return `${tag}: ${kv.message}`.slice(0, 500);
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.trim();
}
