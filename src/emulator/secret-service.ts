/**
 * The Secrets API semantics of Key Vault (secrets.json, api-versions 2025-07-01, 7.6, 7.5) over a
 * SecretStore: the same lifecycle, paging and error rules as the keys, and the secrets that back a
 * certificate (`managed: true`, `kid`), which only their certificate may delete, recover, purge or back up.
 */
import { createHash, randomBytes } from "node:crypto";
import type { BackupCipher } from "./backup-cipher";
import { seedNames } from "./key-service";
import type { ServiceProfile } from "./profiles";
import type { Route } from "./route-common";
import { SecretStore, latestSecretVersion, type SecretVersion, type StoredSecret } from "./secret-store";
import {
  MAX_BACKUP_VERSIONS,
  OBJECT_NAME,
  ServiceError,
  VERSION_ID,
  applyTagsPatch,
  attributesOut,
  badParameter,
  checkSettled,
  deletedConflict,
  deletedNotFound,
  deletionFields,
  existsConflict,
  isObject,
  managedForbidden,
  namePage,
  notFound,
  nowSeconds,
  parseAttributes,
  parseTags,
  parseTagsPatch,
  requireObject,
  versionPage,
  type RequestContext,
  type ServiceReply,
  type WriteOp,
} from "./service-common";
import type { SeedSecretsOptions } from "./types";

const SECRET_BACKUP_FORMAT = "kvbackup-emulator-secret-backup/1";
/**
 * Decoded size of a secret backup: the spec's BackupSecret example, a secret of one version, is 4,258
 * bytes (5,678 base64url characters); 1 KiB per further version is assumed, as for keys. Values larger
 * than that make the blob larger.
 */
export const SECRET_BACKUP_BYTES_ONE_VERSION = 4_258;
export const SECRET_BACKUP_BYTES_PER_EXTRA_VERSION = 1_024;
/** Documented limit of a secret's value (25 KB; taken as 25,600 bytes), and of its content type (assumed). */
const MAX_VALUE_BYTES = 25_600;
const MAX_CONTENT_TYPE = 255;
/** Content types seeded secrets cycle through (undefined: none set). */
const SEED_CONTENT_TYPES: ReadonlyArray<string | undefined> = ["text/plain", "application/json", undefined, "application/x-connection-string"];

interface SecretBackupDocument {
  format: string;
  name: string;
  versions: SecretVersion[];
}

/** Turns a certificate's secret into the other content type (PFX <-> PEM), for `outContentType`. */
export type ManagedSecretConverter = (secret: StoredSecret, version: SecretVersion, contentType: string) => string;

export class SecretService {
  /** Set by the certificates: converts the value of a secret that backs a certificate. */
  convertManaged: ManagedSecretConverter | undefined;

  constructor(
    readonly store: SecretStore,
    readonly profile: ServiceProfile,
    private readonly cipher: BackupCipher,
  ) {}

