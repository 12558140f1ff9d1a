import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import * as http from "node:http";
import type { Socket } from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Starts the blob service of the installed Azurite in a child process (or, with `services: "all"`, its
 * blob, queue and table services, which the Functions host and the Durable task hub need).
 *
 * Why a child process rather than Azurite's classes in-process: Azurite has no public programmatic API
 * (its package exports only the VS Code extension; the server classes are untyped internals that share
 * module-level singletons such as the logger and the persistence-path array), and a separate process lets
 * Blob Storage work use the second core while the orchestrators and the Key Vault emulator use this one.
 * It also makes "Azurite is down" real for fault tests: the port refuses connections.
 */

export const AZURITE_HOST = "127.0.0.1";
export const AZURITE_ACCOUNT = "devstoreaccount1";
/** Azurite's built-in development key: published in Azurite's documentation, not a secret. */
export const AZURITE_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const DEFAULT_START_TIMEOUT_MS = 20_000;
/** How long stop() waits for a graceful shutdown before killing the child. */
const STOP_GRACE_MS = 10_000;
/** After Azurite reports "closed" (data saved), how long to let it exit on its own before killing it. */
const AFTER_CLOSED_GRACE_MS = 1_000;
const OUTPUT_LINES_KEPT = 30;

export interface StartAzuriteOptions {
  /** Listening port of the blob service; 0 or omitted picks a free one (read back from Azurite). */
  readonly port?: number;
  /** "blob" (default): the blob service only. "all": blob, queue and table, as `func start` needs. */
  readonly services?: "blob" | "all";
  /** With services "all": the queue and table ports (0 or omitted: a free one). */
  readonly queuePort?: number;
  readonly tablePort?: number;
  /**
   * Folder for persistent data (created when missing, kept on stop), so a stopped Azurite can be started
   * again on the same port with the same data. Omitted: in-memory persistence, lost on stop.
   */
  readonly location?: string;
  /** Default true: Azurite's own console output is not forwarded. Access logging is always off. */
  readonly silent?: boolean;
  /** Default 20 s. */
  readonly startTimeoutMs?: number;
}

export interface RunningAzurite {
  readonly port: number;
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  readonly blobEndpoint: string;
  /** With every endpoint that was started (queue and table with services "all"). */
  readonly connectionString: string;
  /** With services "all": `http://127.0.0.1:PORT/devstoreaccount1` of the queue and table services. */
  readonly queueEndpoint?: string;
  readonly tableEndpoint?: string;
  /** The persistence folder, or undefined for in-memory persistence. */
  readonly location: string | undefined;
  /** False between stop() and start(), or after Azurite exited on its own. */
  readonly running: boolean;
  /** Stops Azurite and waits until the process is gone; safe to call repeatedly. */
  stop(): Promise<void>;
  /**
   * Starts Azurite again after stop(), on the same port and with the same folder (so with a `location`
   * the data is still there). Rejects when it is already running.
   */
  start(): Promise<void>;
}

export class AzuriteStartError extends Error {
  override readonly name = "AzuriteStartError";
}

export function azuriteConnectionString(port: number, queuePort?: number, tablePort?: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};` +
    `BlobEndpoint=http://${AZURITE_HOST}:${port}/${AZURITE_ACCOUNT};` +
    (queuePort !== undefined ? `QueueEndpoint=http://${AZURITE_HOST}:${queuePort}/${AZURITE_ACCOUNT};` : "") +
    (tablePort !== undefined ? `TableEndpoint=http://${AZURITE_HOST}:${tablePort}/${AZURITE_ACCOUNT};` : "")
  );
}

export async function startAzurite(opts: StartAzuriteOptions = {}): Promise<RunningAzurite> {
  const requestedPort = opts.port ?? 0;
  for (const port of [opts.port, opts.queuePort, opts.tablePort]) {
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new AzuriteStartError(`invalid Azurite port: ${String(port)}`);
    }
  }
  const location = opts.location === undefined ? undefined : path.resolve(opts.location);
  const settings: LaunchSettings = {
    all: opts.services === "all" ? { queuePort: opts.queuePort ?? 0, tablePort: opts.tablePort ?? 0 } : undefined,
    location,
    silent: opts.silent ?? true,
    startTimeoutMs: opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
  };
  const first = await launch(requestedPort, settings);
  return new AzuriteHandle(first, settings);
}

interface LaunchSettings {
  /** Set when the queue and table services run too (their requested ports; a restart reuses the bound ones). */
  readonly all: { readonly queuePort: number; readonly tablePort: number } | undefined;
  readonly location: string | undefined;
  readonly silent: boolean;
  readonly startTimeoutMs: number;
}

