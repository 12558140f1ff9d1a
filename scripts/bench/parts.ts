/** The parts of the bench: throttled backups and restores, the restore over existing names, the SDK samples' loop, the CLI's memory. */
import { performance } from "node:perf_hooks";
import type { KnobsPatch } from "../../src/emulator/types";
import { directKeyClient } from "../../src/composition";
import { pacingBudget } from "../../src/keyvault/clients";
import { DEFAULT_MAX_OPERATIONS_PER_10S, DEFAULT_TUNING } from "../../src/tuning";
import { Context, RunResult } from "./types";
import { openRunStorage } from "./storage";
import { backupCounts, cliRunFigures, measureCliJob, restoreCounts, runCli } from "./cli-job";
import { otherChildrenCpuMs, readPeakRssKb, resetPeakRss, startRssSampler, sumOps } from "./process-stats";

export async function throttledRuns(ctx: Context, throttle: number): Promise<RunResult[]> {
  const { options, emulator } = ctx;
  const knobs: KnobsPatch = { latencyMs: options.latencyMs, throttle };
  const sourceName = `src-${throttle}`;
  const source = await emulator.addVault(sourceName, knobs, options.keys, options.versions);
  const maxOps = options.maxOpsPer10s ?? throttle;
  const storage = await openRunStorage(ctx, `throttled-${throttle}`);
  const results: RunResult[] = [];
  const job = (name: string, kind: "backup" | "restore", vaultName: string, args: string[], count: (out: unknown) => { succeeded: number; failed: number }) =>
    measureCliJob(ctx, { name, kind, vaultName, throttle, latencyMs: options.latencyMs, keys: options.keys, maxOps, storage, args, count });
  try {
    ctx.log(`backup of ${options.keys} keys × ${options.versions} versions at ${throttle}/10s (${options.latencyMs} ms latency)`);
    const backup = await job(`backup ${options.keys} @${throttle}/10s`, "backup", sourceName, ["backup", "--vault", source.url], backupCounts);
    backup.result.versionDetails = true;
    results.push(backup.result);
    const backupSetId = (backup.output as { backupSetId?: string } | undefined)?.backupSetId;
    if (!backupSetId) throw new Error(`the backup at ${throttle}/10s did not complete`);

    const targetName = `dst-${throttle}`;
    const target = await emulator.addVault(targetName, knobs);
    ctx.log(`restore of that set into an empty vault at ${throttle}/10s`);
    const restore = await job(`restore ${options.keys} @${throttle}/10s`, "restore", targetName, ["restore", "--backup-set", backupSetId, "--vault", target.url], restoreCounts);
    const restored = await emulator.keyCount(targetName);
    if (restored !== options.keys) {
      ctx.log(`restore check: ${restored} keys in the target vault, expected ${options.keys}`);
      restore.result.failures = Math.max(restore.result.failures, options.keys - restored);
    }
    results.push(restore.result);

    // The same vault again, with one vault operation per key: what the vault's limit allows without the
    // version listing (the set is not used further).
    ctx.log(`backup of the same vault without version details at ${throttle}/10s`);
    const lean = await job(`backup ${options.keys} @${throttle}/10s, no version details`, "backup", sourceName, ["backup", "--vault", source.url, "--no-version-details"], backupCounts);
    lean.result.versionDetails = false;
    results.push(lean.result);
  } finally {
    await storage.close();
  }
  return results;
}

/**
 * A restore of a set over a vault that holds every one of its names: the plan lists the vault, finds
 * them all taken, and the job reports each one skipped. Nothing is restored, so the figures are the
 * job's own overhead: its wall time and the size of its state (history carries counts, not names).
 */
export async function restoreOverExisting(ctx: Context): Promise<RunResult[]> {
  const { options, emulator } = ctx;
  const keys = options.overKeys;
  const vaultName = "over";
  const vault = await emulator.addVault(vaultName, { latencyMs: 0, throttle: DEFAULT_MAX_OPERATIONS_PER_10S }, keys, 1);
  const storage = await openRunStorage(ctx, "over");
  try {
    // The set to restore: one vault operation per key is all it takes (not measured).
    ctx.log(`restore over existing names: backing up ${keys} keys (no version details) to have a set`);
    const setup = await runCli(ctx, ["backup", "--vault", vault.url, "--no-version-details"], storage);
    const backupSetId = (setup.output as { backupSetId?: string } | undefined)?.backupSetId;
    if (setup.code !== 0 || !backupSetId) throw new Error(`the backup for the restore over existing names failed: ${setup.stderr.split("\n").slice(-3).join(" | ")}`);
    ctx.log(`restore of those ${keys} keys over the ${keys} names the vault holds (no latency, default pacing)`);
    const over = await measureCliJob(ctx, {
      name: `restore ${keys} over ${keys} existing names`,
      kind: "restore-over",
      vaultName,
      throttle: DEFAULT_MAX_OPERATIONS_PER_10S,
      latencyMs: 0,
      keys,
      maxOps: DEFAULT_MAX_OPERATIONS_PER_10S,
      storage,
      args: ["restore", "--backup-set", backupSetId],
      count: (out) => {
        const s = out as { keys: { succeeded: number; failed: number; skipped: number } };
        // Here every key is to be skipped: one that is not counts as a failure of the run.
        return { succeeded: s.keys.skipped, failed: s.keys.failed + s.keys.succeeded };
      },
    });
    over.result.versions = 1;
    return [over.result];
  } finally {
    await storage.close();
  }
}

