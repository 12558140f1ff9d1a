/**
 * The Keys API semantics of Key Vault (api-versions 2025-07-01, 7.6, 7.5) over a KeyStore,
 * independent of HTTP: routes in, status and JSON out, failures as ServiceError with the
 * service's error codes. A Managed HSM listener would reuse this with MANAGED_HSM_PROFILE.
 */
import { randomBytes } from "node:crypto";
import { BackupCipher } from "./backup-cipher";
import {
  MaterialPool,
  SUPPORTED_AES_SIZES,
  SUPPORTED_CURVES,
  SUPPORTED_RSA_SIZES,
  generateAesMaterial,
  generateEcMaterial,
  generateRsaMaterial,
  importMaterial,
  materialDigest,
  publicFields,
} from "./key-material";
import {
  KeyStore,
  latestVersion,
  type KeyMaterial,
  type KeyVersion,
  type ReleasePolicy,
  type StoredKey,
  type TransitState,
  type VersionAttributes,
} from "./key-store";
import type { SeedKeysOptions, ServiceKind, VaultSku } from "./types";

export const SUPPORTED_API_VERSIONS: readonly string[] = ["2025-07-01", "7.6", "7.5"];
export const LATEST_API_VERSION = "2025-07-01";

/** Service limit: the backup of a key with more versions is refused. */
export const MAX_BACKUP_VERSIONS = 500;
const MAX_PAGE = 25;
/**
 * Tags: at most 15 per object; a name of at most 512 characters, a value of at most 256 (Azure's documented
 * tag limits, which Key Vault is reported to apply to its objects' tags too).
 */
