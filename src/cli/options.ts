import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError, Option } from "commander";
import { UsageError } from "../error-responses";
import { isContainerName } from "../names";
import type { ObjectKind } from "../contracts";
import { endpointProblem, globSchema, jobIdSchema, kindsProblem, parseKinds, wholeNumberProblem, type EndpointKind } from "../validation";

/**
 * The checks of what a user gives on the command line, shared by every command: each refusal is one
 * line naming the flag (exit code 2), before anything is started.
 */

/** Where job histories are kept unless --state-dir says otherwise (every job command). */
export const DEFAULT_STATE_DIR = join(homedir(), ".kvbackup", "jobs");

/** --state-dir of every job command. */
export function stateDirOption(): Option {
  return new Option("--state-dir <dir>", "job histories are kept here, so an interrupted job can be resumed with --job-id")
    .env("KVBACKUP_STATE_DIR")
    .default(DEFAULT_STATE_DIR, "~/.kvbackup/jobs");
}

export function emulatorCaOption(): Option {
  return new Option("--emulator-ca <file>", "trust this certificate and use a local test token (for the kvbackup emulator)");
}

export function jsonOption(): Option {
  return new Option("--json", "print one JSON document on stdout");
}

/** A commander parser for a flag that takes a whole number from min to max. */
export function wholeNumberOption(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    if (wholeNumberProblem(value, min, max) !== undefined) throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
    return Number(value);
  };
}

/** For repeatable flags. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The PEM of --emulator-ca, read and checked. */
export function readEmulatorCa(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`--emulator-ca: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--emulator-ca: ${path} is not a PEM certificate`);
  return pem;
}

/** A vault or HSM URL; loopback only with the emulator. */
export function checkEndpoint(flag: string, value: string, kind: EndpointKind, allowLoopback: boolean): void {
  const problem = endpointProblem(value, kind, { allowLoopback });
  if (problem) throw new UsageError(`${flag}: "${value.slice(0, 100)}" ${problem}`);
}

export function checkGlobs(globs: readonly string[], flag: string): void {
  for (const glob of globs) {
    const parsed = globSchema.safeParse(glob);
    if (!parsed.success) throw new UsageError(`${flag}: "${glob.slice(0, 100)}" ${parsed.error.issues[0]!.message}`);
  }
}

/** --kinds: a comma-separated list of kinds; undefined when not given. */
export function checkKinds(value: string | undefined): ObjectKind[] | undefined {
  if (value === undefined) return undefined;
  const parsed = parseKinds(value.split(",").filter((name) => name.trim() !== ""));
  if ("problem" in parsed) throw new UsageError(`--kinds: ${parsed.problem}`);
  return parsed.kinds;
}

/** --kinds of a backup, against what its vault can hold. */
export function checkBackupKinds(vaultUrl: string, kinds: readonly ObjectKind[] | undefined): void {
  const problem = kinds && kindsProblem(vaultUrl, kinds);
  if (problem) throw new UsageError(`--kinds: ${problem}`);
}

export function checkJobId(jobId: string | undefined): string | undefined {
  if (jobId === undefined) return undefined;
  const parsed = jobIdSchema.safeParse(jobId);
  if (!parsed.success) throw new UsageError(`--job-id: ${parsed.error.issues[0]!.message}`);
  return jobId;
}

/** --storage and --container of the commands that read or write backup sets. */
export function checkStore(storage: string | undefined, container: string): string {
  if (!storage) throw new UsageError("--storage is required (or set KVBACKUP_STORAGE): a connection string, a blob account URL or a folder");
  if (!isContainerName(container)) {
    throw new UsageError(`--container: "${container}" is not a valid container name (3-63 lowercase letters, digits and single hyphens)`);
  }
  return storage;
}
