/**
 * `npm run soak`: many backup/restore cycles of kvbackup under injected faults, each checked independently
 * against the store and the vaults. Every cycle backs up a freshly seeded vault and restores the set into
 * an empty one while one kind of fault is injected: 429 storms at three times the vault's budget, 503s,
 * connections cut before or after the vault acted, 2-second stalls, Azurite stopped for 20 seconds in the
 * middle of a backup, the CLI killed with SIGKILL in the middle of a backup or a restore and resumed with
 * the same --job-id, activities whose answer is lost after they did their work, or all the network faults
 * at once.
 *
 * It ends with the figures docs/reliability.md quotes, among them `keys lost: 0` and
 * `blobs overwritten: 0`, and exits 0 only when both are 0 and every job finished.
 *
 *   npm run soak -- [--cycles 24] [--min-keys 200] [--max-keys 500] [--seed 2026] [--outage-seconds 20] [--json]
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KeyClient } from "@azure/keyvault-keys";
import {
  ActivityNames,
  OrchestratorNames,
  type BackupSummary,
  type JobProgress,
  type RestoreSummary,
  type VaultBackupInput,
  type VaultRestoreInput,
} from "../src/contracts";
import { startEmulator } from "../src/emulator";
import type { FaultKnobs, RunningEmulator } from "../src/emulator/types";
import { createServices, directKeyClient } from "../src/composition";
import { startAzurite, type RunningAzurite } from "../src/local/azurite";
import { startChaosProxy, type ChaosFaults, type ChaosProxy } from "../test/support/chaos-proxy";
import { LocalDurableHost } from "../src/local/durable-host";
import {
  auditBackupSet,
  blobIdentities,
  changedBlobs,
  killWhen,
  seededRandom,
  spawnCli,
  type BlobIdentity,
  type CliResult,
} from "../test/support/reliability-kit";
import { LocalRuntime } from "../src/local/runtime";
import { compareSnapshots, snapshotVault } from "../src/local/vault-snapshot";
import { createActivityHandlers, forLocalHost, orchestrators } from "../src/registry";
import { vaultFolder } from "../src/storage/backup-set";
import type { BackupStore } from "../src/storage/backup-store";
import { openBackupStore } from "../src/storage/open-store";
import { wholeNumberProblem } from "../src/validation";
import { DEFAULT_ACTIVITY_RETRY } from "../src/retry-policies";

const CONTAINER = "soak";
const TUNING = { batchSize: 50, batchesInFlight: 6, keyConcurrency: 16 };
/**
 * The vault budget of the storm cycles, per key of the cycle: a backup (two operations a key) needs about
 * two and a half windows of it, and the client paces itself to three times as much.
 */
const STORM_THROTTLE_PER_KEY = 0.8;
const CYCLE_KINDS = ["storm", "503s", "drops", "stalls", "azurite-outage", "kill-backup", "kill-restore", "lost-answers", "everything"] as const;
type CycleKind = (typeof CYCLE_KINDS)[number];

interface Options {
  cycles: number;
  minKeys: number;
  maxKeys: number;
  seed: number;
  outageSeconds: number;
  json: boolean;
}

interface CycleResult {
  index: number;
  kind: CycleKind;
  keys: number;
  versions: number;
  seconds: number;
  jobs: number;
  resumedJobs: number;
  backupFailed: number;
  restoreFailed: number;
  restoreSkipped: number;
  keysLost: number;
  blobsOverwritten: number;
  faults: FaultCounts;
  problems: string[];
}

interface FaultCounts {
  throttled429: number;
  unavailable503: number;
  droppedBeforeVault: number;
  droppedByProxy: number;
  stalls: number;
  azuriteOutages: number;
  azuriteOutageSeconds: number;
  cliKills: number;
  answersLost: number;
}

const NO_FAULTS = (): FaultCounts => ({
  throttled429: 0,
  unavailable503: 0,
  droppedBeforeVault: 0,
  droppedByProxy: 0,
  stalls: 0,
  azuriteOutages: 0,
  azuriteOutageSeconds: 0,
  cliKills: 0,
  answersLost: 0,
});