/**
 * Runs inside the child, then hands over to Azurite's blob entry script (argv[1]). When the parent
 * disconnects (stop(), or the parent died) it triggers Azurite's own graceful shutdown, which saves the
 * metadata database, so no Azurite outlives its owner. The IPC channel is unref'd so it never keeps the
 * child alive by itself; broken stdout/stderr pipes are ignored so a vanished parent cannot crash the save.
 */
const CHILD_BOOTSTRAP = `"use strict";
for (const s of [process.stdout, process.stderr]) s.on("error", () => {});
process.on("disconnect", () => {
  setTimeout(() => process.exit(0), ${STOP_GRACE_MS - 2_000}).unref();
  if (process.listenerCount("SIGTERM") > 0) process.emit("SIGTERM"); else process.exit(0);
});
if (process.channel) process.channel.unref();
require(process.argv[1]);
`;

interface Launched {
  readonly child: ChildProcess;
  readonly port: number;
  readonly queuePort?: number;
  readonly tablePort?: number;
  /** Resolves when the process has exited and its pipes are closed. */
  readonly closed: Promise<void>;
  /** Resolves when Azurite prints that it closed (its data is saved). */
  readonly reportedClosed: Promise<void>;
}

function entryScript(all: boolean): string {
  return require.resolve(all ? "azurite/dist/src/azurite.js" : "azurite/dist/src/blob/main.js");
}

