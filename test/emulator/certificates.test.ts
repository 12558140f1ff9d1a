/**
 * The emulator's Certificates API through the official CertificateClient (with the KeyClient and the
 * SecretClient to look at what a certificate brings): self-signed creates that complete after a while,
 * PFX and PEM imports of real X.509 material, the managed key and secret, the lifecycle they share with
 * their certificate, and backup/restore of all three.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync } from "node:crypto";
import * as tls from "node:tls";
import type { CertificateClient } from "@azure/keyvault-certificates";
import type { KeyClient } from "@azure/keyvault-keys";
import type { SecretClient } from "@azure/keyvault-secrets";
import * as forge from "node-forge";
import { CERTIFICATE_BACKUP_BYTES_ONE_VERSION, startEmulator, type EmulatedVault, type RunningEmulator } from "../../src/emulator";
import { pemBundle, selfSignedCertificate } from "../../src/emulator/x509";
import { AUTH, certificateClient, emulatorClient, failureOf, rawRequest, retryWhileConflict, secretClient } from "./helpers";

const V = "api-version=2025-07-01";
const FAST = { softDeleteMs: 50, purgeMs: 50, certificateCreateMs: 50 };
const POLL = { intervalInMs: 25 };
const selfSigned = (subject: string, extra: Record<string, unknown> = {}) => ({ issuerName: "Self", subject, ...extra });

/** A password-protected PFX (3DES) packed by node-forge, not by the emulator, around an RSA certificate. */
function forgePfx(password: string): { pfx: Uint8Array; certDer: Buffer } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }) as string);
  const der = selfSignedCertificate(privateKey, { subject: "CN=imported.example", ekus: [], keyUsage: ["digitalSignature"] }, new Date(Date.now() - 60_000), new Date(Date.now() + 30 * 86400_000));
  const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(der.toString("binary")));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [cert], password, { algorithm: "3des" });
  return { pfx: Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary"), certDer: der };
}

