import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ContainerClient } from "@azure/storage-blob";
import { makeRandom } from "../../src/emulator/knobs";
import type { JobProgress } from "../../src/contracts";
import type { BackupStore } from "../../src/storage/backup-store";
import { mapWithConcurrency } from "../../src/util/pool";
import { stateFilePath } from "../../src/local/instance-store";

/**
 * Tools of the fault tests and of `npm run soak`: an audit of a backup set that trusts nothing the job
 * reported, the identity (etag) of every blob so an overwrite cannot go unseen, and a CLI process that
 * is killed at a chosen point of its job.
 */

// ---------------------------------------------------------------- audit of a backup set

export interface ObjectIssue {
  readonly name: string;
  readonly reason: string;
}

export interface BackupSetAudit {
  /** Where the set is: `<vault folder>/<backup set id>`. */
  readonly root: string;
  /** "complete" | "partial" from the manifest, or "missing" when there is none. */
  readonly manifestState: string;
  readonly keysExpected: number;
  readonly keysInManifest: number;
  readonly succeeded: number;
  /** Keys the manifest reports failed or skipped, each with its reason. */
  readonly failed: readonly ObjectIssue[];
  readonly skipped: readonly ObjectIssue[];
  /** Keys of the vault that are neither backed up with a good blob nor reported failed/skipped with a reason. */
  readonly lost: readonly string[];
  /** Succeeded keys whose blob is missing, or whose bytes do not match the recorded size and SHA-256. */
  readonly badBlobs: readonly string[];
  /** Objects under keys/: one per succeeded key, never more. */
  readonly blobCount: number;
  /** Objects under keys/ that no succeeded key of the manifest names. */
  readonly strayBlobs: readonly string[];
  /** Every problem found, one line each; empty when the set is sound. */
  readonly problems: readonly string[];
}

interface RawKeyResult {
  name?: unknown;
  result?: unknown;
  reason?: unknown;
  blobPath?: unknown;
  size?: unknown;
  sha256?: unknown;
}

/**
 * Reads the manifest and every blob of a set straight from the store and checks them against the keys
 * the vault holds (`expectedKeys`): each is backed up with a blob whose size and SHA-256 match, or is
 * reported failed or skipped with a reason. Nothing the job returned is used.
 */
export async function auditBackupSet(store: BackupStore, root: string, expectedKeys: readonly string[]): Promise<BackupSetAudit> {
  const problems: string[] = [];
  let manifest: { state?: unknown; keys?: unknown; objects?: unknown } | undefined;
  try {
    manifest = JSON.parse((await store.read(`${root}/manifest.json`)).toString("utf8")) as { state?: unknown; keys?: unknown; objects?: unknown };
  } catch (error) {
    problems.push(`manifest: ${(error as Error).message}`);
  }
  // Format 2 lists every kind's objects (the keys are those of kind "key"); format 1 listed keys.
  const listed = Array.isArray(manifest?.objects) ? (manifest!.objects as (RawKeyResult & { kind?: unknown })[]).filter((o) => o.kind === "key") : manifest?.keys;
  const entries = Array.isArray(listed) ? (listed as RawKeyResult[]) : [];
  const byName = new Map<string, RawKeyResult>();
  for (const entry of entries) {
    const name = String(entry.name).toLowerCase();
    if (byName.has(name)) problems.push(`${entry.name}: listed twice in the manifest`);
    byName.set(name, entry);
  }

  const blobs = new Map<string, number>();
  for await (const item of store.list(`${root}/keys/`)) blobs.set(item.path, item.size);

  const failed: ObjectIssue[] = [];
  const skipped: ObjectIssue[] = [];
  const lost: string[] = [];
  const badBlobs: string[] = [];
  const referenced = new Set<string>();
  let succeeded = 0;
  const contents = new Map<string, Buffer | Error>();
  const toRead = expectedKeys
    .map((name) => byName.get(name.toLowerCase()))
    .filter((entry): entry is RawKeyResult & { blobPath: string } => entry?.result === "succeeded" && typeof entry.blobPath === "string" && entry.blobPath.startsWith(`${root}/keys/`));
  await mapWithConcurrency(toRead, 32, async (entry) => {
    contents.set(entry.blobPath, await store.read(entry.blobPath).catch((error: Error) => error));
  });
  for (const name of expectedKeys) {
    const entry = byName.get(name.toLowerCase());
    if (!entry) {
      lost.push(name);
      problems.push(`${name}: not in the manifest`);
      continue;
    }
    if (entry.result === "failed" || entry.result === "skipped") {
      const reason = typeof entry.reason === "string" ? entry.reason : "";
      if (!reason) {
        lost.push(name);
        problems.push(`${name}: ${entry.result} without a reason`);
      } else (entry.result === "failed" ? failed : skipped).push({ name, reason });
      continue;
    }
    if (entry.result !== "succeeded" || typeof entry.blobPath !== "string") {
      lost.push(name);
      problems.push(`${name}: result ${String(entry.result)} is not succeeded, failed or skipped`);
      continue;
    }
    referenced.add(entry.blobPath);
    if (entry.blobPath !== `${root}/keys/${name}.keybackup`) {
      badBlobs.push(name);
      problems.push(`${name}: blob path ${entry.blobPath} is outside the set's layout`);
      continue;
    }
    const data = contents.get(entry.blobPath);
    if (!(data instanceof Buffer)) {
      lost.push(name);
      badBlobs.push(name);
      problems.push(`${name}: blob unreadable: ${data instanceof Error ? data.message : "not read"}`);
      continue;
    }
    if (data.length !== entry.size || createHash("sha256").update(data).digest("hex") !== entry.sha256) {
      lost.push(name);
      badBlobs.push(name);
      problems.push(`${name}: blob does not match its size and SHA-256 in the manifest`);
      continue;
    }
    succeeded++;
  }
  const expected = new Set(expectedKeys.map((n) => n.toLowerCase()));
  for (const entry of entries) {
    if (!expected.has(String(entry.name).toLowerCase())) problems.push(`${String(entry.name)}: in the manifest but not in the vault`);
  }
  const strayBlobs = [...blobs.keys()].filter((path) => !referenced.has(path)).sort();
  for (const path of strayBlobs) problems.push(`${path}: blob named by no succeeded key`);
  const manifestState = manifest ? String(manifest.state) : "missing";
  if (manifest && manifestState !== (failed.length > 0 ? "partial" : "complete")) {
    problems.push(`manifest state ${manifestState} with ${failed.length} failed key(s)`);
  }
  return {
    root,
    manifestState,
    keysExpected: expectedKeys.length,
    keysInManifest: entries.length,
    succeeded,
    failed,
    skipped,
    lost,
    badBlobs,
    blobCount: blobs.size,
    strayBlobs,
    problems,
  };
}

