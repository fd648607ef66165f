import { base64urlDecode } from "./crypto";

/**
 * Verifying Keymint's own access tokens (RFC 9068, ES256, compact JWS) with WebCrypto directly.
 * This is the hot path of test-auth, introspection and the verify RPC: a general JOSE library
 * does the same with more generality than these tokens need (any alg, `crit`, `b64`, JSON
 * serialisations), and that costs about 60 µs a request (docs/performance.md). Everything here
 * is the subset RFC 7515 §5.2 and RFC 8725 require for one alg and keys we publish ourselves.
 * Other JWTs (client assertions, DPoP proofs, Cloudflare Access) still go through jose.
 */

/** Why a token does not verify: the signature (or its form), a claim, or its expiry (signature good). */
export type JwtProblem = "bad_signature" | "bad_claims" | "expired";

export interface VerifiedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export interface Es256Expectations {
  /** `typ` of the JOSE header, exactly. */
  typ: string;
  /** `iss`, exactly. */
  issuer: string;
  /** Claims that must be present. */
  required: readonly string[];
  /** Seconds since the epoch. */
  now: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();
const ES256 = { name: "ECDSA", hash: "SHA-256" } as const;

/** A JSON object from base64url, or null (bad base64url, bad UTF-8, bad JSON, or not an object). */
function jsonObject(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(decoder.decode(base64urlDecode(part)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Verifies a compact JWS signed with ES256 by the key `keyFor` gives for its `kid` (null: not a
 * key we publish), then the claims: `typ`, `iss`, the required claims, `exp` (exact: no
 * tolerance) and `nbf` when present. Only a token whose signature verified can be "expired", so
 * its claims (its `cid`) can be trusted by the caller. `keyFor` may throw (a store failure): that
 * is not a verdict on the token and propagates.
 */
export async function verifyEs256Jwt(
  token: string,
  keyFor: (kid: string) => Promise<CryptoKey | null>,
  expect: Es256Expectations,
): Promise<{ ok: true; jwt: VerifiedJwt } | { ok: false; problem: JwtProblem; payload?: Record<string, unknown> }> {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, problem: "bad_signature" };
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = jsonObject(encodedHeader);
  // One alg only, never "none"; no extension we do not implement (`crit`, RFC 7515 §4.1.11).
  if (header === null || header.alg !== "ES256" || header.crit !== undefined || typeof header.kid !== "string") {
    return { ok: false, problem: "bad_signature" };
  }
  const key = await keyFor(header.kid);
  if (key === null) return { ok: false, problem: "bad_signature" };
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = base64urlDecode(encodedSignature);
  } catch {
    return { ok: false, problem: "bad_signature" };
  }
  // ES256's JWS signature is r‖s, 32 bytes each (RFC 7518 §3.4): WebCrypto's form too.
  if (signature.byteLength !== 64) return { ok: false, problem: "bad_signature" };
  const signed = await crypto.subtle.verify(ES256, key, signature, encoder.encode(`${encodedHeader}.${encodedPayload}`));
  if (!signed) return { ok: false, problem: "bad_signature" };
  const payload = jsonObject(encodedPayload);
  if (payload === null) return { ok: false, problem: "bad_signature" };

  if (header.typ !== expect.typ || payload.iss !== expect.issuer) return { ok: false, problem: "bad_claims" };
  if (expect.required.some((claim) => payload[claim] === undefined)) return { ok: false, problem: "bad_claims" };
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) return { ok: false, problem: "bad_claims" };
  if (payload.nbf !== undefined && (typeof payload.nbf !== "number" || payload.nbf > expect.now)) return { ok: false, problem: "bad_claims" };
  if (payload.exp <= expect.now) return { ok: false, problem: "expired", payload };
  return { ok: true, jwt: { header, payload } };
}
