/**
 * Reading what a certificate import brings: a PKCS#12 file (base64, optionally password-protected; read
 * with node-forge, since node:crypto cannot open one) or PEM text (a PKCS#8 key, as the service requires,
 * and certificates). The key must belong to one of the certificates; that one is the leaf.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import * as forge from "node-forge";
import { badParameter } from "./service-common";
import type { SubjectAlternativeNames } from "./x509";

export interface ImportedCertificate {
  readonly key: KeyObject;
  /** DER; the leaf (the key's certificate) first, then the rest of the chain as given. */
  readonly certs: Buffer[];
  readonly leaf: X509Certificate;
}

/** Parses the `value` of an import; failures are 400s (their wording is assumed). */
export function readImport(value: string, contentType: string, password: string | undefined): ImportedCertificate {
  const { keys, certs } = contentType === "application/x-pem-file" ? readPem(value, password) : readPfx(value, password);
  if (keys.length === 0) throw badParameter("The certificate to import must contain its private key.");
  if (certs.length === 0) throw badParameter("The content to import holds no X.509 certificate.");
  const key = keys[0]!;
  const parsed = certs.map((der) => {
    try {
      return { der, x509: new X509Certificate(der) };
    } catch {
      throw badParameter("The content to import holds a certificate that is not valid X.509.");
    }
  });
  const leafAt = parsed.findIndex((c) => c.x509.checkPrivateKey(key));
  if (leafAt < 0) throw badParameter("The private key does not match any certificate in the content to import.");
  const leaf = parsed[leafAt]!;
  return { key, leaf: leaf.x509, certs: [leaf.der, ...parsed.filter((_, i) => i !== leafAt).map((c) => c.der)] };
}

function readPfx(value: string, password: string | undefined): { keys: KeyObject[]; certs: Buffer[] } {
  const bytes = /^[A-Za-z0-9+/=\s]+$/.test(value) ? Buffer.from(value, "base64") : Buffer.alloc(0);
  if (bytes.length === 0) throw badParameter("The certificate to import is not a base64-encoded PKCS#12 (PFX) file.");
  let pfx: forge.pkcs12.Pkcs12Pfx | undefined;
  let reason = "it is not a PKCS#12 file";
  // A password-less file may be MAC'd under the empty password or under none.
  for (const pwd of password ? [password] : ["", null]) {
    try {
      pfx = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(bytes.toString("binary")), false, pwd);
      break;
    } catch (err) {
      reason = /MAC|password|decrypt/i.test((err as Error).message) ? "the password is wrong" : "it is not a PKCS#12 file";
    }
  }
  if (!pfx) throw badParameter(`The PFX to import cannot be read: ${reason}.`);
  const toBuffer = (a: forge.asn1.Asn1): Buffer => Buffer.from(forge.asn1.toDer(a).getBytes(), "binary");
  const keyBags = [forge.pki.oids["keyBag"]!, forge.pki.oids["pkcs8ShroudedKeyBag"]!].flatMap((t) => pfx!.getBags({ bagType: t })[t] ?? []);
  const keys = keyBags.map((bag) => {
    const info = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : bag.asn1;
    if (!info) throw badParameter("The PFX to import holds a key that cannot be read.");
    try {
      return createPrivateKey({ key: toBuffer(info), format: "der", type: "pkcs8" });
    } catch {
      throw badParameter("The PFX to import holds a key that cannot be read.");
    }
  });
  const certBags = pfx.getBags({ bagType: forge.pki.oids["certBag"]! })[forge.pki.oids["certBag"]!] ?? [];
  const certs = certBags.flatMap((bag) => {
    const a = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
    return a ? [toBuffer(a)] : [];
  });
  return { keys, certs };
}

function readPem(text: string, password: string | undefined): { keys: KeyObject[]; certs: Buffer[] } {
  const keys: KeyObject[] = [];
  const certs: Buffer[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const label = m[1]!;
    if (label === "CERTIFICATE") certs.push(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64"));
    else if (label === "PRIVATE KEY" || label === "ENCRYPTED PRIVATE KEY") {
      try {
        keys.push(createPrivateKey({ key: m[0], format: "pem", ...(password ? { passphrase: password } : {}) }));
      } catch {
        throw badParameter(label === "ENCRYPTED PRIVATE KEY" ? "The PEM private key cannot be decrypted with the password given." : "The PEM private key cannot be read.");
      }
    } else if (label.endsWith("PRIVATE KEY")) {
      // Documented: "Key Vault will only accept a key in PKCS#8 format".
      throw badParameter("The private key of a PEM import must be in PKCS#8 format (BEGIN PRIVATE KEY).");
    }
  }
  return { keys, certs };
}

/** `CN=a\nO=b` (node's form) as `CN=a, O=b`. */
export function subjectOf(x: X509Certificate): string {
  return x.subject.split("\n").join(", ");
}

/** The subject alternative names of a certificate, in the policy's form. */
export function sansOf(x: X509Certificate): SubjectAlternativeNames | undefined {
  const sans: SubjectAlternativeNames = {};
  const add = (field: keyof SubjectAlternativeNames, v: string): void => void (sans[field] ??= []).push(v);
  for (const entry of (x.subjectAltName ?? "").split(/,\s*/)) {
    const i = entry.indexOf(":");
    if (i < 0) continue;
    const [type, v] = [entry.slice(0, i), entry.slice(i + 1)];
    if (type === "DNS") add("dns_names", v);
    else if (type === "email") add("emails", v);
    else if (type === "URI") add("uris", v);
    else if (type === "IP Address") add("ipAddresses", v);
  }
  return Object.keys(sans).length > 0 ? sans : undefined;
}

/** Whole months from notBefore to notAfter, a started month counted (the spec's examples round up). */
export function validityMonths(notBefore: Date, notAfter: Date): number {
  let months = (notAfter.getUTCFullYear() - notBefore.getUTCFullYear()) * 12 + notAfter.getUTCMonth() - notBefore.getUTCMonth();
  const anniversary = new Date(notBefore);
  anniversary.setUTCMonth(anniversary.getUTCMonth() + months);
  if (anniversary < notAfter) months++;
  return Math.max(1, months);
}
