import { ACCESS_TOKEN_LIFETIME_SECONDS, CLOCK_SKEW_SECONDS, settings } from "../config";
import { ipAllowed } from "../lib/cidr";
import { sha256Hex, timingSafeEqual } from "../lib/crypto";
import { verifyEs256Jwt } from "../lib/es256-jwt";
import { graceRunning } from "../storage/credentials";
import { DEFAULT_API_ID } from "../storage/apis";
import { DEFAULT_ORGANIZATION_ID } from "../storage/organizations";
import { type ApiEntryName, type LiveEntry, type LookupKey, isDeleted } from "../storage/edge-entries";
import { type Claims, customClaimsOf } from "../lib/claims";
import { type ClaimsSubject, claimsFor } from "./custom-claims";
import { type Grant, type Target, grantsShown, namesDefaultApi, targetFor, underCeiling } from "./audiences";
import { assertionIssuer, verifyAssertion } from "./client-assertions";
import { findCredential } from "./credential-lookup";
import type { Deferrer } from "./deferrer";
import { type ProofResult, verifyProof } from "./dpop";
import { isTokenRevoked } from "./revocation";
import { isWellFormed } from "./secrets";
import { verificationKey } from "./signing-keys";
import { type FailureReason, recordUsage } from "./usage";

/**
 * The one place that decides whether a client secret, an API key or an access token is good.
 * Every answer is data, never an exception, except StoreUnavailableError when D1 or KV cannot
 * be asked (the route then fails closed with 503).
 */

/** Who is calling, once a secret or token checks out. */
export interface Identity {
  account_id: string;
  /** The account's organization (tokens carry it as `org_id`). */
  organization_id: string;
  credential_id: string;
  credential_type: "oauth_client" | "api_key";
  scopes: string[];
  /** The audience checked (the token's `aud`, or the API an API key was checked for), if any. */
  aud: string | null;
  /** Grants, as test-auth shows them: an access token's one, or an API key's every one. */
  grants: Grant[];
  /** Custom claims (contract "Custom claims"): a token's own, or what the API's mapping gives an API key or a client. */
  claims: Claims;
}

/** What a client secret (or assertion) that checked out brings to the token endpoint. */
export type VerifiedClient = Identity & { client_id: string; target: Target; expires_at: string | null; dpop_bound: boolean; subject: ClaimsSubject | null };

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
  | "bad_claims"
  | "wrong_audience" // valid, but not for the API asked about (or no grant on it)
  | "invalid_dpop_proof" // a DPoP-bound token without a valid proof of its key (or a proof for a bearer token)
  | "use_dpop_nonce"; // a proof without the current server nonce

const invalid = (code: InvalidCode, failedCredential?: string) =>
  (failedCredential === undefined ? { valid: false, code } : { valid: false, code, failedCredential }) as {
    valid: false;
    code: InvalidCode;
    failedCredential?: string;
  };

/** Which secret a presented one proved: the current one, the previous one (during its grace), or neither. */
type SecretMatch = "current" | "previous" | false;

/** The secret matches the current digest, or the previous one while its grace period runs. */
function secretMatches(entry: LiveEntry, digest: string): SecretMatch {
  const current = entry.secret_hash !== "" && timingSafeEqual(entry.secret_hash, digest);
  const previous = entry.previous_secret_hash !== null && graceRunning(entry) && timingSafeEqual(entry.previous_secret_hash, digest);
  return current ? "current" : previous ? "previous" : false;
}

/** Where a secret is checked: the request's deferrer, whether a miss may read D1, and for which API. */
export interface SecretCheck {
  ctx: Deferrer | undefined;
  /**
   * The caller's IP is over its failure limit: a DPoP proof's id is stored only once the token
   * checks out. (A lookup still reads D1 on a KV miss: a correct credential is never refused.)
   */
  ipBlocked: boolean;
  /** The API (identifier) the credential is used for: `resource` at the token endpoint, `audience` at test-auth. */
  resource?: string;
  /** The caller's address (CF-Connecting-IP), for credentials with an allowlist; null: unknown. */
  ip: string | null;
  /**
   * The answer carries the credential's custom claims (and the hook's subject): the token
   * endpoint, and API keys (always). Client authentication for introspection and revocation
   * needs none, so it reads nothing more for them.
   */
  claims?: boolean;
}

