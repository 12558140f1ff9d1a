/**
 * One HTTPS listener in front of a VaultService: the challenge-based auth of the real service, then
 * the knobs (latency, injected faults, one throttle for every kind of object, as the service counts per
 * vault), then the Keys, Secrets and Certificates APIs. Every request gets an answer, except the ones an
 * injected drop cuts off on purpose.
 */
import { randomUUID } from "node:crypto";
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CancellableSleeps } from "../util/cancellable-sleeps";
import { SlidingWindow, applyKnobs, makeRandom } from "./knobs";
import type { StatePersister } from "./persist";
import { BODY_TOO_LARGE, checkApiVersion, parseJson, readBody } from "./listener-http";
import { ServiceError, badParameter, type RequestContext, type Route, type VaultService } from "./vault-service";
import type {
  EmulatedVault,
  EmulatorKnobs,
  KnobsPatch,
  SeedCertificatesOptions,
  SeedKeysOptions,
  SeedSecretsOptions,
  ServiceKind,
  VaultStats,
} from "./types";

export interface ListenerOptions {
  readonly service: VaultService;
  readonly certPem: string;
  readonly keyPem: string;
  readonly knobs: EmulatorKnobs;
  readonly seed: number | undefined;
  readonly maxBodyBytes: number;
  readonly persister?: StatePersister;
  /** The tenant named in the challenge; any value works since any token is accepted. */
  readonly tenantId?: string;
  /** Routes served before the vault APIs (a Managed HSM's backup/restore); same auth, knobs and stats. */
  readonly extension?: ListenerExtension;
}

export interface ExtensionReply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ListenerExtension {
  /** The operation (its name counts in stats) for a request, or undefined to leave it to the vault APIs. */
  route(method: string, segments: readonly string[]): { op: string; run(ctx: RequestContext): Promise<ExtensionReply> } | undefined;
}

const HOST = "127.0.0.1";

interface Counters {
  requests: number;
  challenges: number;
  throttled429: number;
  unavailable503: number;
  dropped: number;
  operations: Record<string, number>;
}

const zeroCounters = (): Counters => ({
  requests: 0,
  challenges: 0,
  throttled429: 0,
  unavailable503: 0,
  dropped: 0,
  operations: {},
});

export class VaultListener implements EmulatedVault {
  readonly url: string;
  readonly port: number;
  readonly kind: ServiceKind;
  private knobsValue: EmulatorKnobs;
  private readonly window = new SlidingWindow();
  private readonly random: () => number;
  private counters = zeroCounters();
  private readonly sleeps = new CancellableSleeps();
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly challenge: string;

  private constructor(
    private readonly server: https.Server,
    private readonly opts: ListenerOptions,
    port: number,
  ) {
    this.port = port;
    this.url = `https://${HOST}:${port}`;
    this.kind = opts.service.profile.kind;
    this.knobsValue = opts.knobs;
    this.random = makeRandom(opts.seed);
    const tenant = opts.tenantId ?? "00000000-0000-0000-0000-000000000000";
    this.challenge = `Bearer authorization="https://login.microsoftonline.com/${tenant}", resource="${opts.service.profile.challengeResource}"`;
  }

