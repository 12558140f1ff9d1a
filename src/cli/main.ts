import { Command, CommanderError, Option } from "commander";
import type { BackupSummary, ConflictPolicy, CountsByKind, ObjectCounts, ObjectKind, RestorePlanListing, RestoreSummary } from "../contracts";
import { createServices } from "../composition";
import { LocalRuntime, newJobId } from "../local/runtime";
import type { BackupStore } from "../storage/backup-store";
import { listBackupSets } from "../storage/catalog";
import { BackupSetReader } from "../storage/backup-set-reader";
import { BackupSetNotFoundError } from "../storage/errors";
import { ExitCode, UsageError, errorResponse } from "../error-responses";
import type { JobGuard } from "./exit-guard";
import { createProgressReporter } from "./progress";
import { DEFAULT_STATE_DIR, checkBackupKinds, checkEndpoint, checkKinds, emulatorCaOption, jsonOption, stateDirOption, checkGlobs, checkJobId, checkStore, collect, readEmulatorCa, wholeNumberOption } from "./options";
import { runJob } from "./run-job";
import { registerHsmCommands } from "./hsm-commands";
import { registerStatusCommand } from "./status-command";



interface SharedOptions {
  storage?: string;
  container: string;
  emulatorCa?: string;
  json?: boolean;
  stateDir?: string;
  batchSize?: number;
  batchesInFlight?: number;
  keyConcurrency?: number;
  maxOpsPer10s?: number;
}

/** Where the command writes; tests pass plain collectors. */
export interface Io {
  stdout: OutputStream;
  stderr: OutputStream;
}

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface MainOptions {
  /** Told when a job starts and ends (bin/kvbackup.js passes the process's exit guard). */
  readonly guard?: JobGuard;
}

