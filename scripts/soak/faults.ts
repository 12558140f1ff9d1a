/** The faults of the soak that need more than a knob: a CLI killed and resumed, Azurite down, answers lost, connections cut. */
import type { BackupSummary, JobProgress } from "../../src/contracts";
import { ActivityNames } from "../../src/contracts";
import { createServices } from "../../src/composition";
import type { RunningEmulator } from "../../src/emulator/types";
import type { RunningAzurite } from "../../src/local/azurite";
import { LocalDurableHost } from "../../src/local/durable-host";
import type { LocalRuntime } from "../../src/local/runtime";
import { createActivityHandlers, forLocalHost, orchestrators } from "../../src/registry";
import { vaultFolder } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import type { ChaosProxy } from "../../test/support/chaos-proxy";
import { blobIdentities, changedBlobs, killWhen, spawnCli, type BlobIdentity } from "../../test/support/reliability-kit";
import { CONTAINER, describe, type CycleResult, type Options } from "./setup";

/** What the faults work on: the soak's services, as its run set them up. */
export interface SoakEnvironment {
  readonly options: Options;
  readonly random: () => number;
  readonly azurite: RunningAzurite;
  readonly emulator: RunningEmulator;
  readonly store: BackupStore;
  readonly stateDir: string;
  readonly launcher: string;
}

/** Runs a CLI job, kills it at a seeded point between 30 % and 70 % of its batches, runs it again with the same id. */
export async function cliJobKilledAndResumed<T>(
  soak: SoakEnvironment,
  result: CycleResult,
  jobId: string,
  args: string[],
  phase: JobProgress["phase"],
  atKill: (progress: JobProgress) => Promise<{ root: string; before: Map<string, BlobIdentity> }>,
): Promise<T> {
  const fraction = 0.3 + 0.4 * soak.random();
  const full = [
    ...args, "--job-id", jobId, "--emulator-ca", soak.emulator.caCertPath, "--container", CONTAINER, "--state-dir", soak.stateDir,
    // Small batches, so the job has many and can be caught in the middle of them; default pacing, as users run it.
    "--json", "--batch-size", "20", "--batches-in-flight", "4",
  ];
  const env = { KVBACKUP_STORAGE: soak.azurite.connectionString };
  const first = spawnCli(soak.launcher, full, env);
  const progress = await killWhen(first, soak.stateDir, jobId, (p) => p.phase === phase && p.batchCount > 0 && p.batchesDone >= Math.ceil(fraction * p.batchCount));
  const killed = await first.done;
  result.jobs++;
  if (progress) {
    result.faults.cliKills++;
    result.resumedJobs++;
  } else {
    result.problems.push(`${phase}: the job ended before it could be killed (${describe(killed)})`);
  }
  const watch = progress ? await atKill(progress) : undefined;
  const resumed = await spawnCli(soak.launcher, full, env).done;
  if (resumed.code !== 0 && resumed.code !== 3) throw new Error(`the resumed ${phase} failed: ${describe(resumed)}`);
  if (watch) {
    const changed = changedBlobs(watch.before, await blobIdentities(soak.azurite.connectionString, CONTAINER, `${watch.root}/`));
    result.blobsOverwritten += changed.length;
    result.problems.push(...changed.map((p) => `${phase}: ${p} rewritten after the resume`));
  }
  return JSON.parse(resumed.stdout) as T;
}

/** A backup during which Azurite is stopped for the outage, once a few batches are done, and started again. */
export async function backupThroughOutage(env: SoakEnvironment, result: CycleResult, runtime: LocalRuntime, vaultUrl: string): Promise<BackupSummary> {
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
        before = { root, identities: await blobIdentities(env.azurite.connectionString, CONTAINER, `${root}/`) };
        await env.azurite.stop();
        result.faults.azuriteOutages++;
        const down = performance.now();
        await new Promise((r) => setTimeout(r, env.options.outageSeconds * 1000));
        await env.azurite.start();
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
    const changed = changedBlobs(before.identities, await blobIdentities(env.azurite.connectionString, CONTAINER, `${before.root}/`));
    result.blobsOverwritten += changed.length;
    result.problems.push(...changed.map((p) => `outage: ${p} rewritten`));
  }
  return done.output;
}

/** The real activities, but the first answer of every other batch is lost after the batch did its work. */
export async function withLostAnswers(env: SoakEnvironment, result: CycleResult, orchestrator: string, instanceId: string, input: unknown): Promise<unknown> {
  const real = createActivityHandlers(createServices({ emulatorCaCert: env.emulator.caCert, maxOperationsPer10s: 0, store: env.store }));
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
      [ActivityNames.backupObjectBatch]: losing("backup", real[ActivityNames.backupObjectBatch]!),
      [ActivityNames.restoreObjectBatch]: losing("restore", real[ActivityNames.restoreObjectBatch]!),
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

export function cutOnceWhen(runtime: LocalRuntime, jobId: string, proxy: ChaosProxy, result: CycleResult): void {
  const stop = runtime.host.onStatusChange((s) => {
    const p = s.customStatus as JobProgress | undefined;
    if (s.instanceId === jobId && p?.phase === "restore" && p.batchesDone >= 1) {
      stop();
      if (proxy.dropAll() === 0) result.problems.push("no connection to cut mid-restore");
    }
  });
}
