/**
 * The few node-forge calls the emulator makes to build its self-signed certificate. node-forge
 * ships no types and @types/node-forge is not a dependency, so only this subset is declared.
 */
declare module "node-forge" {
  namespace pki {
    interface PublicKey {
      readonly __publicKeyBrand?: never;
    }
    interface PrivateKey {
      readonly __privateKeyBrand?: never;
    }
    interface CertificateField {
      name?: string;
      shortName?: string;
      value: string;
    }
    interface Certificate {
      serialNumber: string;
      publicKey: PublicKey;
      validity: { notBefore: Date; notAfter: Date };
      setSubject(attrs: CertificateField[]): void;
      setIssuer(attrs: CertificateField[]): void;
      setExtensions(exts: Array<Record<string, unknown>>): void;
      sign(key: PrivateKey, md: md.MessageDigest): void;
    }
    function createCertificate(): Certificate;
    function certificateToPem(cert: Certificate): string;
    function privateKeyFromPem(pem: string): PrivateKey;
    function publicKeyFromPem(pem: string): PublicKey;
  }
  namespace md {
    interface MessageDigest {
      readonly algorithm: string;
    }
    namespace sha256 {
      function create(): MessageDigest;
    }
  }
}
