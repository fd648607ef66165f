import { env } from "cloudflare:workers";
import { call } from "./http";

/** Helpers for the OAuth endpoints: form bodies and client authentication. */

export function basic(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${btoa(`${encode(clientId)}:${encode(clientSecret)}`)}`;
}

export function form(path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return call(path, {
    method: "POST",
    token: null,
    body: new URLSearchParams(params).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

export interface Client {
  id: string;
  client_id: string;
  client_secret: string;
  account_id: string;
}

/** A token for a client, through the public token endpoint. */
export async function tokenFor(client: Client, scope?: string): Promise<string> {
  const response = await form(
    "/oauth/token",
    { grant_type: "client_credentials", ...(scope !== undefined ? { scope } : {}) },
    { authorization: basic(client.client_id, client.client_secret) },
  );
  if (response.status !== 200) throw new Error(`token failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

export function testAuth(bearer: string) {
  return call("/v1/test-auth", { token: bearer });
}

// ---- additions for the token-service tests ----------------------------------------------

/** A form POST with a body sent exactly as given (for repeated or odd parameters). */
export function rawForm(path: string, body: string, headers: Record<string, string> = {}) {
  return call(path, {
    method: "POST",
    token: null,
    body,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

/** The token endpoint with client_secret_basic; `params` are added to grant_type=client_credentials. */
export function tokenRequest(client: Pick<Client, "client_id" | "client_secret">, params: Record<string, string> = {}) {
  return form("/oauth/token", { grant_type: "client_credentials", ...params }, { authorization: basic(client.client_id, client.client_secret) });
}

/** RFC 7662 introspection, the caller authenticating with client_secret_basic. */
export function introspect(caller: Pick<Client, "client_id" | "client_secret">, token: string) {
  return form("/oauth/introspect", { token }, { authorization: basic(caller.client_id, caller.client_secret) });
}

/** RFC 7009 revocation, the caller authenticating with client_secret_basic. */
export function revoke(caller: Pick<Client, "client_id" | "client_secret">, token: string) {
  return form("/oauth/revoke", { token }, { authorization: basic(caller.client_id, caller.client_secret) });
}

/** The served JWKS document. */
export async function fetchJwks(): Promise<{ keys: Record<string, unknown>[] }> {
  const response = await call("/.well-known/jwks.json", { token: null });
  if (response.status !== 200) throw new Error(`jwks failed: ${response.status}`);
  return (await response.json()) as { keys: Record<string, unknown>[] };
}

/** Polls `read` every 25 ms until `done` holds for its value; throws after `attempts` tries (works under a faked Date). */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, attempts = 120): Promise<T> {
  let value = await read();
  for (let i = 1; !done(value); i++) {
    if (i >= attempts) throw new Error(`condition not met after ${attempts} tries: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

/**
 * The private half of a stored signing key, decrypted the way the Worker does it (AES-GCM under
 * KEY_ENCRYPTION_KEY, the kid as associated data). Lets a test sign tokens with the real key to
 * check that claim checks, not only the signature, reject them.
 */
export async function storedSigningKey(kid?: string): Promise<{ kid: string; privateKey: CryptoKey; pkcs8: Uint8Array; publicJwk: JsonWebKey }> {
  const row = await env.DB.prepare(
    kid === undefined
      ? "SELECT kid, public_jwk, encrypted_private_key FROM signing_keys ORDER BY generation DESC LIMIT 1"
      : "SELECT kid, public_jwk, encrypted_private_key FROM signing_keys WHERE kid = ?",
  )
    .bind(...(kid === undefined ? [] : [kid]))
    .first<{ kid: string; public_jwk: string; encrypted_private_key: string }>();
  if (!row) throw new Error("no signing key stored");
  const blob = base64urlToBytes(row.encrypted_private_key);
  const kek = await crypto.subtle.importKey("raw", base64urlToBytes(env.KEY_ENCRYPTION_KEY), "AES-GCM", false, ["decrypt"]);
  const pkcs8 = new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: blob.slice(0, 12), additionalData: new TextEncoder().encode(row.kid) }, kek, blob.slice(12)),
  );
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  return { kid: row.kid, privateKey, pkcs8, publicJwk: JSON.parse(row.public_jwk) as JsonWebKey };
}

export function base64urlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
}

export function bytesToBase64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
