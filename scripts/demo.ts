/**
 * `npm run demo`: the whole product on this machine, with no Azure account. Starts Azurite and the
 * Key Vault emulator on free ports, seeds keys with several versions, backs them up, deletes and
 * purges them, restores them, checks every version against the original, prints a summary and
 * stops everything it started.
 */
import { ExitGuard } from "../src/cli/exit-guard";
import { startEmulator } from "../src/emulator";
import { startAzurite } from "../src/local/azurite";
import { LocalRuntime, type JobHandle } from "../src/local/runtime";
import { compareSnapshots, countVersions, deleteAndPurge, snapshotVault } from "../src/local/vault-snapshot";
import { directKeyClient } from "../src/composition";
import { openBackupStore } from "../src/storage/open-store";

const KEYS = 200;
const VERSIONS = 3;
/** The demo exits 0 only when it ran to its end: a job left unfinished is exit 1 with a line saying so. */
const guard = new ExitGuard(process, undefined, "kvbackup demo");
/** The demo keeps no job state: what goes on with a job it left is running it again. */
const RERUN = "npm run demo (it starts over: the demo keeps no job state)";

async function main(): Promise<number> {
  const started = performance.now();
  const step = (text: string) => process.stdout.write(`• ${text}\n`);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    step("starting Azurite (blob storage) and the Key Vault emulator on free loopback ports");
    const azurite = await startAzurite();
    cleanups.push(() => azurite.stop());
    const emulator = await startEmulator({ latencyMs: 0 });
    cleanups.push(() => emulator.stop());

    step(`seeding ${KEYS} keys with ${VERSIONS} versions each into ${emulator.vaultUrl}`);
    await emulator.vault.seedKeys({ count: KEYS, versions: VERSIONS, prefix: "demo", tags: { owner: "demo" } });
    const client = directKeyClient(emulator.vaultUrl, { emulatorCaCert: emulator.caCert });
    const original = await snapshotVault(client);

    const store = openBackupStore({ storage: azurite.connectionString, container: "kvbackup" });
    const runtime = new LocalRuntime({ store, emulatorCaCert: emulator.caCert });
    cleanups.push(() => runtime.close());

    step("backing up the vault (durable orchestration, in this process)");
    const backupStart = performance.now();
    const backup = await watched(runtime, await runtime.startBackup({ vaultUrl: emulator.vaultUrl, include: [], exclude: [] }));
    if (!backup.output) throw new Error(`backup failed: ${backup.status.failureDetails?.errorMessage ?? backup.status.runtimeStatus}`);
    const backupSeconds = (performance.now() - backupStart) / 1000;
    const b = backup.output;
    step(`backup set ${b.backupSetId}: ${b.keys.succeeded}/${b.keys.total} keys, ${b.versions} versions, ${b.bytes} bytes in ${backupSeconds.toFixed(1)} s`);

    step("deleting and purging every key");
    await deleteAndPurge(client, [...original.keys()]);
    const left = await snapshotVault(client);
    if (left.size !== 0) throw new Error(`${left.size} keys still in the vault after the purge`);

    step("restoring the backup set into the emptied vault");
    const restoreStart = performance.now();
    const restore = await watched(runtime, await runtime.startRestore({ backupSetId: b.backupSetId, include: [], exclude: [], dryRun: false, onConflict: "fail" }));
    if (!restore.output) throw new Error(`restore failed: ${restore.status.failureDetails?.errorMessage ?? restore.status.runtimeStatus}`);
    const restoreSeconds = (performance.now() - restoreStart) / 1000;

    step("checking every version of every key against the original");
    const restored = await snapshotVault(client);
    const problems = compareSnapshots(original, restored);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      [
        "",
        "kvbackup demo summary",
        `  backup set       ${b.backupSetId}`,
        `  keys             ${b.keys.succeeded} backed up, ${restore.output.keys.succeeded} restored, ${b.keys.failed + restore.output.keys.failed} failed`,
        `  versions         ${countVersions(original)} before, ${countVersions(restored)} after`,
        `  bytes            ${b.bytes} in ${b.keys.succeeded} blobs`,
        `  time             backup ${backupSeconds.toFixed(1)} s, restore ${restoreSeconds.toFixed(1)} s, demo ${seconds.toFixed(1)} s`,
        `  verification     ${problems.length === 0 ? "every version identical to the original" : `${problems.length} differences`}`,
        "",
      ].join("\n"),
    );
    for (const p of problems.slice(0, 20)) process.stdout.write(`  ${p}\n`);
    return problems.length === 0 && b.keys.failed === 0 && restore.output.keys.failed === 0 ? 0 : 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** A job's result, with the exit guard told that the process must not end before it. */
async function watched<T>(runtime: LocalRuntime, handle: JobHandle<T>): Promise<Awaited<JobHandle<T>["result"]>> {
  const release = guard.jobStarted({ jobId: handle.jobId, resumeCommand: RERUN, state: () => runtime.host.getStatus(handle.jobId)?.runtimeStatus });
  try {
    return await handle.result;
  } finally {
    release();
  }
}

guard.commandStarted();
main().then(
  (code) => {
    guard.commandFinished();
    process.exit(code);
  },
  (error: unknown) => {
    guard.commandFinished();
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
