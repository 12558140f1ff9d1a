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
