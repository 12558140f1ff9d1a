/**
 * What the Keys, Secrets and Certificates APIs of the emulator share: the error type and the service's
 * error wordings, request context, paging (`maxresults`, `$skiptoken`, `nextLink`), attribute and tag
 * parsing, and the rules for a name between two lifecycle states.
 */
import type { TransitState } from "./lifecycle-store";

export const SUPPORTED_API_VERSIONS: readonly string[] = ["2025-07-01", "7.6", "7.5"];
export const LATEST_API_VERSION = "2025-07-01";

/** Service limit: the backup of an object with more versions is refused. */
export const MAX_BACKUP_VERSIONS = 500;
export const MAX_PAGE = 25;
/**
 * Tags: at most 15 per object; a name of at most 512 characters, a value of at most 256 (Azure's documented
 * tag limits, which Key Vault is reported to apply to its objects' tags too).
 */
const MAX_TAGS = 15;
const MAX_TAG_NAME = 512;
const MAX_TAG_VALUE = 256;
export const OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;
export const VERSION_ID = /^[0-9a-f]{32}$/;

/** Which API an error or a rule speaks of, as the service names it in messages. */
export type ObjectKind = "Key" | "Secret" | "Certificate";

export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** The service's `innererror.code`, when it sends one. */
    readonly innerCode?: string,
  ) {
    super(message);
  }

  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return { error: { code: this.code, message: this.message, ...(this.innerCode ? { innererror: { code: this.innerCode } } : {}) } };
  }
}

export interface ServiceReply {
  readonly status: number;
  readonly body?: unknown;
}

export interface RequestContext {
  /** Vault URL without trailing slash, used in ids, recoveryId and nextLink. */
  readonly baseUrl: string;
  readonly apiVersion: string;
  readonly query: URLSearchParams;
  /** Parsed JSON body, or undefined when the request had none. */
  readonly body: unknown;
  /** How long soft delete / recover, purge and a certificate's issuance take (the listener's knobs); absent: at once. */
  readonly lifecycle?: { readonly softDeleteMs: number; readonly purgeMs: number; readonly certificateCreateMs?: number };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------------ request parsing

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw badParameter("The request body must be a JSON object.");
  return body;
}

export function checkObjectName(name: string, kind: ObjectKind = "Key"): void {
  if (!OBJECT_NAME.test(name)) {
    throw badParameter(
      `The ${kind.toLowerCase()} name '${name}' is invalid. A name is 1-127 characters long and contains only 0-9, a-z, A-Z and '-'.`,
    );
  }
}

export function pageSize(query: URLSearchParams): number {
  const raw = query.get("maxresults");
  if (raw === null || raw === "") return MAX_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw badParameter(`Invalid maxresults '${raw}': it must be an integer between 1 and ${MAX_PAGE}.`);
  }
  return n;
}

export function decodeToken(query: URLSearchParams, field: string): unknown {
  const raw = query.get("$skiptoken");
  if (raw === null || raw === "") return undefined;
  try {
    const doc = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown;
    if (isObject(doc) && field in doc) return doc[field];
  } catch {
    // Falls through to the error below.
  }
  throw badParameter("The $skiptoken is not valid.");
}

export function nextLink(ctx: RequestContext, path: string, token: Record<string, unknown>, max: number): string {
  const skip = Buffer.from(JSON.stringify(token)).toString("base64url");
  return `${ctx.baseUrl}${path}?api-version=${encodeURIComponent(ctx.apiVersion)}&$skiptoken=${skip}&maxresults=${max}`;
}

/** A page of names after the `$skiptoken`'s one (lists of objects and of deleted objects). */
export function namePage<T extends { name: string }>(
  ctx: RequestContext,
  path: string,
  fetch: (after: string | undefined, max: number) => T[],
): { items: T[]; next: string | null } {
  const max = pageSize(ctx.query);
  const after = decodeToken(ctx.query, "a");
  const page = fetch(typeof after === "string" ? after : undefined, max + 1);
  const next = page.length > max ? nextLink(ctx, path, { a: page[max - 1]!.name.toLowerCase() }, max) : null;
  return { items: page.slice(0, max), next };
}

