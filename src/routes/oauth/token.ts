import type { Context, Hono } from "hono";
import { ApiError, invalidField } from "../../http/errors";
import { isAbsoluteUri } from "../../http/identifiers";
import type { AppEnv } from "../../http/types";
import { type ProofResult, currentNonce, endpointUrl, verifyProof } from "../../services/dpop";
import { prefetchSigningKeys } from "../../services/signing-keys";
import { issueAccessToken } from "../../services/tokens";
import type { Claims } from "../../lib/claims";
import { askClaimsHook } from "../../services/custom-claims";
import type { VerifiedClient } from "../../services/verification";
import { clientIp, ipKey, isBlocked } from "../../services/rate-limits";
import { recordUsage } from "../../services/usage";
import { readForm } from "../../http/form";
import { authenticateClient, clientAuthentication } from "./client-auth";

/** POST /oauth/token: the client credentials grant. Its OpenAPI declaration is in ./token.openapi.ts. */
export const TOKEN_PATH = "/oauth/token";

/** RFC 6749 §3.3: space-separated scope-tokens. */
export const SCOPE_LIST = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** The requested scopes, which must all be in the grant (none requested: all of it). */
function grantedScopes(requested: string | undefined, allowed: string[]): string[] {
  if (requested === undefined) return allowed;
  if (!SCOPE_LIST.test(requested)) throw new ApiError("invalid_scope", "scope must be space-separated scope tokens.");
  const scopes = [...new Set(requested.split(" "))];
  if (!scopes.every((scope) => allowed.includes(scope))) {
    throw new ApiError("invalid_scope", "The requested scope exceeds the credential's grant on this API.");
  }
  return scopes;
}

/**
 * Starts checking the request's `DPoP` proof (RFC 9449 §4.3), if it has one. Its signature needs
 * no stored key, and its single-use id is claimed only once that verifies, so it runs alongside
 * the client's authentication: a DPoP request costs the slower of the two calls, not their sum
 * (except from an IP over its failure limit, which must authenticate before anything is stored).
 */
function startProof(c: Context<AppEnv>, authenticating: Promise<unknown>): Promise<ProofResult> | null {
  const proof = c.req.header("dpop");
  if (proof === undefined) return null;
  // From an IP over its failure limit, the id is claimed only once the client has authenticated.
  const claimIf = isBlocked(ipKey(clientIp(c.req.raw.headers))) ? authenticating.then(() => true, () => false) : undefined;
  const checking = verifyProof(c.env, proof, { method: "POST", url: endpointUrl(c.env, "/oauth/token") }, claimIf);
  checking.catch(() => {}); // awaited after the client check; a failed client must not leave it unhandled
  return checking;
}

/**
 * The DPoP key the token will be bound to (RFC 9449 §5), from the proof's check; null without a
 * proof, unless the credential requires DPoP. A bad proof: 400 invalid_dpop_proof; one without
 * the current nonce (DPOP_NONCE_REQUIRED): 400 use_dpop_nonce with a `DPoP-Nonce`.
 */
async function dpopKey(c: Context<AppEnv>, checking: Promise<ProofResult> | null, required: boolean): Promise<string | null> {
  if (checking === null) {
    if (required) throw new ApiError("invalid_dpop_proof", "This client's tokens must be DPoP-bound: send a DPoP proof.");
    return null;
  }
  const result = await checking;
  if (!result.ok) {
    throw new ApiError(result.error, result.description, result.error === "use_dpop_nonce" ? { "DPoP-Nonce": await currentNonce(c.env) } : {});
  }
  return result.jkt;
}

/**
 * The token's custom claims: the API's mapping, and over them the issuance hook's, when one is
 * bound (contract "Custom claims"). A denial is 400 access_denied with the hook's reason; a hook
 * that fails under CLAIMS_HOOK_ON_ERROR=deny is 503 temporarily_unavailable.
 */
async function hookedClaims(c: Context<AppEnv>, client: VerifiedClient, scopes: string[]): Promise<Claims> {
  if (c.env.CLAIMS_HOOK === undefined || client.subject === null) return client.claims;
  const verdict = await askClaimsHook(c.env, { ...client.subject, scopes });
  if (verdict.ok) return { ...client.claims, ...verdict.claims };
  if ("deny" in verdict) throw new ApiError("access_denied", verdict.deny);
  throw new ApiError("temporarily_unavailable", "The token could not be issued now. Retry shortly.");
}

/** RFC 8707 §2: `resource` is an absolute URI without a fragment, else invalid_target. */
function resourceOf(form: Map<string, string>): string | undefined {
  const resource = form.get("resource");
  if (resource === undefined) return undefined;
  if (!isAbsoluteUri(resource)) throw new ApiError("invalid_target", "resource must be an absolute URI without a fragment.");
  return resource;
}

export function registerTokenRoute(app: Hono<AppEnv>) {
  app.post(TOKEN_PATH, async (c) => {
    const form = await readForm(c);
    const grantType = form.get("grant_type");
    if (!grantType) throw invalidField("grant_type", "grant_type is required.");
    if (grantType !== "client_credentials") {
      throw new ApiError("unsupported_grant_type", "Only the client_credentials grant is supported.");
    }
    const auth = clientAuthentication(c, form);
    const resource = resourceOf(form);
    prefetchSigningKeys(c.env); // a new isolate reads its keys alongside the credential
    // One bulk KV read: the credential's entry and, with a resource, the API's.
    const authenticating = authenticateClient(c, auth, { resource });
    const proof = startProof(c, authenticating);
    const client = await authenticating;
    if (client.target === null) throw new ApiError("invalid_target", "This client has no grant on that API, or no API has that identifier.");
    const scopes = grantedScopes(form.get("scope"), client.target.scopes);
    // The issuance hook (if bound) runs while the DPoP proof's check finishes.
    const [jkt, claims] = await Promise.all([dpopKey(c, proof, client.dpop_bound), hookedClaims(c, client, scopes)]);
    const issued = await issueAccessToken(c.env, { ...client, claims }, scopes, client.target.aud, client.expires_at, jkt);
    recordUsage(c.env, c.executionCtx, client.credential_id, { kind: "token_issued" });
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    return c.json(issued, 200);
  });
}

