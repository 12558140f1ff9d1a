/** The Key Vault emulator in a child process of its own (so the vault does not share the product's event loop), driven over IPC. */
import { fork, type ChildProcess } from "node:child_process";
import type { EmulatedVault, KnobsPatch, RunningEmulator, VaultStats } from "../../src/emulator/types";
import { ROLE_ENV } from "./options";

/** What the parent asks the emulator child over IPC. */
export type EmulatorRequest =
  | { id: number; op: "addVault"; name: string; keys?: number; versions?: number; knobs: KnobsPatch }
  | { id: number; op: "stats"; name: string }
  | { id: number; op: "resetStats"; name: string }
  | { id: number; op: "keyCount"; name: string }
  | { id: number; op: "cpu" };

export type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

export type EmulatorReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface EmulatorReady {
  ready: true;
  caCert: string;
  caCertPath: string;
}

export async function runEmulatorChild(): Promise<void> {
  const { startEmulator } = await import("../../src/emulator");
  const emulator: RunningEmulator = await startEmulator({ latencyMs: 0, throttle: 0 });
  const vaults = new Map<string, EmulatedVault>([["vault", emulator.vault]]);
  const vault = (name: string): EmulatedVault => {
    const v = vaults.get(name);
    if (!v) throw new Error(`no vault ${name}`);
    return v;
  };
  const handle = async (req: EmulatorRequest): Promise<unknown> => {
    switch (req.op) {
      case "addVault": {
        const v = await emulator.addVault({ name: req.name, knobs: req.knobs, ...(req.keys ? { keys: req.keys, versions: req.versions ?? 1 } : {}) });
        vaults.set(req.name, v);
        return { url: v.url };
      }
      case "stats":
        return vault(req.name).stats();
      case "resetStats":
        vault(req.name).resetStats();
        return null;
      case "keyCount":
        return vault(req.name).keyCount();
      case "cpu":
        return process.cpuUsage();
    }
  };
  process.on("message", (req: EmulatorRequest) => {
    handle(req).then(
      (result) => process.send?.({ id: req.id, ok: true, result } satisfies EmulatorReply),
      (error: unknown) => process.send?.({ id: req.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies EmulatorReply),
    );
  });
  process.on("disconnect", () => {
    void emulator.stop().finally(() => process.exit(0));
  });
  process.send?.({ ready: true, caCert: emulator.caCert, caCertPath: emulator.caCertPath } satisfies EmulatorReady);
}

/** The parent's handle on the emulator child. */
export class EmulatorProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly caCert: string,
    readonly caCertPath: string,
  ) {
    child.on("message", (reply: EmulatorReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new Error(`emulator: ${reply.error}`));
    });
    child.on("exit", (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the emulator process exited (${code})`));
      this.waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(): Promise<EmulatorProcess> {
    const child = fork(__filename, [], { env: { ...process.env, [ROLE_ENV]: "emulator" }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const ready = await new Promise<EmulatorReady>((resolve, reject) => {
      child.once("message", (m: EmulatorReady) => resolve(m));
      child.once("exit", (code) => reject(new Error(`the emulator process exited during start (${code})`)));
      child.once("error", reject);
    });
    return new EmulatorProcess(child, ready.caCert, ready.caCertPath);
  }

  private call<T>(req: WithoutId<EmulatorRequest>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: (v) => resolve(v as T), reject });
      this.child.send({ ...req, id });
    });
  }

  addVault(name: string, knobs: KnobsPatch, keys?: number, versions?: number): Promise<{ url: string }> {
    return this.call({ op: "addVault", name, knobs, keys, versions });
  }
  stats(name: string): Promise<VaultStats> {
    return this.call({ op: "stats", name });
  }
  resetStats(name: string): Promise<null> {
    return this.call({ op: "resetStats", name });
  }
  keyCount(name: string): Promise<number> {
    return this.call({ op: "keyCount", name });
  }
  cpu(): Promise<NodeJS.CpuUsage> {
    return this.call({ op: "cpu" });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

// The child: this module, forked by EmulatorProcess.start with the role set.
if (process.env[ROLE_ENV] === "emulator" && require.main === module) {
  runEmulatorChild().catch((error: unknown) => {
    process.stderr.write(`bench emulator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