  static async start(opts: ListenerOptions, port = 0): Promise<VaultListener> {
    const server = https.createServer({ key: opts.keyPem, cert: opts.certPem, keepAlive: true, noDelay: true });
    // Longer than any client's idle timeout, so the client always closes first (no reuse races).
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 125_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, HOST, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const listener = new VaultListener(server, opts, (server.address() as AddressInfo).port);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => listener.onRequest(req, res));
    // A client that rejects the certificate or hangs up mid-handshake is not the server's problem.
    server.on("tlsClientError", () => {});
    return listener;
  }

  // ------------------------------------------------------------------ EmulatedVault

  seedKeys(options: SeedKeysOptions): Promise<void> {
    return this.opts.service.seed(options);
  }

  setKnobs(patch: KnobsPatch): void {
    this.knobsValue = applyKnobs(this.knobsValue, patch);
  }

  knobs(): EmulatorKnobs {
    return this.knobsValue;
  }

  stats(): VaultStats {
    return { ...this.counters, operations: { ...this.counters.operations } };
  }

  resetStats(): void {
    this.counters = zeroCounters();
  }

  /** The vault's objects, certificate creates that have come due ended first. */
  private get state(): VaultService["state"] {
    this.opts.service.settle();
    return this.opts.service.state;
  }

  listKeyNames(): string[] {
    return this.state.keys.liveNames();
  }

  listDeletedKeyNames(): string[] {
    return this.state.keys.deletedNames();
  }

  listVersions(name: string): string[] | undefined {
    return this.state.keys.getLive(name)?.versions.map((v) => v.id);
  }

  keyCount(): number {
    return this.state.keys.liveCount;
  }

  materialDigests(name: string): Record<string, string> | undefined {
    return this.opts.service.materialDigests(name);
  }

  seedSecrets(options: SeedSecretsOptions): Promise<void> {
    return this.opts.service.seedSecrets(options);
  }

  seedCertificates(options: SeedCertificatesOptions): Promise<void> {
    return this.opts.service.seedCertificates(options);
  }

  listSecretNames(): string[] {
    return this.state.secrets.liveNames();
  }

  listDeletedSecretNames(): string[] {
    return this.state.secrets.deletedNames();
  }

  listSecretVersions(name: string): string[] | undefined {
    return this.state.secrets.getLive(name)?.versions.map((v) => v.id);
  }

  secretCount(): number {
    return this.state.secrets.liveCount;
  }

  listCertificateNames(): string[] {
    return this.state.certificates.liveNames();
  }

  listDeletedCertificateNames(): string[] {
    return this.state.certificates.deletedNames();
  }

  listCertificateVersions(name: string): string[] | undefined {
    return this.state.certificates.getLive(name)?.versions.map((v) => v.id);
  }

  certificateCount(): number {
    return this.state.certificates.liveCount;
  }

  secretDigests(name: string): Record<string, string> | undefined {
    this.opts.service.settle();
    return this.opts.service.secrets.digests(name);
  }

  certificateDigests(name: string): Record<string, string> | undefined {
    this.opts.service.settle();
    return this.opts.service.certificates.digests(name);
  }

  /** Clears the throttle window (tests that change the budget mid-run). */
  resetThrottle(): void {
    this.window.reset();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.sleeps.cancelAll();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await closed;
      await this.opts.persister?.close();
    })();
    return this.stopping;
  }

  // ------------------------------------------------------------------ requests

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      const e =
        err instanceof ServiceError ? err : new ServiceError(500, "InternalServerError", `Emulator error: ${(err as Error)?.message ?? err}`);
      this.send(res, e.status, e.toBody(), e.headers);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const raw = await readBody(req, this.opts.maxBodyBytes);
    const knobs = this.knobsValue;
    if (knobs.latencyMs > 0) await this.sleeps.sleep(knobs.latencyMs);
    if (this.stopped) return;

    if (!/^Bearer\s+\S/i.test(req.headers.authorization ?? "")) {
      this.counters.challenges++;
      this.send(
        res,
        401,
        { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } },
        { "WWW-Authenticate": this.challenge },
      );
      return;
    }

    const { dropRate, error503Rate, retryAfterSeconds } = knobs.faults;
    if (dropRate > 0 || error503Rate > 0) {
      const r = this.random();
      if (r < dropRate) {
        this.counters.dropped++;
        req.socket.destroy();
        return;
      }
      if (r < dropRate + error503Rate) {
        this.counters.unavailable503++;
        this.send(
          res,
          503,
          { error: { code: "ServiceUnavailable", message: "The service is temporarily unavailable (injected by the emulator)." } },
          { "Retry-After": String(Math.round(retryAfterSeconds)) },
        );
        return;
      }
    }

    const waitMs = this.window.tryAcquire(knobs.throttle, Date.now());
    if (waitMs > 0) {
      this.counters.throttled429++;
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      this.send(
        res,
        429,
        {
          error: {
            code: "Throttled",
            message: `Operations per second is over the limit for this vault (${knobs.throttle} per 10 seconds). Retry after ${seconds} seconds.`,
          },
        },
        { "Retry-After": String(seconds) },
      );
      return;
    }

    const url = new URL(req.url ?? "/", this.url);
    let segments: string[];
    try {
      segments = url.pathname.split("/").slice(1).map(decodeURIComponent);
    } catch {
      throw badParameter("The request path is not valid.");
    }
    const extra = this.opts.extension?.route(req.method ?? "GET", segments);
    if (extra) {
      this.count(extra.op);
      const apiVersion = checkApiVersion(url.searchParams.get("api-version"));
      if (raw === BODY_TOO_LARGE) {
        throw new ServiceError(413, "RequestEntityTooLarge", `The request body exceeds ${this.opts.maxBodyBytes} bytes.`);
      }
      const reply = await extra.run({ baseUrl: this.url, apiVersion, query: url.searchParams, body: parseJson(raw), lifecycle: knobs });
      this.send(res, reply.status, reply.body, reply.headers);
      return;
    }
    let route: Route;
    try {
      route = this.opts.service.route(req.method ?? "GET", segments);
    } catch (err) {
      this.count("unrouted");
      throw err;
    }
    this.count(route.op);
    const apiVersion = checkApiVersion(url.searchParams.get("api-version"));
    if (raw === BODY_TOO_LARGE) {
      throw new ServiceError(413, "RequestEntityTooLarge", `The request body exceeds ${this.opts.maxBodyBytes} bytes.`);
    }
    const reply = await this.opts.service.execute(route, {
      baseUrl: this.url,
      apiVersion,
      query: url.searchParams,
      body: parseJson(raw),
      lifecycle: knobs,
    });
    this.send(res, reply.status, reply.body);
  }

  private count(op: string): void {
    this.counters.operations[op] = (this.counters.operations[op] ?? 0) + 1;
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Readonly<Record<string, string>> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const payload = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {
      ...(payload ? { "Content-Type": "application/json; charset=utf-8" } : {}),
      "Content-Length": Buffer.byteLength(payload),
      "Cache-Control": "no-cache",
      "x-ms-request-id": randomUUID(),
      ...headers,
    });
    res.end(payload);
  }
}
