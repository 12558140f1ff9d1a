/** The Certificates API's answers: list items, certificate bundles and certificate operations. */
import type { CertificateVersion, PendingOperation, StoredCertificate } from "./certificate-store";
import { policyOut } from "./certificate-policy";
import type { ServiceProfile } from "./profiles";
import { attributesOut } from "./service-common";

/** A CertificateItem: the list entry of a certificate (without version) or of one of its versions. */
export function certificateItem(profile: ServiceProfile, baseUrl: string, cert: StoredCertificate, v: CertificateVersion, withVersion: boolean): Record<string, unknown> {
  return {
    id: `${baseUrl}/certificates/${cert.name}${withVersion ? `/${v.id}` : ""}`,
    x5t: v.x5t,
    attributes: attributesOut(v.attributes, profile),
    ...(v.tags ? { tags: v.tags } : {}),
  };
}

/** A CertificateBundle: the version with its key and secret ids and the certificate's policy. */
export function certificateBundle(profile: ServiceProfile, baseUrl: string, cert: StoredCertificate, v: CertificateVersion): Record<string, unknown> {
  return {
    id: `${baseUrl}/certificates/${cert.name}/${v.id}`,
    kid: `${baseUrl}/keys/${cert.name}/${v.id}`,
    sid: `${baseUrl}/secrets/${cert.name}/${v.id}`,
    x5t: v.x5t,
    cer: v.cer,
    attributes: attributesOut(v.attributes, profile),
    ...(v.tags ? { tags: v.tags } : {}),
    policy: policyOut(baseUrl, cert.name, cert.policy),
  };
}

/** A CertificateOperation (the pending create). */
export function operationOut(baseUrl: string, op: PendingOperation): Record<string, unknown> {
  const details: Record<PendingOperation["status"], string> = {
    inProgress: "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.",
    completed: "",
    cancelled: "The certificate operation was cancelled.",
    failed: op.error?.message ?? "The certificate operation failed.",
  };
  return {
    id: `${baseUrl}/certificates/${op.name}/pending`,
    issuer: { name: op.issuerName },
    csr: op.csr,
    cancellation_requested: op.cancellationRequested,
    status: op.status,
    status_details: details[op.status],
    ...(op.status === "completed" ? { target: `${baseUrl}/certificates/${op.name}` } : {}),
    ...(op.error ? { error: op.error } : {}),
    request_id: op.requestId,
  };
}
