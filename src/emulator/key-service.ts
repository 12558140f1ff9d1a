/**
 * The Keys API semantics of Key Vault (api-versions 2025-07-01, 7.6, 7.5) over a KeyStore, independent of
 * HTTP: routes in, status and JSON out, failures as ServiceError with the service's error codes. A Managed
 * HSM uses the same operations under MANAGED_HSM_PROFILE.
 */
import type { BackupCipher } from "./backup-cipher";
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
  BACKUP_BYTES_ONE_VERSION,
  BACKUP_BYTES_PER_EXTRA_VERSION,
  DEFAULT_AES_BITS,
  DEFAULT_OPS,
  KEY_BACKUP_FORMAT,
  baseType,
  keyVersionDocument,
  keyVersionFromDocument,
  newKeyVersion,
  parseKeyBackupDocument,
  parseKeyOps,
  parseReleasePolicy,
  type KeyBackupDocument,
} from "./key-rules";
import { KeyStore, latestVersion, type KeyMaterial, type KeyVersion, type ReleasePolicy, type StoredKey } from "./key-store";
import type { ServiceProfile } from "./profiles";
import type { Route } from "./route-common";
import {
  MAX_BACKUP_VERSIONS,
  OBJECT_NAME,
  applyTagsPatch,
  attributesOut,
  badParameter,
  checkSettled,
  deletedConflict,
  deletedNotFound,
  deletionFields,
  existsConflict,
  managedForbidden,
  namePage,
  notFound,
  nowSeconds,
  parseAttributes,
  parseTags,
  parseTagsPatch,
  requireObject,
  versionPage,
  type ParsedAttributes,
  type RequestContext,
  type ServiceReply,
  type WriteOp,
} from "./service-common";
import type { SeedKeysOptions } from "./types";
import { randomBytes } from "node:crypto";

export class KeyService {
  constructor(
    readonly store: KeyStore,
    readonly profile: ServiceProfile,
    private readonly cipher: BackupCipher,
    private readonly pool: MaterialPool,
  ) {}