const MAX_TAGS = 15;
const MAX_TAG_NAME = 512;
const MAX_TAG_VALUE = 256;
const SOFT_DELETE_DAYS = 90;
const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION_ID = /^[0-9a-f]{32}$/;
const KEY_OPS = new Set(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"]);
const DEFAULT_OPS: Readonly<Record<"EC" | "RSA" | "oct", readonly string[]>> = {
  EC: ["sign", "verify"],
  RSA: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
  oct: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
};
/** The size the service gives an AES key when the request names none (not documented; 256 assumed). */
const DEFAULT_AES_BITS = 256;
const BACKUP_FORMAT = "kvbackup-emulator-key-backup/1";
/**
 * Decoded size of a key backup. The spec's BackupKey example, a key of one version, is 8,031 bytes (10,708
 * base64url characters); a backup grows with each version (reported; by how much is not documented). The
 * emulator pads its sealed documents to that, plus 1 KiB per further version (assumed; a 500-version key,
 * the service's limit, still fits in a 1 MiB request), so bytes, memory and storage figures measure blobs
 * of a real vault's size. A document larger than that (many RSA-4096 versions) is sealed as it is.
 */
export const BACKUP_BYTES_ONE_VERSION = 8_031;
export const BACKUP_BYTES_PER_EXTRA_VERSION = 1_024;

/** What differs between a vault tier and a Managed HSM as far as the Keys API goes. */
export interface ServiceProfile {
  readonly kind: ServiceKind;
  /** Vaults only. */
  readonly sku?: VaultSku;
  /** The `resource` of the 401 challenge; the SDK asks its credential for `<resource>/.default`. */
  readonly challengeResource: string;
  readonly recoveryLevel: string;
  readonly recoverableDays: number;
  /** Key types as stored and reported. */
  readonly keyTypes: readonly string[];
  /** Types a create or import may name that are stored as another (a Managed HSM makes every key HSM-backed). */
  readonly keyTypeAliases?: Readonly<Record<string, string>>;
  /** Key types this tier refuses with its own error (a Standard vault: the HSM-protected ones). */
  readonly refusedKeyTypes?: { readonly types: readonly string[]; readonly message: string };
}

/** A Premium vault (the default): software and HSM-protected RSA and EC keys. */
export const VAULT_PROFILE: ServiceProfile = {
  kind: "vault",
  sku: "premium",
  challengeResource: "https://vault.azure.net",
  recoveryLevel: "Recoverable+Purgeable",
  recoverableDays: SOFT_DELETE_DAYS,
  // oct-HSM on Premium vaults is in preview (About keys): not emulated.
  keyTypes: ["EC", "EC-HSM", "RSA", "RSA-HSM"],
};

/**
 * A Standard vault: software keys only (documented: HSM key types need Premium). The refusal's message is
 * the one reported for the service; its status (400 BadParameter) is assumed.
 */
export const VAULT_STANDARD_PROFILE: ServiceProfile = {
  ...VAULT_PROFILE,
  sku: "standard",
  keyTypes: ["EC", "RSA"],
  refusedKeyTypes: { types: ["EC-HSM", "RSA-HSM"], message: "Hardware key operation not allowed on standard vault" },
};

/**
 * A Managed HSM: other challenge resource, HSM-protected keys only, AES keys (oct-HSM) besides RSA and EC
 * (documented, About keys). A create or import of `RSA` or `EC` is accepted and stored as RSA-HSM / EC-HSM
 * (reported behaviour of the service).
 */
export const MANAGED_HSM_PROFILE: ServiceProfile = {
  kind: "managedHsm",
  challengeResource: "https://managedhsm.azure.net",
  recoveryLevel: "CustomizedRecoverable+Purgeable",
  recoverableDays: SOFT_DELETE_DAYS,
  keyTypes: ["EC-HSM", "RSA-HSM", "oct-HSM"],
  keyTypeAliases: { EC: "EC-HSM", RSA: "RSA-HSM" },
};

export function vaultProfile(sku: VaultSku = "premium"): ServiceProfile {
  return sku === "standard" ? VAULT_STANDARD_PROFILE : VAULT_PROFILE;
}

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

export type Operation =
  | "getKeys"
  | "getKey"
  | "getKeyVersions"
  | "createKey"
  | "importKey"
  | "updateKey"
  | "deleteKey"
  | "backupKey"
  | "restoreKey"
  | "getDeletedKeys"
  | "getDeletedKey"
  | "purgeDeletedKey"
  | "recoverDeletedKey"
  | "unsupported";

export interface Route {
  readonly op: Operation;
  /** For `unsupported`: what was asked, for the 501's message. */
  readonly feature?: string;
  readonly name?: string;
  /** Empty string: the current version. */
  readonly version?: string;
}

const CRYPTO_OPS = new Set(["encrypt", "decrypt", "sign", "verify", "wrapkey", "unwrapkey", "release", "attestation"]);
/**
 * Key routes of the spec without a version segment that are not emulated. The SDK leaves the version out
 * of a crypto route when none is given (`/keys/{name}/attestation`, `/keys/{name}/release`).
 */
const UNVERSIONED_UNSUPPORTED = new Set(["rotate", "rotationpolicy", ...CRYPTO_OPS]);

/** Maps method and path segments to an operation; throws 404/405 ServiceErrors. */
export function resolveRoute(method: string, segments: readonly string[]): Route {
  const [collection, name, third, fourth] = segments;
  const n = segments.length;
  const allow = (ok: boolean, route: Route): Route => {
    if (!ok) throw new ServiceError(405, "MethodNotAllowed", `Method ${method} is not allowed on /${segments.join("/")}.`);
    return route;
  };
  if (collection === "keys") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getKeys" });
    if (n === 2 && name === "restore" && method === "POST") return { op: "restoreKey" };
    if (n === 2) {
      if (method === "PUT") return { op: "importKey", name: name! };
      if (method === "DELETE") return { op: "deleteKey", name: name! };
      return allow(method === "GET", { op: "getKey", name: name!, version: "" });
    }
    if (n === 3) {
      switch (third) {
        case "create":
          return allow(method === "POST", { op: "createKey", name: name! });
        case "backup":
          return allow(method === "POST", { op: "backupKey", name: name! });
        case "versions":
          return allow(method === "GET", { op: "getKeyVersions", name: name! });
        default:
          // Read as a version id, `attestation` would answer KeyNotFound for a key that exists.
          if (UNVERSIONED_UNSUPPORTED.has(third!.toLowerCase())) return { op: "unsupported", name: name!, feature: third!.toLowerCase() };
          if (method === "PATCH") return { op: "updateKey", name: name!, version: third! };
          return allow(method === "GET", { op: "getKey", name: name!, version: third! });
      }
    }
    if (n === 4 && third === "versions" && fourth === "") return allow(method === "GET", { op: "getKeyVersions", name: name! });
    if (n === 4 && CRYPTO_OPS.has(fourth!.toLowerCase())) return { op: "unsupported", name: name!, feature: fourth!.toLowerCase() };
  } else if (collection === "deletedkeys") {
    if (n === 1 || (n === 2 && name === "")) return allow(method === "GET", { op: "getDeletedKeys" });
    if (n === 2) {
      if (method === "DELETE") return { op: "purgeDeletedKey", name: name! };
      return allow(method === "GET", { op: "getDeletedKey", name: name! });
    }
    if (n === 3 && third === "recover") return allow(method === "POST", { op: "recoverDeletedKey", name: name! });
  } else if (collection === "rng" && n === 1) {
    return allow(method === "POST", { op: "unsupported", feature: "rng" });
  }
  throw new ServiceError(404, "NotFound", `No operation matches ${method} /${segments.join("/")}.`);
}