async function launch(port: number, settings: LaunchSettings): Promise<Launched> {
  if (settings.location !== undefined) mkdirSync(settings.location, { recursive: true });
  const all = settings.all;
  const args = [
    "-e", CHILD_BOOTSTRAP, entryScript(all !== undefined),
    "--blobHost", AZURITE_HOST,
    "--blobPort", String(port),
    ...(all ? ["--queueHost", AZURITE_HOST, "--queuePort", String(all.queuePort), "--tableHost", AZURITE_HOST, "--tablePort", String(all.tablePort)] : []),
    "--silent", "--loose", "--skipApiVersionCheck", "--disableTelemetry",
    ...(settings.location !== undefined ? ["--location", settings.location] : ["--inMemoryPersistence"]),
  ];
  const env = { ...process.env };
  // AZURITE_DB would switch Azurite to a SQL metadata store.
  delete env.AZURITE_DB;
  const child = spawn(process.execPath, args, {
    cwd: settings.location ?? os.tmpdir(),
    env,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    windowsHide: true,
  });

  // Spawn and IPC failures after start-up must not become unhandled 'error' events; stop() copes with them.
  child.on("error", () => undefined);
  const recent: string[] = [];
  // Each service prints one line when it listens and one when it closed (its data saved).
  const services = all ? ["Blob", "Queue", "Table"] : ["Blob"];
  const listeningAt = new Map<string, string>();
  let closedCount = 0;
  let onListening: (() => void) | undefined;
  let onReportedClosed: (() => void) | undefined;
  const reportedClosed = new Promise<void>((resolve) => (onReportedClosed = resolve));
  const lineHandler = (line: string): void => {
    recent.push(line);
    if (recent.length > OUTPUT_LINES_KEPT) recent.shift();
    if (!settings.silent) process.stderr.write(`[azurite] ${line}\n`);
    const listening = /Azurite (\w+) service (?:successfully listens on|is successfully listening at) (https?:\/\/\S+)/.exec(line);
    if (listening) {
      listeningAt.set(listening[1]!, listening[2]!);
      if (services.every((name) => listeningAt.has(name))) onListening?.();
    }
    if (/successfully closed/.test(line) && ++closedCount >= services.length) onReportedClosed?.();
  };
  // Always drain both pipes: on Linux a child's writes to a full pipe block it.
  readLines(child.stdout!, lineHandler);
  readLines(child.stderr!, lineHandler);

  // Not the child's "close" event: Node never emits it once the parent has called disconnect().
  const closed = Promise.all([
    new Promise<void>((resolve) => child.once("exit", () => resolve())),
    new Promise<void>((resolve) => child.stdout!.once("close", () => resolve())),
    new Promise<void>((resolve) => child.stderr!.once("close", () => resolve())),
  ]).then(() => undefined);
  const describeOutput = (): string => (recent.length ? ` Last output: ${recent.slice(-5).join(" | ")}` : "");

  const deadline = Date.now() + settings.startTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onListening = resolve;
      child.once("error", (err) => reject(new AzuriteStartError(`cannot run Azurite: ${err.message}`)));
      child.once("exit", (code, signal) =>
        reject(new AzuriteStartError(
          `Azurite exited (${signal ?? `code ${code}`}) before listening on ${AZURITE_HOST}:${port}.${describeOutput()}`,
        )));
      timer = setTimeout(
        () => reject(new AzuriteStartError(`Azurite did not start within ${settings.startTimeoutMs / 1000} s.${describeOutput()}`)),
        settings.startTimeoutMs,
      );
    });
    const portOf = (service: string) => Number(new URL(listeningAt.get(service)!).port);
    const boundPort = portOf("Blob");
    // The listen line comes after listen(); still, prove it answers HTTP before handing it out.
    while (!(await answers(boundPort))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new AzuriteStartError(`Azurite on port ${boundPort} does not answer HTTP.${describeOutput()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    onListening = undefined;
    // From here on the child must not keep this process alive: if the owner forgets stop(), the parent can
    // still exit, and the child then shuts itself down on disconnect.
    setReferenced(child, false);
    return { child, port: boundPort, ...(all ? { queuePort: portOf("Queue"), tablePort: portOf("Table") } : {}), closed, reportedClosed };
  } catch (err) {
    child.kill("SIGKILL");
    await closed;
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, "");
      pending = pending.slice(nl + 1);
      if (line) onLine(line);
    }
  });
  stream.on("end", () => {
    if (pending) onLine(pending);
    pending = "";
  });
}

function setReferenced(child: ChildProcess, referenced: boolean): void {
  const handles: Array<{ ref(): unknown; unref(): unknown } | undefined | null> = [
    child,
    child.channel,
    child.stdout as Socket | null,
    child.stderr as Socket | null,
  ];
  for (const handle of handles) {
    if (handle && typeof handle.ref === "function") {
      if (referenced) handle.ref();
      else handle.unref();
    }
  }
}

/** Any HTTP answer counts (Azurite answers an unauthenticated request with an error status). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: AZURITE_HOST, port, path: `/${AZURITE_ACCOUNT}?comp=list`, agent: false, timeout: 2_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(true));
        res.on("error", () => resolve(true));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
  });
}

class AzuriteHandle implements RunningAzurite {
  readonly port: number;
  readonly blobEndpoint: string;
  readonly connectionString: string;
  readonly queueEndpoint?: string;
  readonly tableEndpoint?: string;
  readonly location: string | undefined;
  private current: Launched | undefined;
  private stopping: Promise<void> | undefined;
  private starting: Promise<void> | undefined;

  private readonly settings: LaunchSettings;

  constructor(first: Launched, settings: LaunchSettings) {
    this.current = first;
    this.port = first.port;
    this.location = settings.location;
    this.blobEndpoint = `http://${AZURITE_HOST}:${first.port}/${AZURITE_ACCOUNT}`;
    if (first.queuePort !== undefined) this.queueEndpoint = `http://${AZURITE_HOST}:${first.queuePort}/${AZURITE_ACCOUNT}`;
    if (first.tablePort !== undefined) this.tableEndpoint = `http://${AZURITE_HOST}:${first.tablePort}/${AZURITE_ACCOUNT}`;
    this.connectionString = azuriteConnectionString(first.port, first.queuePort, first.tablePort);
    // A restart binds the same ports again, so the connection string stays valid.
    this.settings = settings.all && first.queuePort !== undefined && first.tablePort !== undefined
      ? { ...settings, all: { queuePort: first.queuePort, tablePort: first.tablePort } }
      : settings;
  }

  get running(): boolean {
    const child = this.current?.child;
    return !!child && child.exitCode === null && child.signalCode === null && !this.stopping;
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopCurrent().finally(() => (this.stopping = undefined));
    return this.stopping;
  }

  start(): Promise<void> {
    if (this.running) return Promise.reject(new AzuriteStartError(`Azurite is already running on port ${this.port}`));
    this.starting ??= (async () => {
      if (this.stopping) await this.stopping;
      if (this.current) await this.current.closed;
      this.current = await launch(this.port, this.settings);
    })().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async stopCurrent(): Promise<void> {
    const launched = this.current;
    if (!launched) return;
    const { child } = launched;
    if (child.exitCode === null && child.signalCode === null) {
      // Keep the caller's process alive until the child is really gone.
      setReferenced(child, true);
      // Disconnecting triggers Azurite's graceful shutdown (see CHILD_BOOTSTRAP).
      if (child.connected) child.disconnect();
      else child.kill("SIGTERM");
      let savedTimer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        launched.closed.then(() => "exited" as const),
        // A request that arrived while Azurite was closing can hold its socket open; once Azurite says
        // its data is saved, there is nothing left to lose by killing it.
        launched.reportedClosed.then(
          () => new Promise<"saved">((r) => (savedTimer = setTimeout(() => r("saved"), AFTER_CLOSED_GRACE_MS).unref()))),
        new Promise<"timeout">((r) => (graceTimer = setTimeout(() => r("timeout"), STOP_GRACE_MS).unref())),
      ]);
      clearTimeout(savedTimer);
      clearTimeout(graceTimer);
      if (outcome !== "exited") child.kill("SIGKILL");
    }
    await launched.closed;
  }
}
