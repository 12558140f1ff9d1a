/**
 * Real X.509 material for the emulated certificates: self-signed certificates and PKCS#10 requests built
 * with the DER encoder and signed by node:crypto (RSA and ECDSA), and the two forms the service stores a
 * certificate's secret in: a password-less PKCS#12 (PFX, base64) and PEM (PKCS#8 key, then certificates).
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import * as der from "./der";
import type { KeyMaterial } from "./key-store";

export const PKCS12 = "application/x-pkcs12";
export const PEM = "application/x-pem-file";

/** Attribute types a subject may name (case-insensitive), and how their values are encoded. */
const NAME_ATTRIBUTES: Readonly<Record<string, { oid: string; encode: (v: string) => Buffer }>> = {
  CN: { oid: "2.5.4.3", encode: der.utf8 },
  SN: { oid: "2.5.4.4", encode: der.utf8 },
  SERIALNUMBER: { oid: "2.5.4.5", encode: der.printable },
  C: { oid: "2.5.4.6", encode: der.printable },
  L: { oid: "2.5.4.7", encode: der.utf8 },
  S: { oid: "2.5.4.8", encode: der.utf8 },
  ST: { oid: "2.5.4.8", encode: der.utf8 },
  STREET: { oid: "2.5.4.9", encode: der.utf8 },
  O: { oid: "2.5.4.10", encode: der.utf8 },
  OU: { oid: "2.5.4.11", encode: der.utf8 },
  T: { oid: "2.5.4.12", encode: der.utf8 },
  TITLE: { oid: "2.5.4.12", encode: der.utf8 },
  G: { oid: "2.5.4.42", encode: der.utf8 },
  GIVENNAME: { oid: "2.5.4.42", encode: der.utf8 },
  E: { oid: "1.2.840.113549.1.9.1", encode: der.ia5 },
  EMAIL: { oid: "1.2.840.113549.1.9.1", encode: der.ia5 },
  DC: { oid: "0.9.2342.19200300.100.1.25", encode: der.ia5 },
};

export const KEY_USAGES = ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"] as const;

export interface SubjectAlternativeNames {
  emails?: string[];
  dns_names?: string[];
  upns?: string[];
  uris?: string[];
  ipAddresses?: string[];
}

export interface CertificateRequest {
  readonly subject: string;
  readonly sans?: SubjectAlternativeNames;
  readonly ekus: readonly string[];
  readonly keyUsage: readonly string[];
}

/** `CN=a, O=b` as an X.509 Name, in the order given; an Error names what is wrong. */
export function encodeName(dn: string): Buffer {
  const parts = dn.split(/(?<!\\)[,;]/).map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) throw new Error("the subject is empty");
  return der.seq(
    ...parts.map((part) => {
      const eq = part.indexOf("=");
      const type = eq > 0 ? part.slice(0, eq).trim().toUpperCase() : "";
      let value = eq > 0 ? part.slice(eq + 1).trim().replace(/\\(.)/g, "$1") : "";
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      const attr = NAME_ATTRIBUTES[type];
      if (!attr || value === "") throw new Error(`'${part}' is not a distinguished-name component (such as CN=name)`);
      return der.setOf(der.seq(der.oid(attr.oid), attr.encode(value)));
    }),
  );
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  if (isIP(ip) !== 6) throw new Error(`'${ip}' is not an IP address`);
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const groups = (s: string | undefined): string[] => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return Buffer.concat(all.map((g) => Buffer.from(g.padStart(4, "0"), "hex")));
}

function generalNames(sans: SubjectAlternativeNames): Buffer[] {
  const ascii = (s: string): Buffer => Buffer.from(s, "ascii");
  return [
    ...(sans.emails ?? []).map((e) => der.implicitPrimitive(1, ascii(e))),
    ...(sans.dns_names ?? []).map((d) => der.implicitPrimitive(2, ascii(d))),
    ...(sans.uris ?? []).map((u) => der.implicitPrimitive(6, ascii(u))),
    ...(sans.ipAddresses ?? []).map((ip) => der.implicitPrimitive(7, ipBytes(ip))),
    // A UPN is an otherName (Microsoft's OID) holding a UTF8String.
    ...(sans.upns ?? []).map((u) => der.tlv(0xa0, Buffer.concat([der.oid("1.3.6.1.4.1.311.20.2.3"), der.explicit(0, der.utf8(u))]))),
  ];
}

