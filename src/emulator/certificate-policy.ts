/**
 * Certificate policies: validation of what a create, an import or a policy update names, the service's
 * defaults (those of a self-signed certificate made in the portal, as in the spec's examples), and the
 * policy a certificate's X.509 material implies for an import.
 */
import type { X509Certificate, KeyObject } from "node:crypto";
import { sansOf, subjectOf, validityMonths } from "./certificate-import";
import type { CertificatePolicy } from "./certificate-store";
import { SUPPORTED_CURVES, SUPPORTED_RSA_SIZES } from "./key-material";
import type { ServiceProfile } from "./profiles";
import { badParameter, isObject } from "./service-common";
import { KEY_USAGES, PEM, PKCS12, encodeName, type SubjectAlternativeNames } from "./x509";

/** The issuers a policy may name: a self-signed certificate, or one whose request is merged later. */
export const ISSUERS = ["Self", "Unknown"];
const SAN_FIELDS = ["emails", "dns_names", "upns", "uris", "ipAddresses"] as const;
const ACTIONS = ["EmailContacts", "AutoRenew"];
const CURVE_OF_SIZE: Readonly<Record<number, string>> = { 256: "P-256", 384: "P-384", 521: "P-521" };

function field<T>(raw: Record<string, unknown>, name: string, check: (v: unknown) => v is T, what: string): T | undefined {
  const v = raw[name];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw badParameter(`policy: ${what}.`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isBool = (v: unknown): v is boolean => typeof v === "boolean";
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const section = (raw: Record<string, unknown>, name: string): Record<string, unknown> => {
  const v = raw[name];
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw badParameter(`policy: ${name} must be a JSON object.`);
  return v;
};

/**
 * A policy over `base` (an existing policy, or the defaults): the members given replace the base's, as
 * the service's policy update does ("set specified members, leave others as null").
 */
export function mergePolicy(raw: unknown, base: CertificatePolicy, profile: ServiceProfile, now: number): CertificatePolicy {
  if (raw === undefined || raw === null) return base;
  if (!isObject(raw)) throw badParameter("policy must be a JSON object.");
  const keyProps = section(raw, "key_props");
  const secretProps = section(raw, "secret_props");
  const x509 = section(raw, "x509_props");
  const issuer = section(raw, "issuer");
  const attributes = section(raw, "attributes");

  const kty = field(keyProps, "kty", isString, "key_props.kty must be a string") ?? base.key_props.kty;
  const refused = profile.refusedKeyTypes;
  if (refused?.types.includes(kty)) throw badParameter(refused.message);
  if (!["RSA", "RSA-HSM", "EC", "EC-HSM"].includes(kty) || !profile.keyTypes.includes(kty)) {
    throw badParameter(`policy: key type '${kty}' is not supported for a certificate. Supported types: ${profile.keyTypes.join(", ")}.`);
  }
  const ec = kty.startsWith("EC");
  const keySize = field(keyProps, "key_size", isInt, "key_props.key_size must be an integer");
  const baseWasEc = base.key_props.kty.startsWith("EC");
  let crv: string | undefined;
  let rsaSize: number | undefined;
  if (ec) {
    crv = field(keyProps, "crv", isString, "key_props.crv must be a string") ?? (keySize !== undefined ? CURVE_OF_SIZE[keySize] : undefined) ?? (baseWasEc ? base.key_props.crv : undefined) ?? "P-256";
    if (!SUPPORTED_CURVES.includes(crv)) throw badParameter(`policy: curve '${crv}' is not supported. Supported curves: ${SUPPORTED_CURVES.join(", ")}.`);
  } else {
    rsaSize = keySize ?? (baseWasEc ? undefined : base.key_props.key_size) ?? 2048;
    if (!SUPPORTED_RSA_SIZES.includes(rsaSize)) throw badParameter(`policy: RSA key size ${rsaSize} is not supported. Supported sizes: ${SUPPORTED_RSA_SIZES.join(", ")}.`);
  }

  const contentType = field(secretProps, "contentType", isString, "secret_props.contentType must be a string") ?? base.secret_props.contentType;
  if (contentType !== PKCS12 && contentType !== PEM) throw badParameter(`policy: secret content type '${contentType}' is not supported: ${PKCS12} or ${PEM}.`);

  const subject = field(x509, "subject", isString, "x509_props.subject must be a string") ?? base.x509_props.subject;
  if (subject !== "") {
    try {
      encodeName(subject);
    } catch (err) {
      throw badParameter(`policy: the subject '${subject}' is not valid: ${(err as Error).message}.`);
    }
  }
  const sans = x509["sans"] === undefined ? base.x509_props.sans : parseSans(x509["sans"]);
  const keyUsage = field(x509, "key_usage", isStrings, "x509_props.key_usage must be a list of key usages") ?? base.x509_props.key_usage;
  const unknownUsage = keyUsage.find((u) => !(KEY_USAGES as readonly string[]).includes(u));
  if (unknownUsage) throw badParameter(`policy: key usage '${unknownUsage}' is not one of ${KEY_USAGES.join(", ")}.`);
  const ekus = field(x509, "ekus", isStrings, "x509_props.ekus must be a list of OIDs") ?? base.x509_props.ekus;
  const badEku = ekus.find((e) => !/^[0-2](\.\d+)+$/.test(e));
  if (badEku) throw badParameter(`policy: '${badEku}' is not an OID.`);
  const months = field(x509, "validity_months", isInt, "x509_props.validity_months must be an integer") ?? base.x509_props.validity_months;
  // The service's bounds are not documented; 1..1200 months assumed.
  if (months < 1 || months > 1200) throw badParameter("policy: validity_months must be between 1 and 1200.");

  const issuerName = field(issuer, "name", isString, "issuer.name must be a string") ?? base.issuer.name;
  const cty = field(issuer, "cty", isString, "issuer.cty must be a string");
  const transparency = field(issuer, "cert_transparency", isBool, "issuer.cert_transparency must be a boolean");
  const issuerCty = cty ?? base.issuer.cty;
  const issuerTransparency = transparency ?? base.issuer.cert_transparency;
  const enabled = field(attributes, "enabled", isBool, "attributes.enabled must be a boolean");

  return {
    key_props: {
      exportable: field(keyProps, "exportable", isBool, "key_props.exportable must be a boolean") ?? base.key_props.exportable,
      kty,
      ...(rsaSize !== undefined ? { key_size: rsaSize } : {}),
      ...(crv !== undefined ? { crv } : {}),
      reuse_key: field(keyProps, "reuse_key", isBool, "key_props.reuse_key must be a boolean") ?? base.key_props.reuse_key,
    },
    secret_props: { contentType },
    x509_props: { subject, ...(sans ? { sans } : {}), ekus, key_usage: keyUsage, validity_months: months },
    lifetime_actions: raw["lifetime_actions"] === undefined || raw["lifetime_actions"] === null ? base.lifetime_actions : parseLifetimeActions(raw["lifetime_actions"]),
    issuer: {
      name: issuerName,
      ...(issuerCty !== undefined ? { cty: issuerCty } : {}),
      ...(issuerTransparency !== undefined ? { cert_transparency: issuerTransparency } : {}),
    },
    attributes: { enabled: enabled ?? base.attributes.enabled, created: base.attributes.created, updated: now },
  };
}

function parseSans(raw: unknown): SubjectAlternativeNames | undefined {
  if (raw === null) return undefined;
  if (!isObject(raw)) throw badParameter("policy: x509_props.sans must be a JSON object.");
  const out: SubjectAlternativeNames = {};
  for (const f of SAN_FIELDS) {
    const v = raw[f];
    if (v === undefined || v === null) continue;
    if (!isStrings(v)) throw badParameter(`policy: x509_props.sans.${f} must be a list of strings.`);
    if (v.length > 0) out[f] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function parseLifetimeActions(raw: unknown): CertificatePolicy["lifetime_actions"] {
  if (!Array.isArray(raw)) throw badParameter("policy: lifetime_actions must be a list.");
  return raw.map((a: unknown) => {
    if (!isObject(a) || !isObject(a["trigger"]) || !isObject(a["action"])) throw badParameter("policy: a lifetime action has a trigger and an action.");
    const { lifetime_percentage: pct, days_before_expiry: days } = a["trigger"];
    const type = a["action"]["action_type"];
    if (typeof type !== "string" || !ACTIONS.includes(type)) throw badParameter(`policy: action_type must be one of ${ACTIONS.join(", ")}.`);
    if (pct !== undefined && pct !== null && (!isInt(pct) || pct < 1 || pct > 99)) throw badParameter("policy: lifetime_percentage must be between 1 and 99.");
    if (days !== undefined && days !== null && (!isInt(days) || days < 1)) throw badParameter("policy: days_before_expiry must be a positive integer.");
    return {
      trigger: { ...(isInt(pct) ? { lifetime_percentage: pct } : {}), ...(isInt(days) ? { days_before_expiry: days } : {}) },
      action: { action_type: type },
    };
  });
}

/** What a create starts from: a self-signed, exportable RSA-2048 PKCS#12 certificate valid for 12 months. */
export function defaultPolicy(now: number): CertificatePolicy {
  return {
    key_props: { exportable: true, kty: "RSA", key_size: 2048, reuse_key: false },
    secret_props: { contentType: PKCS12 },
    x509_props: { subject: "", ekus: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], key_usage: ["digitalSignature", "keyEncipherment"], validity_months: 12 },
    lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "AutoRenew" } }],
    issuer: { name: "Unknown" },
    attributes: { enabled: true, created: now, updated: now },
  };
}

/** The policy an import implies (issuer Unknown, as in the spec's ImportCertificate example). */
export function importedPolicy(leaf: X509Certificate, key: KeyObject, contentType: string, now: number): CertificatePolicy {
  const ec = key.asymmetricKeyType === "ec";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const crv = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521", secp256k1: "P-256K" }[curve ?? ""] ?? "P-256";
  const sans = sansOf(leaf);
  return {
    key_props: { exportable: true, kty: ec ? "EC" : "RSA", ...(ec ? { crv } : { key_size: key.asymmetricKeyDetails?.modulusLength ?? 2048 }), reuse_key: false },
    secret_props: { contentType },
    x509_props: {
      subject: subjectOf(leaf),
      ...(sans ? { sans } : {}),
      ekus: leaf.keyUsage ?? [],
      key_usage: [],
      validity_months: validityMonths(new Date(leaf.validFrom), new Date(leaf.validTo)),
    },
    lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "EmailContacts" } }],
    issuer: { name: "Unknown" },
    attributes: { enabled: true, created: now, updated: now },
  };
}

export function policyOut(baseUrl: string, name: string, policy: CertificatePolicy): Record<string, unknown> {
  return { id: `${baseUrl}/certificates/${name}/policy`, ...policy };
}