/** Entry point of the `kvbackup` command; resolves to the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }, options: MainOptions = {}): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(io, (code) => (exitCode = code), argv, options.guard);
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; parse errors were already printed in one line.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    }
    const { exitCode, message } = errorResponse(error);
    io.stderr.write(`kvbackup: ${message}\n`);
    return exitCode;
  }
}

function buildProgram(io: Io, setExit: (code: number) => void, argv: string[], guard: JobGuard | undefined): Command {
  const program = new Command("kvbackup")
    .description("Back up and restore Azure Key Vault keys, secrets and certificates, and Managed HSMs (runs the Durable orchestrations in this process)")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`kvbackup: ${s.replace(/^error: /, "").trim()}\n`),
    });

  const withShared = (cmd: Command) =>
    cmd
      .addOption(new Option("--storage <target>", "backup store: a connection string, a blob account URL, or a folder (path or file: URL)").env("KVBACKUP_STORAGE"))
      .option("--container <name>", "blob container for backup sets (created if missing)", "kvbackup")
      .addOption(emulatorCaOption())
      .addOption(jsonOption())
      .addOption(stateDirOption())
      .option("--batch-size <n>", "objects per batch activity", wholeNumberOption("--batch-size", 1, 1000))
      .option("--batches-in-flight <n>", "batch activities at once", wholeNumberOption("--batches-in-flight", 1, 256))
      .option("--key-concurrency <n>", "Key Vault calls at once inside a batch", wholeNumberOption("--key-concurrency", 1, 256))
      .option("--max-ops-per-10s <n>", "pace Key Vault calls to this budget per vault (4000 for software keys, 2000 for HSM keys; 0 = no pacing)", wholeNumberOption("--max-ops-per-10s", 0, 1_000_000));

  withShared(
    program
      .command("backup")
      .description("back up every key, secret and certificate of a vault (or those of --kinds, matching --include/--exclude) into a new backup set")
      .requiredOption("--vault <url>", "vault URL, e.g. https://myvault.vault.azure.net")
      .option("--kinds <list>", "kinds to back up, comma-separated: keys, secrets, certificates (default: all three; keys for a Managed HSM)")
      .option("--include <glob>", "back up only objects whose name matches; kind:glob (key:, secret:, certificate:) matches that kind only (repeatable)", collect, [])
      .option("--exclude <glob>", "skip objects whose name matches; kind:glob for one kind (repeatable)", collect, [])
      .option(
        "--no-version-details",
        "do not list each object's versions: one vault operation per object instead of two (twice as fast at the vault's limit); the manifest then has no version count or latest version id",
      )
      .option("--job-id <id>", "job id; re-run with the same id and --state-dir to resume an interrupted job"),
  ).action(async (opts: SharedOptions & { vault: string; kinds?: string; include: string[]; exclude: string[]; versionDetails: boolean; jobId?: string }) => {
    const emulatorCa = readEmulatorCa(opts.emulatorCa);
    checkEndpoint("--vault", opts.vault, "any", emulatorCa !== undefined);
    const kinds = checkKinds(opts.kinds);
    checkBackupKinds(opts.vault, kinds);
    checkGlobs(opts.include, "--include");
    checkGlobs(opts.exclude, "--exclude");
    const jobId = checkJobId(opts.jobId) ?? newJobId();
    const store = await openStore(opts);
    await runJob({
      ...jobCommand(opts, jobId, createRuntime(opts, store, emulatorCa), "backup"),
      start: (runtime) =>
        runtime.startBackup({ vaultUrl: opts.vault, ...(kinds ? { kinds } : {}), include: opts.include, exclude: opts.exclude, versionDetails: opts.versionDetails }, jobId),
      completed: (output) => printBackup(io, opts.json === true, jobId, output),
    });
  });

  withShared(
    program
      .command("restore")
      .description("restore a backup set (every object, or those of --kinds, matching --include/--exclude) into a vault; certificates first, each with its key and secret")
      .requiredOption("--backup-set <id>", "backup set id, as printed by backup and list")
      .option("--vault <url>", "target vault (default: the vault the set was taken from)")
      .option("--kinds <list>", "kinds to restore, comma-separated: keys, secrets, certificates (default: every kind in the set)")
      .option("--include <glob>", "restore only objects whose name matches; kind:glob for one kind (repeatable)", collect, [])
      .option("--exclude <glob>", "do not restore objects whose name matches; kind:glob for one kind (repeatable)", collect, [])
      .option("--dry-run", "print the plan and change nothing")
      .addOption(new Option("--on-conflict <policy>", "when a name exists or is soft-deleted in the target").choices(["skip", "fail"]).default("skip"))
      .option("--job-id <id>", "job id; re-run with the same id and --state-dir to resume an interrupted job"),
  ).action(
    async (opts: SharedOptions & { backupSet: string; vault?: string; kinds?: string; include: string[]; exclude: string[]; dryRun?: boolean; onConflict: ConflictPolicy; jobId?: string }) => {
      const emulatorCa = readEmulatorCa(opts.emulatorCa);
      if (opts.vault !== undefined) checkEndpoint("--vault", opts.vault, "any", emulatorCa !== undefined);
      const kinds = checkKinds(opts.kinds);
      checkGlobs(opts.include, "--include");
      checkGlobs(opts.exclude, "--exclude");
      const jobId = checkJobId(opts.jobId) ?? newJobId();
      const store = await openStore(opts);
      // Resolve the set before anything starts: a wrong id is bad input, not a failed job.
      const paths = await locateBackupSet(store, opts.backupSet);
      const manifest = await new BackupSetReader(store).manifest(paths);
      if (opts.vault === undefined) checkEndpoint("the set's source vault", manifest.vaultUrl, "any", emulatorCa !== undefined);
      await runJob({
        ...jobCommand(opts, jobId, createRuntime(opts, store, emulatorCa), opts.dryRun ? "plan" : "restore"),
        start: (runtime) =>
          runtime.startRestore(
            {
              backupSetId: `${paths.vaultFolderName}/${paths.backupSetId}`,
              targetVaultUrl: opts.vault,
              ...(kinds ? { kinds } : {}),
              include: opts.include,
              exclude: opts.exclude,
              dryRun: opts.dryRun === true,
              onConflict: opts.onConflict,
            },
            jobId,
          ),
        completed: (output) => printRestore(io, opts.json === true, jobId, output),
      });
    },
  );

  withShared(
    program
      .command("list")
      .description("list the backup sets of a vault, newest first")
      .requiredOption("--vault <url>", "vault URL"),
  ).action(async (opts: SharedOptions & { vault: string }) => {
    checkEndpoint("--vault", opts.vault, "any", true);
    const store = await openStore(opts);
    const sets = await listBackupSets(store, opts.vault);
    if (opts.json) {
      io.stdout.write(JSON.stringify({ vaultUrl: opts.vault, backupSets: sets }, null, 2) + "\n");
      return;
    }
    if (sets.length === 0) {
      io.stdout.write(`no backup sets for ${opts.vault} in ${store.description}\n`);
      return;
    }
    io.stdout.write(`${"BACKUP SET".padEnd(40)} ${"STATE".padEnd(10)} ${"KEYS".padStart(7)} ${"FAILED".padStart(7)} ${"SKIPPED".padStart(7)}\n`);
    for (const s of sets) {
      io.stdout.write(
        `${s.backupSetId.padEnd(40)} ${s.state.padEnd(10)} ${String(s.keys?.total ?? "-").padStart(7)} ${String(s.keys?.failed ?? "-").padStart(7)} ${String(s.keys?.skipped ?? "-").padStart(7)}\n`,
      );
    }
  });

  program
    .command("emulator")
    .description("run the local Key Vault emulator (HTTPS, self-signed certificate) until interrupted")
    .allowUnknownOption(true)
    .helpOption(false)
    .argument("[args...]")
    .action(async () => {
      const { runEmulatorCli } = await import("../emulator/cli");
      const index = argv.indexOf("emulator", 2);
      setExit(await runEmulatorCli(index >= 0 ? argv.slice(index + 1) : []));
    });

  registerHsmCommands(program, { io, setExit, argv, ...(guard ? { guard } : {}) }); // hsm-backup, hsm-restore: src/cli/hsm-commands.ts
  registerStatusCommand(program, { io, setExit }); // status: src/cli/status-command.ts

  /** What a vault job command hands runJob besides its start and its summary. */
  function jobCommand(opts: SharedOptions, jobId: string, runtime: LocalRuntime, label: string) {
    return {
      io, argv, setExit, runtime, jobId,
      ...(guard ? { guard } : {}),
      json: opts.json === true,
      stateDir: opts.stateDir ?? DEFAULT_STATE_DIR,
      watch: watchProgress(label, opts.json === true, io),
    };
  }

  return program;
}

