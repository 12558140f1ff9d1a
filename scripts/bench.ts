/**
 * `npm run bench`: how fast kvbackup backs up and restores a large vault at Key Vault's throttle limit,
 * measured end to end on this machine with the real product against the Key Vault emulator.
 * docs/performance.md has the figures, how to read them and how the defaults were chosen.
 *
 * Processes: every kvbackup job runs as users run it: `node bin/kvbackup.js … --json` as a plain child
 * process (stdout and stderr to pipes, no terminal, no IPC channel), with client-side pacing on. Its peak
 * RSS, CPU and event-loop delay come from a small preload, its history figures from its job state file.
 * The emulator runs in another child process (a fork of this script, driven over IPC: vaults, seeding,
 * knobs, stats), so the vault does not share the product's event loop, as in Azure. Backup sets go to a
 * fresh folder per run, or with --storage azurite to a fresh Azurite per run (in its own process; it slows
 * down as blobs accumulate, see the docs).
 *
 * Runs, in order:
 *   1. for each throttle (default 2,000 and 4,000 operations per 10 s, 20 ms added latency), with kvbackup's
 *      pacing budget set to it: back up N keys (default 10,000 × 2 versions), restore that set into an empty
 *      vault, back the vault up again without version details;
 *   2. the sequential loop of the SDK samples (list, then backupKey and upload one key at a time) on a
 *      smaller vault with the same settings: the baseline;
 *   3. a restore of a 6,000-key set over 6,000 names the vault already holds (no latency, the default
 *      pacing): nothing to do but list and skip, so its wall time and job state size are the figures;
 *   4. the CLI backup with no latency and no throttle at 10,000 and 50,000 keys: peak RSS of the command.
 *
 * Prints a table, checks the targets, and writes everything to bench/results/<timestamp>.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { JobTuning } from "../src/contracts";
import { DEFAULT_TUNING } from "../src/tuning";
import { CLI_BIN, parseOptions } from "./bench/options";
import { EmulatorProcess } from "./bench/emulator-process";
import { Context, RunResult } from "./bench/types";
import { cliMemoryRun, restoreOverExisting, sequentialBaseline, throttledRuns } from "./bench/parts";
import { writeRssHook } from "./bench/process-stats";
import { checkTargets, table } from "./bench/report";

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z").toLowerCase();
  const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const tuning: JobTuning = { ...DEFAULT_TUNING, ...options.tuning };
  log(`tuning: batch ${tuning.batchSize}, ${tuning.batchesInFlight} batches in flight, ${tuning.keyConcurrency} calls per batch; node ${process.version}, ${os.cpus().length} CPUs`);

  const cleanups: Array<() => Promise<void>> = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), "kvbackup-bench-"));
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
  const runs: RunResult[] = [];
  const benchStarted = performance.now();
  try {
    log(`starting the Key Vault emulator (child process); backup sets go to ${options.storage === "azurite" ? "a fresh Azurite per run" : `a fresh folder per run under ${tmp}`}`);
    const emulator = await EmulatorProcess.start();
    cleanups.push(() => emulator.stop());
    if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} not found`);
    const ctx: Context = { options, emulator, stamp, tmp, log, openStorages: new Set(), hook: writeRssHook(tmp), stateDir: path.join(tmp, "state") };
    cleanups.push(async () => {
      for (const storage of [...ctx.openStorages]) await storage.close().catch(() => undefined);
    });

    if (options.parts.has("throttled")) for (const throttle of options.throttles) runs.push(...(await throttledRuns(ctx, throttle)));
    if (options.parts.has("baseline")) runs.push(await sequentialBaseline(ctx));
    if (options.parts.has("over")) runs.push(...(await restoreOverExisting(ctx)));
    if (options.parts.has("memory")) {
      for (const keys of options.memoryKeys) for (let i = 0; i < options.memorySamples; i++) runs.push(await cliMemoryRun(ctx, keys, i));
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }

  const checks = checkTargets(runs, options);
  const document = {
    format: "kvbackup/bench@1",
    startedAt: startedAt.toISOString(),
    durationS: (performance.now() - benchStarted) / 1000,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "", memoryGb: Math.round(os.totalmem() / 2 ** 30) },
    options: { ...options, parts: [...options.parts] },
    tuning,
    runs,
    targets: checks,
  };
  mkdirSync(options.out, { recursive: true });
  const file = path.join(options.out, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(document, null, 2) + "\n");

  if (options.json) {
    process.stdout.write(JSON.stringify(document, null, 2) + "\n");
  } else {
    const out: string[] = ["", table(runs), "", "targets:"];
    for (const c of checks) out.push(`  ${c.informational ? "info   " : c.met ? "met    " : "NOT MET"}  ${c.target}: ${c.value}`);
    out.push("", `bound = vault operations counted by the emulator ÷ the throttle rate; result written to ${path.relative(process.cwd(), file)}`);
    out.push(`whole bench: ${document.durationS.toFixed(0)} s`, "");
    process.stdout.write(out.join("\n"));
  }
  const failedKeys = runs.reduce((n, r) => n + r.failures, 0);
  if (failedKeys > 0) return 1;
  return options.strict && !checks.every((c) => c.met) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
