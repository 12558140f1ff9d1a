import type { TokenCredential, AccessToken } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient, type KeyClientOptions } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { DEFAULT_KEY_CLIENT_RETRY } from "../retry-policies";
import { PACING_SAFETY_FACTOR } from "../tuning";
import { RateLimiter } from "../util/rate-limiter";
import { tryTimeoutPolicy } from "./try-timeout";

/**
 * The connections of one process to its vaults. A vault has one connection, whatever kinds of objects are
 * read from it: one pacing budget (Key Vault counts every operation of a vault against one limit, keys,
 * secrets and certificates alike), one set of pipeline policies, and its official SDK clients built from
 * them. Each client is made once and reused, so every call of a job shares one pipeline and one keep-alive
 * agent (connection reuse matters at thousands of calls per minute).
 *
 * A client for another kind of object is added to VaultConnection the way `keys()`, `secrets()` and
 * `certificates()` are, with `clientOptions()`, so that it spends the same budget.
 */
export interface KeyVaultConnectionOptions {
  readonly credential: TokenCredential;
  /** PEM of a certificate to trust for these clients only: the local emulator's self-signed one. */
  readonly emulatorCaCert?: string;
  /** Client-side pacing per vault, in operations per 10 s; 0 or undefined disables it. */
  readonly maxOperationsPer10s?: number;
  /** Retries of one call by the SDK (429 honours Retry-After; 5xx back off exponentially). */
  readonly maxRetries?: number;
  readonly maxRetryDelayMs?: number;
  /** Longest wait for one attempt's answer before it is retried on a new connection (default 60 s; 0 = none). */
  readonly tryTimeoutMs?: number;
}

/** What the clients of one set of connections did, for benchmarks and diagnostics (counters since it was made). */
export interface KeyVaultCallStats {
  /** Calls made through the SDK (one per request the code asked for, whatever its retries). */
  readonly calls: number;
  /** Requests sent, retries included (the 401 of the authentication challenge excluded). */
  readonly attempts: number;
  /** attempts - calls - challenges: what the SDK retried (429, 5xx, dropped connections). */
  readonly retries: number;
  /** 401 answers of the authentication challenge (one per new token), which the SDK answers by resending. */
  readonly challenges: number;
  /** 429 answers seen by the clients. */
  readonly throttled: number;
  /** Time requests spent waiting for the pacing budget, summed over requests. */
  readonly pacingWaitMs: number;
}

/** The options every official Key Vault SDK client of one vault is built with (the common part of their option types). */
export type VaultClientOptions = Pick<
  KeyClientOptions,
  "disableChallengeResourceVerification" | "tlsOptions" | "additionalPolicies" | "retryOptions" | "userAgentOptions"
>;

/** One vault: its URL, its pacing budget, and the clients that share them. */
export interface VaultConnection {
  /** `https://<host>`, lower case: the key of the connection. */
  readonly vaultUrl: string;
  /** The vault's keys client. */
  keys(): KeyClient;
  /** The vault's secrets client (never used to read a value: kvbackup lists, backs up and restores). */
  secrets(): SecretClient;
  /** The vault's certificates client. */
  certificates(): CertificateClient;
  /** Options for any SDK client of this vault: its calls are counted and paced with the others of the vault. */
  clientOptions(): VaultClientOptions;
  /** Operations the pacing budget would let go right now (Infinity without pacing). */
  spareBudget(): number;
}

export interface VaultConnections {
  /** The connection of a vault, made on first use. */
  get(vaultUrl: string): VaultConnection;
  /** Counters over every client of every connection. */
  stats(): KeyVaultCallStats;
}

