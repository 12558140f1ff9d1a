/** Shared by the emulator tests: real Key Vault clients pointed at the emulator, and a raw HTTPS caller. */
import * as https from "node:https";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient, type KeyClientOptions } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";

type Credential = ConstructorParameters<typeof KeyClient>[1];

export const TEST_TOKEN = "kvbackup-local-test-token";

/** Any non-empty token is accepted by the emulator. */
export const staticCredential: Credential = {
  getToken: async () => ({ token: TEST_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 }),
};

export function emulatorClient(
  vaultUrl: string,
  ca: string,
  retryOptions: KeyClientOptions["retryOptions"] = { maxRetries: 0 },
  extra: Partial<KeyClientOptions> = {},
): KeyClient {
  return new KeyClient(vaultUrl, staticCredential, {
    // The challenge names vault.azure.net while the host is 127.0.0.1.
    disableChallengeResourceVerification: true,
    tlsOptions: { ca },
    retryOptions,
    ...extra,
  });
}

/** The official SecretClient, trusting the emulator's certificate (no retries unless asked). */
export function secretClient(vaultUrl: string, ca: string, maxRetries = 0): SecretClient {
  return new SecretClient(vaultUrl, staticCredential, { disableChallengeResourceVerification: true, tlsOptions: { ca }, retryOptions: { maxRetries } });
}

/** The official CertificateClient, trusting the emulator's certificate (no retries unless asked). */
export function certificateClient(vaultUrl: string, ca: string, maxRetries = 0): CertificateClient {
  return new CertificateClient(vaultUrl, staticCredential, { disableChallengeResourceVerification: true, tlsOptions: { ca }, retryOptions: { maxRetries } });
}

/** Retries a write while it answers 409, as after a purge whose name is still settling (see restoreAfterPurge). */
export async function retryWhileConflict<T>(call: () => Promise<T>, attempts = 50): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 409 || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One HTTPS request without the SDK, for shapes the SDK hides (headers, exact bodies). */
export function rawRequest(
  url: string,
  ca: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: options.method ?? "GET", ca, headers: options.headers ?? {}, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          let json: unknown;
          try {
            json = text ? (JSON.parse(text) as unknown) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };

/**
 * A restore right after a purge, as the SDK's samples do it against Key Vault: the purged name answers
 * 409 until the purge has finished, so the restore is retried while it does.
 */
export async function restoreAfterPurge(client: KeyClient, blob: Uint8Array, attempts = 50): Promise<Awaited<ReturnType<KeyClient["restoreKeyBackup"]>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.restoreKeyBackup(blob);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 409 || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The error a call fails with (status, code, message); fails the test when the call succeeds. */
export async function failureOf(p: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { statusCode?: number; code?: string; message: string };
    return { statusCode: err.statusCode, code: err.code, message: err.message };
  }
  throw new Error("expected the call to fail");
}