const extension = (id: string, value: Buffer, critical = false): Buffer =>
  der.seq(der.oid(id), ...(critical ? [der.bool(true)] : []), der.octets(value));

function extensions(req: CertificateRequest, spki: Buffer, selfSigned: boolean): Buffer[] {
  const out: Buffer[] = [];
  const bits = req.keyUsage.map((u) => KEY_USAGES.indexOf(u as (typeof KEY_USAGES)[number])).filter((b) => b >= 0);
  if (bits.length > 0) out.push(extension("2.5.29.15", der.namedBits(bits), true));
  if (req.ekus.length > 0) out.push(extension("2.5.29.37", der.seq(...req.ekus.map(der.oid))));
  const names = req.sans ? generalNames(req.sans) : [];
  if (names.length > 0) out.push(extension("2.5.29.17", der.seq(...names)));
  const keyId = createHash("sha1").update(spki).digest();
  out.push(extension("2.5.29.14", der.octets(keyId)));
  if (selfSigned) out.push(extension("2.5.29.35", der.seq(der.implicitPrimitive(0, keyId))));
  return out;
}

/** The signature algorithm for a key: SHA-256 with RSA; ECDSA with the hash that fits the curve. */
function signatureAlgorithm(key: KeyObject): { hash: string; id: Buffer } {
  if (key.asymmetricKeyType === "rsa") return { hash: "sha256", id: der.seq(der.oid("1.2.840.113549.1.1.11"), der.nullValue()) };
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const [hash, oid] = curve === "secp384r1" ? ["sha384", "1.2.840.10045.4.3.3"] : curve === "secp521r1" ? ["sha512", "1.2.840.10045.4.3.4"] : ["sha256", "1.2.840.10045.4.3.2"];
  return { hash, id: der.seq(der.oid(oid)) };
}

function signed(body: Buffer, key: KeyObject): Buffer {
  const alg = signatureAlgorithm(key);
  return der.seq(body, alg.id, der.bitString(sign(alg.hash, body, key)));
}

/** A self-signed certificate (DER) for the key, valid from `notBefore` to `notAfter`. */
export function selfSignedCertificate(key: KeyObject, req: CertificateRequest, notBefore: Date, notAfter: Date): Buffer {
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const name = encodeName(req.subject);
  const tbs = der.seq(
    der.explicit(0, der.integer(2)),
    der.integer(serial),
    signatureAlgorithm(key).id,
    name,
    der.seq(der.time(notBefore), der.time(notAfter)),
    name,
    spki,
    der.explicit(3, der.seq(...extensions(req, spki, true))),
  );
  return signed(tbs, key);
}

/** The PKCS#10 request a pending certificate operation shows as its `csr` (DER). */
export function certificateSigningRequest(key: KeyObject, req: CertificateRequest): Buffer {
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const extensionRequest = der.seq(der.oid("1.2.840.113549.1.9.14"), der.setOf(der.seq(...extensions(req, spki, false))));
  const info = der.seq(der.integer(0), encodeName(req.subject), spki, der.tlv(0xa0, extensionRequest));
  return signed(info, key);
}

/** The certificate's `x5t`: SHA-1 thumbprint, base64url. */
export const thumbprint = (certDer: Buffer): string => createHash("sha1").update(certDer).digest("base64url");

// ------------------------------------------------------------------ secret values

const keyObjects = new WeakMap<KeyMaterial, KeyObject>();

