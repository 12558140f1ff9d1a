import { RestError, type PipelinePolicy } from "@azure/core-rest-pipeline";

/**
 * A limit on each attempt of a Key Vault call. The SDK sets none: a connection that goes silent (a
 * firewall or NAT that forgets it without a reset, a half-open socket after a network change) would hold
 * its call, and so its batch and its job, forever. With this policy an attempt that is not over within the
 * limit (answer headers and body) is abandoned and reported as ETIMEDOUT, which the SDK's retry policy
 * retries on a new connection like any other network error.
 */
export const DEFAULT_TRY_TIMEOUT_MS = 60_000;

export function tryTimeoutPolicy(timeoutMs: number = DEFAULT_TRY_TIMEOUT_MS): PipelinePolicy {
  return {
    name: "kvbackupTryTimeout",
    async sendRequest(request, next) {
      const outer = request.abortSignal;
      if (!(timeoutMs > 0) || outer?.aborted) return next(request);
      // This attempt's own signal: aborted by the caller's, or by the timer.
      const controller = new AbortController();
      const forward = (): void => controller.abort();
      outer?.addEventListener("abort", forward, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      request.abortSignal = controller.signal;
      try {
        return await next(request);
      } catch (error) {
        // Aborted by the timer, not by the caller: a network failure the retry policy retries.
        if (timedOut && !outer?.aborted) throw new RestError(`no answer within ${Math.round(timeoutMs / 1000)} s`, { code: "ETIMEDOUT", request });
        throw error;
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener("abort", forward);
        request.abortSignal = outer;
      }
    },
  };
}
