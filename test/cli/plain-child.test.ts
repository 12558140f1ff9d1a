import { directKeyClient } from "../../src/composition";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startEmulator } from "../../src/emulator";
import type { EmulatedVault, RunningEmulator } from "../../src/emulator/types";
import { readStoredInstance } from "../../src/local/instance-store";
import { auditBackupSet, spawnCli, type CliResult } from "../support/reliability-kit";
import { compareSnapshots, snapshotVault, type VaultSnapshot } from "../../src/local/vault-snapshot";
import { vaultFolder } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { FileBackupStore } from "../../src/storage/file-store";
import { compiledCli, tempDir, type CompiledCli } from "../reliability/helpers";

/**
 * The kvbackup command as cron or a shell script runs it: `node bin/kvbackup.js` as a plain child
 * process (stdout and stderr to pipes, no terminal, no IPC channel), `--json`, default settings except a
 * small pacing budget, so that client-side pacing holds every call for several windows. Nothing but the
 * job's own promises keeps such a process alive: if a wait of the job does not hold the event loop, Node
 * ends the process early, with exit code 0 unless the command stops it.
 */
const KEYS = 250;
const BUDGET = ["--max-ops-per-10s", "200"];

describe("kvbackup run as a plain child process, with pacing holding every call", () => {
  let cli: CompiledCli;
  let emulator: RunningEmulator;
  let source: EmulatedVault;
  let original: VaultSnapshot;
  let dirs: { path: string; remove: () => void };
  let storage: string;
  let stateDir: string;
  let store: BackupStore;
  let backupSetId: string | undefined;

  const client = (url: string) =>
    directKeyClient(url, { emulatorCaCert: emulator.caCert });
  const kvbackup = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnCli(cli.launcher, [...args, "--emulator-ca", emulator.caCertPath, "--storage", storage, "--state-dir", stateDir, "--json"], { ...cli.env, ...env }).done;
  const explain = (r: CliResult) => `exit ${r.code} ${r.signal ?? ""}\nstdout: ${r.stdout.slice(0, 3000)}\nstderr: ${r.stderr.slice(0, 3000)}`;

  beforeAll(async () => {
    const building = compiledCli();
    building.catch(() => undefined);
    dirs = tempDir("kvbackup-plain-child-");
    storage = join(dirs.path, "store");
    stateDir = join(dirs.path, "state");
    store = new FileBackupStore(storage);
    emulator = await startEmulator({ seed: 13, latencyMs: 0 });
    source = emulator.vault;
    await source.seedKeys({ count: KEYS, versions: 2, prefix: "cron" });
    original = await snapshotVault(client(source.url), { concurrency: 32 });
    cli = await building;
  }, 300_000);

  afterAll(async () => {
    await emulator?.stop();
    dirs?.remove();
  });

  it("when pacing holds every call, a backup exits 0 only once its set is complete, and the set holds every key", async () => {
    // Act
    const result = await kvbackup(["backup", "--vault", source.url, ...BUDGET]);

    // Assess: the job's report
    if (result.code !== 0) throw new Error(explain(result));
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ state: "complete", keys: { total: KEYS, succeeded: KEYS, failed: 0, skipped: 0 }, versions: 2 * KEYS });
    // The job's own state says it ended, and how.
    expect(readStoredInstance(stateDir, summary.jobId)?.status.runtimeStatus).toBe("Completed");
    // Pacing had to hold calls: the job needed more than two windows' budget.
    const operations = Object.values(source.stats().operations).reduce((a, b) => a + b, 0);
    expect(operations).toBeGreaterThan(2 * 200);
    // Assess: independently, from the store and the vault
    const root = `${vaultFolder(source.url)}/${summary.backupSetId}`;
    const audit = await auditBackupSet(store, root, source.listKeyNames());
    expect(audit.problems).toEqual([]);
    expect(audit).toMatchObject({ manifestState: "complete", keysExpected: KEYS, succeeded: KEYS, blobCount: KEYS, lost: [] });
    backupSetId = root;
  }, 300_000);

  it("when that set is restored into an empty vault, every key comes back with every version", async () => {
    if (!backupSetId) throw new Error("this test restores the set of the previous test, which did not finish");
    const target = await emulator.addVault({ name: "cron-target" });

    const result = await kvbackup(["restore", "--backup-set", backupSetId, "--vault", target.url, ...BUDGET]);

    if (result.code !== 0) throw new Error(explain(result));
    const summary = JSON.parse(result.stdout);
    expect(summary.keys).toEqual({ total: KEYS, succeeded: KEYS, failed: 0, skipped: 0 });
    expect(summary.skipped).toEqual([]);
    expect(summary.failures).toEqual([]);
    expect(compareSnapshots(original, await snapshotVault(client(target.url), { concurrency: 32 }))).toEqual([]);
  }, 300_000);

  it("when that set is restored over the names it holds, every key is reported skipped with its reason and nothing is sent to restore", async () => {
    if (!backupSetId) throw new Error("this test restores the set of the first test, which did not finish");
    source.resetStats();

    const result = await kvbackup(["restore", "--backup-set", backupSetId, ...BUDGET]);

    if (result.code !== 0) throw new Error(explain(result));
    const summary = JSON.parse(result.stdout);
    expect(summary.keys).toEqual({ total: KEYS, succeeded: 0, failed: 0, skipped: KEYS });
    // The summary lists the first 100; the report document lists them all.
    expect(summary.skipped).toHaveLength(100);
    expect(summary.skipped[0]).toEqual({ kind: "key", name: "cron-00000", reason: "a key of that name already exists in the target vault" });
    const report = JSON.parse((await store.read(summary.reportPath)).toString("utf8"));
    expect(report.skipped).toHaveLength(KEYS);
    expect(report.byKind.keys).toEqual(summary.keys);
    expect(report.objects).toEqual(summary.objects);
    expect(source.stats().operations["restoreKey"] ?? 0).toBe(0);
    expect(compareSnapshots(original, await snapshotVault(client(source.url), { concurrency: 32 }))).toEqual([]);
  }, 300_000);

  it("when the process would end while its job is unfinished, it exits 1 with one line naming the job and the command that resumes it, and that command finishes the job", async () => {
    // Prepare: a vault big enough that pacing must hold calls, and a process in which no timer holds the
    // event loop (what the pacing timer did before), so it runs out of things to wait on mid-job.
    const vault = await emulator.addVault({ name: "cron-unfinished" });
    await vault.seedKeys({ count: 150, prefix: "held" });
    const preload = join(dirs.path, "unref-every-timer.js");
    writeFileSync(
      preload,
      [
        '"use strict";',
        "// Test only: every timer of this process stops holding the event loop, whatever created it.",
        "const original = global.setTimeout;",
        "global.setTimeout = function (...args) { const t = original.apply(this, args); if (t && t.unref) t.unref(); return t; };",
        "",
      ].join("\n"),
    );
    const jobId = "unfinished-backup-1";

    // Act
    const first = await kvbackup(["backup", "--vault", vault.url, "--job-id", jobId, ...BUDGET], { NODE_OPTIONS: `--require ${preload}` });

    // Assess: exit 1, one line on stderr with the job id and the exact command
    expect(first.code).toBe(1);
    // stdout holds one JSON document that says so too (--json)
    expect(JSON.parse(first.stdout)).toMatchObject({ jobId, status: "Unfinished", runtimeStatus: "Running" });
    const lines = first.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    const match = /^kvbackup: job (\S+) did not finish .*; resume it with: (kvbackup backup .*)$/.exec(lines[0]!);
    if (!match) throw new Error(`unexpected stderr: ${first.stderr}`);
    expect(match[1]).toBe(jobId);
    const command = match[2]!;
    expect(command).toContain(`--job-id ${jobId}`);
    expect(command).toContain(`--state-dir ${stateDir}`);
    expect(readStoredInstance(stateDir, jobId)?.status.runtimeStatus).toBe("Running");

    // Act: run the printed command as a shell would, with `kvbackup` on the PATH
    const bin = join(dirs.path, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "kvbackup"), `#!/bin/sh\nexec "${process.execPath}" "${cli.launcher}" "$@"\n`, { mode: 0o755 });
    const resumed = await runShell(command, { ...process.env, ...cli.env, PATH: `${bin}:${process.env["PATH"] ?? ""}` });

    // Assess: the same job finished its set, every key in it
    if (resumed.code !== 0) throw new Error(explain(resumed));
    const summary = JSON.parse(resumed.stdout);
    expect(summary).toMatchObject({ jobId, state: "complete", keys: { total: 150, succeeded: 150, failed: 0, skipped: 0 } });
    const audit = await auditBackupSet(store, `${vaultFolder(vault.url)}/${summary.backupSetId}`, vault.listKeyNames());
    expect(audit.problems).toEqual([]);
    expect(existsSync(join(stateDir, `${jobId}.json`))).toBe(true);
    expect(JSON.parse(readFileSync(join(stateDir, `${jobId}.json`), "utf8")).status.runtimeStatus).toBe("Completed");
  }, 300_000);
});

function runShell(command: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn("/bin/sh", ["-c", command], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}
