/**
 * The one rule of what is worth trying again, for every service kvbackup calls (Key Vault, Managed HSM,
 * Blob Storage): throttling (429), server errors (5xx), 408, and no answer at all (connection reset or
 * refused, timeout) may pass; any other answer (400 bad request, 401/403 access, 404 not found, 409
 * conflict, 412) says the request itself cannot succeed as it is, and is final.
 *
 * src/keyvault/errors.ts names Key Vault errors by this rule; activities/failures.ts applies it to what an
 * activity throws, which decides whether the orchestrator tries the activity again.
 */

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Error codes of Node and the Azure SDK for a request that got no answer. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "REQUEST_SEND_ERROR",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** A failure without an answer that a later attempt may not meet: reset, refused, timed out, aborted. */
export function isTransientNetworkFailure(error: { code?: unknown; name?: unknown; message?: unknown }): boolean {
  const code = typeof error.code === "string" ? error.code : undefined;
  const message = typeof error.message === "string" ? error.message : "";
  return (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) || error.name === "AbortError" || /socket hang up|ECONNRESET|timeout|timed out/i.test(message);
}