/**
 * Shared by client secrets and API keys: the edge entry (one KV read, with the API's entry when
 * one is named), then type, secret, deletion, account, and the grant on that API. A known
 * credential's failure names it (rate limits and usage count it).
 */
async function verifySecret(
  env: Env,
  check: SecretCheck,
  key: LookupKey,
  type: LiveEntry["type"],
  proves: (entry: LiveEntry) => SecretMatch | Promise<SecretMatch>,
): Promise<Verified<Identity & { client_id: string | null; target: Target; expires_at: string | null; dpop_bound: boolean; subject: ClaimsSubject | null }>> {
  const apiName: ApiEntryName = namesDefaultApi(env, check.resource) ? "default" : { digest: await sha256Hex(check.resource!) };
  const { entry, api } = await findCredential(env, key, { ctx: check.ctx, api: apiName });
  if (!entry || entry.type !== type) return invalid("unknown");
  const failedCredential = key.by === "client_id" ? key.clientId : entry.id;
  const fail = (code: InvalidCode, reason: FailureReason) => {
    recordUsage(env, check.ctx, entry.id, { kind: "failure", reason });
    return invalid(code, failedCredential);
  };
  if (isDeleted(entry)) return fail("revoked", "deleted");
  const match = await proves(entry);
  if (!match) return fail("wrong_secret", "wrong_secret");
  // From outside its allowlist a credential fails exactly as a wrong secret does (same code,
  // same answer, counted against it), so the answer says nothing about where it may be used.
  if (entry.allowed_ips && !ipAllowed(check.ip, entry.allowed_ips)) return fail("wrong_secret", "ip_not_allowed");
  // Expired, or expiring within the second: a token it minted would be dead on arrival (`exp` has whole seconds).
  if (entry.expires_at && Date.parse(entry.expires_at) - Date.now() < 1000) return fail("expired", "expired");
  if (!entry.account_active || entry.organization_active === false) return fail("inactive", "inactive");
  recordUsage(env, check.ctx, entry.id, match === "previous" ? { kind: "used", previousSecretGraceEnds: entry.previous_secret_expires_at! } : { kind: "used" });
  const target = await targetFor(env, check.ctx, entry, check.resource, api);
  // The API's mapping (and the hook's subject) only when asked for, and for an API the credential may use.
  const { claims, subject } = target === null || !check.claims ? { claims: {}, subject: null } : await claimsFor(env, check.ctx, entry, api, target.aud);
  return {
    valid: true,
    identity: {
      account_id: entry.account_id,
      organization_id: entry.organization_id ?? DEFAULT_ORGANIZATION_ID,
      credential_id: entry.id,
      credential_type: entry.type,
      scopes: underCeiling(entry, DEFAULT_API_ID, entry.scopes)!,
      client_id: entry.client_id,
      aud: target?.aud ?? null,
      grants: grantsShown(env, entry),
      target,
      expires_at: entry.expires_at ?? null,
      dpop_bound: entry.dpop_bound === true,
      claims,
      subject,
    },
  };
}

/** Client authentication for the OAuth endpoints: client_id + client_secret. */
export async function verifyClient(
  env: Env,
  check: SecretCheck,
  clientId: string,
  clientSecret: string,
): Promise<Verified<VerifiedClient>> {
  if (!isWellFormed("client_id", clientId) || !isWellFormed("client_secret", clientSecret)) return invalid("malformed");
  const digest = await sha256Hex(clientSecret);
  return verifySecret(env, check, { by: "client_id", clientId }, "oauth_client", (entry) => secretMatches(entry, digest)) as Promise<Verified<VerifiedClient>>;
}

/**
 * Client authentication with a private_key_jwt assertion (src/services/client-assertions.ts):
 * the client is found by the assertion's `iss`, then the assertion must verify against its keys.
 */
export async function verifyClientAssertion(
  env: Env,
  check: SecretCheck,
  assertion: string,
): Promise<Verified<VerifiedClient>> {
  const clientId = assertionIssuer(assertion);
  if (clientId === null || !isWellFormed("client_id", clientId)) return invalid("malformed");
  return verifySecret(env, check, { by: "client_id", clientId }, "oauth_client", async (entry) => ((await verifyAssertion(env, entry, assertion)) ? "current" : false)) as Promise<Verified<VerifiedClient>>;
}

