/**
 * Real key material from node:crypto, kept as JWK fields. Generation is async (thread pool) so a
 * create of an RSA-4096 key does not stall every other request.
 */
import { createHash, createPrivateKey, generateKeyPair, generateKeyPairSync, randomBytes, type JsonWebKey as NodeJwk, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { KeyMaterial } from "./key-store";

const generateKeyPairAsync = promisify(generateKeyPair);

/** Service curve names and node:crypto's. */
const CURVES: Readonly<Record<string, string>> = {
  "P-256": "prime256v1",
  "P-384": "secp384r1",
  "P-521": "secp521r1",
  "P-256K": "secp256k1",
};
export const SUPPORTED_CURVES = Object.keys(CURVES);
export const SUPPORTED_RSA_SIZES = [2048, 3072, 4096];
/** AES key sizes a Managed HSM creates and imports (oct-HSM; the SDKs document 128, 192 and 256). */
export const SUPPORTED_AES_SIZES = [128, 192, 256];

const RSA_FIELDS = ["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const;
const EC_FIELDS = ["crv", "x", "y", "d"] as const;

export async function generateEcMaterial(crv: string): Promise<KeyMaterial> {
  const namedCurve = CURVES[crv];
  if (!namedCurve) throw new Error(`unsupported curve ${crv}`);
  const { privateKey } = await generateKeyPairAsync("ec", { namedCurve });
  return fromNodeJwk(privateKey.export({ format: "jwk" }), crv);
}

/** EC generation is cheap enough to do inline (tens of microseconds): bulk seeding makes fresh keys. */
export function generateEcMaterialSync(crv: string): KeyMaterial {
  const namedCurve = CURVES[crv];
  if (!namedCurve) throw new Error(`unsupported curve ${crv}`);
  return fromNodeJwk(generateKeyPairSync("ec", { namedCurve }).privateKey.export({ format: "jwk" }), crv);
}

/** The material of an RSA or EC private key (a certificate import's key); an Error for other keys. */
export function materialFromKeyObject(key: KeyObject): KeyMaterial {
  if (key.asymmetricKeyType === "rsa") return fromNodeJwk(key.export({ format: "jwk" }));
  const crv = Object.keys(CURVES).find((c) => CURVES[c] === key.asymmetricKeyDetails?.namedCurve);
  if (key.asymmetricKeyType !== "ec" || !crv) throw new Error("only RSA keys and EC keys on P-256, P-384, P-521 or P-256K are supported");
  return fromNodeJwk(key.export({ format: "jwk" }), crv);
}

export async function generateRsaMaterial(modulusLength: number, publicExponent = 65537): Promise<KeyMaterial> {
  const { privateKey } = await generateKeyPairAsync("rsa", { modulusLength, publicExponent });
  return fromNodeJwk(privateKey.export({ format: "jwk" }));
}

/** Real AES key bytes from the CSPRNG: a restore must bring back the very same bytes. */
export function generateAesMaterial(bits: number): KeyMaterial {
  if (!SUPPORTED_AES_SIZES.includes(bits)) throw new Error(`unsupported AES size ${bits}`);
  return { kty: "oct", k: randomBytes(bits / 8).toString("base64url") };
}

/**
 * Checks an imported JWK by loading it with node:crypto; returns the material or a reason.
 * The key type may carry the -HSM suffix; the material itself is plain EC/RSA/oct.
 */
export function importMaterial(jwk: Record<string, unknown>): KeyMaterial | string {
  const kty = typeof jwk["kty"] === "string" ? jwk["kty"].replace(/-HSM$/, "") : "";
  if (kty === "oct") {
    const k = typeof jwk["k"] === "string" ? Buffer.from(jwk["k"], "base64url") : Buffer.alloc(0);
    if (!SUPPORTED_AES_SIZES.includes(k.length * 8)) return `An AES key must be ${SUPPORTED_AES_SIZES.join(", ")} bits long (the 'k' property).`;
    return { kty: "oct", k: k.toString("base64url") };
  }
  if (kty !== "EC" && kty !== "RSA") return `Key type '${String(jwk["kty"])}' cannot be imported into a vault.`;
  const fields = kty === "EC" ? EC_FIELDS : RSA_FIELDS;
  const out: Record<string, string> = { kty };
  for (const f of fields) {
    const v = jwk[f];
    if (typeof v === "string" && v.length > 0) out[f] = v;
  }
  if (out["d"] === undefined) return "The imported key must include its private part (d).";
  let crv: string | undefined;
  if (kty === "EC") {
    crv = out["crv"];
    if (!crv || !CURVES[crv]) return `Curve '${String(jwk["crv"])}' is not supported.`;
  }
  try {
    const nodeJwk: NodeJwk = { ...out, ...(crv === "P-256K" ? { crv: "secp256k1" } : {}) };
    const key = createPrivateKey({ key: nodeJwk, format: "jwk" });
    // Re-export: keeps only what node:crypto understood, and fills CRT parts an RSA import omitted.
    return fromNodeJwk(key.export({ format: "jwk" }), crv);
  } catch (err) {
    return `The key material is not a valid ${kty} private key: ${(err as Error).message}`;
  }
}

function fromNodeJwk(jwk: NodeJwk, serviceCrv?: string): KeyMaterial {
  if (jwk.kty === "EC") {
    return { kty: "EC", crv: serviceCrv ?? jwk.crv!, x: jwk.x!, y: jwk.y!, d: jwk.d! };
  }
  return {
    kty: "RSA",
    n: jwk.n!,
    e: jwk.e!,
    d: jwk.d!,
    p: jwk.p!,
    q: jwk.q!,
    dp: jwk.dp!,
    dq: jwk.dq!,
    qi: jwk.qi!,
  };
}

/** The public half as the service shows it (no private fields ever leave the emulator; an AES key has none). */
export function publicFields(m: KeyMaterial): Record<string, string> {
  if (m.kty === "oct") return {};
  return m.kty === "EC" ? { crv: m.crv!, x: m.x!, y: m.y! } : { n: m.n!, e: m.e! };
}

/** SHA-256 of the private part: lets tests compare keys whose material no client can see. */
export function materialDigest(m: KeyMaterial): string {
  const secret = m.kty === "oct" ? m.k : m.kty === "EC" ? `${m.crv}|${m.d}` : `${m.n}|${m.d}`;
  return createHash("sha256").update(`${m.kty}|${secret ?? ""}`).digest("hex");
}

/** The key size in bits of an AES key. */
export function aesBits(m: KeyMaterial): number | undefined {
  return m.kty === "oct" && m.k ? Buffer.from(m.k, "base64url").length * 8 : undefined;
}

/** Size in bits, for the service's per-type limits and for info. */
export function rsaBits(m: KeyMaterial): number | undefined {
  if (m.kty !== "RSA" || !m.n) return undefined;
  return Buffer.from(m.n, "base64url").length * 8;
}

/**
 * A handful of key pairs reused across seeded keys: seeding thousands of keys must take seconds,
 * and generating a pair per key would take minutes for RSA.
 */
export class MaterialPool {
  private ec: Promise<KeyMaterial[]> | undefined;
  private rsa: Promise<KeyMaterial[]> | undefined;

  constructor(private readonly size = 4) {}

  get(kty: "EC" | "RSA"): Promise<KeyMaterial[]> {
    // AES material is never pooled: it costs nothing to make, and shared AES bytes would hide a mix-up.
    if (kty === "EC") {
      this.ec ??= Promise.all(Array.from({ length: this.size }, () => generateEcMaterial("P-256")));
      return this.ec;
    }
    this.rsa ??= Promise.all(Array.from({ length: Math.max(1, this.size >> 1) }, () => generateRsaMaterial(2048)));
    return this.rsa;
  }
}