  async execute(route: Route, ctx: RequestContext): Promise<ServiceReply> {
    const name = route.name!;
    switch (route.op) {
      case "getKeys": {
        const page = namePage(ctx, "/keys", (after, max) => this.store.livePage(after, max));
        const items = page.items.map((k) => ({ kid: `${ctx.baseUrl}/keys/${k.name}`, ...this.itemFields(k, latestVersion(k)) }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "getKey":
        return { status: 200, body: this.bundle(ctx.baseUrl, ...this.requireVersion(name, route.version ?? "")) };
      case "getKeyVersions": {
        // The service lists no versions, rather than 404, for a name that holds no key (observed, findings.md).
        const key = this.store.getLive(name);
        if (!key) return { status: 200, body: { value: [], nextLink: null } };
        const page = versionPage(ctx, `/keys/${key.name}/versions`, key.versions);
        const items = page.items.map((v) => ({ kid: `${ctx.baseUrl}/keys/${key.name}/${v.id}`, ...this.itemFields(key, v) }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "createKey":
        return this.createKey(name, ctx);
      case "importKey":
        return this.importKey(name, ctx);
      case "updateKey":
        return this.updateKey(name, route.version ?? "", ctx);
      case "deleteKey": {
        const key = this.requireLive(name);
        if (key.managed) throw managedForbidden("Key", "delete");
        const now = nowSeconds();
        // The answer comes at once; the deleted key becomes readable (GET /deletedkeys) only when the delete is done.
        this.store.softDelete(name, now, now + this.profile.recoverableDays * 86400, ctx.lifecycle?.softDeleteMs ?? 0);
        return { status: 200, body: this.deletedBundle(ctx.baseUrl, key) };
      }
      case "backupKey":
        return this.backupKey(name);
      case "restoreKey":
        return this.restoreKey(ctx);
      case "getDeletedKeys": {
        const page = namePage(ctx, "/deletedkeys", (after, max) => this.store.deletedPage(after, max));
        const items = page.items.map((k) => ({
          kid: `${ctx.baseUrl}/keys/${k.name}`,
          ...this.itemFields(k, latestVersion(k)),
          ...deletionFields(ctx.baseUrl, "deletedkeys", k),
        }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "getDeletedKey":
        return { status: 200, body: this.deletedBundle(ctx.baseUrl, this.requireDeleted(name)) };
      case "purgeDeletedKey":
        this.checkSettled(name, "purge");
        if (this.requireDeleted(name).managed) throw managedForbidden("Key", "purge");
        this.store.purge(name, ctx.lifecycle?.purgeMs ?? 0);
        return { status: 204 };
      case "recoverDeletedKey": {
        this.checkSettled(name, "recover");
        if (this.requireDeleted(name).managed) throw managedForbidden("Key", "recover");
        const key = this.store.recover(name, ctx.lifecycle?.softDeleteMs ?? 0)!;
        return { status: 200, body: this.bundle(ctx.baseUrl, key, latestVersion(key)) };
      }
      default:
        throw new Error(`not a key operation: ${route.op}`);
    }
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
    const material = await generateKeyMaterial(base, body);
    // Checked again: another request may have taken or deleted the name while the key was generated.
    this.checkWritable(name, "create");
    const version = newKeyVersion(kty, material, keyOps, attrs, tags, releasePolicy);
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
    const version = newKeyVersion(kty, material, keyOps, attrs, tags, releasePolicy);
    const key = this.store.addVersion(name, version);
    return { status: 200, body: this.bundle(ctx.baseUrl, key, version) };
  }

  private updateKey(name: string, version: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const [key, v] = this.requireVersion(name, version);
    // Everything is validated before anything changes: a bad field leaves the version untouched.
    const attrs = parseAttributes(body["attributes"]);
    const keyOps = parseKeyOps(body["key_ops"]);
    const tags = parseTagsPatch(body["tags"], "Key");
    const releasePolicy = parseReleasePolicy(body["release_policy"]);
    if (releasePolicy && v.releasePolicy?.immutable) {
      throw badParameter("The release policy of this key version is immutable and cannot be changed.");
    }
    if (releasePolicy) v.releasePolicy = releasePolicy;
    if (attrs.enabled !== undefined) v.attributes.enabled = attrs.enabled;
    if (attrs.nbf !== undefined) v.attributes.nbf = attrs.nbf;
    if (attrs.exp !== undefined) v.attributes.exp = attrs.exp;
    if (keyOps) v.keyOps = keyOps;
    applyTagsPatch(v, tags);
    v.attributes.updated = nowSeconds();
    this.store.onChange();
    return { status: 200, body: this.bundle(ctx.baseUrl, key, v) };
  }

  private backupKey(name: string): ServiceReply {
    const key = this.requireLive(name);
    if (key.managed) throw managedForbidden("Key", "backup");
    if (key.versions.length > MAX_BACKUP_VERSIONS) {
      throw badParameter(
        `Key ${key.name} has ${key.versions.length} versions; a key with more than ${MAX_BACKUP_VERSIONS} versions cannot be backed up.`,
      );
    }
    const doc: KeyBackupDocument = { format: KEY_BACKUP_FORMAT, kind: this.profile.kind, name: key.name, versions: key.versions.map(keyVersionDocument) };
    const size = BACKUP_BYTES_ONE_VERSION + BACKUP_BYTES_PER_EXTRA_VERSION * (key.versions.length - 1);
    return { status: 200, body: { value: this.cipher.seal(doc, size, "key") } };
  }

  private restoreKey(ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const blob = body["value"];
    if (typeof blob !== "string" || blob.length === 0) throw badParameter("The 'value' property (the backup blob) is required.");
    const doc = parseKeyBackupDocument(this.cipher.open(blob, "key"));
    // The service's message for a blob it cannot read (asserted by the SDK's public tests). A blob from
    // another geography or of the other service kind is encrypted under another key there: the same answer.
    if (!doc || doc.kind !== this.profile.kind) throw badParameter("Backup blob contains invalid or corrupt version.");
    const refused = this.profile.refusedKeyTypes;
    if (refused && doc.versions.some((v) => refused.types.includes(v.kty))) throw badParameter(refused.message);
    this.checkSettled(doc.name, "restore");
    if (this.store.getDeleted(doc.name)) throw deletedConflict("Key", doc.name);
    if (this.store.getLive(doc.name)) throw existsConflict("Key", doc.name);
    const key: StoredKey = { name: doc.name, managed: false, versions: doc.versions.map(keyVersionFromDocument) };
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
    const base = options.kty ?? "EC";
    // Seeded keys are of a type the service holds: HSM-backed on a Managed HSM, software keys in a vault.
    const kty = this.profile.kind === "managedHsm" ? `${base}-HSM` : base;
    if (!this.profile.keyTypes.includes(kty)) throw new Error(`seedKeys: key type ${base} is not held by this ${this.profile.kind}`);
    const names = seedNames("seedKeys", options.prefix ?? "key", options.startIndex ?? 0, count, (n) => this.store.holds(n));
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
    if (!key) throw notFound("Key", name);
    return key;
  }

  private requireVersion(name: string, version: string): [StoredKey, KeyVersion] {
    const key = this.requireLive(name);
    const v = version === "" ? latestVersion(key) : key.versions.find((x) => x.id === version.toLowerCase());
    if (!v) throw notFound("Key", `${name}/${version}`);
    return [key, v];
  }

  private requireDeleted(name: string): StoredKey {
    const key = this.store.getDeleted(name);
    if (!key) throw deletedNotFound("Key", name);
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
    if (this.store.getDeleted(name)) throw deletedConflict("Key", name);
    if (this.store.getLive(name)?.managed) throw managedForbidden("Key", op);
  }

  private checkSettled(name: string, op: WriteOp): void {
    checkSettled("Key", name, this.store.transitOf(name), op);
  }

  /**
   * The type a create or import names, as this service stores it; refusals as the service words them
   * (a Standard vault's is the reported one).
   */
  keyTypeOf(requested: unknown): string {
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
  private checkExportable(name: string, attrs: ParsedAttributes, releasePolicy: ReleasePolicy | undefined): void {
    if (attrs.exportable === true && !releasePolicy && !this.store.getLive(name)) throw badParameter("Exportable keys must have release policy");
  }

  private itemFields(key: StoredKey, v: KeyVersion): Record<string, unknown> {
    return {
      attributes: attributesOut(v.attributes, this.profile),
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

  private deletedBundle(baseUrl: string, key: StoredKey): Record<string, unknown> {
    return { ...deletionFields(baseUrl, "deletedkeys", key), ...this.bundle(baseUrl, key, latestVersion(key)) };
  }
}

/** Key material of the requested size or curve (create key, and a certificate's new key). */
export async function generateKeyMaterial(base: "EC" | "RSA" | "oct", props: Record<string, unknown>): Promise<KeyMaterial> {
  if (base === "oct") {
    const size = props["key_size"] ?? DEFAULT_AES_BITS;
    if (typeof size !== "number" || !SUPPORTED_AES_SIZES.includes(size)) {
      throw badParameter(`AES key size ${String(size)} is not supported. Supported sizes: ${SUPPORTED_AES_SIZES.join(", ")}.`);
    }
    return generateAesMaterial(size);
  }
  if (base === "EC") {
    const crv = props["crv"] ?? "P-256";
    if (typeof crv !== "string" || !SUPPORTED_CURVES.includes(crv)) {
      throw badParameter(`Curve '${String(crv)}' is not supported. Supported curves: ${SUPPORTED_CURVES.join(", ")}.`);
    }
    return generateEcMaterial(crv);
  }
  const size = props["key_size"] ?? 2048;
  if (typeof size !== "number" || !SUPPORTED_RSA_SIZES.includes(size)) {
    throw badParameter(`RSA key size ${String(size)} is not supported. Supported sizes: ${SUPPORTED_RSA_SIZES.join(", ")}.`);
  }
  const exponent = props["public_exponent"] ?? 65537;
  if (typeof exponent !== "number" || !Number.isInteger(exponent) || exponent < 3 || exponent % 2 === 0) {
    throw badParameter(`Public exponent ${String(exponent)} is not valid.`);
  }
  return generateRsaMaterial(size, exponent);
}

/** `${prefix}-${index}` names, zero-padded; throws when one is invalid or taken. */
export function seedNames(what: string, prefix: string, start: number, count: number, taken: (name: string) => boolean): string[] {
  const width = Math.max(5, String(start + count - 1).length);
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(start + i).padStart(width, "0")}`);
  for (const name of names) {
    if (!OBJECT_NAME.test(name)) throw new Error(`${what}: ${name} is not a valid name`);
    if (taken(name)) throw new Error(`${what}: ${name} already exists`);
  }
  return names;
}