function parseArgs(argv: string[]): Options {
  const options: Options = { cycles: 24, minKeys: 200, maxKeys: 500, seed: 2026, outageSeconds: 20, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--json") {
      options.json = true;
      continue;
    }
    const text = argv[++i] ?? "";
    if (wholeNumberProblem(text, 0, Number.MAX_SAFE_INTEGER) !== undefined) throw new Error(`${flag} needs a whole number`);
    const value = Number(text);
    if (flag === "--cycles") options.cycles = value;
    else if (flag === "--min-keys") options.minKeys = value;
    else if (flag === "--max-keys") options.maxKeys = value;
    else if (flag === "--seed") options.seed = value;
    else if (flag === "--outage-seconds") options.outageSeconds = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (options.maxKeys < options.minKeys || options.minKeys < 1) throw new Error("--min-keys must be at least 1 and at most --max-keys");
  return options;
}

class Soak {
  private readonly random: () => number;
  private readonly cleanups: Array<() => Promise<void>> = [];
  private azurite!: RunningAzurite;
  private emulator!: RunningEmulator;
  private store!: BackupStore;
  private folder!: string;
  private stateDir!: string;
  /** Blob identities of every finished set, checked again at the end. */
  private readonly finishedSets = new Map<string, Map<string, BlobIdentity>>();
  private readonly launcher = resolve(__dirname, "..", "..", "bin", "kvbackup.js");

  constructor(private readonly options: Options) {
    this.random = seededRandom(options.seed);
  }

  async run(): Promise<{ results: CycleResult[]; finalOverwrites: string[]; seconds: number }> {
    const started = performance.now();
    if (!existsSync(this.launcher)) throw new Error(`${this.launcher} is missing: run npm run build first`);
    this.folder = mkdtempSync(join(tmpdir(), "kvbackup-soak-"));
    this.cleanups.push(async () => rmSync(this.folder, { recursive: true, force: true }));
    this.stateDir = join(this.folder, "jobs");
    // Azurite keeps its data in a folder: the outage cycles stop it and start it again.
    this.azurite = await startAzurite({ location: join(this.folder, "azurite") });
    this.cleanups.push(() => this.azurite.stop());
    this.emulator = await startEmulator({ seed: this.options.seed, throttle: 0, latencyMs: 2 });
    this.cleanups.push(() => this.emulator.stop());
    this.store = openBackupStore({ storage: this.azurite.connectionString, container: CONTAINER });
    await this.store.ensureReady();

    const results: CycleResult[] = [];
    try {
      for (let i = 0; i < this.options.cycles; i++) {
        const kind = CYCLE_KINDS[i % CYCLE_KINDS.length]!;
        const result = await this.cycle(i + 1, kind);
        results.push(result);
        this.print(result);
      }
      // Nothing written by a later cycle may have replaced a blob of an earlier one.
      const finalOverwrites: string[] = [];
      for (const [root, identities] of this.finishedSets) {
        finalOverwrites.push(...changedBlobs(identities, await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`)));
      }
      return { results, finalOverwrites, seconds: (performance.now() - started) / 1000 };
    } finally {
      for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
    }
  }

  private async cycle(index: number, kind: CycleKind): Promise<CycleResult> {
    const started = performance.now();
    const keys = this.options.minKeys + Math.floor(this.random() * (this.options.maxKeys - this.options.minKeys + 1));
    const versions = 1 + Math.floor(this.random() * 3);
    const result: CycleResult = {
      index, kind, keys, versions, seconds: 0, jobs: 0, resumedJobs: 0, backupFailed: 0, restoreFailed: 0, restoreSkipped: 0, keysLost: 0, blobsOverwritten: 0, faults: NO_FAULTS(), problems: [],
    };
    const source = await this.emulator.addVault({ name: `soak-${index}-source`, knobs: { latencyMs: 2 } });
    const target = await this.emulator.addVault({ name: `soak-${index}-target`, knobs: { latencyMs: 2 } });
    const proxies: ChaosProxy[] = [];
    const runtimes: LocalRuntime[] = [];
    try {
      await source.seedKeys({ count: keys, versions, prefix: `c${index}`, tags: { cycle: String(index) } });
      const original = await snapshotVault(this.directClient(source.url), { concurrency: 32 });

      // The faults of this cycle.
      const vaultFaults: Partial<FaultKnobs> =
        kind === "503s" ? { error503Rate: 0.05, retryAfterSeconds: 1 }
        : kind === "drops" ? { dropRate: 0.01 }
        : kind === "everything" ? { error503Rate: 0.05, dropRate: 0.01, retryAfterSeconds: 1 }
        : {};
      const chaos: Partial<ChaosFaults> | undefined =
        kind === "drops" ? { dropRate: 0.01 }
        : kind === "stalls" ? { stallRate: 0.01, stallMs: 2_000 }
        : kind === "everything" ? { dropRate: 0.01, stallRate: 0.01, stallMs: 2_000 }
        : undefined;
      const storm = kind === "storm" || kind === "everything";
      const stormThrottle = Math.max(100, Math.ceil(keys * STORM_THROTTLE_PER_KEY));
      let sourceUrl = source.url;
      let targetUrl = target.url;
      if (chaos) {
        const seed = this.options.seed * 100 + index;
        proxies.push(await startChaosProxy({ targetPort: source.port, seed, faults: chaos }));
        proxies.push(await startChaosProxy({ targetPort: target.port, seed: seed + 50, faults: chaos }));
        sourceUrl = proxies[0]!.url;
        targetUrl = proxies[1]!.url;
      }
      const faultsOn = () => {
        for (const vault of [source, target]) vault.setKnobs({ faults: vaultFaults, ...(storm ? { throttle: stormThrottle } : {}) });
      };
      const faultsOff = () => {
        for (const vault of [source, target]) vault.setKnobs({ faults: { error503Rate: 0, dropRate: 0 }, throttle: 0 });
      };
      const runtime = () => {
        const created = new LocalRuntime({ store: this.store, emulatorCaCert: this.emulator.caCert, tuning: TUNING, maxOperationsPer10s: storm ? stormThrottle * 3 : 0 });
        runtimes.push(created);
        return created;
      };

      // ------------------------------------------------------------ backup
      faultsOn();
      let summary: BackupSummary;
      const setRootOf = (id: string) => `${vaultFolder(sourceUrl)}/${id}`;
      if (kind === "kill-backup") {
        summary = await this.cliJobKilledAndResumed<BackupSummary>(result, `soak-${index}-backup`, ["backup", "--vault", sourceUrl], "backup", async (progress) => {
          const root = setRootOf(progress.backupSetId!);
          return { root, before: await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`) };
        });
      } else if (kind === "lost-answers") {
        summary = (await this.withLostAnswers(result, OrchestratorNames.vaultBackup, `soak-${index}-backup`, {
          vaultUrl: sourceUrl, include: [], exclude: [], tuning: TUNING, retry: { ...DEFAULT_ACTIVITY_RETRY, maxAttempts: 8 },
        } satisfies VaultBackupInput)) as BackupSummary;
      } else if (kind === "azurite-outage") {
        summary = await this.backupThroughOutage(result, runtime(), sourceUrl);
      } else {
        const backup = await (await runtime().startBackup({ vaultUrl: sourceUrl, include: [], exclude: [] })).result;
        result.jobs++;
        if (!backup.output) throw new Error(`backup ended ${backup.status.runtimeStatus}: ${backup.status.failureDetails?.errorMessage}`);
        summary = backup.output;
      }
      faultsOff();

