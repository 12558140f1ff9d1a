import { Command, Option } from "commander";
import type { HsmJobSummary, HsmProgress } from "../contracts";
import { createServices, type Services } from "../composition";
import { hsmBackupInput, hsmRestoreInput } from "../jobs/inputs";
import type { LocalDurableHost } from "../local/durable-host";
import { LocalRuntime, newJobId, type JobHandle } from "../local/runtime";
import { HSM_SAS_MODES, HsmStorageAccessError, parseContainerUrl, splitFolderUrl, type HsmSasMode } from "../storage/hsm-storage-access";
import { isKeyName } from "../names";
import { redactUrl } from "../util/redact-url";
import { DEFAULT_HSM_POLLING } from "../tuning";
import { ExitCode, UsageError } from "../error-responses";
import type { JobGuard } from "./exit-guard";
import type { Io } from "./main";
import { DEFAULT_STATE_DIR, checkEndpoint, emulatorCaOption, jsonOption, stateDirOption, checkJobId, readEmulatorCa, wholeNumberOption } from "./options";
import { runJob } from "./run-job";

/**
 * `kvbackup hsm-backup` and `kvbackup hsm-restore`: run the Managed HSM orchestrations in this process (the
 * same orchestrators and activities as the Functions app) and wait for the service's job to end.
 */
export interface HsmCommandHelpers {
  readonly io: Io;
  setExit(code: number): void;
  /** The command line, for the command that resumes a job. */
  readonly argv: readonly string[];
  readonly guard?: JobGuard;
}

interface HsmSharedOptions {
  hsm: string;
  emulatorCa?: string;
  json?: boolean;
  storage?: string;
  sasMode: HsmSasMode;
  stateDir?: string;
  jobId?: string;
  pollIntervalMs: number;
  timeoutMinutes: number;
}


export function registerHsmCommands(program: Command, helpers: HsmCommandHelpers): void {
  const { io, setExit, argv, guard } = helpers;

  const withShared = (cmd: Command) =>
    cmd
      .requiredOption("--hsm <url>", "Managed HSM URL, e.g. https://myhsm.managedhsm.azure.net")
      .addOption(emulatorCaOption())
      .addOption(jsonOption())
      .addOption(
        new Option("--sas-mode <mode>", "how the HSM reaches storage: its managed identity, or a SAS minted for this job")
          .choices([...HSM_SAS_MODES])
          .default("managedIdentity")
          .env("KVBACKUP_HSM_SAS_MODE"),
      )
      .addOption(new Option("--storage <connection-string>", "with --sas-mode accountSas: the connection string whose account key signs the SAS").env("KVBACKUP_STORAGE"))
      // The same default as the other commands: an interrupted wait can always be resumed with --job-id.
      .addOption(stateDirOption())
      .option("--job-id <id>", "job id; re-run with the same id and --state-dir to resume waiting for an interrupted job")
      .option("--poll-interval-ms <ms>", "first wait between status checks (it grows up to a minute)", wholeNumberOption("--poll-interval-ms", 100, 3_600_000), DEFAULT_HSM_POLLING.initialIntervalMs)
      .option("--timeout-minutes <n>", "give up waiting after this long", wholeNumberOption("--timeout-minutes", 1, 7 * 24 * 60), Math.round(DEFAULT_HSM_POLLING.timeoutMs / 60_000));

  withShared(
    program
      .command("hsm-backup")
      .description("full backup of a Managed HSM into a blob container (the HSM writes a folder mhsm-<name>-<time>)")
      .requiredOption("--container-url <url>", "blob container URL without SAS, e.g. https://myaccount.blob.core.windows.net/hsm-backups"),
  ).action(async (opts: HsmSharedOptions & { containerUrl: string }) => {
    const emulatorCa = readEmulatorCa(opts.emulatorCa);
    checkEndpoint("--hsm", opts.hsm, "hsm", emulatorCa !== undefined);
    const container = parseContainerUrl(opts.containerUrl);
    if (typeof container === "string") throw new UsageError(`--container-url: "${redactUrl(opts.containerUrl).slice(0, 100)}" ${container}`);
    checkLoopbackStorage("--container-url", container.containerUrl, emulatorCa !== undefined);
    const input = hsmBackupInput(opts.hsm, container.containerUrl, polling(opts));
    await run((runtime, jobId) => runtime.startHsmBackup(input, jobId), "hsm-backup", opts, emulatorCa);
  });

  withShared(
    program
      .command("hsm-restore")
      .description("full restore of a Managed HSM from a backup folder, or of one key with --key (selective key restore)")
      .requiredOption("--folder <url>", "backup folder URL without SAS: <container URL>/mhsm-<name>-<time>")
      .option("--key <name>", "restore only this key (every version it had in the backup)"),
  ).action(async (opts: HsmSharedOptions & { folder: string; key?: string }) => {
    const emulatorCa = readEmulatorCa(opts.emulatorCa);
    checkEndpoint("--hsm", opts.hsm, "hsm", emulatorCa !== undefined);
    const folder = splitFolderUrl(opts.folder);
    if (typeof folder === "string") throw new UsageError(`--folder: "${redactUrl(opts.folder).slice(0, 100)}" ${folder}`);
    checkLoopbackStorage("--folder", folder.container.containerUrl, emulatorCa !== undefined);
    if (opts.key !== undefined && !isKeyName(opts.key)) {
      throw new UsageError(`--key: "${opts.key.slice(0, 100)}" is not a key name (1-127 letters, digits and '-')`);
    }
    const input = hsmRestoreInput(opts.hsm, `${folder.container.containerUrl}/${folder.folderName}`, opts.key, polling(opts));
    await run((runtime, jobId) => runtime.startHsmRestore(input, jobId), opts.key ? "hsm-restore (selective)" : "hsm-restore", opts, emulatorCa);
  });

  async function run(start: (runtime: LocalRuntime, jobId: string) => Promise<JobHandle<HsmJobSummary>>, label: string, opts: HsmSharedOptions, emulatorCa: string | undefined): Promise<void> {
    const jobId = checkJobId(opts.jobId) ?? newJobId();
    const services = createServices({
      emulatorCaCert: emulatorCa,
      hsmSasMode: opts.sasMode,
      ...(opts.storage ? { hsmSasStorage: opts.storage } : {}),
    });
    checkStorageAccess(services, opts);
    const json = opts.json === true;
    await runJob({
      io, argv, setExit, jobId, json,
      ...(guard ? { guard } : {}),
      stateDir: opts.stateDir ?? DEFAULT_STATE_DIR,
      runtime: new LocalRuntime({ services, stateDir: opts.stateDir }),
      start: (runtime) => start(runtime, jobId),
      watch: (runtime) => reportProgress(runtime.host, jobId, label, json, io),
      completed: (summary) => {
        printSummary(jobId, summary, json);
        return ExitCode.ok;
      },
      failedDetails: (status) => {
        const progress = status.customStatus as HsmProgress | undefined;
        return progress?.hsmJobId ? { hsmJobId: progress.hsmJobId, hsmStatus: progress.status } : {};
      },
    });
  }

  function printSummary(jobId: string, s: HsmJobSummary, json: boolean): void {
    if (json) {
      // jobId is ours (the orchestration); the HSM's own job id is reported as hsmJobId.
      const { jobId: hsmJobId, ...rest } = s;
      io.stdout.write(JSON.stringify({ jobId, hsmJobId, ...rest }, null, 2) + "\n");
      return;
    }
    const what = s.operation === "backup" ? "full backup" : s.operation === "restore" ? "full restore" : `selective restore of ${s.keyName}`;
    io.stdout.write(
      [
        `${what} of ${s.hsmUrl}: ${s.status}`,
        ...(s.folderUrl ? [`  folder    ${s.folderUrl}`] : []),
        `  HSM job   ${s.jobId}`,
        `  started   ${s.startTime ?? "-"}`,
        `  ended     ${s.endTime ?? "-"}`,
        `  checks    ${s.polls}`,
      ].join("\n") + "\n",
    );
  }
}

