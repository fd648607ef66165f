/** Small WebCrypto and encoding helpers: pure functions, no storage, no HTTP. */

const encoder = new TextEncoder();

/**
 * The runtime's own base64 and hex (Uint8Array.prototype.toBase64 and toHex, Uint8Array.fromBase64:
 * TC39's "Uint8Array to/from base64", in workerd's V8): native, where a loop over the bytes in
 * JavaScript was a visible share of a token request's CPU (bench/profile.mjs). TypeScript's
 * lib does not declare them yet.
 */
type NativeCodecs = Uint8Array & { toBase64(options: { alphabet: "base64url"; omitPadding: boolean }): string; toHex(): string };
const { fromBase64 } = Uint8Array as unknown as { fromBase64(text: string, options: { alphabet: "base64" | "base64url" }): Uint8Array<ArrayBuffer> };

/** SHA-256 of a UTF-8 string, as lowercase hex: the form secrets are stored in. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))) as NativeCodecs;
  return digest.toHex();
}

/** Constant-time equality of two strings of equal length (digests, in practice). */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.byteLength !== right.byteLength) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}

export function base64urlEncode(bytes: Uint8Array): string {
  return (bytes as NativeCodecs).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Decodes base64url (no padding, no white space); throws on anything else. */
export function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  // fromBase64 would skip white space and take padding: this is the strict form only.
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  return fromBase64(text, { alphabet: "base64url" });
}

/** Decodes standard base64 as atob does (padding optional, ASCII white space skipped); throws on anything else. */
export function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  return fromBase64(text, { alphabet: "base64" });
}

/**
 * An HMAC-SHA256 key for one purpose (`info`), derived with HKDF from a base64url secret
 * (KEY_ENCRYPTION_KEY), made once per isolate and purpose. Different purposes never share a key.
 */
const derivedKeys = new Map<string, { secret: string; key: Promise<CryptoKey> }>();
export function derivedHmacKey(secret: string, info: string): Promise<CryptoKey> {
  const known = derivedKeys.get(info);
  if (known?.secret === secret) return known.key;
  const key = crypto.subtle
    .importKey("raw", base64urlDecode(secret), "HKDF", false, ["deriveKey"])
    .then((material) =>
      crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: new TextEncoder().encode(info) },
        material,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      ),
    );
  derivedKeys.set(info, { secret, key });
  return key;
}
