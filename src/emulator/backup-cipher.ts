/**
 * Opaque backup blobs of keys, secrets and certificates. The service encrypts a backup so that only
 * vaults of the same geography can restore it; the emulator mirrors that with AES-256-GCM under a key
 * derived from one "geography" secret, so any emulator started with the same secret restores the others'
 * blobs, and any altered byte is detected.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/** The built-in geography: every emulator without an explicit secret shares it. */
export const DEFAULT_GEOGRAPHY_SECRET = "kvbackup-emulator/local-geography";

const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
/** Which restore a blob is for. */
export type BackupKind = "key" | "secret" | "certificate";
// Binds the ciphertext to its kind, so a blob of another kind can never decrypt as, say, a key backup.
const AAD: Readonly<Record<BackupKind, Buffer>> = {
  key: Buffer.from("kvbackup-emulator key backup v1"),
  secret: Buffer.from("kvbackup-emulator secret backup v1"),
  certificate: Buffer.from("kvbackup-emulator certificate backup v1"),
};

export class BackupCipher {
  private readonly key: Buffer;

  constructor(geographySecret: string = DEFAULT_GEOGRAPHY_SECRET) {
    // Derived once; per-request work is then only AES-GCM.
    this.key = Buffer.from(hkdfSync("sha256", geographySecret, "kvbackup-emulator", "key-backup-aes-256-gcm", 32));
  }

  /**
   * JSON document in, base64url blob out. With `minBytes`, the plaintext is padded with trailing blanks
   * (which JSON ignores) so that the decoded blob is at least that long; under the cipher they cannot be
   * told from data.
   */
  seal(document: unknown, minBytes = 0, kind: BackupKind = "key"): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(AAD[kind]);
    let text = Buffer.from(JSON.stringify(document), "utf8");
    const shortBy = minBytes - HEADER_BYTES - text.length;
    if (shortBy > 0) text = Buffer.concat([text, Buffer.alloc(shortBy, 0x20)]);
    const body = Buffer.concat([cipher.update(text), cipher.final()]);
    return Buffer.concat([Buffer.of(BLOB_VERSION), iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  /** The document, or undefined when the blob is malformed, altered, or from another geography. */
  open(blob: string, kind: BackupKind = "key"): unknown {
    if (typeof blob !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(blob)) return undefined;
    const raw = Buffer.from(blob, "base64url");
    if (raw.length <= HEADER_BYTES || raw[0] !== BLOB_VERSION) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(AAD[kind]);
      decipher.setAuthTag(raw.subarray(1 + IV_BYTES, HEADER_BYTES));
      const text = Buffer.concat([decipher.update(raw.subarray(HEADER_BYTES)), decipher.final()]).toString("utf8");
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
}
