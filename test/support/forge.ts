import { SignJWT, type JWTPayload } from "jose";
import { bytesToBase64url } from "./oauth";

/**
 * Building blocks for forged access tokens: JSON segments, our claims signed with any key, and
 * HMAC signatures keyed with public material (the HS256/ES256 confusion attack).
 * Used by test/oauth/signing-keys.test.ts and test/hardening/hostile-input/forgeries.ts.
 */

export const ISSUER = "http://localhost:8787";

/** One base64url JWT segment of a JSON value. */
export const encodeJson = (value: unknown) => bytesToBase64url(new TextEncoder().encode(JSON.stringify(value)));

/** A SignJWT with the claims our tokens carry for this client, valid right now. */
export function ourClaims(client: { account_id: string; client_id: string; id: string }, overrides: JWTPayload = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER,
    sub: client.account_id,
    aud: ISSUER,
    client_id: client.client_id,
    cid: client.id,
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    scope: "read",
    ...overrides,
  });
}

/** The base64url HMAC-SHA256 of `signingInput` keyed with `secret`. */
export async function hmacSign(secret: Uint8Array, signingInput: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return bytesToBase64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(signingInput))));
}
