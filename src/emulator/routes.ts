/**
 * Request routing: method and path segments to an operation of the Keys, Secrets or Certificates API
 * (one route table per kind), or a 404 / 405 ServiceError. The operation's name is what the listener
 * counts in its stats.
 */
import { resolveCertificateRoute } from "./certificate-routes";
import { resolveKeyRoute } from "./key-routes";
import { allowFor, type Route } from "./route-common";
import { resolveSecretRoute } from "./secret-routes";
import { ServiceError } from "./service-common";

export type { Api, Operation, Route } from "./route-common";

/** `withSecretsAndCertificates` false (a Managed HSM): only the keys' routes exist. */
export function resolveRoute(method: string, segments: readonly string[], withSecretsAndCertificates = true): Route {
  const key = resolveKeyRoute(method, segments);
  if (key) return { ...key, api: "keys" };
  if (withSecretsAndCertificates) {
    const secret = resolveSecretRoute(method, segments);
    if (secret) return { ...secret, api: "secrets" };
    const certificate = resolveCertificateRoute(method, segments);
    if (certificate) return { ...certificate, api: "certificates" };
  }
  if (segments[0] === "rng" && segments.length === 1) return allowFor(method, segments)(method === "POST", { op: "unsupported", api: "keys", feature: "rng" });
  throw new ServiceError(404, "NotFound", `No operation matches ${method} /${segments.join("/")}.`);
}