describe("Key Vault emulator: certificates through the official CertificateClient", () => {
  let emu: RunningEmulator;
  let vault: EmulatedVault;
  let certs: CertificateClient;
  let keys: KeyClient;
  let secrets: SecretClient;

  const raw = (path: string, method = "GET", body?: unknown) =>
    rawRequest(`${vault.url}${path}${path.includes("?") ? "&" : "?"}${V}`, emu.caCert, {
      method,
      headers: { ...AUTH, "Content-Type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    emu = await startEmulator({ seed: 31, ...FAST });
    vault = emu.vault;
    certs = certificateClient(vault.url, emu.caCert);
    keys = emulatorClient(vault.url, emu.caCert);
    secrets = secretClient(vault.url, emu.caCert);
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("when a Self certificate is created, the poller polls the pending operation until the issuer completes it", async () => {
    const slow = await emu.addVault({ knobs: { certificateCreateMs: 800 } });
    const c = certificateClient(slow.url, emu.caCert);

    const poller = await c.beginCreateCertificate("polled", selfSigned("CN=polled.example", { subjectAlternativeNames: { dnsNames: ["polled.example"] } }), POLL);
    const pending = (await rawRequest(`${slow.url}/certificates/polled/pending?${V}`, emu.caCert, { headers: AUTH })).json as Record<string, unknown>;
    const created = await poller.pollUntilDone();

    expect(pending).toMatchObject({ status: "inProgress", issuer: { name: "Self" }, id: `${slow.url}/certificates/polled/pending` });
    const csr = Buffer.from(pending["csr"] as string, "base64");
    expect([csr[0], csr.length > 500]).toEqual([0x30, true]);
    expect(slow.stats().operations["getCertificateOperation"]).toBeGreaterThanOrEqual(2);
    expect(created.name).toBe("polled");
    const x509 = new X509Certificate(Buffer.from(created.cer!));
    expect(x509.subject).toBe("CN=polled.example");
    expect(x509.subjectAltName).toBe("DNS:polled.example");
    expect(x509.verify(x509.publicKey)).toBe(true);
    const done = await (await c.getCertificateOperation("polled")).pollUntilDone();
    expect(done).toMatchObject({ name: "polled" });
    expect((await rawRequest(`${slow.url}/certificates/polled/pending?${V}`, emu.caCert, { headers: AUTH })).json).toMatchObject({
      status: "completed",
      target: `${slow.url}/certificates/polled`,
    });
  });

  it("when a certificate is created, its key and secret appear under its name, managed, linked by kid and sid, with the same version", async () => {
    const cert = await (await certs.beginCreateCertificate("web", selfSigned("CN=web.example", { keyType: "RSA", keySize: 3072, validityInMonths: 6 }), POLL)).pollUntilDone();
    const version = cert.properties.version!;

    const key = await keys.getKey("web");
    const secret = await secrets.getSecret("web");
    const listedKey = [];
    for await (const k of keys.listPropertiesOfKeys()) if (k.name === "web") listedKey.push(k);
    const listedSecret = [];
    for await (const s of secrets.listPropertiesOfSecrets()) if (s.name === "web") listedSecret.push(s);

    expect(cert.keyId).toBe(`${vault.url}/keys/web/${version}`);
    expect(cert.secretId).toBe(`${vault.url}/secrets/web/${version}`);
    expect(key.properties).toMatchObject({ version, managed: true });
    expect(secret.properties).toMatchObject({ version, managed: true, contentType: "application/x-pkcs12", certificateKeyId: `${vault.url}/keys/web/${version}` });
    expect(listedKey.map((k) => k.managed)).toEqual([true]);
    expect(listedSecret.map((s) => [s.managed, s.contentType])).toEqual([[true, "application/x-pkcs12"]]);
    // The secret's value is the PFX: the certificate with the very key the key object holds.
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(Buffer.from(secret.value!, "base64").toString("binary")), false, "");
    const bags = p12.getBags({ bagType: forge.pki.oids["keyBag"]! })[forge.pki.oids["keyBag"]!]!;
    const modulus = (bags[0]!.key as unknown as { n: { toString(radix: number): string } }).n.toString(16);
    expect(Buffer.from(key.key!.n!).toString("hex").replace(/^0+/, "")).toBe(modulus.replace(/^0+/, ""));
    const x509 = new X509Certificate(Buffer.from(cert.cer!));
    expect((x509.publicKey.asymmetricKeyDetails ?? {}).modulusLength).toBe(3072);
    expect(Date.parse(x509.validTo) - Date.parse(x509.validFrom)).toBeGreaterThan(180 * 86400_000);
    expect(cert.properties.expiresOn!.getTime()).toBe(Date.parse(x509.validTo));
  });

  it("when an EC certificate is created with PEM content, its secret is a PKCS#8 key and the certificate in PEM", async () => {
    const cert = await (await certs.beginCreateCertificate("ec-pem", selfSigned("CN=ec.example", { keyType: "EC", keyCurveName: "P-384", contentType: "application/x-pem-file" }), POLL)).pollUntilDone();

    const secret = await secrets.getSecret("ec-pem");

    expect(secret.properties.contentType).toBe("application/x-pem-file");
    expect(secret.value).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----BEGIN CERTIFICATE-----\n/);
    const key = createPrivateKey(secret.value!);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    expect(new X509Certificate(Buffer.from(cert.cer!)).checkPrivateKey(key)).toBe(true);
    expect(cert.policy).toMatchObject({ keyType: "EC", keyCurveName: "P-384", contentType: "application/x-pem-file", issuerName: "Self" });
    // Asked for in the other content type, the same certificate comes as a PFX a TLS stack can load.
    const asPfx = await secrets.getSecret("ec-pem");
    const converted = await rawRequest(`${vault.url}/secrets/ec-pem/${asPfx.properties.version}?${V}&outContentType=application%2Fx-pkcs12`, emu.caCert, { headers: AUTH });
    expect(() => tls.createSecureContext({ pfx: Buffer.from((converted.json as { value: string }).value, "base64") })).not.toThrow();
  });

  it("when a certificate gets a new version, its key and secret get a new version of the same id", async () => {
    await (await certs.beginCreateCertificate("renewed", selfSigned("CN=renewed.example"), POLL)).pollUntilDone();
    const second = await (await certs.beginCreateCertificate("renewed", selfSigned("CN=renewed.example"), POLL)).pollUntilDone();

    const versions: string[] = [];
    for await (const p of certs.listPropertiesOfCertificateVersions("renewed")) versions.push(p.version!);

    expect(versions).toHaveLength(2);
    expect(vault.listVersions("renewed")).toEqual(versions);
    expect(vault.listSecretVersions("renewed")).toEqual(versions);
    expect(versions[1]).toBe(second.properties.version);
    const digests = vault.materialDigests("renewed")!;
    expect(digests[versions[0]!]).not.toBe(digests[versions[1]!]);
  });

  it("when a PFX with a password is imported, the certificate, its key and its secret are the imported material", async () => {
    const { pfx, certDer } = forgePfx("s3cret!");

    const imported = await certs.importCertificate("imported-pfx", pfx, { password: "s3cret!", tags: { source: "forge" } });
    const secret = await secrets.getSecret("imported-pfx");
    const key = await keys.getKey("imported-pfx");

    expect(Buffer.from(imported.cer!).equals(certDer)).toBe(true);
    expect(imported.properties.tags).toEqual({ source: "forge" });
    expect(imported.policy).toMatchObject({ issuerName: "Unknown", subject: "CN=imported.example", keyType: "RSA", keySize: 2048 });
    expect(key.properties.managed).toBe(true);
    const reopened = tls.createSecureContext({ pfx: Buffer.from(secret.value!, "base64") });
    expect(reopened).toBeDefined();
    expect(await failureOf(certs.importCertificate("wrong-password", pfx, { password: "nope" }))).toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  it("when PEM with a PKCS#8 key is imported, it is accepted; a PKCS#1 key is refused as the service refuses it", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const der = selfSignedCertificate(privateKey, { subject: "CN=pem.example", ekus: ["1.3.6.1.5.5.7.3.1"], keyUsage: [] }, new Date(Date.now() - 60_000), new Date(Date.now() + 86400_000));
    const pemText = pemBundle([der], privateKey);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const rsaDer = selfSignedCertificate(rsa, { subject: "CN=pkcs1.example", ekus: [], keyUsage: [] }, new Date(Date.now() - 60_000), new Date(Date.now() + 86400_000));
    const pkcs1 = `${rsa.export({ type: "pkcs1", format: "pem" }) as string}${pemBundle([rsaDer], undefined)}`;

    const imported = await certs.importCertificate("imported-pem", Buffer.from(pemText), { policy: { contentType: "application/x-pem-file" } });
    const refused = await failureOf(certs.importCertificate("imported-pkcs1", Buffer.from(pkcs1), { policy: { contentType: "application/x-pem-file" } }));

    expect(Buffer.from(imported.cer!).equals(der)).toBe(true);
    expect(imported.policy).toMatchObject({ keyType: "EC", keyCurveName: "P-256", contentType: "application/x-pem-file", enhancedKeyUsage: ["1.3.6.1.5.5.7.3.1"] });
    expect((await secrets.getSecret("imported-pem")).value).toBe(pemText);
    expect(refused).toMatchObject({ statusCode: 400, message: expect.stringMatching(/PKCS#8/) });
    expect(vault.listCertificateNames()).not.toContain("imported-pkcs1");
  });

  it("when the key or the secret of a certificate is backed up or deleted on its own, the service's 403 answers", async () => {
    await (await certs.beginCreateCertificate("guarded", selfSigned("CN=guarded.example"), POLL)).pollUntilDone();

    const keyBackup = await failureOf(keys.backupKey("guarded"));
    const secretBackup = await raw("/secrets/guarded/backup", "POST");
    const secretDelete = await failureOf(secrets.beginDeleteSecret("guarded"));
    const secretSet = await failureOf(secrets.setSecret("guarded", "overwrite"));

    expect(keyBackup).toMatchObject({
      statusCode: 403,
      code: "Forbidden",
      message: expect.stringMatching(/^Operation "backup" is not allowed on this Key, since it is associated with a certificate\. Perform the operation on the corresponding certificate\./),
    });
    expect(secretBackup.status).toBe(403);
    expect(secretBackup.json).toMatchObject({
      error: { code: "Forbidden", message: expect.stringMatching(/^Operation "backup" is not allowed on this secret, since it is associated with a certificate\./), innererror: { code: "SecretManagedByKeyVault" } },
    });
    expect(secretDelete).toMatchObject({ statusCode: 403, message: expect.stringMatching(/^Operation "delete" is not allowed on this secret/) });
    expect(secretSet).toMatchObject({ statusCode: 403 });
  });

  it("when a certificate is deleted and recovered, its key and secret are deleted and recovered with it", async () => {
    await (await certs.beginCreateCertificate("cycle", selfSigned("CN=cycle.example"), POLL)).pollUntilDone();

    const deleted = await (await certs.beginDeleteCertificate("cycle", POLL)).pollUntilDone();
    const deletedState = [vault.listDeletedCertificateNames().includes("cycle"), vault.listDeletedKeyNames().includes("cycle"), vault.listDeletedSecretNames().includes("cycle")];
    const deletedKey = await keys.getDeletedKey("cycle");
    const keyRecover = await failureOf(keys.beginRecoverDeletedKey("cycle"));
    const recovered = await (await certs.beginRecoverDeletedCertificate("cycle", POLL)).pollUntilDone();

    expect(deleted).toMatchObject({ name: "cycle", recoveryId: `${vault.url}/deletedcertificates/cycle` });
    expect(deletedState).toEqual([true, true, true]);
    expect(deletedKey.properties.managed).toBe(true);
    expect(keyRecover).toMatchObject({ statusCode: 403 });
    expect(recovered.name).toBe("cycle");
    expect([vault.listCertificateNames(), vault.listKeyNames(), vault.listSecretNames()].map((l) => l.includes("cycle"))).toEqual([true, true, true]);
  });

  it("when a certificate backup is restored after delete and purge, the certificate, its key and its secret come back with every version", async () => {
    await vault.seedCertificates({ count: 1, versions: 3, prefix: "roundtrip", tags: { team: "web" } });
    const name = "roundtrip-00000";
    const before = { cert: vault.certificateDigests(name), key: vault.materialDigests(name), secret: vault.secretDigests(name) };
    const values = await Promise.all(vault.listSecretVersions(name)!.map(async (version) => (await secrets.getSecret(name, { version })).value));
    const blob = (await certs.backupCertificate(name))!;

    await (await certs.beginDeleteCertificate(name, POLL)).pollUntilDone();
    await certs.purgeDeletedCertificate(name);
    const restored = await retryWhileConflict(() => certs.restoreCertificateBackup(blob));

    expect(restored).toMatchObject({ name, properties: { tags: { team: "web" } } });
    expect(vault.certificateDigests(name)).toEqual(before.cert);
    expect(vault.materialDigests(name)).toEqual(before.key);
    expect(vault.secretDigests(name)).toEqual(before.secret);
    expect(Object.keys(before.cert!)).toHaveLength(3);
    const after = await Promise.all(vault.listSecretVersions(name)!.map(async (version) => (await secrets.getSecret(name, { version })).value));
    expect(after).toEqual(values);
    expect((await keys.getKey(name)).properties.managed).toBe(true);
    expect(blob.length).toBeGreaterThanOrEqual(CERTIFICATE_BACKUP_BYTES_ONE_VERSION);
  });

  it("when a certificate backup is restored over a live or soft-deleted certificate, it answers 409; a tampered blob is refused", async () => {
    await vault.seedCertificates({ count: 1, prefix: "clash" });
    const blob = (await certs.backupCertificate("clash-00000"))!;

    const overLive = await failureOf(certs.restoreCertificateBackup(blob));
    await (await certs.beginDeleteCertificate("clash-00000", POLL)).pollUntilDone();
    const overDeleted = await failureOf(certs.restoreCertificateBackup(blob));
    const tampered = Uint8Array.from(blob);
    tampered[100] ^= 0x40;

    expect(blob.length).toBe(CERTIFICATE_BACKUP_BYTES_ONE_VERSION);
    expect(overLive).toMatchObject({ statusCode: 409, message: "Certificate clash-00000 already exists." });
    expect(overDeleted).toMatchObject({ statusCode: 409, message: expect.stringMatching(/deleted but recoverable state/) });
    expect(await failureOf(certs.restoreCertificateBackup(tampered))).toEqual({ statusCode: 400, code: "BadParameter", message: "Backup blob contains invalid or corrupt version." });
  });

  it("when certificates are listed a page at a time, every one is seen once; a policy is read and updated", async () => {
    await vault.seedCertificates({ count: 5, prefix: "listed", kty: "EC" });
    const names: string[] = [];
    for await (const page of certs.listPropertiesOfCertificates().byPage({ maxPageSize: 2 })) names.push(...page.map((p) => p.name!).filter((n) => n.startsWith("listed-")));

    const policy = await certs.getCertificatePolicy("listed-00002");
    // The SDK's updateCertificatePolicy returns nothing it read (4.10.3): the policy is read back.
    await certs.updateCertificatePolicy("listed-00002", { ...policy, validityInMonths: 24, issuerName: "Self" });
    const updated = await certs.getCertificatePolicy("listed-00002");

    expect(names).toEqual(Array.from({ length: 5 }, (_, i) => `listed-0000${i}`));
    expect(policy).toMatchObject({ issuerName: "Self", keyType: "EC", subject: "CN=listed-00002.example" });
    expect(updated.validityInMonths).toBe(24);
    expect((await certs.getCertificate("listed-00002")).policy?.validityInMonths).toBe(24);
  });

  it("when a policy is one the service refuses, the create answers 400; an issuer that is not emulated answers 501", async () => {
    expect(await failureOf(certs.beginCreateCertificate("bad-size", selfSigned("CN=x", { keyType: "RSA", keySize: 1024 })))).toMatchObject({ statusCode: 400 });
    expect(await failureOf(certs.beginCreateCertificate("bad-subject", selfSigned("no-equals-sign")))).toMatchObject({ statusCode: 400 });
    expect(await failureOf(certs.beginCreateCertificate("digicert", { issuerName: "DigiCert", subject: "CN=x" }))).toMatchObject({ statusCode: 501, code: "NotImplemented" });
    expect(vault.listCertificateNames()).not.toContain("bad-size");
  });

  it("when an Unknown-issuer create waits for a merge, the operation stays in progress and can be cancelled", async () => {
    await certs.beginCreateCertificate("awaiting-ca", { issuerName: "Unknown", subject: "CN=ca.example" }, POLL);
    await new Promise((r) => setTimeout(r, 150));
    const stillPending = ((await raw("/certificates/awaiting-ca/pending")).json as { status: string }).status;
    const cancelled = await raw("/certificates/awaiting-ca/pending", "PATCH", { cancellation_requested: true });

    expect(stillPending).toBe("inProgress");
    expect(cancelled.json).toMatchObject({ status: "cancelled", cancellation_requested: true });
    expect(await failureOf(certs.getCertificate("awaiting-ca"))).toMatchObject({ statusCode: 404, code: "CertificateNotFound" });
    expect((await raw("/certificates/never-created/pending")).json).toMatchObject({ error: { code: "PendingCertificateNotFound" } });
  });

  it("when a certificate is created over a plain secret of its name, it takes the secret over: a new version, managed from then on", async () => {
    const plain = await secrets.setSecret("takeover", "plain value");

    const cert = await (await certs.beginCreateCertificate("takeover", selfSigned("CN=takeover.example"), POLL)).pollUntilDone();

    expect(vault.listSecretVersions("takeover")).toEqual([plain.properties.version, cert.properties.version]);
    expect((await secrets.getSecret("takeover")).properties.managed).toBe(true);
    expect(await failureOf(secrets.beginDeleteSecret("takeover"))).toMatchObject({ statusCode: 403 });
  });

  it("when certificate contacts, issuers or a merge are asked for, they answer 501 NotImplemented", async () => {
    const answers = await Promise.all([
      raw("/certificates/contacts"),
      raw("/certificates/issuers"),
      raw("/certificates/issuers/digicert", "PUT", { provider: "DigiCert" }),
      raw("/certificates/any/pending/merge", "POST", { x5c: [] }),
    ]);

    expect(answers.map((a) => [a.status, (a.json as { error: { code: string } }).error.code])).toEqual(Array(4).fill([501, "NotImplemented"]));
  });
});
