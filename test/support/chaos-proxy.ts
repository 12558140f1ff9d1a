import * as net from "node:net";
import { makeRandom } from "../../src/emulator/knobs";

/**
 * A loopback TCP proxy in front of the Key Vault emulator, for fault tests: it cuts connections and
 * holds them still, the way a flaky network or a load balancer does. It forwards bytes untouched, so TLS
 * passes through: clients talk to `https://127.0.0.1:<proxy port>` and the emulator's certificate (its SAN
 * is 127.0.0.1) still matches.
 *
 * Faults are decided per chunk of the answer stream (emulator → client), with seeded randomness so a
 * test sees the same sequence every run:
 * - a drop resets both sides instead of passing the chunk on: the request may well have been carried
 *   out by the emulator, only its answer is lost (the case that makes retries need idempotence);
 * - a stall holds the connection's answers for `stallMs` before passing them on.
 * The emulator's own knobs inject the complementary faults (503s, drops before anything is done).
 */
export interface ChaosFaults {
  /** Share of answer chunks whose connection is reset instead (0..1). */
  readonly dropRate: number;
  /** Share of answer chunks held for stallMs first (0..1). */
  readonly stallRate: number;
  readonly stallMs: number;
  /** New connections are reset at once (a port that accepts but answers nothing useful). */
  readonly refuseConnections: boolean;
}

export interface ChaosProxyStats {
  /** Connections accepted since the start (or the last resetStats). */
  readonly connections: number;
  /** Connections open now. */
  readonly active: number;
  /** Connections cut by an injected drop, by dropAll, or refused. */
  readonly dropped: number;
  /** Stalls injected. */
  readonly stalled: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface ChaosProxy {
  readonly host: string;
  readonly port: number;
  /** `https://127.0.0.1:PORT`: use it as the vault URL. */
  readonly url: string;
  faults(): ChaosFaults;
  setFaults(patch: Partial<ChaosFaults>): void;
  stats(): ChaosProxyStats;
  resetStats(): void;
  /** Resets every open connection now; returns how many. */
  dropAll(): number;
  /** Closes the listener and every connection. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ChaosProxyOptions {
  readonly targetPort: number;
  readonly targetHost?: string;
  /** Makes the fault sequence reproducible; Math.random when absent. */
  readonly seed?: number;
  readonly faults?: Partial<ChaosFaults>;
  /** 0/undefined: a free port. */
  readonly port?: number;
}

const NO_FAULTS: ChaosFaults = { dropRate: 0, stallRate: 0, stallMs: 2_000, refuseConnections: false };
const HOST = "127.0.0.1";

export async function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const proxy = new Proxy(options);
  await proxy.listen(options.port ?? 0);
  return proxy;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Answer chunks waiting while the connection is stalled. */
  readonly held: Buffer[];
  stalledUntil: number;
  stallTimer?: NodeJS.Timeout;
  closed: boolean;
}

