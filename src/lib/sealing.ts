import { base64urlDecode, base64urlEncode } from "./crypto";

/**
 * Secrets Keymint must use again, sealed at rest: AES-256-GCM under KEY_ENCRYPTION_KEY (base64url
 * of 32 bytes), a fresh 12-byte IV each, and additional data naming what is sealed (a signing
 * key's kid, a webhook endpoint's id), so a sealed value moved to another row does not open.
 * Stored as base64url(iv ‖ ciphertext). The key is imported once per isolate.
 */

let kek: { secret: string; key: Promise<CryptoKey> } | undefined;

function keyEncryptionKey(secret: string | undefined): Promise<CryptoKey> {
  if (kek !== undefined && kek.secret === secret) return kek.key;
  const bytes = base64urlDecode(secret ?? "");
  if (bytes.byteLength !== 32) throw new Error("KEY_ENCRYPTION_KEY must be base64url of 32 bytes");
  const key = crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
  kek = { secret: secret!, key };
  return key;
}

export async function seal(keyEncryptionSecret: string | undefined, plain: BufferSource, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) }, await keyEncryptionKey(keyEncryptionSecret), plain);
  const blob = new Uint8Array(iv.byteLength + sealed.byteLength);
  blob.set(iv);
  blob.set(new Uint8Array(sealed), iv.byteLength);
  return base64urlEncode(blob);
}

export async function unseal(keyEncryptionSecret: string | undefined, sealed: string, context: string): Promise<ArrayBuffer> {
  const blob = base64urlDecode(sealed);
  return crypto.subtle.decrypt({ name: "AES-GCM", iv: blob.slice(0, 12), additionalData: new TextEncoder().encode(context) }, await keyEncryptionKey(keyEncryptionSecret), blob.slice(12));
}