/** A page of versions, oldest first, by offset. */
export function versionPage<V>(ctx: RequestContext, path: string, versions: readonly V[]): { items: V[]; next: string | null } {
  const max = pageSize(ctx.query);
  const offset = decodeToken(ctx.query, "o");
  const start = typeof offset === "number" && Number.isInteger(offset) && offset >= 0 ? offset : 0;
  const next = start + max < versions.length ? nextLink(ctx, path, { o: start + max }, max) : null;
  return { items: versions.slice(start, start + max), next };
}

export interface ParsedAttributes {
  enabled?: boolean;
  nbf?: number;
  exp?: number;
  exportable?: boolean;
}

export function parseAttributes(raw: unknown): ParsedAttributes {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw badParameter("attributes must be a JSON object.");
  const out: ParsedAttributes = {};
  const { enabled, nbf, exp, exportable } = raw;
  if (enabled !== undefined && enabled !== null) {
    if (typeof enabled !== "boolean") throw badParameter("attributes.enabled must be a boolean.");
    out.enabled = enabled;
  }
  for (const [field, value] of [["nbf", nbf], ["exp", exp]] as const) {
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isInteger(value)) throw badParameter(`attributes.${field} must be a Unix time in seconds.`);
    out[field] = value;
  }
  if (exportable !== undefined && exportable !== null) {
    if (typeof exportable !== "boolean") throw badParameter("attributes.exportable must be a boolean.");
    out.exportable = exportable;
  }
  return out;
}

export function parseTags(raw: unknown, kind: ObjectKind = "Key"): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw badParameter("tags must be a JSON object of strings.");
  const entries = Object.entries(raw);
  if (entries.length > MAX_TAGS) throw badParameter(`A ${kind.toLowerCase()} can have at most ${MAX_TAGS} tags.`);
  for (const [k, v] of entries) {
    if (typeof v !== "string") throw badParameter("Tag values must be strings.");
    if (k.length > MAX_TAG_NAME) throw badParameter(`Tag name '${k.slice(0, 20)}…' is too long: a tag name has at most ${MAX_TAG_NAME} characters.`);
    if (v.length > MAX_TAG_VALUE) throw badParameter(`The value of tag '${k.slice(0, 40)}' is too long: a tag value has at most ${MAX_TAG_VALUE} characters.`);
  }
  return entries.length > 0 ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
}

/** A tags patch: undefined leaves the tags, an empty object removes them. */
export function parseTagsPatch(raw: unknown, kind: ObjectKind): Record<string, string> | undefined {
  return raw === undefined ? undefined : (parseTags(raw, kind) ?? {});
}

export function applyTagsPatch(target: { tags?: Record<string, string> }, tags: Record<string, string> | undefined): void {
  if (tags === undefined) return;
  if (Object.keys(tags).length > 0) target.tags = tags;
  else delete target.tags;
}

// ------------------------------------------------------------------ errors

export function badParameter(message: string): ServiceError {
  return new ServiceError(400, "BadParameter", message);
}

/** The not-found answers of the service (`KeyNotFound`, `SecretNotFound`, `CertificateNotFound`). */
export function notFound(kind: ObjectKind, what: string): ServiceError {
  return new ServiceError(404, `${kind}NotFound`, `A ${kind.toLowerCase()} with (name/id) ${what} was not found in this key vault.`);
}

export function deletedNotFound(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(404, `${kind}NotFound`, `Deleted ${kind} not found: ${name}`);
}

/** Operations that find a name in transition or soft-deleted. */
export type WriteOp = "create" | "import" | "set" | "restore" | "purge" | "recover";

const GERUND: Record<WriteOp, string> = {
  create: "creating",
  import: "importing",
  set: "setting",
  restore: "restoring",
  purge: "purging",
  recover: "recovering",
};

/**
 * The service's answers while a name is between states (reported for keys and secrets): a delete in
 * progress ("… is currently being deleted."), a recover in progress (inner code ObjectIsBeingRecovered),
 * and, after a purge, a plain 409 that names no cause while get and get-deleted already answer 404.
 */
