import { isRetryableStatus, isTransientNetworkFailure } from "../retryability";

/**
 * Key Vault failures as named errors, by the one rule of src/retryability.ts of what is worth retrying.
 * Everything above the adapters reasons about these classes, never about raw status codes. Each keeps
 * the error it was made from as its `cause`.
 */

export abstract class KeyVaultOperationError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** 404: the key, secret or certificate (or the deleted one) does not exist. */
export class ObjectNotFoundError extends KeyVaultOperationError {
  override readonly name = "ObjectNotFoundError";
  readonly retryable = false;
}

/**
 * 409: an object of that name exists or is soft-deleted, or the name is between two states (a delete,
 * recover or purge the service accepted and has not finished).
 */
export class ObjectConflictError extends KeyVaultOperationError {
  override readonly name = "ObjectConflictError";
  readonly retryable = false;
  constructor(
    message: string,
    statusCode: number | undefined,
    code: string | undefined,
    options?: ErrorOptions,
    /** The body's `innererror.code`, when the client kept it (the keys SDK does not). */
    readonly innerCode?: string,
  ) {
    super(message, statusCode, code, options);
  }

  /** The name is held by a soft-deleted object (recover or purge it first). */
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

/** 403 on backup of a key or secret that backs a certificate: its certificate's backup holds it. */
export class CertificateManagedError extends KeyVaultOperationError {
  override readonly name = "CertificateManagedError";
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

/** Any other answer (final), or a failure without an answer of no known kind (tried again: it may not recur). */
export class KeyVaultUnexpectedError extends KeyVaultOperationError {
  override readonly name = "KeyVaultUnexpectedError";
  get retryable(): boolean {
    return this.statusCode === undefined || isRetryableStatus(this.statusCode);
  }
}

interface RestLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { error?: { code?: string; message?: string; innerError?: { code?: string }; innererror?: { code?: string } } };
}

/** Maps an error thrown by the Key Vault SDK or our REST client to a named error. */
export function toKeyVaultError(error: unknown): KeyVaultOperationError {
  if (error instanceof KeyVaultOperationError) return error;
  const e = (error ?? {}) as RestLikeError & Error;
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const code = e.details?.error?.code ?? e.code;
  const message = firstLine(e.details?.error?.message ?? e.message ?? String(error));
  const cause = { cause: error };
  if (status === undefined) {
    if (isTransientNetworkFailure({ code: e.code, name: e.name, message })) return new KeyVaultUnavailableError(message, status, code, cause);
    return new KeyVaultUnexpectedError(message, status, code, cause);
  }
  if (status === 404) return new ObjectNotFoundError(message, status, code, cause);
  if (status === 409) return new ObjectConflictError(message, status, code, cause, e.details?.error?.innerError?.code ?? e.details?.error?.innererror?.code);
  if (status === 403 && /associated with a certificate/i.test(message)) return new CertificateManagedError(message, status, code, cause);
  if (status === 401 || status === 403) return new KeyVaultAccessDeniedError(message, status, code, cause);
  if (status === 429) return new KeyVaultThrottledError(message, status, code, cause);
  if (isRetryableStatus(status)) return new KeyVaultUnavailableError(message, status, code, cause);
  if (status === 400) return new KeyVaultBadRequestError(message, status, code, cause);
  return new KeyVaultUnexpectedError(message, status, code, cause);
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
