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
  OrchestratorNames,
  type BackupSummary,
  type RestoreSummary,
  type VaultBackupInput,
  type VaultRestoreInput,
} from "../src/contracts";
import { startEmulator } from "../src/emulator";
import type { FaultKnobs, RunningEmulator } from "../src/emulator/types";
import { directKeyClient } from "../src/composition";
import { startAzurite, type RunningAzurite } from "../src/local/azurite";
import { startChaosProxy, type ChaosFaults, type ChaosProxy } from "../test/support/chaos-proxy";
import {
  auditBackupSet,
  blobIdentities,
  changedBlobs,
  seededRandom,
  type BlobIdentity,
} from "../test/support/reliability-kit";
import { LocalRuntime } from "../src/local/runtime";
import { compareSnapshots, snapshotVault } from "../src/local/vault-snapshot";
import { vaultFolder } from "../src/storage/backup-set";
import type { BackupStore } from "../src/storage/backup-store";
import { openBackupStore } from "../src/storage/open-store";
import { DEFAULT_ACTIVITY_RETRY } from "../src/retry-policies";

import { backupThroughOutage, cliJobKilledAndResumed, cutOnceWhen, withLostAnswers, type SoakEnvironment } from "./soak/faults";
import { CONTAINER, CYCLE_KINDS, NO_FAULTS, STORM_THROTTLE_PER_KEY, TUNING, parseArgs, printCycle, type CycleKind, type CycleResult, type FaultCounts, type Options } from "./soak/setup";

class Soak implements SoakEnvironment {
  readonly random: () => number;
  private readonly cleanups: Array<() => Promise<void>> = [];
  azurite!: RunningAzurite;
  emulator!: RunningEmulator;
  store!: BackupStore;
  private folder!: string;
  stateDir!: string;
  /** Blob identities of every finished set, checked again at the end. */
  private readonly finishedSets = new Map<string, Map<string, BlobIdentity>>();
  readonly launcher = resolve(__dirname, "..", "..", "bin", "kvbackup.js");

  constructor(readonly options: Options) {
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
        printCycle(result, this.options.json);
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
        summary = await cliJobKilledAndResumed<BackupSummary>(this, result, `soak-${index}-backup`, ["backup", "--vault", sourceUrl], "backup", async (progress) => {
          const root = setRootOf(progress.backupSetId!);
          return { root, before: await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`) };
        });
      } else if (kind === "lost-answers") {
        summary = (await withLostAnswers(this, result, OrchestratorNames.vaultBackup, `soak-${index}-backup`, {
          vaultUrl: sourceUrl, include: [], exclude: [], tuning: TUNING, retry: { ...DEFAULT_ACTIVITY_RETRY, maxAttempts: 8 },
        } satisfies VaultBackupInput)) as BackupSummary;
      } else if (kind === "azurite-outage") {
        summary = await backupThroughOutage(this, result, runtime(), sourceUrl);
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
        restore = await cliJobKilledAndResumed<RestoreSummary>(this, result, `soak-${index}-restore`, ["restore", "--backup-set", root, "--vault", targetUrl], "restore", async () => ({ root, before: identities }));
      } else if (kind === "lost-answers") {
        restore = (await withLostAnswers(this, result, OrchestratorNames.vaultRestore, `soak-${index}-restore`, {
          ...restoreRequest, tuning: TUNING, retry: { ...DEFAULT_ACTIVITY_RETRY, maxAttempts: 8 },
        } satisfies VaultRestoreInput)) as RestoreSummary;
      } else {
        const job = await runtime().startRestore(restoreRequest);
        // In the network-fault cycles every connection to the target is also cut once, mid-restore.
        if (proxies[1]) cutOnceWhen(runtimes.at(-1)!, job.jobId, proxies[1], result);
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
      // The restore changes nothing of the set: it only adds its own documents (plan, batch records, report) in its job's folder.
      const afterRestore = await blobIdentities(this.azurite.connectionString, CONTAINER, `${root}/`);
      const restoreFolder = `${restore.reportPath.slice(0, restore.reportPath.lastIndexOf("/"))}/`;
      const ownDocuments = [...afterRestore.keys()].filter((path) => !identities.has(path));
      for (const path of ownDocuments) {
        if (!path.startsWith(restoreFolder)) result.problems.push(`restore: wrote ${path}, outside its own folder ${restoreFolder}`);
        afterRestore.delete(path);
      }
      const changed = changedBlobs(identities, afterRestore);
      result.blobsOverwritten += changed.length;
      result.problems.push(...changed.map((p) => `restore: ${p} changed`));
      if (afterRestore.size !== identities.size) result.problems.push(`restore: the set now holds ${afterRestore.size} of its ${identities.size} objects`);
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

  private directClient(url: string): KeyClient {
    return directKeyClient(url, { emulatorCaCert: this.emulator.caCert, maxRetries: 8 });
  }

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
