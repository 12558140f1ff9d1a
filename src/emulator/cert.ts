/**
 * The emulator's TLS identity: one self-signed certificate for 127.0.0.1 and localhost that
 * clients trust explicitly (tlsOptions.ca). node:crypto makes the key pair; node-forge (pure JS,
 * no native parts, no openssl binary needed) only assembles and signs the X.509 structure.
 */
import { X509Certificate, generateKeyPair, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import * as forge from "node-forge";

const generateKeyPairAsync = promisify(generateKeyPair);

export const CERT_FILE = "emulator-cert.pem";
export const KEY_FILE = "emulator-key.pem";

export interface EmulatorCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certPath: string;
}

/** Reuses a still-valid certificate in `dir` (so clients keep trusting it across restarts), else makes one. */
export async function loadOrCreateCertificate(dir: string): Promise<EmulatorCertificate> {
  const certPath = path.join(dir, CERT_FILE);
  const keyPath = path.join(dir, KEY_FILE);
  const existing = await readExisting(certPath, keyPath);
  if (existing) return existing;

  const { certPem, keyPem } = await createSelfSignedCertificate();
  await fs.mkdir(dir, { recursive: true });
  // Key first and private: a cert without its key is useless, the reverse is merely stale.
  await fs.writeFile(keyPath, keyPem, { mode: 0o600 });
  await fs.writeFile(certPath, certPem);
  return { certPem, keyPem, certPath };
}

async function readExisting(certPath: string, keyPath: string): Promise<EmulatorCertificate | undefined> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([fs.readFile(certPath, "utf8"), fs.readFile(keyPath, "utf8")]);
  } catch {
    return undefined;
  }
  try {
    const cert = new X509Certificate(certPem);
    // A day of margin so a long run does not cross the expiry.
    const stillValid = Date.parse(cert.validTo) > Date.now() + 24 * 3600 * 1000;
    if (stillValid && cert.checkIP("127.0.0.1") && cert.checkHost("localhost")) {
      return { certPem, keyPem, certPath };
    }
  } catch {
    // Unreadable leftovers are replaced below.
  }
  return undefined;
}

export async function createSelfSignedCertificate(): Promise<{ certPem: string; keyPem: string }> {
  // Async generation runs on the thread pool, so the event loop stays free meanwhile.
  const { publicKey, privateKey } = await generateKeyPairAsync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // Positive serial: a leading 0x01..0x7f byte keeps the DER integer from reading as negative.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  cert.serialNumber = serial.toString("hex");
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 3600 * 1000);
  const name = [
    { shortName: "CN", value: "kvbackup local Key Vault emulator" },
    { shortName: "O", value: "kvbackup" },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    // CA:true lets the same certificate serve as the trust anchor a client passes as `ca`.
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", critical: true, digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 7, ip: "127.0.0.1" },
        { type: 2, value: "localhost" },
      ],
    },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}
