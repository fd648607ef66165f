import { ACCESS_TOKEN_LIFETIME_SECONDS, settings } from "../config";
import { base64urlEncode } from "../lib/crypto";
import { activeSigner } from "./signing-keys";
import type { Identity } from "./verification";

/**
 * Access tokens (RFC 9068): ES256 JWTs that live exactly ACCESS_TOKEN_LIFETIME_SECONDS.
 * `cid` carries the credential id so verification needs no lookup.
 *
 * Signed with WebCrypto directly: a JWS is base64url(header) "." base64url(payload) "."
 * base64url(signature), and ECDSA P-256 in WebCrypto already returns the raw r||s form that
 * JWS wants (RFC 7518 §3.4). The header depends only on the kid, so it is encoded once per
 * key. src/lib/es256-jwt.ts verifies them the same way; the tests check both against jose.
 */
export interface IssuedToken {
  access_token: string;
  token_type: "Bearer" | "DPoP";
  expires_in: number;
  scope: string;
}

const encoder = new TextEncoder();
const ES256_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const headers = new Map<string, string>();

function encodedHeader(kid: string): string {
  let header = headers.get(kid);
  if (header === undefined) {
    header = base64urlEncode(encoder.encode(JSON.stringify({ alg: "ES256", typ: "at+jwt", kid })));
    headers.set(kid, header);
  }
  return header;
}

/**
 * A token for `aud` (an API's identifier; the default API when not given) with these scopes and
 * the identity's custom claims (the API's mapping, merged with the issuance hook's by the caller).
 * It never outlives its credential: `exp` is at most `expiresAt` (whole seconds, rounded down).
 */
export async function issueAccessToken(
  env: Env,
  identity: Identity & { client_id: string },
  scopes: string[],
  aud = settings(env).audience,
  expiresAt: string | null = null,
  /** The thumbprint of the DPoP key the token is bound to (RFC 9449 §6: `cnf.jkt`), if any. */
  jkt: string | null = null,
): Promise<IssuedToken> {
  const { issuer } = settings(env);
  const signer = await activeSigner(env);
  const iat = Math.floor(Date.now() / 1000);
  const scope = scopes.join(" ");
  const payload = {
    // Custom claims first: their names are never Keymint's (src/lib/claims.ts), and Keymint's come after anyway.
    ...identity.claims,
    iss: issuer,
    sub: identity.account_id,
    org_id: identity.organization_id,
    aud,
    client_id: identity.client_id,
    cid: identity.credential_id,
    iat,
    exp: Math.min(iat + ACCESS_TOKEN_LIFETIME_SECONDS, expiresAt === null ? Infinity : Math.floor(Date.parse(expiresAt) / 1000)),
    jti: crypto.randomUUID(),
    scope,
    ...(jkt === null ? {} : { cnf: { jkt } }),
  };
  const signingInput = `${encodedHeader(signer.kid)}.${base64urlEncode(encoder.encode(JSON.stringify(payload)))}`;
  const signature = await crypto.subtle.sign(ES256_SIGN, signer.key, encoder.encode(signingInput));
  return {
    access_token: `${signingInput}.${base64urlEncode(new Uint8Array(signature))}`,
    token_type: jkt === null ? "Bearer" : "DPoP",
    expires_in: payload.exp - iat,
    scope,
  };
}
