/**
 * The Certificates API semantics of Key Vault (certificates.json, api-versions 2025-07-01, 7.6, 7.5). A
 * certificate brings a managed key and a managed secret of its name, one version of each per certificate
 * version (same id); deleting, recovering, purging, backing up and restoring a certificate does the same
 * to its key and secret. A create (issuer `Self`) answers 202 with a pending operation that the issuer
 * completes `certificateCreateMs` later.
 */
import { randomBytes } from "node:crypto";
import type { BackupCipher } from "./backup-cipher";
import { readImport } from "./certificate-import";
import { certificateBundle, certificateItem, operationOut } from "./certificate-answers";
import { backupCertificate, restoreCertificate, type CertificateParts } from "./certificate-backup";
import { ISSUERS, defaultPolicy, importedPolicy, mergePolicy, policyOut } from "./certificate-policy";
import { CertificateStore, latestCertificateVersion, type CertificateVersion, type PendingOperation, type PreparedVersion, type StoredCertificate } from "./certificate-store";
import { certificateDigest, selfSignedVersion, versionFrom } from "./certificate-versions";
import { MaterialPool, materialFromKeyObject } from "./key-material";
import { seedCertificates } from "./certificate-seed";
import { generateKeyMaterial } from "./key-service";
import type { KeyMaterial, KeyStore } from "./key-store";
import type { ServiceProfile } from "./profiles";
import type { Route } from "./route-common";
import type { SecretStore, SecretVersion, StoredSecret } from "./secret-store";
import {
  ServiceError,
  applyTagsPatch,
  badParameter,
  checkSettled,
  deletedConflict,
  deletedNotFound,
  deletionFields,
  namePage,
  notFound,
  notImplemented,
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
import type { SeedCertificatesOptions } from "./types";
import { PEM, PKCS12, certificateSigningRequest, privateKeyOf, secretValue } from "./x509";

export class CertificateService {
  constructor(
    readonly store: CertificateStore,
    private readonly keys: KeyStore,
    private readonly secrets: SecretStore,
    readonly profile: ServiceProfile,
    private readonly cipher: BackupCipher,
    private readonly pool: MaterialPool,
    private readonly clock: () => number = Date.now,
  ) {}

  private parts(): CertificateParts {
    return { certificates: this.store, keys: this.keys, secrets: this.secrets, profile: this.profile, cipher: this.cipher };
  }

  /** Completes the create operations whose issuer has finished; lazily, before every request, like the lifecycle. */
  settle(): void {
    for (const op of this.store.duePending(this.clock())) this.complete(op);
  }

  async execute(route: Route, ctx: RequestContext): Promise<ServiceReply> {
    const name = route.name!;
    switch (route.op) {
      case "getCertificates": {
        const page = namePage(ctx, "/certificates", (after, max) => this.store.livePage(after, max));
        return { status: 200, body: { value: page.items.map((c) => certificateItem(this.profile, ctx.baseUrl, c, latestCertificateVersion(c), false)), nextLink: page.next } };
      }
      case "getCertificate": {
        const [cert, v] = this.requireVersion(name, route.version ?? "");
        return { status: 200, body: certificateBundle(this.profile, ctx.baseUrl, cert, v) };
      }
      case "getCertificateVersions": {
        const cert = this.store.getLive(name);
        if (!cert) return { status: 200, body: { value: [], nextLink: null } };
        const page = versionPage(ctx, `/certificates/${cert.name}/versions`, cert.versions);
        return { status: 200, body: { value: page.items.map((v) => certificateItem(this.profile, ctx.baseUrl, cert, v, true)), nextLink: page.next } };
      }
      case "createCertificate":
        return this.create(name, ctx);
      case "importCertificate":
        return this.importCertificate(name, ctx);
      case "updateCertificate":
        return this.update(name, route.version ?? "", ctx);
      case "getCertificatePolicy":
        return { status: 200, body: policyOut(ctx.baseUrl, this.requireLive(name).name, this.requireLive(name).policy) };
      case "updateCertificatePolicy": {
        const cert = this.requireLive(name);
        cert.policy = mergePolicy(ctx.body, cert.policy, this.profile, nowSeconds());
        this.store.onChange();
        return { status: 200, body: policyOut(ctx.baseUrl, cert.name, cert.policy) };
      }
      case "getCertificateOperation":
        return { status: 200, body: operationOut(ctx.baseUrl, this.requirePending(name)) };
      case "updateCertificateOperation": {
        const op = this.requirePending(name);
        const body = requireObject(ctx.body);
        if (typeof body["cancellation_requested"] !== "boolean") throw badParameter("cancellation_requested (a boolean) is required.");
        if (body["cancellation_requested"] && op.status === "inProgress") {
          op.cancellationRequested = true;
          op.status = "cancelled";
          delete op.prepared;
          this.store.onChange();
        }
        return { status: 200, body: operationOut(ctx.baseUrl, op) };
      }
      case "deleteCertificateOperation": {
        const op = this.requirePending(name);
        this.store.dropPending(name);
        return { status: 200, body: operationOut(ctx.baseUrl, op) };
      }
      case "deleteCertificate":
        return this.deleteCertificate(name, ctx);
      case "backupCertificate":
        return backupCertificate(this.parts(), name);
      case "restoreCertificate":
        return restoreCertificate(this.parts(), ctx);
      case "getDeletedCertificates": {
        const page = namePage(ctx, "/deletedcertificates", (after, max) => this.store.deletedPage(after, max));
        const items = page.items.map((c) => ({ ...certificateItem(this.profile, ctx.baseUrl, c, latestCertificateVersion(c), false), ...deletionFields(ctx.baseUrl, "deletedcertificates", c) }));
        return { status: 200, body: { value: items, nextLink: page.next } };
      }
      case "getDeletedCertificate": {
        const cert = this.requireDeleted(name);
        return { status: 200, body: { ...deletionFields(ctx.baseUrl, "deletedcertificates", cert), ...certificateBundle(this.profile, ctx.baseUrl, cert, latestCertificateVersion(cert)) } };
      }
      case "purgeDeletedCertificate": {
        this.checkSettled(name, "purge");
        this.requireDeleted(name);
        const ms = ctx.lifecycle?.purgeMs ?? 0;
        this.store.purge(name, ms);
        if (this.keys.getDeleted(name)?.managed) this.keys.purge(name, ms);
        if (this.secrets.getDeleted(name)?.managed) this.secrets.purge(name, ms);
        return { status: 204 };
      }
      case "recoverDeletedCertificate": {
        this.checkSettled(name, "recover");
        this.requireDeleted(name);
        const ms = ctx.lifecycle?.softDeleteMs ?? 0;
        const cert = this.store.recover(name, ms)!;
        if (this.keys.getDeleted(name)?.managed) this.keys.recover(name, ms);
        if (this.secrets.getDeleted(name)?.managed) this.secrets.recover(name, ms);
        return { status: 200, body: certificateBundle(this.profile, ctx.baseUrl, cert, latestCertificateVersion(cert)) };
      }
      default:
        throw new Error(`not a certificate operation: ${route.op}`);
    }
  }

  // ------------------------------------------------------------------ create and import

  private async create(name: string, ctx: RequestContext): Promise<ServiceReply> {
    const body = requireObject(ctx.body);
    if (body["policy"] === undefined || body["policy"] === null) throw badParameter("A certificate create needs a policy.");
    const now = nowSeconds();
    const existing = this.store.getLive(name);
    const policy = mergePolicy(body["policy"], existing?.policy ?? defaultPolicy(now), this.profile, now);
    const issuer = (body["policy"] as Record<string, unknown>)["issuer"];
    if (issuer === undefined && !existing) throw badParameter("policy: the issuer is required (issuer.name 'Self' for a self-signed certificate).");
    // Named issuers (DigiCert, GlobalSign, …) need issuer objects, which are not emulated.
    if (!ISSUERS.includes(policy.issuer.name)) throw notImplemented(`issuer '${policy.issuer.name}'`, "the issuers Self and Unknown");
    if (policy.x509_props.subject === "" && !policy.x509_props.sans) throw badParameter("policy: x509_props needs a subject or subject alternative names.");
    const attrs = parseAttributes(body["attributes"]);
    const tags = parseTags(body["tags"], "Certificate");
    this.checkWritable(name, "create");
    // A new key per version unless the policy reuses the key (reuse_key).
    const reused = policy.key_props.reuse_key && existing ? this.keys.getLive(name)?.versions.at(-1)?.material : undefined;
    const material = reused ?? (await generateKeyMaterial(policy.key_props.kty.startsWith("EC") ? "EC" : "RSA", { ...policy.key_props }));
    // Checked again: the name may have been taken or deleted while the key was generated.
    this.checkWritable(name, "create");
    const prepared = selfSignedVersion(material, policy, policy.key_props.kty, attrs, tags, nowSeconds());
    const csr = certificateSigningRequest(privateKeyOf(material), {
      subject: policy.x509_props.subject !== "" ? policy.x509_props.subject : `CN=${policy.x509_props.sans?.dns_names?.[0] ?? name}`,
      ...(policy.x509_props.sans ? { sans: policy.x509_props.sans } : {}),
      ekus: policy.x509_props.ekus,
      keyUsage: policy.x509_props.key_usage,
    });
    const op: PendingOperation = {
      name: existing?.name ?? name,
      requestId: randomBytes(16).toString("hex"),
      issuerName: policy.issuer.name,
      csr: csr.toString("base64"),
      status: "inProgress",
      cancellationRequested: false,
      // Self: the service's own CA signs after a while; Unknown: the request waits for a merge.
      ...(policy.issuer.name === "Self" ? { until: this.clock() + (ctx.lifecycle?.certificateCreateMs ?? 0) } : {}),
      prepared,
    };
    this.store.setPending(op);
    this.settle();
    // The answer always shows the operation in progress, as the service's 202 does.
    return { status: 202, body: operationOut(ctx.baseUrl, { ...op, status: "inProgress" }) };
  }

  private importCertificate(name: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const value = body["value"];
    if (typeof value !== "string" || value === "") throw badParameter("The 'value' property (the certificate with its private key) is required.");
    const pwd = body["pwd"];
    if (pwd !== undefined && pwd !== null && typeof pwd !== "string") throw badParameter("pwd must be a string.");
    const now = nowSeconds();
    const existing = this.store.getLive(name);
    // The content tells PEM from a base64 PFX (the SDK leaves an import's policy out of its request); the
    // secret keeps the content type the policy names, else the one of what was imported (assumed).
    const pemGiven = value.trimStart().startsWith("-----BEGIN");
    const requested = (body["policy"] as { secret_props?: { contentType?: unknown } } | undefined)?.secret_props?.contentType;
    const contentType = typeof requested === "string" ? requested : pemGiven ? PEM : (existing?.policy.secret_props.contentType ?? PKCS12);
    const imported = readImport(value, pemGiven ? PEM : PKCS12, typeof pwd === "string" && pwd !== "" ? pwd : undefined);
    let material: KeyMaterial;
    try {
      material = materialFromKeyObject(imported.key);
    } catch (err) {
      throw badParameter(`The key of the certificate to import is not supported: ${(err as Error).message}.`);
    }
    const derived = importedPolicy(imported.leaf, imported.key, contentType, existing?.policy.attributes.created ?? now);
    const policy = mergePolicy(body["policy"], existing ? { ...derived, issuer: existing.policy.issuer, lifetime_actions: existing.policy.lifetime_actions } : derived, this.profile, now);
    const attrs = parseAttributes(body["attributes"]);
    const tags = parseTags(body["tags"], "Certificate");
    this.checkWritable(name, "import");
    const validity = { nbf: Math.floor(Date.parse(imported.leaf.validFrom) / 1000), exp: Math.floor(Date.parse(imported.leaf.validTo) / 1000) };
    const prepared = versionFrom(imported.certs, material, imported.key, validity, policy, policy.key_props.kty, attrs, tags, now);
    const cert = this.materialise(name, prepared);
    return { status: 200, body: certificateBundle(this.profile, ctx.baseUrl, cert, latestCertificateVersion(cert)) };
  }

  /** An ended create: its version appears, or the operation fails when its key or secret name was taken meanwhile. */
  private complete(op: PendingOperation): void {
    const prepared = op.prepared;
    delete op.prepared;
    try {
      if (!prepared) throw new Error("nothing prepared");
      this.checkWritable(op.name, "create", true);
      this.materialise(op.name, prepared);
      op.status = "completed";
    } catch (err) {
      op.status = "failed";
      op.error = { code: err instanceof ServiceError ? err.code : "InternalError", message: (err as Error).message };
    }
    this.store.onChange();
  }

  private materialise(name: string, v: PreparedVersion): StoredCertificate {
    const cert = this.store.addVersion(name, v.certificate, v.policy);
    this.keys.addVersion(cert.name, v.key, true);
    this.secrets.addVersion(cert.name, v.secret, true);
    return cert;
  }

  // ------------------------------------------------------------------ update, delete

  private update(name: string, version: string, ctx: RequestContext): ServiceReply {
    const body = requireObject(ctx.body);
    const [cert, v] = this.requireVersion(name, version);
    const attrs = parseAttributes(body["attributes"]);
    const tags = parseTagsPatch(body["tags"], "Certificate");
    const policy = body["policy"] === undefined ? undefined : mergePolicy(body["policy"], cert.policy, this.profile, nowSeconds());
    if (policy) cert.policy = policy;
    // The key and the secret of the version follow its certificate's enabled state and tags (assumed).
    const key = this.keys.getLive(cert.name)?.versions.find((k) => k.id === v.id);
    const secret = this.secrets.getLive(cert.name)?.versions.find((s) => s.id === v.id);
    for (const target of [v, ...(key ? [key] : []), ...(secret ? [secret] : [])]) {
      if (attrs.enabled !== undefined) target.attributes.enabled = attrs.enabled;
      applyTagsPatch(target, tags);
      target.attributes.updated = nowSeconds();
    }
    this.store.onChange();
    this.keys.onChange();
    return { status: 200, body: certificateBundle(this.profile, ctx.baseUrl, cert, v) };
  }

  private deleteCertificate(name: string, ctx: RequestContext): ServiceReply {
    const cert = this.requireLive(name);
    const now = nowSeconds();
    const purgeDate = now + this.profile.recoverableDays * 86400;
    const ms = ctx.lifecycle?.softDeleteMs ?? 0;
    this.store.dropPending(name);
    this.store.softDelete(name, now, purgeDate, ms);
    if (this.keys.getLive(name)?.managed) this.keys.softDelete(name, now, purgeDate, ms);
    if (this.secrets.getLive(name)?.managed) this.secrets.softDelete(name, now, purgeDate, ms);
    return { status: 200, body: { ...deletionFields(ctx.baseUrl, "deletedcertificates", cert), ...certificateBundle(this.profile, ctx.baseUrl, cert, latestCertificateVersion(cert)) } };
  }

  // ------------------------------------------------------------------ seeding and test hooks

  /** Bulk seeding of self-signed certificates with real X.509 material; throws if a name is taken. */
  seed(options: SeedCertificatesOptions): Promise<void> {
    return seedCertificates({ certificates: this.store, keys: this.keys, secrets: this.secrets }, this.pool, options);
  }

  /** Per version: SHA-256 over the X.509, the key material and the secret value (see EmulatedVault.certificateDigests). */
  digests(name: string): Record<string, string> | undefined {
    const cert = this.store.getLive(name);
    if (!cert) return undefined;
    const keys = new Map((this.keys.getLive(name)?.versions ?? []).map((k) => [k.id, k.material]));
    const secrets = new Map((this.secrets.getLive(name)?.versions ?? []).map((s) => [s.id, s]));
    return Object.fromEntries(cert.versions.map((v) => [v.id, certificateDigest(v.cer, keys.get(v.id), secrets.get(v.id))]));
  }

  /** A certificate's secret in the other content type (GET /secrets/{name}?outContentType=…). */
  convertSecret(secret: StoredSecret, version: SecretVersion, contentType: string): string {
    const cert = this.store.getLive(secret.name);
    const v = cert?.versions.find((c) => c.id === version.id);
    const material = this.keys.getLive(secret.name)?.versions.find((k) => k.id === version.id)?.material;
    if (!cert || !v) throw badParameter("The certificate of this secret version is not available.");
    const key = cert.policy.key_props.exportable && material ? privateKeyOf(material) : undefined;
    return secretValue(contentType, [Buffer.from(v.cer, "base64")], key);
  }

  // ------------------------------------------------------------------ helpers

  private requireLive(name: string): StoredCertificate {
    const cert = this.store.getLive(name);
    if (!cert) throw notFound("Certificate", name);
    return cert;
  }

  private requireVersion(name: string, version: string): [StoredCertificate, CertificateVersion] {
    const cert = this.requireLive(name);
    const v = version === "" ? latestCertificateVersion(cert) : cert.versions.find((x) => x.id === version.toLowerCase());
    if (!v) throw notFound("Certificate", `${name}/${version}`);
    return [cert, v];
  }

  private requireDeleted(name: string): StoredCertificate {
    const cert = this.store.getDeleted(name);
    if (!cert) throw deletedNotFound("Certificate", name);
    return cert;
  }

  private requirePending(name: string): PendingOperation {
    const op = this.store.pending(name);
    if (!op) throw new ServiceError(404, "PendingCertificateNotFound", `Pending certificate not found: ${name}`);
    return op;
  }

  private checkSettled(name: string, op: WriteOp): void {
    checkSettled("Certificate", name, this.store.transitOf(name), op);
  }

  /**
   * A new version may be made unless the certificate, its key or its secret name is in transition or
   * soft-deleted, or a create is in progress. A plain key or secret of the name is taken over.
   */
  private checkWritable(name: string, op: "create" | "import", completing = false): void {
    this.checkSettled(name, op);
    if (this.store.getDeleted(name)) throw deletedConflict("Certificate", name);
    // One create at a time per certificate (the wording is assumed).
    if (!completing && this.store.pending(name)?.status === "inProgress") {
      throw new ServiceError(409, "Conflict", `Certificate ${name} has a certificate operation in progress; wait for it to end or cancel it.`);
    }
    for (const [kind, store] of [["Key", this.keys], ["Secret", this.secrets]] as const) {
      checkSettled(kind, name, store.transitOf(name), op);
      if (store.getDeleted(name)) throw deletedConflict(kind, name);
    }
  }
}