export function createVaultConnections(options: KeyVaultConnectionOptions): VaultConnections {
  const connections = new Map<string, VaultConnection>();
  // One object for the life of the connections: the HTTP client caches its agent by this identity.
  const tlsOptions = options.emulatorCaCert ? { ca: options.emulatorCaCert } : undefined;
  const counters = { calls: 0, attempts: 0, challenges: 0, throttled: 0, pacingWaitMs: 0 };
  const budget = pacingBudget(options.maxOperationsPer10s);

  function connect(vaultUrl: string): VaultConnection {
    // Pacing is per vault: one limiter per connection, shared by each of its clients.
    const limiter = budget > 0 ? new RateLimiter(budget) : undefined;
    const clientOptions: VaultClientOptions = {
      disableChallengeResourceVerification: tlsOptions !== undefined,
      tlsOptions,
      additionalPolicies: [
        { policy: countingCallsPolicy(counters), position: "perCall" },
        { policy: pacingPolicy(limiter, counters), position: "perRetry" },
        // After pacing, so a wait for the budget never counts against an attempt's time.
        { policy: tryTimeoutPolicy(options.tryTimeoutMs), position: "perRetry" },
      ],
      retryOptions: {
        maxRetries: options.maxRetries ?? DEFAULT_KEY_CLIENT_RETRY.maxRetries,
        retryDelayInMs: DEFAULT_KEY_CLIENT_RETRY.retryDelayInMs,
        maxRetryDelayInMs: options.maxRetryDelayMs ?? DEFAULT_KEY_CLIENT_RETRY.maxRetryDelayInMs,
      },
      userAgentOptions: { userAgentPrefix: "kvbackup" },
    };
    let keys: KeyClient | undefined;
    let secrets: SecretClient | undefined;
    let certificates: CertificateClient | undefined;
    return {
      vaultUrl,
      keys: () => (keys ??= new KeyClient(vaultUrl, options.credential, clientOptions)),
      secrets: () => (secrets ??= new SecretClient(vaultUrl, options.credential, clientOptions)),
      certificates: () => (certificates ??= new CertificateClient(vaultUrl, options.credential, clientOptions)),
      clientOptions: () => clientOptions,
      spareBudget: () => (limiter ? Math.max(0, limiter.operations - limiter.used) : Number.POSITIVE_INFINITY),
    };
  }

  return {
    get(vaultUrl) {
      const key = normalizeVaultUrl(vaultUrl);
      let connection = connections.get(key);
      if (!connection) {
        connection = connect(key);
        connections.set(key, connection);
      }
      return connection;
    },
    stats: () => ({
      calls: counters.calls,
      attempts: counters.attempts,
      retries: Math.max(0, counters.attempts - counters.calls - counters.challenges),
      challenges: counters.challenges,
      throttled: counters.throttled,
      pacingWaitMs: counters.pacingWaitMs,
    }),
  };
}

/** What the activities are given: the keys client of a vault, by its URL. */
export interface KeyClientFactory {
  (vaultUrl: string): KeyClient;
  /** Counters over every client this factory made (absent on test doubles). */
  readonly stats?: () => KeyVaultCallStats;
  /**
   * Operations the pacing budget of this vault would let go right now (Infinity without pacing).
   * Lets optional work use budget that would otherwise go unused, without delaying the main work.
   */
  readonly spareBudget?: (vaultUrl: string) => number;
}

/** The keys clients of a set of connections. */
export function keyClientsOf(connections: VaultConnections): KeyClientFactory {
  return Object.assign((vaultUrl: string) => connections.get(vaultUrl).keys(), {
    stats: () => connections.stats(),
    spareBudget: (vaultUrl: string) => connections.get(vaultUrl).spareBudget(),
  });
}

/** Connections and their keys clients in one call (tests and tools that need nothing else). */
export function createKeyClientFactory(options: KeyVaultConnectionOptions): KeyClientFactory {
  return keyClientsOf(createVaultConnections(options));
}

/**
 * The operations per 10 s the client actually allows itself for a vault budget: PACING_SAFETY_FACTOR of
 * it. The limiter already counts conservatively (see RateLimiter); the small margin hedges how the real
 * service counts across its front ends, since a refused request costs a whole Retry-After (a second or more).
 */
export function pacingBudget(maxOperationsPer10s: number | undefined): number {
  if (!maxOperationsPer10s || maxOperationsPer10s <= 0) return 0;
  return Math.max(1, Math.floor(maxOperationsPer10s * PACING_SAFETY_FACTOR));
}

export function normalizeVaultUrl(vaultUrl: string): string {
  const url = new URL(vaultUrl);
  return `${url.protocol}//${url.host}`.toLowerCase();
}

/**
 * Takes a pacing slot before every attempt, retries included (they count at the vault too), and gives
 * it back when the answer is in: the vault counted the request by then (see RateLimiter).
 */
function pacingPolicy(
  limiter: RateLimiter | undefined,
  counters: { attempts: number; challenges: number; throttled: number; pacingWaitMs: number },
): PipelinePolicy {
  return {
    name: "kvbackupPacing",
    async sendRequest(request, next) {
      let release: (() => void) | undefined;
      if (limiter) {
        const started = performance.now();
        release = await limiter.acquireSlot();
        counters.pacingWaitMs += performance.now() - started;
      }
      counters.attempts++;
      try {
        const response = await next(request);
        if (response.status === 429) counters.throttled++;
        else if (response.status === 401 && response.headers.get("www-authenticate")) counters.challenges++;
        return response;
      } finally {
        release?.();
      }
    },
  };
}

function countingCallsPolicy(counters: { calls: number }): PipelinePolicy {
  return {
    name: "kvbackupCallCounter",
    sendRequest(request, next) {
      counters.calls++;
      return next(request);
    },
  };
}

/**
 * The credential used against the local emulator: a fixed token that the emulator accepts. It is
 * only ever sent to a server whose certificate the user handed us with --emulator-ca.
 */
export class EmulatorTokenCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    return { token: "kvbackup-local-emulator-token", expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}
