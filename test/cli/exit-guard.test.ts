import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { resumeCommand, shellQuote } from "../../src/cli/resume-command";
import { compiledCli, tempDir, type CompiledCli } from "../reliability/helpers";

/**
 * The exit guard in a real Node process (a plain child, nothing else holding it): a process whose job is
 * unfinished never ends with 0, whatever makes it end.
 */
describe("the exit guard", () => {
  let cli: CompiledCli;
  let dirs: { path: string; remove: () => void };
  let guardModule: string;

  beforeAll(async () => {
    cli = await compiledCli();
    dirs = tempDir("kvbackup-exit-guard-");
    guardModule = join(cli.from === "dist" ? resolve(__dirname, "../../dist") : cli.from, "src", "cli", "exit-guard.js");
  }, 300_000);
  afterAll(() => dirs?.remove());

  /** Starts a script that arms the guard for job j-1, then does `then`. */
  function startScript(name: string, then: string) {
    const file = join(dirs.path, `${name}.js`);
    writeFileSync(
      file,
      [
        `const { ExitGuard } = require(${JSON.stringify(guardModule)});`,
        "const guard = new ExitGuard();",
        "guard.commandStarted();",
        'const release = guard.jobStarted({ jobId: "j-1", resumeCommand: "kvbackup backup --vault https://v.vault.azure.net --job-id j-1 --state-dir /s", state: () => "Running" });',
        then,
      ].join("\n"),
    );
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveDone) =>
      child.once("close", (code) => resolveDone({ code, stdout, stderr })),
    );
    const printed = (text: string) =>
      new Promise<void>((resolvePrinted) => {
        const check = () => (stdout.includes(text) ? resolvePrinted() : setTimeout(check, 10));
        check();
      });
    return { child, done, printed };
  }
  const runScript = (name: string, then: string) => startScript(name, then).done;

  it("when the job waits on something that holds nothing (a promise never settled), the process exits 1 with one line naming the job and its resume command", async () => {
    const result = await runScript("never-settles", "new Promise(() => {});");
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "kvbackup: job j-1 did not finish (the process had nothing left to wait on, the job still Running); resume it with: kvbackup backup --vault https://v.vault.azure.net --job-id j-1 --state-dir /s\n",
    );
  });

  it("when something calls process.exit(0) while the job is unfinished, the exit code is 1 and the line is written", async () => {
    const result = await runScript("exit-zero", "setTimeout(() => process.exit(0), 10);");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("kvbackup: job j-1 did not finish (the process was told to exit");
  });

  it("when the process is sent SIGTERM while the job is unfinished, it ends with 143 and the line", async () => {
    const script = startScript("sigterm", 'setInterval(() => {}, 1000); process.stdout.write("ready\\n");');
    await script.printed("ready");
    script.child.kill("SIGTERM");
    const result = await script.done;
    expect(result.code).toBe(143);
    expect(result.stderr).toContain("kvbackup: job j-1 did not finish (interrupted by SIGTERM, the job still Running); resume it with: kvbackup backup");
  });

  it("when the job ends and the command finishes, the process ends with its own exit code and says nothing", async () => {
    const result = await runScript("finished", "setTimeout(() => { release(); guard.commandFinished(); process.exitCode = 3; }, 10);");
    expect(result.code).toBe(3);
    expect(result.stderr).toBe("");
  });
});

describe("the command that resumes a job", () => {
  it("when a job was started without --job-id, it is the same command with the job id and the state folder", () => {
    expect(resumeCommand(["node", "kvbackup", "backup", "--vault", "https://v.vault.azure.net", "--include", "prod-*", "--json"], "abc123", "/var/kvbackup jobs")).toBe(
      "kvbackup backup --vault https://v.vault.azure.net --include 'prod-*' --json --job-id abc123 --state-dir '/var/kvbackup jobs'",
    );
  });

  it("when --job-id and --state-dir were given, in either form, they appear once, with the absolute state folder", () => {
    const command = resumeCommand(["node", "kvbackup", "restore", "--job-id=j1", "--backup-set", "s", "--state-dir", "rel/dir", "--dry-run"], "j1", "rel/dir");
    expect(command).toBe(`kvbackup restore --backup-set s --dry-run --job-id j1 --state-dir ${resolve("rel/dir")}`);
  });

  it("when --storage carries an account key or a SAS, the value is not repeated", () => {
    const withKey = resumeCommand(["node", "kvbackup", "backup", "--storage", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;", "--vault", "https://v"], "j", "/s");
    expect(withKey).not.toContain("c2VjcmV0");
    expect(withKey).toContain("--storage '<the same --storage as before>'");
    const withSas = resumeCommand(["node", "kvbackup", "backup", "--storage=https://a.blob.core.windows.net/?sv=1&sig=abc", "--vault", "https://v"], "j", "/s");
    expect(withSas).not.toContain("sig=abc");
  });

  it("when the store is a relative folder or the emulator's certificate a relative file, the line names them by absolute path; URLs and connection strings stay as given", () => {
    const command = resumeCommand(["node", "kvbackup", "backup", "--storage", "./backups", "--emulator-ca=ca.pem", "--vault", "https://v"], "j", "/s");
    expect(command).toContain(`--storage ${resolve("./backups")}`);
    expect(command).toContain(`--emulator-ca=${resolve("ca.pem")}`);
    expect(resumeCommand(["node", "kvbackup", "backup", "--storage", "https://a.blob.core.windows.net"], "j", "/s")).toContain("--storage https://a.blob.core.windows.net");
    expect(resumeCommand(["node", "kvbackup", "backup", "--storage", "UseDevelopmentStorage=true"], "j", "/s")).toContain("--storage UseDevelopmentStorage=true");
  });

  it("when an argument holds a quote, it is quoted so a shell reads it back as it was", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});
