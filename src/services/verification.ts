import { errors as joseErrors, jwtVerify } from "jose";
import { ACCESS_TOKEN_LIFETIME_SECONDS, CLOCK_SKEW_SECONDS, settings } from "../config";
import { sha256Hex, timingSafeEqual } from "../lib/crypto";
import { type LiveEntry, type LookupKey, isDeleted } from "../storage/edge-entries";
import { findCredential } from "./credential-lookup";
import { isTokenRevoked } from "./revocation";
import { isWellFormed } from "./secrets";
import { verificationKey } from "./signing-keys";
import { type FailureReason, recordUsage } from "./usage";

/**
 * The one place that decides whether a client secret, an API key or an access token is good.
 * Every answer is data, never an exception, except StoreUnavailableError when D1 or KV cannot
 * be asked (the route then fails closed with 503).
 */

/** Where deferred work goes: the request's ExecutionContext (ctx.waitUntil). */
export interface Deferrer {
  waitUntil(promise: Promise<unknown>): void;
}

/** Who is calling, once a secret or token checks out. */
export interface Identity {
  account_id: string;
  credential_id: string;
  credential_type: "oauth_client" | "api_key";
  scopes: string[];
}

export type Verified<T> =
  | { valid: true; identity: T }
  | {
      valid: false;
      code: InvalidCode;
      /**
       * Set when a known credential failed (wrong secret, deactivated, revoked): its rate-limit
       * key (the client_id at the token endpoint, else the credential id). Unset for unknown or
       * malformed values, which count against the caller's IP (contract "Rate limits").
       */
      failedCredential?: string;
    };

export type InvalidCode =
  | "malformed" // not a value this service could have issued (format, checksum, JWT shape)
  | "unknown" // well-formed, but no credential has it
  | "wrong_secret"
  | "inactive" // the account is deactivated
  | "revoked" // a KV marker revokes it
  | "expired"
  | "bad_signature"
  | "bad_claims";

const invalid = (code: InvalidCode, failedCredential?: string) =>
  (failedCredential === undefined ? { valid: false, code } : { valid: false, code, failedCredential }) as {
    valid: false;
    code: InvalidCode;
    failedCredential?: string;
  };

/** The secret matches the current digest, or the previous one while its grace period runs. */
function secretMatches(entry: LiveEntry, digest: string): boolean {
  const current = entry.secret_hash !== "" && timingSafeEqual(entry.secret_hash, digest);
  const previous =
    entry.previous_secret_hash !== null &&
    entry.previous_secret_expires_at !== null &&
    Date.parse(entry.previous_secret_expires_at) > Date.now() &&
    timingSafeEqual(entry.previous_secret_hash, digest);
  return current || previous;
}

/** Where a secret is checked: the request's deferrer and whether a miss may read D1. */
export interface SecretCheck {
  ctx: Deferrer | undefined;
  /** The caller's IP is over its failure limit: an unknown value gets no D1 read. */
  ipBlocked: boolean;
}

/**
 * Shared by client secrets and API keys: the edge entry (one KV read), then type, secret,
 * deletion, account. A known credential's failure names it (rate limits and usage count it).
 */
async function verifySecret(
  env: Env,
  check: SecretCheck,
  key: LookupKey,
  type: LiveEntry["type"],
  digest: string,
): Promise<Verified<Identity & { client_id: string | null }>> {
  const entry = await findCredential(env, key, { ctx: check.ctx, noMissRead: check.ipBlocked });
  if (!entry || entry.type !== type) return invalid("unknown");
  const failedCredential = key.by === "client_id" ? key.clientId : entry.id;
  const fail = (code: InvalidCode, reason: FailureReason) => {
    recordUsage(env, check.ctx, entry.id, { kind: "failure", reason });
    return invalid(code, failedCredential);
  };
  if (isDeleted(entry)) return fail("revoked", "deleted");
  if (!secretMatches(entry, digest)) return fail("wrong_secret", "wrong_secret");
  if (!entry.account_active) return fail("inactive", "inactive");
  recordUsage(env, check.ctx, entry.id, { kind: "used" });
  return {
    valid: true,
    identity: { account_id: entry.account_id, credential_id: entry.id, credential_type: entry.type, scopes: entry.scopes, client_id: entry.client_id },
  };
}

/** Client authentication for the OAuth endpoints: client_id + client_secret. */
export async function verifyClient(
  env: Env,
  check: SecretCheck,
  clientId: string,
  clientSecret: string,
): Promise<Verified<Identity & { client_id: string }>> {
  if (!isWellFormed("client_id", clientId) || !isWellFormed("client_secret", clientSecret)) return invalid("malformed");
  const digest = await sha256Hex(clientSecret);
  return verifySecret(env, check, { by: "client_id", clientId }, "oauth_client", digest) as Promise<Verified<Identity & { client_id: string }>>;
}