// ---------------------------------------------------------------- blob identities

export interface BlobIdentity {
  readonly etag: string;
  readonly lastModified: number;
  readonly size: number;
}

/**
 * The etag and time of every blob under a prefix, read with a client of our own (not the product's
 * store): a blob that is written again gets a new etag, so comparing two listings shows every overwrite.
 */
export async function blobIdentities(connectionString: string, container: string, prefix: string): Promise<Map<string, BlobIdentity>> {
  const client = new ContainerClient(connectionString, container);
  const found = new Map<string, BlobIdentity>();
  for await (const item of client.listBlobsFlat({ prefix })) {
    found.set(item.name, {
      etag: item.properties.etag ?? "",
      lastModified: item.properties.lastModified?.getTime() ?? 0,
      size: item.properties.contentLength ?? 0,
    });
  }
  return found;
}

/** Blobs of `before` that were replaced (another etag) or removed in `after`. */
export function changedBlobs(before: ReadonlyMap<string, BlobIdentity>, after: ReadonlyMap<string, BlobIdentity>): string[] {
  const changed: string[] = [];
  for (const [name, identity] of before) {
    const now = after.get(name);
    if (!now || now.etag !== identity.etag || now.lastModified !== identity.lastModified) changed.push(name);
  }
  return changed.sort();
}

// ---------------------------------------------------------------- a CLI run that can be killed

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
}

/** Runs `node <launcher> <args…>` (the compiled kvbackup command) with stdout and stderr captured. */
export function spawnCli(launcher: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [launcher, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    windowsHide: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const done = new Promise<CliResult>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, stdout, stderr: `${stderr}${error.message}\n` }));
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** The custom status (progress) of a job as its state file holds it, or undefined before the first episode. */
export function storedProgress(stateDir: string, jobId: string): JobProgress | undefined {
  try {
    const stored = JSON.parse(readFileSync(stateFilePath(stateDir, jobId), "utf8")) as { status?: { customStatus?: JobProgress } };
    return stored.status?.customStatus ?? undefined;
  } catch {
    // Not written yet (the file appears by an atomic rename, so it is never half written).
    return undefined;
  }
}

/**
 * Watches the job's state file and kills the process with SIGKILL as soon as `shouldKill` says so.
 * Resolves with the progress at the kill, or undefined when the process ended first (or timed out).
 */
export async function killWhen(
  run: CliRun,
  stateDir: string,
  jobId: string,
  shouldKill: (progress: JobProgress) => boolean,
  opts: { pollMs?: number; timeoutMs?: number } = {},
): Promise<JobProgress | undefined> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let exited = false;
  void run.done.then(() => (exited = true));
  while (!exited && Date.now() < deadline) {
    const progress = storedProgress(stateDir, jobId);
    if (progress && shouldKill(progress)) {
      run.child.kill("SIGKILL");
      await run.done;
      return progress;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 25));
  }
  if (!exited) {
    run.child.kill("SIGKILL");
    await run.done;
  }
  return undefined;
}

/** A seeded generator for kill points and fault schedules that repeat run after run. */
export function seededRandom(seed: number): () => number {
  return makeRandom(seed);
}
