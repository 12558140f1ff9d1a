/** One kvbackup job run as users run it (a plain child process), and what is measured of it. */
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { performance } from "node:perf_hooks";
import { pacingBudget } from "../../src/keyvault/clients";
import { readStoredInstance, stateFilePath } from "../../src/local/instance-store";
import { storedProgress } from "../../test/support/reliability-kit";
import { DEFAULT_TUNING } from "../../src/tuning";
import { CLI_BIN, CLOCK_TICKS, RSS_MARKER } from "./options";
import { Context, RunResult, RunStorage } from "./types";
import { otherChildrenCpuMs, readCpuTicks, readPeakRssKb, sumOps } from "./process-stats";

export function backupCounts(out: unknown): { succeeded: number; failed: number } {
  const s = out as { keys: { succeeded: number; failed: number } };
  return { succeeded: s.keys.succeeded, failed: s.keys.failed };
}

export function restoreCounts(out: unknown): { succeeded: number; failed: number } {
  const s = out as { keys: { succeeded: number; failed: number; skipped: number } };
  return { succeeded: s.keys.succeeded, failed: s.keys.failed + s.keys.skipped };
}

/** One run of the kvbackup command as users run it, with what the preload and the job's state file say. */
export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
  output: unknown;
  wallMs: number;
  peakRssKb: number;
  cpuMs: number;
  retainedKb?: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  jobId: string;
  /** The job's state file: its size, and the host's figures for the job. */
  stateBytes: number | null;
  metrics: { historyEvents: number; episodes: number; replayMs: number; activitiesScheduled: number } | null;
}

export let cliRuns = 0;

/**
 * `node --require <preload> bin/kvbackup.js <args> --json` as a plain child process: stdout and stderr to
 * pipes, no terminal, no IPC channel. The storage connection string goes by environment, not on a command line.
 */