/** The private key of RSA or EC material (memoised: seeded versions share pooled material). */
export function privateKeyOf(m: KeyMaterial): KeyObject {
  let key = keyObjects.get(m);
  if (!key) {
    const jwk = m.kty === "EC" ? { kty: "EC", crv: m.crv === "P-256K" ? "secp256k1" : m.crv, x: m.x, y: m.y, d: m.d } : { kty: "RSA", n: m.n, e: m.e, d: m.d, p: m.p, q: m.q, dp: m.dp, dq: m.dq, qi: m.qi };
    key = createPrivateKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    keyObjects.set(m, key);
  }
  return key;
}

const pem = (label: string, body: Buffer): string => `-----BEGIN ${label}-----\n${body.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;

/** PEM as the service stores a certificate's secret: the PKCS#8 key (when exportable), then the chain. */
export function pemBundle(certs: readonly Buffer[], key: KeyObject | undefined): string {
  return `${key ? (key.export({ type: "pkcs8", format: "pem" }) as string) : ""}${certs.map((c) => pem("CERTIFICATE", c)).join("")}`;
}

const MAC_ITERATIONS = 2048;
let lastMacKey: { salt: Buffer; key: Buffer } | undefined;

/**
 * The PKCS#12 MAC key for the empty password (RFC 7292 appendix B, SHA-256). Deriving it costs a couple of
 * milliseconds; bulk seeding shares one salt, so the last key is kept.
 */
function macKey(salt: Buffer): Buffer {
  if (lastMacKey?.salt.equals(salt)) return lastMacKey.key;
  const v = 64;
  const fill = (b: Buffer): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(b.length / v));
    for (let i = 0; i < out.length; i++) out[i] = b[i % b.length]!;
    return out;
  };
  // The empty password as a BMPString with its terminating NUL.
  const input = Buffer.concat([Buffer.alloc(v, 3), fill(salt), fill(Buffer.alloc(2))]);
  let a = createHash("sha256").update(input).digest();
  for (let i = 1; i < MAC_ITERATIONS; i++) a = createHash("sha256").update(a).digest();
  lastMacKey = { salt, key: a };
  return a;
}

/**
 * A password-less PFX: the certificates in one safe, the key (when exportable) in another, both
 * unencrypted, and an HMAC-SHA256 integrity MAC under the empty password.
 */
export function pfxBundle(certs: readonly Buffer[], key: KeyObject | undefined, macSalt: Buffer = randomBytes(16)): Buffer {
  const data = (content: Buffer): Buffer => der.seq(der.oid("1.2.840.113549.1.7.1"), der.explicit(0, der.octets(content)));
  const localKeyId = der.seq(der.oid("1.2.840.113549.1.9.21"), der.setOf(der.octets(createHash("sha1").update(certs[0]!).digest())));
  const bag = (type: string, value: Buffer, attributes: Buffer[]): Buffer =>
    der.seq(der.oid(type), der.explicit(0, value), ...(attributes.length ? [der.setOf(...attributes)] : []));
  const certBags = certs.map((c, i) =>
    bag("1.2.840.113549.1.12.10.1.3", der.seq(der.oid("1.2.840.113549.1.9.22.1"), der.explicit(0, der.octets(c))), i === 0 ? [localKeyId] : []),
  );
  const safes = [data(der.seq(...certBags))];
  if (key) safes.push(data(der.seq(bag("1.2.840.113549.1.12.10.1.1", key.export({ type: "pkcs8", format: "der" }), [localKeyId]))));
  const authSafe = der.seq(...safes);
  const mac = createHmac("sha256", macKey(macSalt)).update(authSafe).digest();
  const macData = der.seq(der.seq(der.seq(der.oid("2.16.840.1.101.3.4.2.1"), der.nullValue()), der.octets(mac)), der.octets(macSalt), der.integer(MAC_ITERATIONS));
  return der.seq(der.integer(3), data(authSafe), macData);
}

/** The secret value of a certificate version in a content type: base64 PFX or PEM text. */
export function secretValue(contentType: string, certs: readonly Buffer[], key: KeyObject | undefined, macSalt?: Buffer): string {
  return contentType === PEM ? pemBundle(certs, key) : pfxBundle(certs, key, macSalt).toString("base64");
}
