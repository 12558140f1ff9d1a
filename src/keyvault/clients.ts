import type { TokenCredential, AccessToken } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { KeyClient } from "@azure/keyvault-keys";
import { RateLimiter } from "../util/rate-limiter";

/**
 * Builds one KeyClient per vault URL and reuses it, so every call of a job shares one pipeline and
 * one keep-alive agent (connection reuse matters at thousands of calls per minute).
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
}

export type KeyClientFactory = (vaultUrl: string) => KeyClient;

/** Tuned for bulk work: a throttled call waits for the vault rather than failing the key. */
export const DEFAULT_KEY_CLIENT_RETRY = { maxRetries: 10, retryDelayInMs: 800, maxRetryDelayInMs: 30_000 } as const;

export function createKeyClientFactory(options: KeyVaultConnectionOptions): KeyClientFactory {
  const clients = new Map<string, KeyClient>();
  // One object for the life of the factory: the HTTP client caches its agent by this identity.
  const tlsOptions = options.emulatorCaCert ? { ca: options.emulatorCaCert } : undefined;
  return (vaultUrl) => {
    const key = normalizeVaultUrl(vaultUrl);
    let client = clients.get(key);
    if (!client) {
      const additionalPolicies = options.maxOperationsPer10s
        ? [{ policy: pacingPolicy(new RateLimiter(options.maxOperationsPer10s)), position: "perRetry" as const }]
        : [];
      client = new KeyClient(key, options.credential, {
        disableChallengeResourceVerification: tlsOptions !== undefined,
        tlsOptions,
        additionalPolicies,
        retryOptions: {
          maxRetries: options.maxRetries ?? DEFAULT_KEY_CLIENT_RETRY.maxRetries,
          retryDelayInMs: DEFAULT_KEY_CLIENT_RETRY.retryDelayInMs,
          maxRetryDelayInMs: options.maxRetryDelayMs ?? DEFAULT_KEY_CLIENT_RETRY.maxRetryDelayInMs,
        },
        userAgentOptions: { userAgentPrefix: "kvbackup" },
      });
      clients.set(key, client);
    }
    return client;
  };
}

export function normalizeVaultUrl(vaultUrl: string): string {
  const url = new URL(vaultUrl);
  return `${url.protocol}//${url.host}`.toLowerCase();
}

/** Waits for the pacing budget before every attempt, retries included (they count at the vault too). */
function pacingPolicy(limiter: RateLimiter): PipelinePolicy {
  return {
    name: "kvbackupPacing",
    async sendRequest(request, next) {
      await limiter.acquire();
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
