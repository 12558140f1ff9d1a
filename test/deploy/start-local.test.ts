import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../../src/config";
import { directKeyClient } from "../../src/composition";
import { openBackupStore } from "../../src/storage/open-store";
import { GENERATED_MARK } from "../../scripts/start-local";
import { compiledCli } from "../reliability/helpers";

/**
 * `npm run start:local` as a new user runs it before `func start` (Core Tools cannot be installed here,
 * so what is checked is what func start would consume): the services answer on the ports it reports, the
 * settings file it writes is valid and loads through src/config.ts, and it stops cleanly on a signal.
 */
const ROOT = resolve(__dirname, "../..");

interface Ready {
  settingsPath: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  vaultUrl: string;
  caCertPath: string;
}

interface Started {
  readonly child: ChildProcess;
  readonly ready: Ready;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

async function startLocal(project: string): Promise<Started> {
  const compiled = await compiledCli();
  const script = compiled.from === "dist" ? join(ROOT, "dist", "scripts", "start-local.js") : join(compiled.from, "scripts", "start-local.js");
  // Free ports, so the test never collides with a developer's own Azurite on 10000-10002.
  const args = ["--blob-port", "0", "--queue-port", "0", "--table-port", "0", "--vault-port", "0", "--keys", "3", "--versions", "1", "--json"];
  const child = spawn(process.execPath, [script, ...args], { cwd: project, env: { ...process.env, ...compiled.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal, stderr })),
  );
  const ready = await new Promise<Ready>((done, fail) => {
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
      // Complete lines only: a chunk may end in the middle of the JSON line.
      const line = stdout.split("\n").slice(0, -1).find((l) => l.startsWith("{") && l.includes('"settingsPath"'));
      if (line) done(JSON.parse(line) as Ready);
    });
    void exited.then(({ code }) => fail(new Error(`start:local exited ${code} before it was ready: ${stderr}`)));
  });
  return { child, ready, exited };
}

/** Any HTTP answer counts: Azurite answers an unsigned request with an error status. */
function answers(url: string): Promise<boolean> {
  return new Promise((done) => {
    const req = http.get(url, { agent: false, timeout: 3_000 }, (res) => {
      res.resume();
      done(true);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => done(false));
  });
}

let project: string;
beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), "kvbackup-start-local-"));
  copyFileSync(join(ROOT, "local.settings.sample.json"), join(project, "local.settings.sample.json"));
});
afterEach(() => rmSync(project, { recursive: true, force: true }));

describe("npm run start:local", () => {
  it("when started in a fresh clone, it serves blob, queue, table and a vault, writes a local.settings.json that loads, and stops on SIGTERM", async () => {
    const { child, ready, exited } = await startLocal(project);
    try {
      expect(ready.settingsPath).toBe(join(project, "local.settings.json"));
      const settings = JSON.parse(readFileSync(ready.settingsPath, "utf8")) as { IsEncrypted: boolean; Values: Record<string, string>; _generatedBy: string };
      expect(settings.IsEncrypted).toBe(false);
      expect(settings._generatedBy).toBe(GENERATED_MARK);
      // Every documented setting is there, so the file reads like the sample.
      const sample = JSON.parse(readFileSync(join(ROOT, "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
      expect(Object.keys(settings.Values).sort()).toEqual(Object.keys(sample.Values).sort());
      expect(settings.Values.FUNCTIONS_WORKER_RUNTIME).toBe("node");

      const config = loadConfig(settings.Values);
      expect(config.allowedVaults).toEqual([ready.vaultUrl.toLowerCase()]);
      expect(config.emulatorCaPath).toBe(ready.caCertPath);
      // The host and the task hub need all three services in AzureWebJobsStorage.
      for (const endpoint of [ready.blobEndpoint, ready.queueEndpoint, ready.tableEndpoint]) {
        expect(settings.Values.AzureWebJobsStorage).toContain(endpoint);
      }
      expect(await answers(`${ready.queueEndpoint}?comp=list`)).toBe(true);
      expect(await answers(`${ready.tableEndpoint}/Tables`)).toBe(true);

      const store = openBackupStore({ storage: config.storage, container: config.container });
      await store.ensureReady();
      expect(await store.missingRoot()).toBeUndefined();
      const keys = directKeyClient(ready.vaultUrl, { emulatorCaCert: readFileSync(config.emulatorCaPath!, "utf8") });
      const names: string[] = [];
      for await (const key of keys.listPropertiesOfKeys()) names.push(key.name);
      expect(names).toHaveLength(3);
    } finally {
      child.kill("SIGTERM");
    }
    const { code, signal } = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(await answers(`${ready.blobEndpoint}?comp=list`)).toBe(false);
    expect(await answers(`${ready.queueEndpoint}?comp=list`)).toBe(false);
  });

  it("when local.settings.json exists and it did not write it, it leaves that file alone and writes its own next to the data", async () => {
    const mine = JSON.stringify({ IsEncrypted: false, Values: { KVBACKUP_ALLOWED_VAULTS: "https://myvault.vault.azure.net" } });
    writeFileSync(join(project, "local.settings.json"), mine);
    const { child, ready, exited } = await startLocal(project);
    child.kill("SIGTERM");
    expect((await exited).code).toBe(0);
    expect(readFileSync(join(project, "local.settings.json"), "utf8")).toBe(mine);
    expect(ready.settingsPath).toBe(join(project, ".kvbackup-local", "local.settings.json"));
    expect(existsSync(ready.settingsPath)).toBe(true);
  });
});
