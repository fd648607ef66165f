import { base64Decode } from "./crypto";

/**
 * ECDSA signatures as X.509/ASN.1 writes them (DER: SEQUENCE { INTEGER r, INTEGER s }, what
 * OpenSSL, Node's crypto.sign and GitHub produce) turned into what WebCrypto verifies (IEEE P1363:
 * r ‖ s, each left-padded to the curve's size). Pure; no I/O.
 */

/** P-256: r and s are at most 32 bytes each. */
const P256_SCALAR_BYTES = 32;

/** Reads one DER INTEGER at `at`: its unsigned big-endian value (minimal encoding required) and where the next element starts. */
function readInteger(der: Uint8Array, at: number): { value: Uint8Array; next: number } | null {
  if (der[at] !== 0x02) return null;
  const length = der[at + 1];
  // Short-form lengths only: a P-256 scalar is at most 33 bytes with its sign byte.
  if (length === undefined || length === 0 || length > P256_SCALAR_BYTES + 1) return null;
  const start = at + 2;
  const end = start + length;
  if (end > der.length) return null;
  const value = der.subarray(start, end);
  if (value[0]! & 0x80) return null; // negative: r and s are positive
  if (value[0] === 0x00 && (length === 1 || !(value[1]! & 0x80))) return null; // not minimal (or zero)
  return { value: value[0] === 0x00 ? value.subarray(1) : value, next: end };
}

/** DER ECDSA P-256 signature → 64-byte r ‖ s; null when it is not exactly one well-formed DER signature. */
export function derToP1363(der: Uint8Array): Uint8Array<ArrayBuffer> | null {
  if (der.length < 8 || der[0] !== 0x30) return null;
  const length = der[1]!;
  // A P-256 signature is at most 72 bytes: always the short form, and nothing may follow it.
  if (length & 0x80 || length + 2 !== der.length) return null;
  const r = readInteger(der, 2);
  if (!r) return null;
  const s = readInteger(der, r.next);
  if (!s || s.next !== der.length) return null;
  if (r.value.length > P256_SCALAR_BYTES || s.value.length > P256_SCALAR_BYTES) return null;
  const out = new Uint8Array(P256_SCALAR_BYTES * 2);
  out.set(r.value, P256_SCALAR_BYTES - r.value.length);
  out.set(s.value, P256_SCALAR_BYTES * 2 - s.value.length);
  return out;
}

/** A PEM block ("-----BEGIN PUBLIC KEY-----" …) → its DER bytes; null if it is not one. */
export function pemToDer(pem: string, label = "PUBLIC KEY"): Uint8Array<ArrayBuffer> | null {
  const match = new RegExp(`^\\s*-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----\\s*$`).exec(pem);
  if (!match) return null;
  try {
    return base64Decode(match[1]!);
  } catch {
    return null;
  }
}
