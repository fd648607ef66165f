/**
 * The format of every value Keymint hands out: a readable prefix, a random body and a checksum.
 *
 *   km_live_<43 base62 chars><6 base62 chars>   API key        (256 bits of randomness)
 *   kms_<43 base62 chars><6 base62 chars>       client secret  (256 bits)
 *   kmc_<22 base62 chars><6 base62 chars>       client_id      (131 bits; an identifier, not a secret)
 *
 * The checksum is CRC-32 (IEEE) of prefix + body, written as 6 base62 digits. It lets secret
 * scanners and this service reject a mistyped, truncated or made-up value before any storage
 * read. CRC-32 catches every single-character change. It is not a MAC and does not need to be:
 * the body's entropy is what keeps a secret unguessable. docs/security.md explains the choice.
 */

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM_LENGTH = 6;

export const SECRET_FORMATS = {
  api_key: { prefix: "km_live_", bodyLength: 43 },
  client_secret: { prefix: "kms_", bodyLength: 43 },
  client_id: { prefix: "kmc_", bodyLength: 22 },
} as const;

export type SecretKind = keyof typeof SECRET_FORMATS;

/** Length of the last part of a secret shown as its `hint`. */
export const HINT_LENGTH = 4;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    // Every character of a well-formed value is ASCII; others fail the charset check first.
    crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(text: string): string {
  let value = crc32(text);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** `length` uniformly random base62 characters from crypto.getRandomValues (rejection sampling). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      // 248 = 4 * 62: bytes at or above it would bias the modulo, so they are skipped.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function generateSecret(kind: SecretKind): string {
  const { prefix, bodyLength } = SECRET_FORMATS[kind];
  const head = prefix + randomBase62(bodyLength);
  return head + checksum(head);
}

const BASE62_RE = /^[0-9A-Za-z]+$/;

/** True when `value` is a well-formed secret of this kind. No storage, no hashing. */
export function isWellFormed(kind: SecretKind, value: string): boolean {
  const { prefix, bodyLength } = SECRET_FORMATS[kind];
  if (value.length !== prefix.length + bodyLength + CHECKSUM_LENGTH) return false;
  if (!value.startsWith(prefix)) return false;
  const rest = value.slice(prefix.length);
  if (!BASE62_RE.test(rest)) return false;
  const head = value.slice(0, value.length - CHECKSUM_LENGTH);
  return checksum(head) === value.slice(-CHECKSUM_LENGTH);
}

export function hintOf(secret: string): string {
  return secret.slice(-HINT_LENGTH);
}