export async function runCli(ctx: Context, args: string[], storage: RunStorage, extra: string[] = []): Promise<CliOutcome> {
  const { options, emulator } = ctx;
  const jobId = `bench-${ctx.stamp.replace(/[^0-9a-z]/g, "")}-${++cliRuns}`;
  const full = [
    "--require",
    ctx.hook,
    CLI_BIN,
    ...args,
    "--emulator-ca",
    emulator.caCertPath,
    "--json",
    "--job-id",
    jobId,
    "--state-dir",
    ctx.stateDir,
    ...extra,
    ...(options.tuning.batchSize ? ["--batch-size", String(options.tuning.batchSize)] : []),
    ...(options.tuning.batchesInFlight ? ["--batches-in-flight", String(options.tuning.batchesInFlight)] : []),
    ...(options.tuning.keyConcurrency ? ["--key-concurrency", String(options.tuning.keyConcurrency)] : []),
  ];
  const started = performance.now();
  const child = spawn(process.execPath, full, { env: { ...process.env, KVBACKUP_STORAGE: storage.target }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const pid = child.pid!;
  let polledPeakKb = 0;
  let cpuTicks = 0;
  const poll = setInterval(() => {
    polledPeakKb = Math.max(polledPeakKb, readPeakRssKb(pid) ?? 0);
    cpuTicks = readCpuTicks(pid) ?? cpuTicks;
  }, 50);
  // With --json the command prints nothing until it ends: its progress is in its state file.
  const ticker = setInterval(() => {
    const p = storedProgress(ctx.stateDir, jobId);
    if (p) ctx.log(`  ${args[0]} ${jobId}: ${p.phase} ${p.objectsTotal - p.objectsPending}/${p.objectsTotal} objects, ${p.objectsFailed} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }, 15_000);
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c ?? 1));
  });
  clearInterval(poll);
  clearInterval(ticker);
  const wallMs = performance.now() - started;
  const markerLine = stderr.split("\n").find((l) => l.startsWith(RSS_MARKER));
  const field = (name: string) => (markerLine ? Number(new RegExp(`${name}=([0-9.]+)`).exec(markerLine)?.[1] ?? NaN) : NaN);
  let output: unknown;
  try {
    output = JSON.parse(stdout);
  } catch {
    output = undefined;
  }
  const stored = readStoredInstance(ctx.stateDir, jobId);
  let stateBytes: number | null;
  try {
    stateBytes = (await fsp.stat(stateFilePath(ctx.stateDir, jobId))).size;
  } catch {
    stateBytes = null;
  }
  const loop = Number.isFinite(field("loopP50Ms")) ? { p50: field("loopP50Ms"), p99: field("loopP99Ms"), max: field("loopMaxMs") } : null;
  return {
    code,
    stdout,
    stderr: stderr.split("\n").filter((l) => !l.startsWith(RSS_MARKER)).join("\n"),
    output,
    wallMs,
    peakRssKb: Math.max(Number.isFinite(field("peakKb")) ? field("peakKb") : 0, polledPeakKb),
    cpuMs: Number.isFinite(field("cpuMs")) ? field("cpuMs") : (cpuTicks * 1000) / CLOCK_TICKS,
    ...(Number.isFinite(field("retainedKb")) ? { retainedKb: field("retainedKb") } : {}),
    eventLoopDelayMs: loop,
    jobId,
    stateBytes,
    metrics: stored ? stored.status.metrics : null,
  };
}

export interface JobSpec {
  name: string;
  kind: "backup" | "restore" | "restore-over";
  vaultName: string;
  throttle: number;
  latencyMs: number;
  keys: number;
  maxOps: number;
  storage: RunStorage;
  args: string[];
  count: (output: unknown) => { succeeded: number; failed: number };
}

/** A timed job: the command run to its end with pacing at maxOps, and what the emulator counted meanwhile. */
export async function measureCliJob(ctx: Context, spec: JobSpec): Promise<{ result: RunResult; output: unknown }> {
  const { options, emulator } = ctx;
  await emulator.resetStats(spec.vaultName);
  const emulatorCpuBefore = await emulator.cpu();
  const storageCpuBefore = otherChildrenCpuMs(emulator.pid);
  const run = await runCli(ctx, spec.args, spec.storage, ["--max-ops-per-10s", String(spec.maxOps)]);
  const storageCpuMs = otherChildrenCpuMs(emulator.pid) - storageCpuBefore;
  const emulatorCpu = await emulator.cpu();
  const stats = await emulator.stats(spec.vaultName);
  // Exit 0 or 3 (some keys failed, counted below); anything else is a run that did not finish.
  if ((run.code !== 0 && run.code !== 3) || !run.output) {
    throw new Error(`${spec.name}: kvbackup exited ${run.code}: ${run.stderr.split("\n").filter(Boolean).slice(-3).join(" | ")}`);
  }
  const counts = spec.count(run.output);
  const vaultOps = sumOps(stats);
  const boundMs = spec.throttle > 0 ? (vaultOps / spec.throttle) * 10_000 : null;
  const result: RunResult = {
    name: spec.name,
    kind: spec.kind,
    keys: spec.keys,
    versions: options.versions,
    latencyMs: spec.latencyMs,
    throttle: spec.throttle,
    maxOpsPer10s: spec.maxOps,
    pacedOpsPer10s: pacingBudget(spec.maxOps),
    tuning: { ...DEFAULT_TUNING, ...options.tuning },
    wallMs: run.wallMs,
    keysPerSecond: counts.succeeded / (run.wallMs / 1000),
    vaultOps,
    vaultOpsByOperation: { ...stats.operations },
    boundMs,
    wallOverBound: boundMs ? run.wallMs / boundMs : null,
    throttled429: stats.throttled429,
    retries: null,
    failures: counts.failed,
    keysSucceeded: counts.succeeded,
    ...cliRunFigures(run, emulatorCpuBefore, emulatorCpu, storageCpuMs),
  };
  return { result, output: run.output };
}

/** What every CLI run reports of itself: memory, history, state size, CPU shares and event-loop delay. */
export function cliRunFigures(run: CliOutcome, emulatorCpuBefore: NodeJS.CpuUsage, emulatorCpu: NodeJS.CpuUsage, storageCpuMs: number) {
  const metrics = run.metrics;
  return {
    peakRssMb: run.peakRssKb / 1024,
    ...(run.retainedKb !== undefined ? { retainedHeapMb: run.retainedKb / 1024 } : {}),
    history: metrics
      ? { events: metrics.historyEvents, episodes: metrics.episodes, replayMs: metrics.replayMs, replayShare: metrics.replayMs / run.wallMs, activities: metrics.activitiesScheduled }
      : null,
    stateKb: run.stateBytes === null ? null : run.stateBytes / 1024,
    cpu: {
      processShare: run.cpuMs / run.wallMs,
      emulatorShare: (emulatorCpu.user - emulatorCpuBefore.user + emulatorCpu.system - emulatorCpuBefore.system) / 1000 / run.wallMs,
      storageShare: storageCpuMs / run.wallMs,
    },
    eventLoopDelayMs: run.eventLoopDelayMs,
    pacingWaitMsPerCall: null,
    clientThrottled: null,
  } satisfies Partial<RunResult>;
}
