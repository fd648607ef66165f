// Helpers shared by the floor Workers. Each floor does the least work its Keymint route
// cannot avoid, with plain WebCrypto and one KV read, so Keymint's time can be compared to it.

export const ES256 = { name: "ECDSA", namedCurve: "P-256" };
export const ES256_SIGN = { name: "ECDSA", hash: "SHA-256" };

const encoder = new TextEncoder();
export const utf8 = (text) => encoder.encode(text);

export function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function base64urlDecode(text) {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export async function sha256Hex(text) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The credential row a real service reads from its database, here held once per isolate. */
export function credentialRow(env) {
  return {
    id: "cred_floor",
    account_id: "acct_floor",
    client_id: "kmc_floor",
    secret_hash: env.FLOOR_SECRET_SHA256,
    scopes: ["events:write"],
  };
}

/** The revocation-marker keys of a credential (and token), read in one KV bulk get (a Map). */
export function readMarkers(env, row, jti) {
  const keys = [`revoked:credential:${row.id}`, `revoked:account:${row.account_id}`];
  if (jti) keys.push(`revoked:token:${jti}`);
  return env.KV.get(keys, "json");
}

export function revoked(markers) {
  for (const value of markers.values()) if (value !== null) return true;
  return false;
}

export const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