export async function sequentialBaseline(ctx: Context): Promise<RunResult> {
  const { options, emulator } = ctx;
  const throttle = options.throttles[0] ?? 0;
  const name = "baseline";
  const vault = await emulator.addVault(name, { latencyMs: options.latencyMs, throttle }, options.baselineKeys, options.versions);
  const client = directKeyClient(vault.url, { emulatorCaCert: emulator.caCert });
  const storage = await openRunStorage(ctx, "baseline");
  ctx.log(`sequential per-key loop on ${options.baselineKeys} keys at ${throttle}/10s (${options.latencyMs} ms latency)`);
  await emulator.resetStats(name);
  resetPeakRss();
  const rss = startRssSampler(() => process.memoryUsage.rss());
  const cpuBefore = process.cpuUsage();
  const emulatorCpuBefore = await emulator.cpu();
  const storageCpuBefore = otherChildrenCpuMs(emulator.pid);
  const started = performance.now();
  let succeeded = 0, failed = 0;
  for await (const key of client.listPropertiesOfKeys()) {
    try {
      const backup = await client.backupKey(key.name);
      if (!backup) throw new Error("empty backup");
      await storage.put(key.name, Buffer.from(backup));
      succeeded++;
    } catch {
      failed++;
    }
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const storageCpuMs = otherChildrenCpuMs(emulator.pid) - storageCpuBefore;
  const emulatorCpu = await emulator.cpu();
  const stats = await emulator.stats(name);
  await storage.close();
  const vaultOps = sumOps(stats);
  const boundMs = throttle > 0 ? (vaultOps / throttle) * 10_000 : null;
  return {
    name: `sequential ${options.baselineKeys} @${throttle}/10s`,
    kind: "sequential",
    keys: options.baselineKeys,
    versions: options.versions,
    latencyMs: options.latencyMs,
    throttle,
    maxOpsPer10s: null,
    pacedOpsPer10s: null,
    tuning: null,
    wallMs,
    keysPerSecond: succeeded / (wallMs / 1000),
    vaultOps,
    vaultOpsByOperation: { ...stats.operations },
    boundMs,
    wallOverBound: boundMs ? wallMs / boundMs : null,
    throttled429: stats.throttled429,
    retries: null,
    failures: failed,
    keysSucceeded: succeeded,
    peakRssMb: Math.max(rss.stop(), readPeakRssKb(process.pid) ?? 0) / 1024,
    history: null,
    cpu: {
      processShare: (cpu.user + cpu.system) / 1000 / wallMs,
      emulatorShare: (emulatorCpu.user - emulatorCpuBefore.user + emulatorCpu.system - emulatorCpuBefore.system) / 1000 / wallMs,
      storageShare: storageCpuMs / wallMs,
    },
    eventLoopDelayMs: null,
    pacingWaitMsPerCall: null,
    clientThrottled: null,
  };
}

/** `kvbackup backup` in a child process, no latency and no throttle: the command's own peak RSS. */
/** `kvbackup backup` with no latency and no throttle: the command's own peak RSS (pacing on, see --memory-max-ops-per-10s). */
export async function cliMemoryRun(ctx: Context, keys: number, sample: number): Promise<RunResult> {
  const { options, emulator } = ctx;
  const name = `mem-${keys}-${sample}`;
  const vault = await emulator.addVault(name, { latencyMs: 0, throttle: 0 }, keys, options.versions);
  const storage = await openRunStorage(ctx, `memory-${keys}`);
  await emulator.resetStats(name);
  ctx.log(`CLI backup of ${keys} keys × ${options.versions} versions, no latency, no throttle, pacing at ${options.memoryMaxOpsPer10s}/10s`);
  const emulatorCpuBefore = await emulator.cpu();
  const storageCpuBefore = otherChildrenCpuMs(emulator.pid);
  const run = await runCli(ctx, ["backup", "--vault", vault.url], storage, ["--max-ops-per-10s", String(options.memoryMaxOpsPer10s)]);
  const storageCpuMs = otherChildrenCpuMs(emulator.pid) - storageCpuBefore;
  const emulatorCpu = await emulator.cpu();
  await storage.close();
  const summary = run.output as { keys?: { succeeded: number; failed: number } } | undefined;
  if (!summary?.keys) throw new Error(`kvbackup backup exited ${run.code} without a JSON summary: ${run.stderr.split("\n").filter(Boolean).slice(-5).join(" | ")}`);
  const stats = await emulator.stats(name);
  const succeeded = summary.keys.succeeded;
  return {
    name: `CLI backup ${keys} (no throttle)${options.memorySamples > 1 ? ` #${sample + 1}` : ""}`,
    kind: "cli-backup",
    keys,
    versions: options.versions,
    latencyMs: 0,
    throttle: 0,
    maxOpsPer10s: options.memoryMaxOpsPer10s,
    pacedOpsPer10s: pacingBudget(options.memoryMaxOpsPer10s),
    tuning: { ...DEFAULT_TUNING, ...options.tuning },
    wallMs: run.wallMs,
    keysPerSecond: succeeded / (run.wallMs / 1000),
    vaultOps: sumOps(stats),
    vaultOpsByOperation: { ...stats.operations },
    boundMs: null,
    wallOverBound: null,
    throttled429: stats.throttled429,
    retries: null,
    failures: summary.keys.failed + (run.code === 0 ? 0 : keys - succeeded - summary.keys.failed),
    keysSucceeded: succeeded,
    ...cliRunFigures(run, emulatorCpuBefore, emulatorCpu, storageCpuMs),
  };
}

/** A tiny preload for the CLI child: at exit, print its peak RSS (VmHWM), CPU time, kept heap and event-loop delay on stderr. */
