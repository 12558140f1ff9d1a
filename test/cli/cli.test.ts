import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main, type Io } from "../../src/cli/main";
import { startTestEnvironment, type TestEnvironment } from "../helpers/environment";

interface Captured extends Io {
  out(): string;
  err(): string;
}

function capture(): Captured {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    out: () => out,
    err: () => err,
  };
}

async function kvbackup(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(["node", "kvbackup", ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe("the kvbackup command", () => {
  let env: TestEnvironment;
  let storage: string;

  let stateDir: string;
  const homeStateDir = process.env["KVBACKUP_STATE_DIR"];

  beforeAll(async () => {
    // Job histories go to a folder of this test, not to ~/.kvbackup/jobs.
    stateDir = mkdtempSync(join(tmpdir(), "kvbackup-cli-state-"));
    process.env["KVBACKUP_STATE_DIR"] = stateDir;
    env = await startTestEnvironment({ latencyMs: 0 });
    storage = env.azurite.connectionString;
  });
  afterAll(async () => {
    await env?.stop();
    if (homeStateDir === undefined) delete process.env["KVBACKUP_STATE_DIR"];
    else process.env["KVBACKUP_STATE_DIR"] = homeStateDir;
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("when a backup succeeds with --json, it prints the set id and counts and exits 0; restore and list follow", async () => {
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 5, versions: 2, prefix: "cli" });
    const common = ["--emulator-ca", env.emulator.caCertPath, "--storage", storage, "--container", "clitest", "--json"];

    const backup = await kvbackup("backup", "--vault", vault.url, ...common);
    expect(backup.code).toBe(0);
    const summary = JSON.parse(backup.out);
    expect(summary).toMatchObject({ backupSetId: expect.stringMatching(/^\d{8}T\d{6}Z-/), keys: { total: 5, succeeded: 5, failed: 0 } });

    const list = await kvbackup("list", "--vault", vault.url, ...common);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out).backupSets).toEqual([expect.objectContaining({ backupSetId: summary.backupSetId, state: "complete" })]);

    const dryRun = await kvbackup("restore", "--backup-set", summary.backupSetId, "--dry-run", ...common);
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.out).plan.alreadyPresent).toHaveLength(5);

    const target = await env.emulator.addVault();
    const restore = await kvbackup("restore", "--backup-set", summary.backupSetId, "--vault", target.url, ...common);
    expect(restore.code).toBe(0);
    expect(JSON.parse(restore.out).keys).toEqual({ total: 5, succeeded: 5, failed: 0, skipped: 0 });
    expect(target.keyCount()).toBe(5);

    const conflict = await kvbackup("restore", "--backup-set", summary.backupSetId, "--vault", target.url, "--on-conflict", "fail", ...common);
    expect(conflict.code).toBe(1);
    expect(conflict.err).toContain("restore refused, nothing was changed");
  });

  it("when --no-version-details is given, the backup calls the vault once per key and says the versions were not listed", async () => {
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 4, versions: 3, prefix: "lean" });
    const result = await kvbackup("backup", "--vault", vault.url, "--no-version-details", "--emulator-ca", env.emulator.caCertPath, "--storage", storage, "--container", "clitest");
    expect(result.code).toBe(0);
    expect(result.out).toContain("versions  not listed (--no-version-details)");
    expect(vault.stats().operations["backupKey"]).toBe(4);
    expect(vault.stats().operations["getKeyVersions"] ?? 0).toBe(0);
  });

  it("when some keys fail, the backup exits 3 and names them", async () => {
    const vault = await env.emulator.addVault();
    await vault.seedKeys({ count: 2, prefix: "fine" });
    await vault.seedKeys({ count: 1, versions: 501, prefix: "toolong" });
    const result = await kvbackup("backup", "--vault", vault.url, "--emulator-ca", env.emulator.caCertPath, "--storage", storage, "--container", "clitest");
    expect(result.code).toBe(3);
    expect(result.out).toContain("toolong-00000");
  });

  it("when the container was never created, list answers an empty list and restore says the container does not exist, exit 2", async () => {
    const vault = "https://fresh.vault.azure.net";
    const list = await kvbackup("list", "--vault", vault, "--storage", storage, "--container", "never-made", "--json");
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual({ vaultUrl: vault, backupSets: [] });

    const restore = await kvbackup("restore", "--backup-set", "20260101T020000Z-somejob", "--storage", storage, "--container", "never-made");
    expect(restore.code).toBe(2);
    expect(restore.err.trim()).toBe(
      `kvbackup: no backup set "20260101T020000Z-somejob": container "never-made" does not exist in ${env.azurite.blobEndpoint}`,
    );
  });

  it.each([
    [["backup", "--vault", "http://myvault.vault.azure.net"], "--vault"],
    [["backup", "--vault", "https://169.254.169.254"], "--vault"],
    [["backup", "--vault", "https://127.0.0.1:1"], "loopback"],
    [["backup", "--vault", "https://myvault.vault.azure.net", "--include", "../x"], "--include"],
    [["backup", "--vault", "https://myvault.vault.azure.net", "--batch-size", "0"], "--batch-size"],
    [["backup", "--vault", "https://myvault.vault.azure.net", "--job-id", "../../etc"], "--job-id"],
    [["backup", "--vault", "https://myvault.vault.azure.net", "--emulator-ca", "/nonexistent.pem"], "--emulator-ca"],
    [["restore", "--backup-set", "../../etc/passwd"], "invalid backup set id"],
    [["restore", "--backup-set", "20200101T000000Z-nosuchjob"], "no backup set"],
    [["restore", "--backup-set", "20200101T000000Z-x", "--on-conflict", "maybe"], "on-conflict"],
    [["backup"], "--vault"],
    [["frobnicate"], "unknown command"],
  ])("when the arguments are %j, it prints one line about %s and exits 2", async (args, mention) => {
    const result = await kvbackup(...args, ...(args.includes("--storage") ? [] : ["--storage", storage, "--container", "clitest"]));
    expect(result.code).toBe(2);
    expect(result.err).toContain(mention);
    expect(result.err.trim().split("\n")).toHaveLength(1);
    expect(result.err).not.toMatch(/\n\s+at /);
  });
});