function createRuntime(opts: SharedOptions, store: BackupStore, emulatorCa: string | undefined): LocalRuntime {
  return new LocalRuntime({
    store,
    emulatorCaCert: emulatorCa,
    tuning: { batchSize: opts.batchSize, batchesInFlight: opts.batchesInFlight, keyConcurrency: opts.keyConcurrency },
    maxOperationsPer10s: opts.maxOpsPer10s,
    stateDir: opts.stateDir,
  });
}

async function openStore(opts: SharedOptions): Promise<BackupStore> {
  return createServices({ storage: checkStore(opts.storage, opts.container), container: opts.container }).store;
}

/** The set's folder; when the store itself is missing, the error says so (a wrong --storage or --container). */
async function locateBackupSet(store: BackupStore, ref: string) {
  try {
    return await new BackupSetReader(store).locate(ref);
  } catch (error) {
    const missing = error instanceof BackupSetNotFoundError ? await store.missingRoot() : undefined;
    if (missing) throw new UsageError(`no backup set "${ref}": ${missing}`, { cause: error });
    throw error;
  }
}

/** The progress bar (or lines) of a vault job; the returned function shows its last state and stops it. */
function watchProgress(label: string, json: boolean, io: Io) {
  return (runtime: LocalRuntime, jobId: string): (() => void) => {
    const reporter = createProgressReporter(label, io.stderr, json);
    const unsubscribe = runtime.host.onStatusChange((s: { instanceId: string }) => {
      if (s.instanceId === jobId) reporter.update(runtime.progress(jobId));
    });
    return () => {
      unsubscribe();
      reporter.update(runtime.progress(jobId));
      reporter.stop();
    };
  };
}

/** Prints a backup's summary; its exit code: 3 when some keys failed. */
function printBackup(io: Io, json: boolean, jobId: string, s: BackupSummary): number {
  if (json) {
    io.stdout.write(JSON.stringify({ jobId, ...s }, null, 2) + "\n");
    return exitCodeOf(s);
  }
  io.stdout.write(
    [
      `backup set ${s.backupSetId} (${s.state})`,
      `  vault     ${s.vaultUrl}`,
      `  keys      ${s.keys.succeeded} backed up, ${s.keys.failed} failed, ${s.keys.skipped} skipped, of ${s.keys.total}`,
      ...otherKinds(s.kinds).map(([label, c]) => `  ${label.padEnd(9)} ${c.succeeded} backed up, ${c.failed} failed, ${c.skipped} skipped, of ${c.total}`),
      `  versions  ${s.versionDetails !== false ? s.versions : "not listed (--no-version-details)"}`,
      `  bytes     ${s.bytes}`,
      ...s.failures.map((f) => `  failed    ${objectLabel(f)}: ${f.reason}`),
      ...s.skipped.map((f) => `  skipped   ${objectLabel(f)}: ${f.reason}`),
      ...more(s.objects.failed + s.objects.skipped, s.failures.length + s.skipped.length, s.reportPath),
    ].join("\n") + "\n",
  );
  return exitCodeOf(s);
}

