import { FINAL_FAILURE_TAG, RETRYABLE_FAILURE_TAG } from "../src/contracts";
import { ConfigurationError } from "../src/config";
import { InvalidGlobError } from "../src/filters";
import { KeyVaultOperationError } from "../src/keyvault/errors";
import { isRetryableStatus, isTransientNetworkFailure } from "../src/retryability";
import { DamagedBackupDocumentError, InvalidBackupSetIdError } from "../src/storage/errors";
import { BackupObjectNotFoundError, InvalidObjectPathError, InvalidStorageError } from "../src/storage/errors";
import { HsmStorageAccessError } from "../src/storage/hsm-storage-access";
import { AmbiguousBackupSetError, BackupSetIncompleteError, BackupSetNotFoundError, StoredChecksumMismatchError } from "../src/storage/errors";
import { HsmBusyError, InvalidHsmRequestError } from "./hsm";

/**
 * Whether an activity that threw this is worth running again: the one decision, for every activity.
 * The orchestrators do not see error classes (a failure reaches them as text), so the verdict travels in
 * the failure's message as a tag ({@link tagActivityFailure}) that orchestrators/retry.ts reads.
 */
const FINAL_ERRORS: ReadonlyArray<abstract new (...args: never[]) => Error> = [
  // The request names something that is not there or not usable: no attempt will find it.
  BackupSetNotFoundError,
  AmbiguousBackupSetError,
  BackupSetIncompleteError,
  BackupObjectNotFoundError,
  DamagedBackupDocumentError,
  StoredChecksumMismatchError,
  // Invalid input or settings.
  InvalidBackupSetIdError,
  InvalidObjectPathError,
  InvalidStorageError,
  InvalidGlobError,
  InvalidHsmRequestError,
  HsmStorageAccessError,
  ConfigurationError,
];

export function isRetryableFailure(error: unknown): boolean {
  // A Managed HSM busy with another operation (409 to a start) frees up: waiting is the remedy.
  if (error instanceof HsmBusyError) return true;
  if (error instanceof KeyVaultOperationError) return error.retryable;
  if (FINAL_ERRORS.some((type) => error instanceof type)) return false;
  const e = (error ?? {}) as { statusCode?: unknown; code?: unknown; name?: unknown; message?: unknown };
  // Blob Storage (RestError) and anything else that carries the service's answer.
  if (typeof e.statusCode === "number") return isRetryableStatus(e.statusCode);
  if (isTransientNetworkFailure(e)) return true;
  // Of no known kind (a crash, an outage of an unexpected shape): tried again, as every failure once was.
  return true;
}

/**
 * What an activity throws in place of `error`: the same message on one line (what reaches the orchestrator
 * as the failure's reason) behind the verdict's tag, the same name, and `error` as its cause.
 */
export function tagActivityFailure(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const message =
    original.message
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .join(" ")
      .slice(0, 1000) || original.name;
  if (message.startsWith(FINAL_FAILURE_TAG) || message.startsWith(RETRYABLE_FAILURE_TAG)) return original;
  const tag = isRetryableFailure(error) ? RETRYABLE_FAILURE_TAG : FINAL_FAILURE_TAG;
  const tagged = new Error(`${tag} ${message}`, { cause: error });
  // The host records the error's name with its message (the local host and the Functions worker both do).
  Object.defineProperty(tagged, "name", { value: original.name, configurable: true, writable: true });
  return tagged;
}

/** Wraps an activity handler so that everything it throws carries the verdict. */
export function withFailureVerdict<I, O, R extends unknown[]>(handler: (input: I, ...rest: R) => Promise<O>): (input: I, ...rest: R) => Promise<O> {
  return async (input, ...rest) => {
    try {
      return await handler(input, ...rest);
    } catch (error) {
      throw tagActivityFailure(error);
    }
  };
}
