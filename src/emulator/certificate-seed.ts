/**
 * Bulk seeding of certificates for tests and the benchmark: self-signed, real X.509 material, several
 * versions, PKCS#12 and PEM secrets alternating, each with its managed key and secret.
 */
import { randomBytes } from "node:crypto";
import { defaultPolicy } from "./certificate-policy";
import type { CertificatePolicy, CertificateStore } from "./certificate-store";
import { selfSignedVersion } from "./certificate-versions";
import { generateEcMaterialSync, type MaterialPool } from "./key-material";
import { seedNames } from "./key-service";
import type { KeyStore } from "./key-store";
import type { SecretStore } from "./secret-store";
import { nowSeconds } from "./service-common";
import type { SeedCertificatesOptions } from "./types";
import { PEM, PKCS12 } from "./x509";

/** Bulk seeding of self-signed certificates with real X.509 material; throws if a name is taken. */
export async function seedCertificates(
  stores: { certificates: CertificateStore; keys: KeyStore; secrets: SecretStore },
  pool: MaterialPool,
  options: SeedCertificatesOptions,
): Promise<void> {
  const { count } = options;
  const versions = options.versions ?? 1;
  if (!Number.isInteger(count) || count < 0) throw new Error(`seedCertificates: count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(versions) || versions < 1) throw new Error(`seedCertificates: versions must be >= 1, got ${versions}`);
  if (count === 0) return;
  const kty = options.kty ?? "RSA";
  if (kty !== "RSA" && kty !== "EC") throw new Error(`seedCertificates: kty must be RSA or EC, got ${String(kty)}`);
  const taken = (n: string): boolean => stores.certificates.holds(n) || stores.keys.holds(n) || stores.secrets.holds(n) || stores.certificates.pending(n) !== undefined;
  const names = seedNames("seedCertificates", options.prefix ?? "cert", options.startIndex ?? 0, count, taken);
  // An RSA key pair takes ~0.2 s to make: seeded RSA certificates cycle through a small pool, EC ones get fresh keys.
  const rsaPool = kty === "RSA" ? await pool.get("RSA") : [];
  const types = options.contentTypes ?? [PKCS12, PEM];
  // One PKCS#12 MAC salt for the batch: deriving the MAC key is the costly part of a PFX.
  const macSalt = randomBytes(16);
  const now = nowSeconds();
  let n = 0;
  for (let i = 0; i < count; i++) {
    const name = names[i]!;
    const base = defaultPolicy(now);
    const policy: CertificatePolicy = {
      ...base,
      key_props: kty === "EC" ? { exportable: true, kty: "EC", crv: "P-256", reuse_key: false } : base.key_props,
      secret_props: { contentType: types[i % types.length] ?? PKCS12 },
      x509_props: { ...base.x509_props, subject: `CN=${name}.example`, sans: { dns_names: [`${name}.example`] }, ...(options.validityMonths ? { validity_months: options.validityMonths } : {}) },
      issuer: { name: "Self" },
    };
    const made = Array.from({ length: versions }, () => {
      const material = kty === "EC" ? generateEcMaterialSync("P-256") : rsaPool[n++ % rsaPool.length]!;
      return selfSignedVersion(material, policy, kty, {}, options.tags, now, macSalt);
    });
    // Inserted whole, with one change notification at the end.
    stores.certificates.insertLive({ name, managed: false, policy, versions: made.map((v) => v.certificate) }, false);
    stores.keys.insertLive({ name, managed: true, versions: made.map((v) => v.key) }, false);
    stores.secrets.insertLive({ name, managed: true, versions: made.map((v) => v.secret) }, false);
  }
  stores.certificates.onChange();
}