class Proxy implements ChaosProxy {
  readonly host = HOST;
  port = 0;
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private readonly random: () => number;
  private current: ChaosFaults;
  private counters = { connections: 0, dropped: 0, stalled: 0, bytesUp: 0, bytesDown: 0 };
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: ChaosProxyOptions) {
    this.random = makeRandom(options.seed);
    this.current = checkFaults({ ...NO_FAULTS, ...stripUndefined(options.faults ?? {}) });
    this.server = net.createServer({ pauseOnConnect: true }, (client) => this.accept(client));
  }

  get url(): string {
    return `https://${HOST}:${this.port}`;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, HOST, () => {
        this.server.off("error", reject);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  faults(): ChaosFaults {
    return this.current;
  }

  setFaults(patch: Partial<ChaosFaults>): void {
    this.current = checkFaults({ ...this.current, ...stripUndefined(patch) });
  }

  stats(): ChaosProxyStats {
    return { ...this.counters, active: this.pairs.size };
  }

  resetStats(): void {
    this.counters = { connections: 0, dropped: 0, stalled: 0, bytesUp: 0, bytesDown: 0 };
  }

  dropAll(): number {
    const pairs = [...this.pairs];
    for (const pair of pairs) this.cut(pair, true);
    return pairs.length;
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const pair of [...this.pairs]) this.cut(pair, false);
    });
    return this.stopping;
  }

  private accept(client: net.Socket): void {
    this.counters.connections++;
    if (this.stopping || this.current.refuseConnections) {
      this.counters.dropped++;
      reset(client);
      return;
    }
    const upstream = net.connect({ host: this.options.targetHost ?? HOST, port: this.options.targetPort });
    const pair: Pair = { client, upstream, held: [], stalledUntil: 0, closed: false };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("error", () => this.cut(pair, false));
    upstream.on("error", () => this.cut(pair, false));
    client.on("close", () => this.cut(pair, false));
    upstream.on("close", () => this.cut(pair, false));
    client.on("end", () => upstream.end());
    upstream.on("end", () => {
      // Answers still held by a stall go out first.
      if (pair.held.length === 0) client.end();
    });
    upstream.once("connect", () => client.resume());

    client.on("data", (chunk: Buffer) => {
      this.counters.bytesUp += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    });
    upstream.on("data", (chunk: Buffer) => this.down(pair, chunk));
  }

  /** One chunk of answer: drop, stall or pass on. */
  private down(pair: Pair, chunk: Buffer): void {
    if (pair.closed) return;
    const faults = this.current;
    if (faults.dropRate > 0 || faults.stallRate > 0) {
      const r = this.random();
      if (r < faults.dropRate) {
        this.cut(pair, true);
        return;
      }
      if (r < faults.dropRate + faults.stallRate && pair.held.length === 0) {
        this.counters.stalled++;
        pair.held.push(chunk);
        pair.upstream.pause();
        pair.stallTimer = setTimeout(() => this.release(pair), faults.stallMs);
        return;
      }
    }
    if (pair.held.length > 0) {
      pair.held.push(chunk);
      return;
    }
    this.send(pair, chunk);
  }

  private release(pair: Pair): void {
    pair.stallTimer = undefined;
    if (pair.closed) return;
    const held = pair.held.splice(0);
    for (const chunk of held) this.send(pair, chunk);
    if (pair.upstream.readableEnded) pair.client.end();
    else pair.upstream.resume();
  }

  private send(pair: Pair, chunk: Buffer): void {
    this.counters.bytesDown += chunk.length;
    if (!pair.client.write(chunk)) {
      pair.upstream.pause();
      pair.client.once("drain", () => {
        if (pair.held.length === 0) pair.upstream.resume();
      });
    }
  }

  /** Closes both sides; `injected` counts it as a drop and resets (RST) rather than closing. */
  private cut(pair: Pair, injected: boolean): void {
    if (pair.closed) return;
    pair.closed = true;
    if (pair.stallTimer) clearTimeout(pair.stallTimer);
    pair.held.length = 0;
    this.pairs.delete(pair);
    if (injected) this.counters.dropped++;
    for (const socket of [pair.client, pair.upstream]) {
      if (injected) reset(socket);
      // One side closed or failed: the other is closed too, without forcing a reset.
      else if (!socket.destroyed) socket.destroy();
    }
  }
}

function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  // A reset (RST) rather than a clean close: the client sees ECONNRESET, as with a real network cut.
  if (typeof socket.resetAndDestroy === "function" && socket.readyState !== "opening") socket.resetAndDestroy();
  else socket.destroy();
}

function checkFaults(faults: ChaosFaults): ChaosFaults {
  for (const field of ["dropRate", "stallRate"] as const) {
    const v = faults[field];
    if (!(v >= 0 && v <= 1)) throw new Error(`chaos proxy: ${field} must be within 0..1, got ${v}`);
  }
  if (faults.dropRate + faults.stallRate > 1) throw new Error("chaos proxy: dropRate + stallRate must not exceed 1");
  if (!(faults.stallMs >= 0)) throw new Error(`chaos proxy: stallMs must be >= 0, got ${faults.stallMs}`);
  return faults;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