/** An API key presented as a bearer token. Looked up by its digest (a UNIQUE index). */
export async function verifyApiKey(env: Env, check: SecretCheck, apiKey: string): Promise<Verified<Identity>> {
  if (!isWellFormed("api_key", apiKey)) return invalid("malformed");
  const digest = await sha256Hex(apiKey);
  const result = await verifySecret(env, check, { by: "digest", digest }, "api_key", digest);
  if (result.valid) recordUsage(env, check.ctx, result.identity.credential_id, { kind: "verification" });
  return result;
}

/** The claims of a verified access token, as introspection reports them. */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  cid: string;
  iat: number;
  exp: number;
  jti: string;
  scope: string;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Longest token we try to parse: ours are well under 1 KiB. */
export const MAX_TOKEN_LENGTH = 4096;

export function looksLikeJwt(value: string): boolean {
  return value.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(value);
}

function isClaims(payload: Record<string, unknown>): payload is Record<string, unknown> & TokenClaims {
  return (
    typeof payload.sub === "string" &&
    typeof payload.client_id === "string" &&
    typeof payload.cid === "string" &&
    typeof payload.jti === "string" &&
    typeof payload.scope === "string" &&
    typeof payload.iat === "number" &&
    typeof payload.exp === "number" &&
    payload.exp - payload.iat <= ACCESS_TOKEN_LIFETIME_SECONDS
  );
}

/**
 * Verifies an access token: ES256 only, with a key we publish (the header's own `jwk`, `jku` or
 * `x5u` are never used), `typ` at+jwt, our `iss` and `aud`, `exp` and `nbf` exactly, `iat` no
 * more than CLOCK_SKEW_SECONDS ahead, then the revocation markers.
 */
export async function verifyAccessToken(env: Env, token: string): Promise<Verified<Identity & { claims: TokenClaims }>> {
  if (!looksLikeJwt(token)) return invalid("malformed");
  const { issuer, audience } = settings(env);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(
      token,
      async (header) => {
        const key = typeof header.kid === "string" ? await verificationKey(env, header.kid) : null;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: ["ES256"],
        typ: "at+jwt",
        issuer,
        audience,
        // `exp` is exact: a token lives exactly ACCESS_TOKEN_LIFETIME_SECONDS (the contract).
        // Skew only forgives an `iat` from a clock slightly ahead (checked below).
        clockTolerance: 0,
        requiredClaims: ["iss", "sub", "aud", "exp", "iat", "jti"],
      },
    ));
  } catch (error) {
    // Expired means the signature checked out, so its `cid` is ours: the failure is that credential's.
    if (error instanceof joseErrors.JWTExpired) return invalid("expired", typeof error.payload.cid === "string" ? error.payload.cid : undefined);
    if (error instanceof joseErrors.JOSEError) {
      return invalid(error instanceof joseErrors.JWTClaimValidationFailed ? "bad_claims" : "bad_signature");
    }
    throw error; // a store failure while loading keys: fail closed upstream
  }
  if (!isClaims(payload) || payload.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) return invalid("bad_claims");
  const claims: TokenClaims = {
    iss: issuer,
    sub: payload.sub,
    aud: audience,
    client_id: payload.client_id,
    cid: payload.cid,
    iat: payload.iat,
    exp: payload.exp,
    jti: payload.jti,
    scope: payload.scope,
  };
  if (await isTokenRevoked(env.REVOCATIONS, { credentialId: claims.cid, accountId: claims.sub, jti: claims.jti, iat: claims.iat })) {
    return invalid("revoked", claims.cid);
  }
  return {
    valid: true,
    identity: {
      account_id: claims.sub,
      credential_id: claims.cid,
      credential_type: "oauth_client",
      scopes: claims.scope ? claims.scope.split(" ") : [],
      claims,
    },
  };
}

/** Test Auth and the verify RPC: an API key or an access token, whichever it is. */
export async function verifyBearer(env: Env, check: SecretCheck, bearer: string): Promise<Verified<Identity>> {
  if (bearer.startsWith("km_live_")) return verifyApiKey(env, check, bearer);
  return countTokenVerification(env, check.ctx, await verifyAccessToken(env, bearer));
}

/** Usage of a token check: a verification of its credential, or that credential's failure. */
export function countTokenVerification<T extends Identity>(env: Env, ctx: Deferrer | undefined, result: Verified<T>): Verified<T> {
  if (result.valid) recordUsage(env, ctx, result.identity.credential_id, { kind: "verification" });
  else if (result.failedCredential !== undefined) {
    recordUsage(env, ctx, result.failedCredential, { kind: "failure", reason: result.code === "expired" ? "expired" : "revoked" });
  }
  return result;
}