function printRestore(io: Io, json: boolean, jobId: string, s: RestoreSummary): number {
  if (json) {
    io.stdout.write(JSON.stringify({ jobId, ...s }, null, 2) + "\n");
    return exitCodeOf(s);
  }
  const lines = [`${s.dryRun ? "restore plan" : "restore"} of ${s.backupSetId} into ${s.targetVaultUrl}`];
  const names = (count: number, list: readonly string[]) => `${count}${list.length ? `: ${list.slice(0, 20).join(", ")}${count > 20 ? ", …" : ""}` : ""}`;
  if (s.plan && s.dryRun) {
    const p = s.plan;
    lines.push(
      `  to restore        ${p.toRestoreCount}${kindBreakdown(p.kinds)}`,
      `  already present   ${names(p.alreadyPresentCount, p.alreadyPresent)}`,
      `  soft-deleted      ${names(p.softDeletedCount, p.softDeleted)}`,
      `  missing/damaged   ${p.missingOrDamagedCount}`,
      ...p.missingOrDamaged.map((k) => `    ${objectLabel(k)}: ${k.reason}`),
      `  skipped at backup ${p.skippedAtBackupCount}`,
      ...p.skippedAtBackup.map((k) => `    ${objectLabel(k)}: ${k.reason}`),
      ...(p.withCertificateCount > 0 ? [`  with certificate  ${p.withCertificateCount} (keys and secrets that come back with their certificates)`] : []),
      ...more(p.missingOrDamagedCount + p.skippedAtBackupCount, p.missingOrDamaged.length + p.skippedAtBackup.length, s.reportPath),
    );
  } else {
    lines.push(`  keys  ${s.keys.succeeded} restored, ${s.keys.skipped} skipped, ${s.keys.failed} failed, of ${s.keys.total}`);
    for (const [label, c] of otherKinds(s.kinds)) lines.push(`  ${label}  ${c.succeeded} restored, ${c.skipped} skipped, ${c.failed} failed, of ${c.total}`);
    const w = s.waitedForNames;
    if (w) lines.push(`  waited for names still settling in the target: ${w.purging} being purged, ${w.deleting} being deleted, ${w.recovering} being recovered (${(w.waitedMs / 1000).toFixed(1)} s in all)`);
    lines.push(...s.skipped.map((k) => `  skipped  ${objectLabel(k)}: ${k.reason}`), ...s.failures.map((k) => `  failed   ${objectLabel(k)}: ${k.reason}`));
    lines.push(...more(s.objects.skipped + s.objects.failed, s.skipped.length + s.failures.length, s.reportPath));
  }
  io.stdout.write(lines.join("\n") + "\n");
  return exitCodeOf(s);
}

/** 3 when any object of the job failed, whatever its kind. */
function exitCodeOf(s: { objects: ObjectCounts }): number {
  return s.objects.failed > 0 ? ExitCode.partial : ExitCode.ok;
}

/** Secrets and certificates, when the job had any (keys have their line always). */
function otherKinds(kinds: CountsByKind): [string, ObjectCounts][] {
  return (["secrets", "certificates"] as const).filter((k) => kinds[k].total > 0).map((k) => [k, kinds[k]]);
}

/** An object as an include glob names it: a key by its name, others as `<kind>:<name>`. */
function objectLabel(o: { kind: ObjectKind; name: string }): string {
  return o.kind === "key" ? o.name : `${o.kind}:${o.name}`;
}

/** `(keys 3, secrets 2, certificates 1)` when the plan holds more than keys. */
function kindBreakdown(kinds: RestorePlanListing["kinds"]): string {
  if (kinds.secrets.toRestore + kinds.certificates.toRestore === 0) return "";
  return ` (keys ${kinds.keys.toRestore}, secrets ${kinds.secrets.toRestore}, certificates ${kinds.certificates.toRestore})`;
}

/** Where the rest is, when a summary lists only the first of its keys. */
function more(total: number, listed: number, reportPath: string): string[] {
  return total > listed ? [`  … ${total - listed} more in ${reportPath}`] : [];
}
