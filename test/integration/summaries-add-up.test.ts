import { directKeyClient } from "../../src/composition";
import { join } from "node:path";
import type { JobProgress, ObjectCounts } from "../../src/contracts";
import { main } from "../../src/cli/main";
import { startEmulator } from "../../src/emulator";
import type { EmulatedVault, RunningEmulator } from "../../src/emulator/types";
import { toJobView } from "../../src/jobs/views";
import type { OrchestrationStatus } from "../../src/local/durable-host";
import { LocalRuntime } from "../../src/local/runtime";
import { BackupSetPaths, manifestSchema, parseDocument, vaultFolder } from "../../src/storage/backup-set";
import { FileBackupStore } from "../../src/storage/file-store";
import { restoreReportSchema } from "../../src/storage/restore-job";
import { tempDir } from "../reliability/helpers";

/**
 * Every summary adds up: total = succeeded + failed + skipped in the job's output, the CLI's JSON, the HTTP
 * job view and the manifest, and total = succeeded + failed + skipped + pending in the progress (custom
 * status) at every point of a job, for backups, restores and dry runs, with keys of every outcome: backed
 * up, failed (more than 500 versions), skipped (certificate-backed; names taken in the target).
 */
describe("the counts of every summary and every progress report", () => {
  let emulator: RunningEmulator;
  let source: EmulatedVault;
  let dirs: { path: string; remove: () => void };
  let store: FileBackupStore;

  const client = (url: string) =>
    directKeyClient(url, { emulatorCaCert: emulator.caCert });
  const addsUp = (keys: ObjectCounts) => expect(keys.succeeded + keys.failed + keys.skipped).toBe(keys.total);

  /** A target where sum-00001 exists and sum-00002 is soft-deleted. */
  async function takenTarget(name: string): Promise<EmulatedVault> {
    const target = await emulator.addVault({ name });
    const c = client(target.url);
    await c.createKey("sum-00001", "EC");
    await c.createKey("sum-00002", "EC");
    await (await c.beginDeleteKey("sum-00002", { intervalInMs: 20 })).pollUntilDone();
    return target;
  }

  beforeAll(async () => {
    dirs = tempDir("kvbackup-sums-");
    store = new FileBackupStore(join(dirs.path, "store"));
    emulator = await startEmulator({ seed: 17, latencyMs: 0 });
    source = await emulator.addVault({ name: "sums" });
    await source.seedKeys({ count: 30, versions: 2, prefix: "sum" });
    await source.seedKeys({ count: 2, prefix: "cert", managed: true });
    await source.seedKeys({ count: 1, versions: 501, prefix: "huge" });
  }, 120_000);

  afterAll(async () => {
    await emulator?.stop();
    dirs?.remove();
  });

  it("when jobs run on the runtime, their progress adds up at every point, and so do their outputs, their HTTP job views and the manifest", async () => {
    // Prepare
    const runtime = new LocalRuntime({ store, emulatorCaCert: emulator.caCert, tuning: { batchSize: 5, batchesInFlight: 3 }, maxOperationsPer10s: 0 });
    const seen: OrchestrationStatus[] = [];
    runtime.host.onStatusChange((s) => seen.push(s));
    const target = await takenTarget("sums-target");
    const dryTarget = await takenTarget("sums-dry");

    try {
      // Act
      const backup = await (await runtime.startBackup({ vaultUrl: source.url, include: [], exclude: [] })).result;
      const backupSetId = `${vaultFolder(source.url)}/${backup.output!.backupSetId}`;
      const restore = await (await runtime.startRestore({ backupSetId, targetVaultUrl: target.url, include: [], exclude: [], dryRun: false, onConflict: "skip" })).result;
      const dry = await (await runtime.startRestore({ backupSetId, targetVaultUrl: dryTarget.url, include: [], exclude: [], dryRun: true, onConflict: "skip" })).result;

      // Assess: the outputs
      expect(backup.output!.keys).toEqual({ total: 33, succeeded: 30, failed: 1, skipped: 2 });
      expect(restore.output!.keys).toEqual({ total: 33, succeeded: 28, failed: 1, skipped: 4 });
      expect(dry.output!.keys).toEqual({ total: 33, succeeded: 28, failed: 1, skipped: 4 });
      // Assess: the manifest and the restore reports
      const paths = new BackupSetPaths(vaultFolder(source.url), backup.output!.backupSetId);
      const manifest = parseDocument(manifestSchema, paths.manifest, await store.read(paths.manifest));
      addsUp(manifest.counts);
      expect(manifest.objects).toHaveLength(manifest.counts.total);
      for (const output of [restore.output!, dry.output!]) {
        const report = parseDocument(restoreReportSchema, output.reportPath, await store.read(output.reportPath));
        expect(report.byKind.keys).toEqual(output.keys);
        expect(report.objects).toEqual(output.objects);
      }
      // Assess: every status the jobs went through, as the HTTP API shows it
      expect(seen.length).toBeGreaterThan(10);
      const views = seen.map((status) => toJobView({ ...status, name: status.name }, () => undefined, (id) => `https://app.example/api/jobs/${id}`)!);
      const progresses = views.map((view) => view.progress as JobProgress | null).filter((p): p is JobProgress => p !== null);
      for (const p of progresses) expect({ at: p.phase, sum: p.keysSucceeded + p.keysFailed + p.keysSkipped + p.keysPending }).toEqual({ at: p.phase, sum: p.keysTotal });
      for (const view of views.filter((v) => v.result)) addsUp((view.result as { keys: ObjectCounts }).keys);
      // Nothing is pending once a job is done.
      expect(progresses.filter((p) => p.phase === "done" && p.keysPending !== 0)).toEqual([]);
      const finals = seen.filter((s) => s.runtimeStatus === "Completed").map((s) => s.customStatus as JobProgress);
      expect(finals.map((p) => p.keysTotal)).toEqual([33, 33, 33]);
    } finally {
      await runtime.close();
    }
  }, 120_000);

  it("when the command prints its JSON summary, its counts add up, for a backup, a restore and a dry run", async () => {
    const target = await takenTarget("sums-cli");
    const common = ["--emulator-ca", emulator.caCertPath, "--storage", join(dirs.path, "store"), "--state-dir", join(dirs.path, "state"), "--json", "--max-ops-per-10s", "0"];
    const run = async (...args: string[]) => {
      let out = "";
      const code = await main(["node", "kvbackup", ...args, ...common], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } });
      return { code, summary: JSON.parse(out) };
    };

    const backup = await run("backup", "--vault", source.url);
    const restore = await run("restore", "--backup-set", backup.summary.backupSetId, "--vault", target.url);
    const dry = await run("restore", "--backup-set", backup.summary.backupSetId, "--vault", target.url, "--dry-run");

    // Exit 3: a key failed (the one with more than 500 versions).
    expect([backup.code, restore.code, dry.code]).toEqual([3, 3, 3]);
    for (const { summary } of [backup, restore, dry]) {
      addsUp(summary.keys);
      expect(summary.reportPath).toEqual(expect.any(String));
      expect(summary.skipped.length + summary.failures.length).toBe(summary.keys.skipped + summary.keys.failed);
    }
    expect(restore.summary.keys).toEqual({ total: 33, succeeded: 28, failed: 1, skipped: 4 });
    // The dry run comes after the restore: every name is taken now.
    expect(dry.summary.keys).toEqual({ total: 33, succeeded: 0, failed: 1, skipped: 32 });
  }, 120_000);
});
