/** Shared by the emulator tests: a real KeyClient pointed at the emulator, and a raw HTTPS caller. */
import * as https from "node:https";
import { KeyClient, type KeyClientOptions } from "@azure/keyvault-keys";

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