      // Independent check of the set: every key backed up with a matching blob, or reported with a reason.
      const root = setRootOf(summary.backupSetId);
      const audit = await auditBackupSet(this.store, root, source.listKeyNames());
      result.backupFailed = audit.failed.length;
      result.keysLost += audit.lost.length;
      result.problems.push(...audit.problems.map((p) => `backup: ${p}`));
      if (audit.blobCount !== audit.succeeded) result.problems.push(`backup: ${audit.blobCount} blobs for ${audit.succeeded} keys`);
      const identities = await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`);
      this.finishedSets.set(root, identities);

      // ------------------------------------------------------------ restore
      faultsOn();
      const restoreRequest = { backupSetId: root, targetVaultUrl: targetUrl, include: [], exclude: [], dryRun: false, onConflict: "skip" as const };
      let restore: RestoreSummary;
      if (kind === "kill-restore") {
        restore = await this.cliJobKilledAndResumed<RestoreSummary>(result, `soak-${index}-restore`, ["restore", "--backup-set", root, "--vault", targetUrl], "restore", async () => ({ root, before: identities }));
      } else if (kind === "lost-answers") {
        restore = (await this.withLostAnswers(result, OrchestratorNames.vaultRestore, `soak-${index}-restore`, {
          ...restoreRequest, tuning: TUNING, retry: { ...DEFAULT_ACTIVITY_RETRY, maxAttempts: 8 },
        } satisfies VaultRestoreInput)) as RestoreSummary;
      } else {
        const job = await runtime().startRestore(restoreRequest);
        // In the network-fault cycles every connection to the target is also cut once, mid-restore.
        if (proxies[1]) this.cutOnceWhen(runtimes.at(-1)!, job.jobId, proxies[1], result);
        const done = await job.result;
        result.jobs++;
        if (!done.output) throw new Error(`restore ended ${done.status.runtimeStatus}: ${done.status.failureDetails?.errorMessage}`);
        restore = done.output;
      }
      faultsOff();
      result.restoreFailed = restore.keys.failed;
      result.restoreSkipped = restore.keys.skipped;

      // Independent check of the restore: every key of the set is in the target exactly as it was, or is
      // reported failed with a reason; nothing was skipped (the target was empty).
      const restored = await snapshotVault(this.directClient(target.url), { concurrency: 32 });
      const reported = new Set([...restore.failures, ...restore.skipped].map((k) => k.name));
      const failedAtBackup = new Set(audit.failed.map((k) => k.name));
      for (const [name, expected] of original) {
        if (failedAtBackup.has(name)) continue;
        const got = restored.get(name);
        if (!got) {
          if (!reported.has(name)) {
            result.keysLost++;
            result.problems.push(`restore: ${name} neither restored nor reported`);
          }
          continue;
        }
        if (compareSnapshots(new Map([[name, expected]]), new Map([[name, got]])).length > 0) {
          result.keysLost++;
          result.problems.push(`restore: ${name} differs from the original`);
        }
      }
      for (const name of restored.keys()) if (!original.has(name)) result.problems.push(`restore: unexpected key ${name}`);
      if (restore.keys.skipped > 0) result.problems.push(`restore: ${restore.keys.skipped} key(s) skipped in an empty target`);
      if (restore.keys.succeeded !== restored.size) result.problems.push(`restore: reports ${restore.keys.succeeded} restored, the vault holds ${restored.size}`);
      // The restore only reads the store.
      const afterRestore = await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`);
      const changed = changedBlobs(identities, afterRestore);
      result.blobsOverwritten += changed.length;
      result.problems.push(...changed.map((p) => `restore: ${p} changed`));
      if (afterRestore.size !== identities.size) result.problems.push(`restore: the set now holds ${afterRestore.size} objects, not ${identities.size}`);
    } catch (error) {
      result.problems.push(`cycle failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    } finally {
      for (const vault of [source, target]) {
        const stats = vault.stats();
        result.faults.throttled429 += stats.throttled429;
        result.faults.unavailable503 += stats.unavailable503;
        result.faults.droppedBeforeVault += stats.dropped;
      }
      for (const proxy of proxies) {
        result.faults.droppedByProxy += proxy.stats().dropped;
        result.faults.stalls += proxy.stats().stalled;
      }
      for (const runtime of runtimes) await runtime.close();
      for (const proxy of proxies) await proxy.stop();
      if (!this.azurite.running) await this.azurite.start().catch(() => undefined);
      result.seconds = (performance.now() - started) / 1000;
    }
    return result;
  }

  /** Runs a CLI job, kills it at a seeded point between 30 % and 70 % of its batches, runs it again with the same id. */
  private async cliJobKilledAndResumed<T>(
    result: CycleResult,
    jobId: string,
    args: string[],
    phase: JobProgress["phase"],
    atKill: (progress: JobProgress) => Promise<{ root: string; before: Map<string, BlobIdentity> }>,
  ): Promise<T> {
    const fraction = 0.3 + 0.4 * this.random();
    const full = [
      ...args, "--job-id", jobId, "--emulator-ca", this.emulator.caCertPath, "--container", CONTAINER, "--state-dir", this.stateDir,
      // Small batches, so the job has many and can be caught in the middle of them; default pacing, as users run it.
      "--json", "--batch-size", "20", "--batches-in-flight", "4",
    ];
    const env = { KVBACKUP_STORAGE: this.azurite.connectionString };
    const first = spawnCli(this.launcher, full, env);
    const progress = await killWhen(first, this.stateDir, jobId, (p) => p.phase === phase && p.batchCount > 0 && p.batchesDone >= Math.ceil(fraction * p.batchCount));
    const killed = await first.done;
    result.jobs++;
    if (progress) {
      result.faults.cliKills++;
      result.resumedJobs++;
    } else {
      result.problems.push(`${phase}: the job ended before it could be killed (${describe(killed)})`);
    }
    const watch = progress ? await atKill(progress) : undefined;
    const resumed = await spawnCli(this.launcher, full, env).done;
    if (resumed.code !== 0 && resumed.code !== 3) throw new Error(`the resumed ${phase} failed: ${describe(resumed)}`);
    if (watch) {
      const changed = changedBlobs(watch.before, await blobIdentities(this.azurite.connectionString, CONTAINER, `${watch.root}/`));
      result.blobsOverwritten += changed.length;
      result.problems.push(...changed.map((p) => `${phase}: ${p} rewritten after the resume`));
    }
    return JSON.parse(resumed.stdout) as T;
  }

  /** A backup during which Azurite is stopped for the outage, once a few batches are done, and started again. */
  private async backupThroughOutage(result: CycleResult, runtime: LocalRuntime, vaultUrl: string): Promise<BackupSummary> {
    const handle = await runtime.startBackup({ vaultUrl, include: [], exclude: [] });
    let before: { root: string; identities: Map<string, BlobIdentity> } | undefined;
    const outage = new Promise<void>((resolveOutage, reject) => {
      let begun = false;
      const stop = runtime.host.onStatusChange((s) => {
        const p = s.customStatus as JobProgress | undefined;
        if (begun || s.instanceId !== handle.jobId || p?.phase !== "backup" || p.batchesDone < 1) return;
        begun = true;
        stop();
        void (async () => {
          const root = `${vaultFolder(vaultUrl)}/${p.backupSetId}`;
          before = { root, identities: await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`) };
          await this.azurite.stop();
          result.faults.azuriteOutages++;
          const down = performance.now();
          await new Promise((r) => setTimeout(r, this.options.outageSeconds * 1000));
          await this.azurite.start();
          result.faults.azuriteOutageSeconds += (performance.now() - down) / 1000;
        })().then(resolveOutage, reject);
      });
    });
    const done = await handle.result;
    result.jobs++;
    if (result.faults.azuriteOutages > 0) await outage;
    else result.problems.push("outage: the backup ended before Azurite could be stopped");
    if (!done.output) throw new Error(`backup ended ${done.status.runtimeStatus}: ${done.status.failureDetails?.errorMessage}`);
    if (before) {
      const changed = changedBlobs(before.identities, await blobIdentities(this.azurite.connectionString, CONTAINER, `${before.root}/`));
      result.blobsOverwritten += changed.length;
      result.problems.push(...changed.map((p) => `outage: ${p} rewritten`));
    }
    return done.output;
  }

  /** The real activities, but the first answer of every other batch is lost after the batch did its work. */
  private async withLostAnswers(result: CycleResult, orchestrator: string, instanceId: string, input: unknown): Promise<unknown> {
    const real = createActivityHandlers(createServices({ emulatorCaCert: this.emulator.caCert, maxOperationsPer10s: 0, store: this.store }));
    const answered = new Set<string>();
    const losing = <I extends { batchIndex: number }, O>(name: string, fn: (input: I) => Promise<O>) => async (activityInput: I): Promise<O> => {
      const output = await fn(activityInput);
      const call = `${name}/${activityInput.batchIndex}`;
      if (activityInput.batchIndex % 2 === 0 && !answered.has(call)) {
        answered.add(call);
        result.faults.answersLost++;
        throw new Error("soak: the activity's answer was lost");
      }
      return output;
    };
    const host = new LocalDurableHost({
      orchestrators,
      activities: {
        ...forLocalHost(real),
        [ActivityNames.backupKeyBatch]: losing("backup", real[ActivityNames.backupKeyBatch]!),
        [ActivityNames.restoreKeyBatch]: losing("restore", real[ActivityNames.restoreKeyBatch]!),
      },
      clock: "virtual",
    });
    try {
      await host.startNew(orchestrator, { instanceId, input });
      const status = await host.waitForCompletion(instanceId, { timeoutMs: 600_000 });
      result.jobs++;
      if (status.runtimeStatus !== "Completed") throw new Error(`${orchestrator} ended ${status.runtimeStatus}: ${status.failureDetails?.errorMessage}`);
      return status.output;
    } finally {
      await host.close();
    }
  }

  private cutOnceWhen(runtime: LocalRuntime, jobId: string, proxy: ChaosProxy, result: CycleResult): void {
    const stop = runtime.host.onStatusChange((s) => {
      const p = s.customStatus as JobProgress | undefined;
      if (s.instanceId === jobId && p?.phase === "restore" && p.batchesDone >= 1) {
        stop();
        if (proxy.dropAll() === 0) result.problems.push("no connection to cut mid-restore");
      }
    });
  }

  private directClient(url: string): KeyClient {
    return directKeyClient(url, { emulatorCaCert: this.emulator.caCert, maxRetries: 8 });
  }

  private print(r: CycleResult): void {
    if (this.options.json) return;
    const f = r.faults;
    const injected = [
      f.throttled429 && `429×${f.throttled429}`,
      f.unavailable503 && `503×${f.unavailable503}`,
      f.droppedBeforeVault && `cut-before×${f.droppedBeforeVault}`,
      f.droppedByProxy && `proxy-cut×${f.droppedByProxy}`,
      f.stalls && `stall×${f.stalls}`,
      f.azuriteOutages && `azurite-down ${f.azuriteOutageSeconds.toFixed(0)} s`,
      f.cliKills && `SIGKILL×${f.cliKills}`,
      f.answersLost && `lost-answer×${f.answersLost}`,
    ].filter(Boolean).join(" ");
    process.stdout.write(
      `cycle ${String(r.index).padStart(2)} ${r.kind.padEnd(14)} ${String(r.keys).padStart(3)} keys × ${r.versions}  ` +
        `${r.seconds.toFixed(1).padStart(5)} s  failed ${r.backupFailed}/${r.restoreFailed}  lost ${r.keysLost}  overwritten ${r.blobsOverwritten}  ${injected}\n`,
    );
    for (const p of r.problems.slice(0, 10)) process.stdout.write(`    ! ${p}\n`);
  }
}

