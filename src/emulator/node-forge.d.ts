/**
 * The few node-forge calls the emulator makes: its own TLS certificate, and reading the PKCS#12 files a
 * certificate import brings (node:crypto cannot open a PFX). node-forge ships no types and
 * @types/node-forge is not a dependency, so only this subset is declared.
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
    const oids: Readonly<Record<string, string>>;
    function certificateToAsn1(cert: Certificate): asn1.Asn1;
    function certificateFromAsn1(obj: asn1.Asn1): Certificate;
    function privateKeyToAsn1(key: PrivateKey): asn1.Asn1;
    function wrapRsaPrivateKey(rsaKey: asn1.Asn1): asn1.Asn1;
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
  namespace util {
    interface ByteStringBuffer {
      getBytes(): string;
    }
  }
  namespace asn1 {
    interface Asn1 {
      readonly __asn1Brand?: never;
    }
    function fromDer(bytes: string, strict?: boolean): Asn1;
    function toDer(obj: Asn1): util.ByteStringBuffer;
  }
  namespace pkcs12 {
    interface Bag {
      type: string;
      key?: pki.PrivateKey | null;
      cert?: pki.Certificate | null;
      /** Set when forge cannot read the key or certificate itself (EC): the decoded structure. */
      asn1?: asn1.Asn1;
    }
    interface Pkcs12Pfx {
      getBags(filter: { bagType: string }): Record<string, Bag[] | undefined>;
    }
    function pkcs12FromAsn1(obj: asn1.Asn1, strict: boolean, password?: string | null): Pkcs12Pfx;
    function toPkcs12Asn1(key: pki.PrivateKey | null, cert: pki.Certificate | pki.Certificate[], password: string | null, options?: Record<string, unknown>): asn1.Asn1;
  }
}
