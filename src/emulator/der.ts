/**
 * A minimal DER encoder: just what X.509 certificates, PKCS#10 requests and PKCS#12 files need. Node has
 * no X.509 builder, and node-forge's RSA-only, pure-JS one is slow; with this, the structures are built
 * here and signed natively by node:crypto (RSA and ECDSA alike).
 */

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.of(tag), lengthBytes(content.length), content]);
}

export const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
/** A SET OF, its members sorted as DER requires. */
export const setOf = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat([...parts].sort(Buffer.compare)));
export const nullValue = (): Buffer => Buffer.of(0x05, 0x00);
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
export const printable = (s: string): Buffer => tlv(0x13, Buffer.from(s, "ascii"));
export const ia5 = (s: string): Buffer => tlv(0x16, Buffer.from(s, "ascii"));
export const bool = (b: boolean): Buffer => Buffer.of(0x01, 0x01, b ? 0xff : 0x00);
/** [n] EXPLICIT: a constructed context tag around a whole encoding. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT of a primitive value (e.g. a GeneralName's dNSName). */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** An unsigned big-endian integer (a serial number, a count). */
export function integer(value: number | Buffer): Buffer {
  let b: Buffer;
  if (typeof value === "number") {
    const bytes: number[] = [];
    for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    b = Buffer.from(bytes.length ? bytes : [0]);
  } else {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    b = value.subarray(i);
  }
  // A leading bit of 1 would read as negative.
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.of(0), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const body: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    body.push(...chunk);
  }
  return tlv(0x06, Buffer.from(body));
}

/** A BIT STRING of whole bytes (a signature, a public key). */
export const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.of(0), b]));

/** A named-bit BIT STRING (key usage): bit 0 is the first bit, trailing zero bits dropped as DER requires. */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(0x03, Buffer.of(0));
  const top = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(top / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return tlv(0x03, Buffer.concat([Buffer.of(7 - (top & 7)), bytes]));
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280). */
export function time(d: Date): Buffer {
  const iso = d.toISOString();
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), "ascii")) : tlv(0x18, Buffer.from(digits, "ascii"));
}
