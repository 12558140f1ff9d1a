/** What the per-kind route tables share: the route shape and the 405 answer. */
import type { CertificateOperation } from "./certificate-routes";
import type { KeyOperation } from "./key-routes";
import type { SecretOperation } from "./secret-routes";
import { ServiceError } from "./service-common";

export type Operation = KeyOperation | SecretOperation | CertificateOperation | "unsupported";

/** Which API a route belongs to. */
export type Api = "keys" | "secrets" | "certificates";

export interface Route {
  readonly op: Operation;
  /** Set by resolveRoute. */
  readonly api?: Api;
  /** For `unsupported`: what was asked, for the 501's message. */
  readonly feature?: string;
  readonly name?: string;
  /** Empty string: the current version. */
  readonly version?: string;
}

/** 405 for a known path asked with another method. */
export function allowFor(method: string, segments: readonly string[]): (ok: boolean, route: Route) => Route {
  return (ok, route) => {
    if (!ok) throw new ServiceError(405, "MethodNotAllowed", `Method ${method} is not allowed on /${segments.join("/")}.`);
    return route;
  };
}
