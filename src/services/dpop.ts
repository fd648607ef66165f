import { type JWK, calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { settings } from "../config";
import { base64urlEncode, derivedHmacKey } from "../lib/crypto";
import { claimJti } from "../storage/jti";

/**
 * DPoP proofs (RFC 9449 §4.3): a JWT with `typ: dpop+jwt`, an asymmetric `alg`, the client's
 * public key as `jwk`, and claims `htm`, `htu` (the endpoint's URL, no query or fragment),
 * `iat` within ±60 s and a `jti` accepted once at that endpoint (the JtiStore Durable Object,
 * so a replay anywhere is refused), plus `ath` (the hash of the access token) when one is
 * presented, and a server nonce when DPOP_NONCE_REQUIRED is "true".
 *
 * Nonces (§8) are stateless: an HMAC of the current 5-minute window under a key derived from
 * KEY_ENCRYPTION_KEY. The current and the previous window's nonce are accepted, so a nonce is
 * good for 5 to 10 minutes and costs no storage.
 */

export const DPOP_ALGORITHMS = ["ES256", "PS256", "RS256", "EdDSA"];
const FRESH_SECONDS = 60;
const NONCE_WINDOW_SECONDS = 300;
const MAX_PROOF_LENGTH = 8_192;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

export type ProofResult = { ok: true; jkt: string } | { ok: false; error: "invalid_dpop_proof" | "use_dpop_nonce"; description: string };

const bad = (description: string): ProofResult => ({ ok: false, error: "invalid_dpop_proof", description });

export function nonceRequired(env: Env): boolean {
  return env.DPOP_NONCE_REQUIRED === "true";
}

function nonceKeyOf(env: Env): Promise<CryptoKey> {
  return derivedHmacKey(env.KEY_ENCRYPTION_KEY ?? "", "keymint dpop nonce v1");
}

async function nonceFor(env: Env, window: number): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await nonceKeyOf(env), new TextEncoder().encode(`dpop-nonce:${window}`));
  return base64urlEncode(new Uint8Array(mac).slice(0, 18));
}

/** The nonce a client should use now (sent in the `DPoP-Nonce` header). */
export function currentNonce(env: Env): Promise<string> {
  return nonceFor(env, Math.floor(Date.now() / 1000 / NONCE_WINDOW_SECONDS));
}

async function nonceValid(env: Env, nonce: unknown): Promise<boolean> {
  if (typeof nonce !== "string") return false;
  const window = Math.floor(Date.now() / 1000 / NONCE_WINDOW_SECONDS);
  return nonce === (await nonceFor(env, window)) || nonce === (await nonceFor(env, window - 1));
}

/** The URL a proof's `htu` must name for a request: its origin and path at the issuer, no query. */
export function endpointUrl(env: Env, path: string): string {
  return `${settings(env).issuer}${path}`;
}

async function sha256Base64url(text: string): Promise<string> {
  return base64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

/**
 * Checks a proof for `method` at `url`; with `accessToken`, its `ath` too. Its id is claimed in the
 * Durable Object last and, when `claimIf` is given, only if it resolves true: a caller whose IP is
 * over its failure limit passes whether its credential checked out, so junk from it stores nothing.
 */
export async function verifyProof(
  env: Env,
  proof: string,
  request: { method: string; url: string; accessToken?: string },
  claimIf?: Promise<boolean>,
): Promise<ProofResult> {
  if (proof.length > MAX_PROOF_LENGTH) return bad("The DPoP proof is too long.");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return bad("The DPoP proof is not a JWT.");
  }
  if (header.typ !== "dpop+jwt") return bad('The DPoP proof\'s typ must be "dpop+jwt".');
  if (typeof header.alg !== "string" || !DPOP_ALGORITHMS.includes(header.alg)) return bad("The DPoP proof's alg must be an asymmetric one.");
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (!jwk || typeof jwk !== "object") return bad("The DPoP proof must carry its public key as jwk.");
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) return bad("The DPoP proof's jwk must be a public key.");
  let payload: Record<string, unknown>;
  let jkt: string;
  try {
    const key = await importJWK(jwk as JWK, header.alg);
    ({ payload } = await jwtVerify(proof, key, { typ: "dpop+jwt", algorithms: [header.alg] }));
    jkt = await calculateJwkThumbprint(jwk as JWK);
  } catch {
    // jose's errors and WebCrypto's (a key off its curve, say) alike: the proof proves nothing.
    return bad("The DPoP proof's signature does not verify.");
  }
  const now = Date.now() / 1000;
  if (payload.htm !== request.method) return bad("The DPoP proof's htm is not this request's method.");
  if (typeof payload.htu !== "string" || stripQuery(payload.htu) !== request.url) return bad("The DPoP proof's htu is not this endpoint's URL.");
  if (typeof payload.iat !== "number" || Math.abs(payload.iat - now) > FRESH_SECONDS) return bad("The DPoP proof is not fresh.");
  if (typeof payload.jti !== "string" || payload.jti.length === 0 || payload.jti.length > 256) return bad("The DPoP proof needs a jti.");
  if (request.accessToken !== undefined && payload.ath !== (await sha256Base64url(request.accessToken))) {
    return bad("The DPoP proof's ath does not match the access token.");
  }
  if (nonceRequired(env) && !(await nonceValid(env, payload.nonce))) {
    return { ok: false, error: "use_dpop_nonce", description: "Use the DPoP-Nonce this response carries." };
  }
  if (claimIf && !(await claimIf)) return bad("The request failed before its DPoP proof was claimed.");
  // Once per key and endpoint, everywhere: the id outlives the proof's freshness window.
  const fresh = await claimJti(env.JTI_STORE, `dpop:${jkt}:${request.method} ${request.url}`, payload.jti, Math.ceil(payload.iat + FRESH_SECONDS));
  return fresh ? { ok: true, jkt } : bad("This DPoP proof was used already.");
}

function stripQuery(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "";
  }
}
