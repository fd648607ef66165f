import { type JWK, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { CLOCK_SKEW_SECONDS, settings } from "../config";
import { algorithmsFor } from "../lib/client-jwks";
import type { LiveEntry } from "../storage/edge-entries";
import { claimJti } from "../storage/jti";

/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, RFC 7521), as the contract has
 * it: signed by a key of the client's `jwks` (ES256, PS256, RS256 or EdDSA; never `none` or an
 * HMAC, and never a key the assertion brings itself); `iss` = `sub` = client_id; `aud` the
 * issuer (the token endpoint URL is accepted too, for older clients; an array holding any other
 * value is refused); `exp` required and at most 5 minutes ahead; `iat`, if present, not ahead by
 * more than the clock skew; `jti` required and accepted once, everywhere at once (the JtiStore
 * Durable Object), for as long as the skew could still accept the assertion (`exp` + skew).
 * Any failure, a WebCrypto one included, is a failed check: never a throw.
 */

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** An assertion may be valid for at most this long ahead. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const MAX_ASSERTION_LENGTH = 8_192;

/** The client_id an assertion claims to come from (`iss`), unverified: only to find its keys. */
export function assertionIssuer(assertion: string): string | null {
  if (assertion.length > MAX_ASSERTION_LENGTH) return null;
  try {
    const { iss, sub } = decodeJwt(assertion);
    return typeof iss === "string" && iss === sub ? iss : null;
  } catch {
    return null;
  }
}

/** Whether the assertion proves the client: true, or false for any failure (a replay included). */
export async function verifyAssertion(env: Env, entry: LiveEntry, assertion: string): Promise<boolean> {
  if (!entry.jwks || entry.client_id === null) return false;
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return false;
  }
  // Keys come from the registered set only: an assertion's own jwk, jku, x5u or x5c is refused.
  if ("jwk" in header || "jku" in header || "x5u" in header || "x5c" in header) return false;
  const candidates = entry.jwks.filter((key) => (header.kid === undefined ? entry.jwks!.length === 1 : key.kid === header.kid));
  const jwk = candidates[0];
  if (!jwk || typeof header.alg !== "string" || !algorithmsFor(jwk).includes(header.alg)) return false;
  const { issuer } = settings(env);
  const audiences = [issuer, `${issuer}/oauth/token`];
  let payload: Record<string, unknown>;
  try {
    const key = await importJWK(jwk as JWK, header.alg);
    ({ payload } = await jwtVerify(assertion, key, {
      algorithms: [header.alg],
      issuer: entry.client_id,
      subject: entry.client_id,
      requiredClaims: ["exp", "jti", "aud"],
      clockTolerance: CLOCK_SKEW_SECONDS,
    }));
  } catch {
    // jose's own errors, and WebCrypto's (a key it cannot use): either way the assertion is not proven.
    return false;
  }
  const aud = payload.aud;
  const audOk = typeof aud === "string" ? audiences.includes(aud) : Array.isArray(aud) && aud.length > 0 && aud.every((value) => audiences.includes(value));
  if (!audOk) return false;
  const exp = payload.exp as number;
  const now = Date.now() / 1000;
  if (exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) return false;
  if (payload.iat !== undefined && (payload.iat as number) > now + CLOCK_SKEW_SECONDS) return false;
  if (typeof payload.jti !== "string" || payload.jti.length === 0 || payload.jti.length > 256) return false;
  // Kept until no clock skew could accept the assertion again.
  return claimJti(env.JTI_STORE, `assertion:${entry.client_id}`, payload.jti, exp + CLOCK_SKEW_SECONDS);
}