/** Built before anything starts, so a missing connection string is bad input (exit 2), not a failed job. */
function checkStorageAccess(services: Services, opts: HsmSharedOptions): void {
  try {
    void services.hsmStorageAccess;
  } catch (error) {
    if (error instanceof HsmStorageAccessError) throw new UsageError(`--sas-mode ${opts.sasMode}: ${error.message} (--storage)`, { cause: error });
    throw error;
  }
}

/** One line on stderr whenever the HSM job's state changes (not with --json: stdout is for the document). */
function reportProgress(host: LocalDurableHost, jobId: string, label: string, quiet: boolean, io: Io): () => void {
  if (quiet) return () => {};
  let last = "";
  return host.onStatusChange((s) => {
    if (s.instanceId !== jobId) return;
    const p = s.customStatus as HsmProgress | undefined;
    if (!p) return;
    const line = `${label}: ${p.phase}${p.status ? ` ${p.status}` : ""}${p.statusDetails ? ` (${p.statusDetails})` : ""}, ${p.polls} status check(s)`;
    if (line !== last) {
      io.stderr.write(`${line}\n`);
      last = line;
    }
  });
}

function polling(opts: HsmSharedOptions) {
  return {
    ...DEFAULT_HSM_POLLING,
    initialIntervalMs: opts.pollIntervalMs,
    maxIntervalMs: Math.max(DEFAULT_HSM_POLLING.maxIntervalMs, opts.pollIntervalMs),
    timeoutMs: opts.timeoutMinutes * 60_000,
  };
}

/** A loopback container (Azurite) only makes sense with the local emulator. */
function checkLoopbackStorage(flag: string, containerUrl: string, emulator: boolean): void {
  const host = new URL(containerUrl).hostname.toLowerCase();
  if (!emulator && ["127.0.0.1", "localhost", "[::1]", "::1"].includes(host)) {
    throw new UsageError(`${flag}: names a loopback host: only allowed with --emulator-ca (the local emulator)`);
  }
}