  execute(route: Route, ctx: RequestContext): ServiceReply {
    const name = route.name!;
    switch (route.op) {
      case "getSecrets": {
        const page = namePage(ctx, "/secrets", (after, max) => this.store.livePage(after, max));
        const items = page.items.map((s) => ({ id: `${ctx.baseUrl}/secrets/${s.name}`, ...this.itemFields(s, latestSecretVersion(s)) }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "getSecret":
        return this.getSecret(name, route.version ?? "", ctx);
      case "getSecretVersions": {
        // As for keys (observed there): a name that holds no secret lists no versions (assumed for secrets).
        const secret = this.store.getLive(name);
        if (!secret) return { status: 200, body: { value: [], nextLink: null } };
        const page = versionPage(ctx, `/secrets/${secret.name}/versions`, secret.versions);
        const items = page.items.map((v) => ({ id: `${ctx.baseUrl}/secrets/${secret.name}/${v.id}`, ...this.itemFields(secret, v) }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "setSecret":
        return this.setSecret(name, ctx);
      case "updateSecret":
        return this.updateSecret(name, route.version ?? "", ctx);
      case "deleteSecret": {
        const secret = this.requireLive(name);
        if (secret.managed) throw managedForbidden("Secret", "delete");
        const now = nowSeconds();
        this.store.softDelete(name, now, now + this.profile.recoverableDays * 86400, ctx.lifecycle?.softDeleteMs ?? 0);
        return { status: 200, body: this.deletedBundle(ctx.baseUrl, secret) };
      }
      case "backupSecret":
        return this.backupSecret(name);
      case "restoreSecret":
        return this.restoreSecret(ctx);
      case "getDeletedSecrets": {
        const page = namePage(ctx, "/deletedsecrets", (after, max) => this.store.deletedPage(after, max));
        const items = page.items.map((s) => ({
          id: `${ctx.baseUrl}/secrets/${s.name}`,
          ...this.itemFields(s, latestSecretVersion(s)),
          ...deletionFields(ctx.baseUrl, "deletedsecrets", s),
        }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "getDeletedSecret":
        return { status: 200, body: this.deletedBundle(ctx.baseUrl, this.requireDeleted(name)) };
      case "purgeDeletedSecret":
        this.checkSettled(name, "purge");
        if (this.requireDeleted(name).managed) throw managedForbidden("Secret", "purge");
        this.store.purge(name, ctx.lifecycle?.purgeMs ?? 0);
        return { status: 204 };
      case "recoverDeletedSecret": {
        this.checkSettled(name, "recover");
        if (this.requireDeleted(name).managed) throw managedForbidden("Secret", "recover");
        const secret = this.store.recover(name, ctx.lifecycle?.softDeleteMs ?? 0)!;
        return { status: 200, body: this.bundle(ctx.baseUrl, secret, latestSecretVersion(secret)) };
      }
      default:
        throw new Error(`not a secret operation: ${route.op}`);
    }
  }

  private getSecret(name: string, version: string, ctx: RequestContext): ServiceReply {
    const [secret, v] = this.requireVersion(name, version);
    // The service's answer for the value of a disabled version (reported wording, inner code SecretDisabled).
    if (!v.attributes.enabled) throw new ServiceError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", {}, "SecretDisabled");
    const out = ctx.query.get("outContentType");
    let value = v.value;
    let contentType = v.contentType;
    if (out !== null && out !== "" && out !== v.contentType) {
      if (out !== "application/x-pkcs12" && out !== "application/x-pem-file") throw badParameter(`outContentType '${out}' is not supported: application/x-pkcs12 or application/x-pem-file.`);
      // Only a certificate's secret can be converted (assumed answer for other secrets).
      if (!secret.managed || !this.convertManaged) throw badParameter("outContentType applies only to a secret that backs a certificate.");
      value = this.convertManaged(secret, v, out);
      contentType = out;
    }
    return { status: 200, body: { value, ...this.bundle(ctx.baseUrl, secret, { ...v, ...(contentType ? { contentType } : {}) }) } };
  }

  private setSecret(name: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const value = body["value"];
    if (typeof value !== "string") throw badParameter("The 'value' property (a string) is required.");
    if (Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES) throw badParameter(`A secret's value can be at most ${MAX_VALUE_BYTES} bytes long.`);
    const contentType = parseContentType(body["contentType"]);
    const attrs = parseAttributes(body["attributes"]);
    const tags = parseTags(body["tags"], "Secret");
    this.checkSettled(name, "set");
    if (this.store.getDeleted(name)) throw deletedConflict("Secret", name);
    if (this.store.getLive(name)?.managed) throw managedForbidden("Secret", "set");
    const now = nowSeconds();
    const version: SecretVersion = {
      id: randomBytes(16).toString("hex"),
      value,
      ...(contentType !== undefined ? { contentType } : {}),
      attributes: {
        enabled: attrs.enabled ?? true,
        ...(attrs.nbf !== undefined ? { nbf: attrs.nbf } : {}),
        ...(attrs.exp !== undefined ? { exp: attrs.exp } : {}),
        created: now,
        updated: now,
      },
      ...(tags ? { tags } : {}),
    };
    const secret = this.store.addVersion(name, version);
    return { status: 200, body: { value, ...this.bundle(ctx.baseUrl, secret, version) } };
  }

  private updateSecret(name: string, version: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const [secret, v] = this.requireVersion(name, version);
    const attrs = parseAttributes(body["attributes"]);
    const contentType = parseContentType(body["contentType"]);
    const tags = parseTagsPatch(body["tags"], "Secret");
    // A certificate's secret changes with its certificate only (assumed, as its delete is refused).
    if (secret.managed) throw managedForbidden("Secret", "update");
    if (attrs.enabled !== undefined) v.attributes.enabled = attrs.enabled;
    if (attrs.nbf !== undefined) v.attributes.nbf = attrs.nbf;
    if (attrs.exp !== undefined) v.attributes.exp = attrs.exp;
    if (contentType !== undefined) v.contentType = contentType;
    applyTagsPatch(v, tags);
    v.attributes.updated = nowSeconds();
    this.store.onChange();
    return { status: 200, body: this.bundle(ctx.baseUrl, secret, v) };
  }

  private backupSecret(name: string): ServiceReply {
    const secret = this.requireLive(name);
    if (secret.managed) throw managedForbidden("Secret", "backup");
    if (secret.versions.length > MAX_BACKUP_VERSIONS) {
      throw badParameter(
        `Secret ${secret.name} has ${secret.versions.length} versions; a secret with more than ${MAX_BACKUP_VERSIONS} versions cannot be backed up.`,
      );
    }
    const doc: SecretBackupDocument = { format: SECRET_BACKUP_FORMAT, name: secret.name, versions: secret.versions };
    const size = SECRET_BACKUP_BYTES_ONE_VERSION + SECRET_BACKUP_BYTES_PER_EXTRA_VERSION * (secret.versions.length - 1);
    return { status: 200, body: { value: this.cipher.seal(doc, size, "secret") } };
  }

  private restoreSecret(ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const blob = body["value"];
    if (typeof blob !== "string" || blob.length === 0) throw badParameter("The 'value' property (the backup blob) is required.");
    // The keys' wording for a blob the service cannot read (assumed the same for secrets).
    const doc = parseSecretBackupDocument(this.cipher.open(blob, "secret"));
    if (!doc) throw badParameter("Backup blob contains invalid or corrupt version.");
    this.checkSettled(doc.name, "restore");
    if (this.store.getDeleted(doc.name)) throw deletedConflict("Secret", doc.name);
    if (this.store.getLive(doc.name)) throw existsConflict("Secret", doc.name);
    const secret: StoredSecret = { name: doc.name, managed: false, versions: doc.versions.map(copySecretVersion) };
    this.store.insertLive(secret);
    return { status: 200, body: this.bundle(ctx.baseUrl, secret, latestSecretVersion(secret)) };
  }

  // ------------------------------------------------------------------ seeding and test hooks

  /** Fast bulk seeding: random values, different per version, content types cycling; throws if a name is taken. */
  seed(options: SeedSecretsOptions): void {
    const { count } = options;
    const versions = options.versions ?? 1;
    if (!Number.isInteger(count) || count < 0) throw new Error(`seedSecrets: count must be a non-negative integer, got ${count}`);
    if (!Number.isInteger(versions) || versions < 1) throw new Error(`seedSecrets: versions must be >= 1, got ${versions}`);
    if (count === 0) return;
    const valueBytes = options.valueBytes ?? 24;
    if (!Number.isInteger(valueBytes) || valueBytes < 1 || valueBytes > 18_000) throw new Error(`seedSecrets: valueBytes must be within 1..18000, got ${valueBytes}`);
    const names = seedNames("seedSecrets", options.prefix ?? "secret", options.startIndex ?? 0, count, (n) => this.store.holds(n));
    const types = options.contentTypes ?? SEED_CONTENT_TYPES;
    const random = randomBytes((16 + valueBytes) * count * versions);
    const now = nowSeconds();
    let n = 0;
    for (let i = 0; i < count; i++) {
      const list: SecretVersion[] = [];
      const contentType = types.length > 0 ? types[i % types.length] : undefined;
      for (let j = 0; j < versions; j++, n++) {
        const at = n * (16 + valueBytes);
        const raw = random.subarray(at + 16, at + 16 + valueBytes).toString("base64url");
        list.push({
          id: random.subarray(at, at + 16).toString("hex"),
          value: contentType === "application/json" ? JSON.stringify({ user: names[i], password: raw }) : raw,
          ...(contentType !== undefined ? { contentType } : {}),
          attributes: { enabled: true, created: now, updated: now },
          ...(options.tags ? { tags: { ...options.tags } } : {}),
        });
      }
      this.store.insertLive({ name: names[i]!, managed: false, versions: list }, false);
    }
    this.store.onChange();
  }

  /** SHA-256 of each version's value and content type, by version id (see EmulatedVault.secretDigests). */
  digests(name: string): Record<string, string> | undefined {
    const secret = this.store.getLive(name);
    return secret ? Object.fromEntries(secret.versions.map((v) => [v.id, secretDigest(v)])) : undefined;
  }

  // ------------------------------------------------------------------ helpers

  private requireLive(name: string): StoredSecret {
    const secret = this.store.getLive(name);
    if (!secret) throw notFound("Secret", name);
    return secret;
  }

  private requireVersion(name: string, version: string): [StoredSecret, SecretVersion] {
    const secret = this.requireLive(name);
    const v = version === "" ? latestSecretVersion(secret) : secret.versions.find((x) => x.id === version.toLowerCase());
    if (!v) throw notFound("Secret", `${name}/${version}`);
    return [secret, v];
  }

  private requireDeleted(name: string): StoredSecret {
    const secret = this.store.getDeleted(name);
    if (!secret) throw deletedNotFound("Secret", name);
    return secret;
  }

  private checkSettled(name: string, op: WriteOp): void {
    checkSettled("Secret", name, this.store.transitOf(name), op);
  }

  /**
   * The fields of a list item. A certificate's secret is listed with managed=true but without its `kid`
   * (SecretItem in the spec has none, nor have recorded service answers).
   */
  private itemFields(secret: StoredSecret, v: SecretVersion): Record<string, unknown> {
    return {
      ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
      attributes: attributesOut(v.attributes, this.profile),
      ...(v.tags ? { tags: v.tags } : {}),
      ...(secret.managed ? { managed: true } : {}),
    };
  }

  /** A SecretBundle without its value (the caller adds it where the service sends it). */
  private bundle(baseUrl: string, secret: StoredSecret, v: SecretVersion): Record<string, unknown> {
    return {
      id: `${baseUrl}/secrets/${secret.name}/${v.id}`,
      ...this.itemFields(secret, v),
      ...(secret.managed ? { kid: `${baseUrl}/keys/${secret.name}/${v.id}` } : {}),
    };
  }

  private deletedBundle(baseUrl: string, secret: StoredSecret): Record<string, unknown> {
    return { ...deletionFields(baseUrl, "deletedsecrets", secret), ...this.bundle(baseUrl, secret, latestSecretVersion(secret)) };
  }
}

export function secretDigest(v: SecretVersion): string {
  return createHash("sha256").update(`${v.contentType ?? ""}|${v.value}`).digest("hex");
}

function parseContentType(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "string" || raw.length > MAX_CONTENT_TYPE) throw badParameter(`contentType must be a string of at most ${MAX_CONTENT_TYPE} characters.`);
  return raw;
}

export function copySecretVersion(v: SecretVersion): SecretVersion {
  return { ...v, attributes: { ...v.attributes }, ...(v.tags ? { tags: { ...v.tags } } : {}) };
}

export function isSecretVersion(v: unknown): v is SecretVersion {
  return (
    isObject(v) &&
    typeof v["id"] === "string" &&
    VERSION_ID.test(v["id"]) &&
    typeof v["value"] === "string" &&
    (v["contentType"] === undefined || typeof v["contentType"] === "string") &&
    isObject(v["attributes"])
  );
}

function parseSecretBackupDocument(doc: unknown): SecretBackupDocument | undefined {
  if (!isObject(doc) || doc["format"] !== SECRET_BACKUP_FORMAT) return undefined;
  const { name, versions } = doc;
  if (typeof name !== "string" || !OBJECT_NAME.test(name)) return undefined;
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > MAX_BACKUP_VERSIONS) return undefined;
  if (!versions.every(isSecretVersion) || new Set(versions.map((v) => v.id)).size !== versions.length) return undefined;
  return doc as unknown as SecretBackupDocument;
}