export interface RequestContext {
  /** Vault URL without trailing slash, used in kid, recoveryId and nextLink. */
  readonly baseUrl: string;
  readonly apiVersion: string;
  readonly query: URLSearchParams;
  /** Parsed JSON body, or undefined when the request had none. */
  readonly body: unknown;
  /** How long soft delete / recover and purge take (the listener's knobs); absent: at once. */
  readonly lifecycle?: { readonly softDeleteMs: number; readonly purgeMs: number };
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export class VaultService {
  constructor(
    readonly store: KeyStore,
    readonly profile: ServiceProfile,
    private readonly cipher: BackupCipher,
    private readonly pool: MaterialPool,
  ) {}

  async execute(route: Route, ctx: RequestContext): Promise<ServiceReply> {
    if (route.name !== undefined) checkName(route.name);
    switch (route.op) {
      case "getKeys":
        return this.listKeys(ctx);
      case "getKey":
        return this.getKey(route.name!, route.version ?? "", ctx);
      case "getKeyVersions":
        return this.listVersions(route.name!, ctx);
      case "createKey":
        return this.createKey(route.name!, ctx);
      case "importKey":
        return this.importKey(route.name!, ctx);
      case "updateKey":
        return this.updateKey(route.name!, route.version ?? "", ctx);
      case "deleteKey":
        return this.deleteKey(route.name!, ctx);
      case "backupKey":
        return this.backupKey(route.name!);
      case "restoreKey":
        return this.restoreKey(ctx);
      case "getDeletedKeys":
        return this.listDeleted(ctx);
      case "getDeletedKey":
        return { status: 200, body: this.deletedBundle(ctx.baseUrl, this.requireDeleted(route.name!)) };
      case "purgeDeletedKey":
        this.checkSettled(route.name!, "purge");
        this.requireDeleted(route.name!);
        this.store.purge(route.name!, ctx.lifecycle?.purgeMs ?? 0);
        return { status: 204 };
      case "recoverDeletedKey": {
        this.checkSettled(route.name!, "recover");
        this.requireDeleted(route.name!);
        const key = this.store.recover(route.name!, ctx.lifecycle?.softDeleteMs ?? 0)!;
        return { status: 200, body: this.bundle(ctx.baseUrl, key, latestVersion(key)) };
      }
      case "unsupported":
        // Routes of the spec the emulator does not implement: a 501, never a 404 that reads as "no such key".
        throw new ServiceError(
          501,
          "NotImplemented",
          `The emulator does not implement ${route.feature ? `'${route.feature}'` : "this operation"}: it implements key management and backup/restore only.`,
        );
    }
  }

  // ------------------------------------------------------------------ reads

  private getKey(name: string, version: string, ctx: RequestContext): ServiceReply {
    const key = this.requireLive(name);
    const v = version === "" ? latestVersion(key) : key.versions.find((x) => x.id === version.toLowerCase());
    if (!v) throw notFound(`${name}/${version}`);
    return { status: 200, body: this.bundle(ctx.baseUrl, key, v) };
  }

  private listKeys(ctx: RequestContext): ServiceReply {
    const max = pageSize(ctx.query);
    const after = decodeToken(ctx.query, "a");
    const page = this.store.livePage(typeof after === "string" ? after : undefined, max + 1);
    const items = page.slice(0, max).map((k) => ({
      kid: `${ctx.baseUrl}/keys/${k.name}`,
      ...this.itemFields(k, latestVersion(k)),
    }));
    const next = page.length > max ? nextLink(ctx, "/keys", { a: page[max - 1]!.name.toLowerCase() }, max) : null;
    return { status: 200, body: { value: items, nextLink: next } };
  }

  private listVersions(name: string, ctx: RequestContext): ServiceReply {
    const max = pageSize(ctx.query);
    // The service lists no versions, rather than 404, for a name that holds no key (observed, findings.md).
    const key = this.store.getLive(name);
    if (!key) return { status: 200, body: { value: [], nextLink: null } };
    const offset = decodeToken(ctx.query, "o");
    const start = typeof offset === "number" && Number.isInteger(offset) && offset >= 0 ? offset : 0;
    const slice = key.versions.slice(start, start + max);
    const items = slice.map((v) => ({ kid: `${ctx.baseUrl}/keys/${key.name}/${v.id}`, ...this.itemFields(key, v) }));
    const next =
      start + max < key.versions.length ? nextLink(ctx, `/keys/${key.name}/versions`, { o: start + max }, max) : null;
    return { status: 200, body: { value: items, nextLink: next } };
  }

  private listDeleted(ctx: RequestContext): ServiceReply {
    const max = pageSize(ctx.query);
    const after = decodeToken(ctx.query, "a");
    const page = this.store.deletedPage(typeof after === "string" ? after : undefined, max + 1);
    const items = page.slice(0, max).map((k) => ({
      kid: `${ctx.baseUrl}/keys/${k.name}`,
      ...this.itemFields(k, latestVersion(k)),
      ...this.deletionFields(ctx.baseUrl, k),
    }));
    const next = page.length > max ? nextLink(ctx, "/deletedkeys", { a: page[max - 1]!.name.toLowerCase() }, max) : null;
    return { status: 200, body: { value: items, nextLink: next } };
  }

  // ------------------------------------------------------------------ writes

  private async createKey(name: string, ctx: RequestContext): Promise<ServiceReply> {
    const body = requireObject(ctx.body);
    const kty = this.keyTypeOf(body["kty"]);
    const base = baseType(kty);
    const keyOps = parseKeyOps(body["key_ops"]) ?? [...DEFAULT_OPS[base]];
    const attrs = parseAttributes(body["attributes"]);
    const tags = parseTags(body["tags"]);
    const releasePolicy = parseReleasePolicy(body["release_policy"]);
    this.checkWritable(name, "create");
    this.checkExportable(name, attrs, releasePolicy);

    let material: KeyMaterial;
    if (base === "oct") {
      const size = body["key_size"] ?? DEFAULT_AES_BITS;
      if (typeof size !== "number" || !SUPPORTED_AES_SIZES.includes(size)) {
        throw badParameter(`AES key size ${String(size)} is not supported. Supported sizes: ${SUPPORTED_AES_SIZES.join(", ")}.`);
      }
      material = generateAesMaterial(size);
    } else if (base === "EC") {
      const crv = body["crv"] ?? "P-256";
      if (typeof crv !== "string" || !SUPPORTED_CURVES.includes(crv)) {
        throw badParameter(`Curve '${String(crv)}' is not supported. Supported curves: ${SUPPORTED_CURVES.join(", ")}.`);
      }
      material = await generateEcMaterial(crv);
    } else {
      const size = body["key_size"] ?? 2048;
      if (typeof size !== "number" || !SUPPORTED_RSA_SIZES.includes(size)) {
        throw badParameter(`RSA key size ${String(size)} is not supported. Supported sizes: ${SUPPORTED_RSA_SIZES.join(", ")}.`);
      }
      const exponent = body["public_exponent"] ?? 65537;
      if (typeof exponent !== "number" || !Number.isInteger(exponent) || exponent < 3 || exponent % 2 === 0) {
        throw badParameter(`Public exponent ${String(exponent)} is not valid.`);
      }
      material = await generateRsaMaterial(size, exponent);
    }
    // Checked again: another request may have taken or deleted the name while the key was generated.
    this.checkWritable(name, "create");
    const version = newVersion(kty, material, keyOps, attrs, tags, releasePolicy);
    const key = this.store.addVersion(name, version);
    return { status: 200, body: this.bundle(ctx.baseUrl, key, version) };
  }

  private importKey(name: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const jwk = body["key"];
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw badParameter("The 'key' property (a JSON web key) is required.");
    const jwkObj = jwk as Record<string, unknown>;
    const material = importMaterial(jwkObj);
    if (typeof material === "string") throw badParameter(material);
    const hsm = body["Hsm"] === true || String(jwkObj["kty"]).endsWith("-HSM");
    const kty = this.keyTypeOf(hsm ? `${material.kty}-HSM` : material.kty);
    const keyOps = parseKeyOps(jwkObj["key_ops"]) ?? [...DEFAULT_OPS[material.kty]];
    const attrs = parseAttributes(body["attributes"]);
    const tags = parseTags(body["tags"]);
    const releasePolicy = parseReleasePolicy(body["release_policy"]);
    this.checkWritable(name, "import");
    this.checkExportable(name, attrs, releasePolicy);
    const version = newVersion(kty, material, keyOps, attrs, tags, releasePolicy);
    const key = this.store.addVersion(name, version);
    return { status: 200, body: this.bundle(ctx.baseUrl, key, version) };
  }

  private updateKey(name: string, version: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const key = this.requireLive(name);
    const v = version === "" ? latestVersion(key) : key.versions.find((x) => x.id === version.toLowerCase());
    if (!v) throw notFound(`${name}/${version}`);
    // Everything is validated before anything changes: a bad field leaves the version untouched.
    const attrs = parseAttributes(body["attributes"]);
    const keyOps = parseKeyOps(body["key_ops"]);
    const tags = body["tags"] === undefined ? undefined : (parseTags(body["tags"]) ?? {});
    const releasePolicy = parseReleasePolicy(body["release_policy"]);
    if (releasePolicy && v.releasePolicy?.immutable) {
      throw badParameter("The release policy of this key version is immutable and cannot be changed.");
    }
    if (releasePolicy) v.releasePolicy = releasePolicy;
    if (attrs.enabled !== undefined) v.attributes.enabled = attrs.enabled;
    if (attrs.nbf !== undefined) v.attributes.nbf = attrs.nbf;
    if (attrs.exp !== undefined) v.attributes.exp = attrs.exp;
    if (keyOps) v.keyOps = keyOps;
    if (tags !== undefined) {
      if (Object.keys(tags).length > 0) v.tags = tags;
      else delete v.tags;
    }
    v.attributes.updated = nowSeconds();
    this.store.onChange();
    return { status: 200, body: this.bundle(ctx.baseUrl, key, v) };
  }

  private deleteKey(name: string, ctx: RequestContext): ServiceReply {
    const key = this.requireLive(name);
    if (key.managed) throw managedForbidden("delete");
    const now = nowSeconds();
    // The answer comes at once; the deleted key becomes readable (GET /deletedkeys) only when the delete is done.
    this.store.softDelete(name, now, now + this.profile.recoverableDays * 86400, ctx.lifecycle?.softDeleteMs ?? 0);
    return { status: 200, body: this.deletedBundle(ctx.baseUrl, key) };
  }

  private backupKey(name: string): ServiceReply {
    const key = this.requireLive(name);
    if (key.managed) throw managedForbidden("backup");
    if (key.versions.length > MAX_BACKUP_VERSIONS) {
      throw badParameter(
        `Key ${key.name} has ${key.versions.length} versions; a key with more than ${MAX_BACKUP_VERSIONS} versions cannot be backed up.`,
      );
    }
    const doc: BackupDocument = {
      format: BACKUP_FORMAT,
      kind: this.profile.kind,
      name: key.name,
      versions: key.versions.map((v) => ({
        id: v.id,
        kty: v.kty,
        material: v.material,
        keyOps: v.keyOps,
        attributes: v.attributes,
        ...(v.tags ? { tags: v.tags } : {}),
        ...(v.releasePolicy ? { releasePolicy: v.releasePolicy } : {}),
      })),
    };
    const size = BACKUP_BYTES_ONE_VERSION + BACKUP_BYTES_PER_EXTRA_VERSION * (key.versions.length - 1);
    return { status: 200, body: { value: this.cipher.seal(doc, size) } };
  }

  private restoreKey(ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const blob = body["value"];
    if (typeof blob !== "string" || blob.length === 0) throw badParameter("The 'value' property (the backup blob) is required.");
    const doc = parseBackupDocument(this.cipher.open(blob));
    // The service's message for a blob it cannot read (asserted by the SDK's public tests). A blob from
    // another geography or of the other service kind is encrypted under another key there: the same answer.
    if (!doc || doc.kind !== this.profile.kind) throw badParameter("Backup blob contains invalid or corrupt version.");
    const refused = this.profile.refusedKeyTypes;
    if (refused && doc.versions.some((v) => refused.types.includes(v.kty))) throw badParameter(refused.message);
    this.checkSettled(doc.name, "restore");
    if (this.store.getDeleted(doc.name)) throw deletedConflict(doc.name);
    if (this.store.getLive(doc.name)) throw new ServiceError(409, "Conflict", `Key ${doc.name} already exists.`);
    const key: StoredKey = {
      name: doc.name,
      managed: false,
      versions: doc.versions.map((v) => ({
        id: v.id,
        kty: v.kty,
        material: v.material,
        keyOps: [...v.keyOps],
        attributes: { ...v.attributes },
        ...(v.tags ? { tags: { ...v.tags } } : {}),
        ...(v.releasePolicy ? { releasePolicy: { ...v.releasePolicy } } : {}),
      })),
    };
    this.store.insertLive(key);
    return { status: 200, body: this.bundle(ctx.baseUrl, key, latestVersion(key)) };
  }

  // ------------------------------------------------------------------ seeding

  /** Fast bulk seeding from pooled material; throws if a name is taken. */
  async seed(options: SeedKeysOptions): Promise<void> {
    const count = options.count;
    const versions = options.versions ?? 1;
    if (!Number.isInteger(count) || count < 0) throw new Error(`seedKeys: count must be a non-negative integer, got ${count}`);
    if (!Number.isInteger(versions) || versions < 1) throw new Error(`seedKeys: versions must be >= 1, got ${versions}`);
    if (count === 0) return;
    const prefix = options.prefix ?? "key";
    const start = options.startIndex ?? 0;
    const base = options.kty ?? "EC";
    // Seeded keys are of a type the service holds: HSM-backed on a Managed HSM, software keys in a vault.
    const kty = this.profile.kind === "managedHsm" ? `${base}-HSM` : base;
    if (!this.profile.keyTypes.includes(kty)) throw new Error(`seedKeys: key type ${base} is not held by this ${this.profile.kind}`);
    const width = Math.max(5, String(start + count - 1).length);
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(start + i).padStart(width, "0")}`);
    for (const name of names) {
      if (!KEY_NAME.test(name)) throw new Error(`seedKeys: ${name} is not a valid key name`);
      if (this.store.getLive(name) || this.store.getDeleted(name) || this.store.transitOf(name)) throw new Error(`seedKeys: key ${name} already exists`);
    }
    const pool = base === "oct" ? [] : await this.pool.get(base);
    const ids = randomBytes(16 * count * versions).toString("hex");
    const now = nowSeconds();
    const tags = options.tags ? { ...options.tags } : undefined;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const list: KeyVersion[] = [];
      for (let j = 0; j < versions; j++, n++) {
        list.push({
          id: ids.slice(n * 32, n * 32 + 32),
          kty,
          // Neighbouring versions get different material, as rotated versions would.
          material: base === "oct" ? generateAesMaterial(DEFAULT_AES_BITS) : pool[n % pool.length]!,
          keyOps: [...DEFAULT_OPS[base]],
          attributes: { enabled: true, created: now, updated: now },
          ...(tags ? { tags } : {}),
        });
      }
      this.store.insertLive({ name: names[i]!, managed: options.managed === true, versions: list }, false);
    }
    this.store.onChange();
  }

  // ------------------------------------------------------------------ helpers

  private requireLive(name: string): StoredKey {
    const key = this.store.getLive(name);
    if (!key) throw notFound(name);
    return key;
  }

  private requireDeleted(name: string): StoredKey {
    const key = this.store.getDeleted(name);
    if (!key) throw new ServiceError(404, "KeyNotFound", `Deleted Key not found: ${name}`);
    return key;
  }

  /** SHA-256 of each version's private material (see EmulatedVault.materialDigests). */
  materialDigests(name: string): Record<string, string> | undefined {
    const key = this.store.getLive(name);
    return key ? Object.fromEntries(key.versions.map((v) => [v.id, materialDigest(v.material)])) : undefined;
  }

  /** A new version may be added unless the name is in transition, soft-deleted or belongs to a certificate. */
  private checkWritable(name: string, op: "create" | "import"): void {
    this.checkSettled(name, op);
    if (this.store.getDeleted(name)) throw deletedConflict(name);
    if (this.store.getLive(name)?.managed) throw managedForbidden(op);
  }

  /** 409 while a delete, recover or purge of the name has been accepted but has not finished. */
  private checkSettled(name: string, op: WriteOp): void {
    const state = this.store.transitOf(name);
    // A name being purged is gone from both views: purge and recover find nothing there.
    if (state === "purging" && (op === "purge" || op === "recover")) return;
    if (state) throw transitConflict(name, state, op);
  }

  /**
   * The type a create or import names, as this service stores it; refusals as the service words them
   * (a Standard vault's is the reported one).
   */
  private keyTypeOf(requested: unknown): string {
    const kty = typeof requested === "string" ? (this.profile.keyTypeAliases?.[requested] ?? requested) : "";
    const refused = this.profile.refusedKeyTypes;
    if (refused?.types.includes(kty)) throw badParameter(refused.message);
    if (!this.profile.keyTypes.includes(kty)) {
      throw badParameter(`Key type '${String(requested)}' is not supported. Supported types: ${this.profile.keyTypes.join(", ")}.`);
    }
    return kty;
  }

  /**
   * Documented in the spec: "Release policy must be provided when creating the first version of an
   * exportable key"; the service's message for it is the reported one.
   */
  private checkExportable(name: string, attrs: Partial<VersionAttributes>, releasePolicy: ReleasePolicy | undefined): void {
    if (attrs.exportable === true && !releasePolicy && !this.store.getLive(name)) throw badParameter("Exportable keys must have release policy");
  }

  private attributesOut(a: VersionAttributes): Record<string, unknown> {
    return {
      enabled: a.enabled,
      ...(a.nbf !== undefined ? { nbf: a.nbf } : {}),
      ...(a.exp !== undefined ? { exp: a.exp } : {}),
      created: a.created,
      updated: a.updated,
      recoveryLevel: this.profile.recoveryLevel,
      recoverableDays: this.profile.recoverableDays,
      ...(a.exportable !== undefined ? { exportable: a.exportable } : {}),
    };
  }

  private itemFields(key: StoredKey, v: KeyVersion): Record<string, unknown> {
    return {
      attributes: this.attributesOut(v.attributes),
      ...(v.tags ? { tags: v.tags } : {}),
      ...(key.managed ? { managed: true } : {}),
    };
  }

  private bundle(baseUrl: string, key: StoredKey, v: KeyVersion): Record<string, unknown> {
    return {
      key: { kid: `${baseUrl}/keys/${key.name}/${v.id}`, kty: v.kty, key_ops: v.keyOps, ...publicFields(v.material) },
      ...this.itemFields(key, v),
      ...(v.releasePolicy ? { release_policy: v.releasePolicy } : {}),
    };
  }

  private deletionFields(baseUrl: string, key: StoredKey): Record<string, unknown> {
    return {
      recoveryId: `${baseUrl}/deletedkeys/${key.name}`,
      deletedDate: key.deletedDate,
      scheduledPurgeDate: key.scheduledPurgeDate,
    };
  }

  private deletedBundle(baseUrl: string, key: StoredKey): Record<string, unknown> {
    return { ...this.deletionFields(baseUrl, key), ...this.bundle(baseUrl, key, latestVersion(key)) };
  }
}

// ------------------------------------------------------------------ backup document

interface BackupDocument {
  format: string;
  kind: ServiceKind;
  name: string;
  versions: Array<{
    id: string;
    kty: string;
    material: KeyMaterial;
    keyOps: string[];
    attributes: VersionAttributes;
    tags?: Record<string, string>;
    releasePolicy?: ReleasePolicy;
  }>;
}

/** Structural check of a decrypted document; a valid tag already rules out tampering, this rules out bugs. */
function parseBackupDocument(doc: unknown): BackupDocument | undefined {
  if (!isObject(doc) || doc["format"] !== BACKUP_FORMAT) return undefined;
  const { name, versions, kind } = doc;
  if (typeof name !== "string" || !KEY_NAME.test(name) || (kind !== "vault" && kind !== "managedHsm")) return undefined;
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > MAX_BACKUP_VERSIONS) return undefined;
  const seen = new Set<string>();
  for (const v of versions as unknown[]) {
    if (!isObject(v) || typeof v["id"] !== "string" || !VERSION_ID.test(v["id"]) || seen.has(v["id"])) return undefined;
    seen.add(v["id"]);
    const m = v["material"];
    if (!isObject(m) || (m["kty"] !== "EC" && m["kty"] !== "RSA" && m["kty"] !== "oct")) return undefined;
    if (typeof v["kty"] !== "string" || !Array.isArray(v["keyOps"]) || !isObject(v["attributes"])) return undefined;
  }
  return doc as unknown as BackupDocument;
}

// ------------------------------------------------------------------ request parsing

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function requireObject(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw badParameter("The request body must be a JSON object.");
  return body;
}

export function checkName(name: string): void {
  if (!KEY_NAME.test(name)) {
    throw badParameter(
      `The key name '${name}' is invalid. A name is 1-127 characters long and contains only 0-9, a-z, A-Z and '-'.`,
    );
  }
}

function pageSize(query: URLSearchParams): number {
  const raw = query.get("maxresults");
  if (raw === null || raw === "") return MAX_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw badParameter(`Invalid maxresults '${raw}': it must be an integer between 1 and ${MAX_PAGE}.`);
  }
  return n;
}

function decodeToken(query: URLSearchParams, field: string): unknown {
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

function nextLink(ctx: RequestContext, path: string, token: Record<string, unknown>, max: number): string {
  const skip = Buffer.from(JSON.stringify(token)).toString("base64url");
  return `${ctx.baseUrl}${path}?api-version=${encodeURIComponent(ctx.apiVersion)}&$skiptoken=${skip}&maxresults=${max}`;
}

function parseKeyOps(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.some((op) => typeof op !== "string" || !KEY_OPS.has(op))) {
    throw badParameter(`key_ops must be a list of: ${[...KEY_OPS].join(", ")}.`);
  }
  return [...new Set(raw as string[])];
}

function parseAttributes(raw: unknown): Partial<VersionAttributes> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw badParameter("attributes must be a JSON object.");
  const out: Partial<VersionAttributes> = {};
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

function parseTags(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw badParameter("tags must be a JSON object of strings.");
  const entries = Object.entries(raw);
  if (entries.length > MAX_TAGS) throw badParameter(`A key can have at most ${MAX_TAGS} tags.`);
  for (const [k, v] of entries) {
    if (typeof v !== "string") throw badParameter("Tag values must be strings.");
    if (k.length > MAX_TAG_NAME) throw badParameter(`Tag name '${k.slice(0, 20)}…' is too long: a tag name has at most ${MAX_TAG_NAME} characters.`);
    if (v.length > MAX_TAG_VALUE) throw badParameter(`The value of tag '${k.slice(0, 40)}' is too long: a tag value has at most ${MAX_TAG_VALUE} characters.`);
  }
  return entries.length > 0 ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
}

/** A release policy as given (contentType defaulted as the spec says); its data must be a JSON document. */
function parseReleasePolicy(raw: unknown): ReleasePolicy | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw badParameter("release_policy must be a JSON object.");
  const { contentType, immutable, data } = raw;
  if (contentType !== undefined && contentType !== null && typeof contentType !== "string") throw badParameter("release_policy.contentType must be a string.");
  if (immutable !== undefined && immutable !== null && typeof immutable !== "boolean") throw badParameter("release_policy.immutable must be a boolean.");
  if (typeof data !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(data)) throw badParameter("release_policy.data must be the policy document, base64url-encoded.");
  let policy: unknown;
  try {
    policy = JSON.parse(Buffer.from(data, "base64url").toString("utf8")) as unknown;
  } catch {
    policy = undefined;
  }
  if (!isObject(policy)) throw badParameter("release_policy.data is not a valid release policy document (a JSON object).");
  return {
    contentType: typeof contentType === "string" ? contentType : "application/json; charset=utf-8",
    ...(typeof immutable === "boolean" ? { immutable } : {}),
    data,
  };
}

function baseType(kty: string): "EC" | "RSA" | "oct" {
  return kty.startsWith("EC") ? "EC" : kty.startsWith("oct") ? "oct" : "RSA";
}

function newVersion(
  kty: string,
  material: KeyMaterial,
  keyOps: string[],
  attrs: Partial<VersionAttributes>,
  tags: Record<string, string> | undefined,
  releasePolicy?: ReleasePolicy,
): KeyVersion {
  const now = nowSeconds();
  return {
    id: randomBytes(16).toString("hex"),
    kty,
    material,
    keyOps,
    attributes: {
      enabled: attrs.enabled ?? true,
      ...(attrs.nbf !== undefined ? { nbf: attrs.nbf } : {}),
      ...(attrs.exp !== undefined ? { exp: attrs.exp } : {}),
      ...(attrs.exportable !== undefined ? { exportable: attrs.exportable } : {}),
      created: now,
      updated: now,
    },
    ...(tags ? { tags } : {}),
    ...(releasePolicy ? { releasePolicy } : {}),
  };
}

// ------------------------------------------------------------------ errors

export function badParameter(message: string): ServiceError {
  return new ServiceError(400, "BadParameter", message);
}

function notFound(what: string): ServiceError {
  return new ServiceError(404, "KeyNotFound", `A key with (name/id) ${what} was not found in this key vault.`);
}

type WriteOp = "create" | "import" | "restore" | "purge" | "recover";

const GERUND: Record<WriteOp, string> = { create: "creating", import: "importing", restore: "restoring", purge: "purging", recover: "recovering" };

/**
 * The service's answers while a name is between states (reported for keys and secrets): a delete in
 * progress ("… is currently being deleted."), a recover in progress (inner code ObjectIsBeingRecovered),
 * and, after a purge, a plain 409 that names no cause while get and get-deleted already answer 404.
 */
function transitConflict(name: string, state: TransitState, op: WriteOp): ServiceError {
  if (state === "deleting") return new ServiceError(409, "Conflict", "Key is currently being deleted.");
  if (state === "recovering") {
    return new ServiceError(409, "Conflict", `Key ${name} is currently being recovered and cannot be re-created; retry later.`, {}, "ObjectIsBeingRecovered");
  }
  return new ServiceError(
    409,
    "Conflict",
    `There was a conflict while ${GERUND[op]} key '${name}'. This can happen when multiple operations are performed in parallel against the key. To avoid this error, perform operations against the key in a sequential manner.`,
  );
}

function deletedConflict(name: string): ServiceError {
  return new ServiceError(
    409,
    "Conflict",
    `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.`,
  );
}

function managedForbidden(op: string): ServiceError {
  return new ServiceError(
    403,
    "Forbidden",
    `Operation "${op}" is not allowed on this Key, since it is associated with a certificate. Perform the operation on the corresponding certificate.`,
  );
}
