import { DurableHostError } from "./local/durable-host";
import { JobArgumentsMismatchError } from "./local/job-arguments";
import {
  AmbiguousBackupSetError,
  BackupSetIncompleteError,
  BackupSetNotFoundError,
  DamagedBackupDocumentError,
  InvalidBackupSetIdError,
  InvalidStorageError,
} from "./storage/errors";

/**
 * What an error that ends a request means to the user who made it, in one table for both triggers: the
 * CLI's exit code and the HTTP API's status and reason. The CLI prints the error's own first line; the
 * HTTP API names the field the request got wrong and gives this reason. Anything not listed is a failure
 * of kvbackup or of a service (exit 1, HTTP 500 without details).
 */

/** Exit codes of every kvbackup command. */
export const ExitCode = {
  ok: 0,
  /** The job failed as a whole, or something unexpected happened. */
  failed: 1,
  /** Bad input: one line on stderr, nothing was started or written. */
  badInput: 2,
  /** The job finished, but some keys failed. */
  partial: 3,
} as const;

/** A user mistake on the command line: reported as one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface ErrorResponse {
  readonly exitCode: number;
  readonly httpStatus: number;
  /** The error's first line: what the CLI prints. */
  readonly message: string;
  /** What the HTTP API says of the field that named the thing (the error's message when there is nothing better). */
  readonly reason: string;
}

interface Entry<E extends Error> {
  readonly type: abstract new (...args: never[]) => E;
  readonly applies?: (error: E) => boolean;
  readonly httpStatus: number;
  readonly reason?: (error: E) => string;
}

const entry = <E extends Error>(e: Entry<E>): Entry<Error> => e as unknown as Entry<Error>;

/** Everything here is bad input: nothing was started or written. */
const BAD_INPUT: readonly Entry<Error>[] = [
  entry({ type: UsageError, httpStatus: 400 }),
  entry({ type: InvalidStorageError, httpStatus: 400 }),
  entry({ type: InvalidBackupSetIdError, httpStatus: 400, reason: () => "is not a backup set id: <UTC timestamp>-<job id>, optionally prefixed by <vault host>/" }),
  entry({ type: BackupSetNotFoundError, httpStatus: 404, reason: () => "no such backup set in the store" }),
  entry({ type: AmbiguousBackupSetError, httpStatus: 400, reason: (e) => `exists for several vaults (${e.vaultFolders.join(", ")}): name it as <vault host>/<id>` }),
  entry({ type: BackupSetIncompleteError, httpStatus: 409, reason: () => "has no manifest: its backup did not finish, so it cannot be restored" }),
  // A manifest that is truncated, altered or stored under another vault's folder: refused before any job starts.
  entry({ type: DamagedBackupDocumentError, httpStatus: 409, reason: () => "its manifest is damaged" }),
  // A job id given again with other arguments, or one whose state belongs to another kind of job or is in use.
  entry({ type: JobArgumentsMismatchError, httpStatus: 409 }),
  entry({ type: DurableHostError, applies: (e) => e.code === "StateMismatch" || e.code === "InstanceRunning", httpStatus: 409 }),
];

export function errorResponse(error: unknown): ErrorResponse {
  const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
  const known = BAD_INPUT.find((e) => error instanceof e.type && (e.applies?.(error) ?? true));
  if (!known) return { exitCode: ExitCode.failed, httpStatus: 500, message, reason: message };
  return { exitCode: ExitCode.badInput, httpStatus: known.httpStatus, message, reason: known.reason?.(error as Error) ?? message };
}