/** An API key presented as a bearer token. Looked up by its digest (a UNIQUE index). */
export async function verifyApiKey(env: Env, check: SecretCheck, apiKey: string): Promise<Verified<Identity>> {
  if (!isWellFormed("api_key", apiKey)) return invalid("malformed");
  const digest = await sha256Hex(apiKey);
  const result = await verifySecret(env, { ...check, claims: true }, { by: "digest", digest }, "api_key", (entry) => secretMatches(entry, digest));
  if (!result.valid) return result;
  // With an audience, the key passes only if it has a grant on that API.
  if (result.identity.target === null) {
    recordUsage(env, check.ctx, result.identity.credential_id, { kind: "failure", reason: "wrong_audience" });
    return invalid("wrong_audience", result.identity.credential_id);
  }
  recordUsage(env, check.ctx, result.identity.credential_id, { kind: "verification" });
  return result;
}

/** The claims of a verified access token, as introspection reports them. */
export interface TokenClaims {
  iss: string;
  sub: string;
  /** The account's organization. */
  org_id: string;
  aud: string;
  client_id: string;
  cid: string;
  iat: number;
  exp: number;
  jti: string;
  scope: string;
  /** RFC 9449 §6: the thumbprint of the key the token is bound to. */
  cnf?: { jkt: string };
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

/** Claims every access token carries (RFC 9068 §2.2 and ours). */
const REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti"] as const;

/**
 * Verifies an access token (src/lib/es256-jwt.ts): ES256 only, with a key we publish (the
 * header's own `jwk`, `jku` or `x5u` are never used), `typ` at+jwt, our `iss`, an `aud` (any
 * API's: tokens are ours; with `audience`, exactly that one), `exp` and `nbf` exactly, `iat` no
 * more than CLOCK_SKEW_SECONDS ahead, then the revocation markers (with the API's, when `aud` is
 * not the default API).
 */
export async function verifyAccessToken(env: Env, token: string, audience?: string): Promise<Verified<Identity & { token: TokenClaims }>> {
  if (!looksLikeJwt(token)) return invalid("malformed");
  const { issuer } = settings(env);
  const verified = await verifyEs256Jwt(token, (kid) => verificationKey(env, kid), {
    typ: "at+jwt",
    issuer,
    required: REQUIRED_CLAIMS,
    now: Math.floor(Date.now() / 1000),
  });
  if (!verified.ok) {
    // Expired means the signature checked out, so its `cid` is ours: the failure is that credential's.
    const cid = verified.payload?.cid;
    return invalid(verified.problem, verified.problem === "expired" && typeof cid === "string" ? cid : undefined);
  }
  const { payload } = verified.jwt;
  if (!isClaims(payload) || typeof payload.aud !== "string" || payload.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) return invalid("bad_claims");
  if (audience !== undefined && payload.aud !== audience) return invalid("wrong_audience", payload.cid);
  const claims: TokenClaims = {
    iss: issuer,
    sub: payload.sub,
    // Tokens minted before organizations (they live a minute) carry none: the default one.
    org_id: typeof payload.org_id === "string" ? payload.org_id : DEFAULT_ORGANIZATION_ID,
    aud: payload.aud,
    client_id: payload.client_id,
    cid: payload.cid,
    iat: payload.iat,
    exp: payload.exp,
    jti: payload.jti,
    scope: payload.scope,
    ...(isBinding(payload.cnf) ? { cnf: { jkt: payload.cnf.jkt } } : {}),
  };
  const apiDigest = namesDefaultApi(env, claims.aud) ? null : await sha256Hex(claims.aud);
  if (await isTokenRevoked(env.REVOCATIONS, { credentialId: claims.cid, accountId: claims.sub, organizationId: claims.org_id, jti: claims.jti, iat: claims.iat, apiDigest })) {
    return invalid("revoked", claims.cid);
  }
  const scopes = claims.scope ? claims.scope.split(" ") : [];
  return {
    valid: true,
    identity: {
      account_id: claims.sub,
      organization_id: claims.org_id,
      credential_id: claims.cid,
      credential_type: "oauth_client",
      scopes,
      aud: claims.aud,
      grants: [{ api: claims.aud, scopes }],
      claims: customClaimsOf(payload),
      token: claims,
    },
  };
}

function isBinding(cnf: unknown): cnf is { jkt: string } {
  return typeof cnf === "object" && cnf !== null && typeof (cnf as { jkt?: unknown }).jkt === "string";
}

/** How a bearer was presented: its scheme and, for DPoP, the proof and the request it is for. */
export interface Presentation {
  scheme: "Bearer" | "DPoP";
  proof?: string | undefined;
  method: string;
  url: string;
}

/**
 * A DPoP-bound token counts only with a proof of its key for this request (RFC 9449 §7): the
 * `DPoP` scheme, a fresh single-use proof with `ath`, and the key's thumbprint equal to `cnf.jkt`.
 * A bearer token is refused under the DPoP scheme, and a bound one under Bearer.
 */
async function checkBinding<T extends Identity & { token: TokenClaims }>(result: Verified<T>, presented: Presentation, proving: Promise<ProofResult> | null): Promise<Verified<T>> {
  if (!result.valid) return result;
  const bound = result.identity.token.cnf?.jkt;
  if (bound === undefined) return presented.scheme === "Bearer" ? result : invalid("invalid_dpop_proof", result.identity.credential_id);
  if (proving === null) return invalid("invalid_dpop_proof", result.identity.credential_id);
  const proof = await proving;
  if (!proof.ok) return invalid(proof.error, result.identity.credential_id);
  return proof.jkt === bound ? result : invalid("invalid_dpop_proof", result.identity.credential_id);
}

/**
 * Test Auth and the verify RPC: an API key or an access token, whichever it is. With
 * `check.resource` (the `audience` asked about), a token must be for that API and an API key
 * must have a grant on it.
 */
export async function verifyBearer(env: Env, check: SecretCheck, bearer: string, presented?: Presentation): Promise<Verified<Identity>> {
  if (bearer.startsWith("km_live_")) {
    // An API key is not a token and binds to no key: never under the DPoP scheme.
    if (presented?.scheme === "DPoP") return invalid("invalid_dpop_proof");
    return verifyApiKey(env, check, bearer);
  }
  // A proof needs no stored key, and its id is claimed only once it verifies: it is checked
  // alongside the token, so a DPoP request costs the slower of the two calls, not their sum. From
  // an IP over its failure limit the id is claimed only after the token checks out.
  const verifying = verifyAccessToken(env, bearer, check.resource);
  const tokenValid = check.ipBlocked ? verifying.then((verified) => verified.valid, () => false) : undefined;
  const proving =
    presented?.scheme === "DPoP" && presented.proof !== undefined
      ? verifyProof(env, presented.proof, { method: presented.method, url: presented.url, accessToken: bearer }, tokenValid)
      : null;
  proving?.catch(() => {}); // awaited only for a valid bound token
  const result = await verifying;
  // Without a presentation (the RPC called without `dpop`), a DPoP-bound token cannot count.
  const checked = presented === undefined ? (result.valid && result.identity.token.cnf ? invalid("invalid_dpop_proof", result.identity.credential_id) : result) : await checkBinding(result, presented, proving);
  return countTokenVerification(env, check.ctx, checked as typeof result);
}

/** Why a token check failed, as usage counts it; a code not here (a nonce challenge, say) is no failure of the credential. */
const TOKEN_FAILURE_REASONS: Partial<Record<InvalidCode, FailureReason>> = {
  revoked: "revoked",
  expired: "expired",
  inactive: "inactive",
  wrong_audience: "wrong_audience",
  invalid_dpop_proof: "invalid_dpop_proof",
};

/** Usage of a token check: a verification of its credential, or that credential's failure. */
export function countTokenVerification<T extends Identity>(env: Env, ctx: Deferrer | undefined, result: Verified<T>): Verified<T> {
  if (result.valid) recordUsage(env, ctx, result.identity.credential_id, { kind: "verification" });
  else if (result.failedCredential !== undefined) {
    const reason = TOKEN_FAILURE_REASONS[result.code];
    if (reason) recordUsage(env, ctx, result.failedCredential, { kind: "failure", reason });
  }
  return result;
}
