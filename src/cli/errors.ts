import { DurableHostError } from "../local/durable-host";
import { JobArgumentsMismatchError } from "../local/job-arguments";
import { DamagedBackupDocumentError, InvalidBackupSetIdError } from "../storage/backup-set";
import { InvalidStorageError } from "../storage/backup-store";
import { AmbiguousBackupSetError, BackupSetIncompleteError, BackupSetNotFoundError } from "../../activities/errors";

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

/** A user mistake: reported as one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The exit code and the one line an error that ends a command is reported with. */
export function classifyError(error: unknown): { code: number; message: string } {
  const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
  if (
    error instanceof UsageError ||
    error instanceof InvalidStorageError ||
    error instanceof InvalidBackupSetIdError ||
    error instanceof BackupSetNotFoundError ||
    error instanceof AmbiguousBackupSetError ||
    error instanceof BackupSetIncompleteError ||
    // A manifest that is truncated, altered or stored under another vault's folder: refused before any job starts.
    error instanceof DamagedBackupDocumentError ||
    error instanceof JobArgumentsMismatchError ||
    (error instanceof DurableHostError && (error.code === "StateMismatch" || error.code === "InstanceRunning"))
  ) {
    return { code: ExitCode.badInput, message };
  }
  return { code: ExitCode.failed, message };
}