function describe(result: CliResult): string {
  return `exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim().split("\n").slice(-2).join(" | ").slice(0, 300)}`;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const { results, finalOverwrites, seconds } = await new Soak(options).run();
  const sum = (pick: (r: CycleResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  const faults = NO_FAULTS();
  for (const r of results) for (const k of Object.keys(faults) as Array<keyof FaultCounts>) faults[k] += r.faults[k];
  const totals = {
    cycles: results.length,
    jobs: sum((r) => r.jobs),
    jobsResumedAfterSigkill: sum((r) => r.resumedJobs),
    keys: sum((r) => r.keys),
    versions: sum((r) => r.keys * r.versions),
    faults: { ...faults, azuriteOutageSeconds: Math.round(faults.azuriteOutageSeconds) },
    failuresReported: { backup: sum((r) => r.backupFailed), restore: sum((r) => r.restoreFailed) },
    restoreSkipped: sum((r) => r.restoreSkipped),
    keysLost: sum((r) => r.keysLost),
    blobsOverwritten: sum((r) => r.blobsOverwritten) + finalOverwrites.length,
    cyclesWithProblems: results.filter((r) => r.problems.length > 0).length,
    seconds: Math.round(seconds),
  };
  if (options.json) {
    process.stdout.write(JSON.stringify({ options, totals, cycles: results }, null, 2) + "\n");
  } else {
    process.stdout.write(
      [
        "",
        `soak: ${totals.cycles} cycles, ${totals.jobs} jobs (${totals.jobsResumedAfterSigkill} resumed after SIGKILL), ${totals.keys} keys, ${totals.versions} versions, ${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`,
        `faults injected: 429 ×${faults.throttled429}, 503 ×${faults.unavailable503}, connections cut before the vault acted ×${faults.droppedBeforeVault}, ` +
          `connections cut by the proxy, answers in flight lost ×${faults.droppedByProxy}, 2 s stalls ×${faults.stalls}, Azurite down ${faults.azuriteOutages} × ${options.outageSeconds} s, ` +
          `CLI SIGKILL ×${faults.cliKills}, activity answers lost ×${faults.answersLost}`,
        `failures reported: ${totals.failuresReported.backup + totals.failuresReported.restore} (backup ${totals.failuresReported.backup}, restore ${totals.failuresReported.restore}); skipped in restores: ${totals.restoreSkipped}`,
        `cycles with problems: ${totals.cyclesWithProblems}`,
        `keys lost: ${totals.keysLost}`,
        `blobs overwritten: ${totals.blobsOverwritten}`,
        "",
      ].join("\n"),
    );
    for (const p of finalOverwrites.slice(0, 20)) process.stdout.write(`  ! rewritten after its cycle: ${p}\n`);
  }
  return totals.keysLost === 0 && totals.blobsOverwritten === 0 && totals.cyclesWithProblems === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