export function transitConflict(kind: ObjectKind, name: string, state: TransitState, op: WriteOp): ServiceError {
  if (state === "deleting") return new ServiceError(409, "Conflict", `${kind} is currently being deleted.`);
  if (state === "recovering") {
    return new ServiceError(409, "Conflict", `${kind} ${name} is currently being recovered and cannot be re-created; retry later.`, {}, "ObjectIsBeingRecovered");
  }
  const noun = kind.toLowerCase();
  return new ServiceError(
    409,
    "Conflict",
    `There was a conflict while ${GERUND[op]} ${noun} '${name}'. This can happen when multiple operations are performed in parallel against the ${noun}. To avoid this error, perform operations against the ${noun} in a sequential manner.`,
  );
}

/**
 * 409 while a delete, recover or purge of the name has been accepted but has not finished. A name being
 * purged is gone from both views: purge and recover find nothing there (and answer 404 after this).
 */
export function checkSettled(kind: ObjectKind, name: string, state: TransitState | undefined, op: WriteOp): void {
  if (state === "purging" && (op === "purge" || op === "recover")) return;
  if (state) throw transitConflict(kind, name, state, op);
}

export function deletedConflict(kind: ObjectKind, name: string): ServiceError {
  const noun = kind.toLowerCase();
  return new ServiceError(
    409,
    "Conflict",
    `${kind} ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the ${noun} can only be recovered or purged.`,
  );
}

export function existsConflict(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(409, "Conflict", `${kind} ${name} already exists.`);
}

const COMPOSITION_LINK = "https://docs.microsoft.com/en-us/azure/key-vault/certificates/about-certificates#composition-of-a-certificate";

/**
 * What the service answers when a key or secret that backs a certificate is asked to do what only its
 * certificate may. Reported: the key's wording for "backup" (Azure/azure-powershell#20142) and the secret's
 * for "delete", with inner code SecretManagedByKeyVault; the same wording for other operations is assumed.
 */
export function managedForbidden(kind: "Key" | "Secret", op: string): ServiceError {
  const object = kind === "Key" ? "Key" : "secret";
  return new ServiceError(
    403,
    "Forbidden",
    `Operation "${op}" is not allowed on this ${object}, since it is associated with a certificate. Perform the operation on the corresponding certificate. For more information refer to ${COMPOSITION_LINK}`,
    {},
    kind === "Secret" ? "SecretManagedByKeyVault" : undefined,
  );
}

/** Routes of the spec the emulator does not implement: a 501, never a 404 that reads as "no such object". */
export function notImplemented(feature: string | undefined, implemented: string): ServiceError {
  return new ServiceError(
    501,
    "NotImplemented",
    `The emulator does not implement ${feature ? `'${feature}'` : "this operation"}: it implements ${implemented} only.`,
  );
}

// ------------------------------------------------------------------ answers

/** Attributes as the service shows them: what was set, plus the vault's recovery settings. */
export function attributesOut(
  a: { enabled: boolean; nbf?: number; exp?: number; created: number; updated: number; exportable?: boolean },
  recovery: { readonly recoveryLevel: string; readonly recoverableDays: number },
): Record<string, unknown> {
  return {
    enabled: a.enabled,
    ...(a.nbf !== undefined ? { nbf: a.nbf } : {}),
    ...(a.exp !== undefined ? { exp: a.exp } : {}),
    created: a.created,
    updated: a.updated,
    recoveryLevel: recovery.recoveryLevel,
    recoverableDays: recovery.recoverableDays,
    ...(a.exportable !== undefined ? { exportable: a.exportable } : {}),
  };
}

/** `recoveryId`, `deletedDate`, `scheduledPurgeDate` of a soft-deleted object (`deletedkeys`, `deletedsecrets`…). */
export function deletionFields(baseUrl: string, deletedCollection: string, record: { name: string; deletedDate?: number; scheduledPurgeDate?: number }): Record<string, unknown> {
  return {
    recoveryId: `${baseUrl}/${deletedCollection}/${record.name}`,
    deletedDate: record.deletedDate,
    scheduledPurgeDate: record.scheduledPurgeDate,
  };
}
