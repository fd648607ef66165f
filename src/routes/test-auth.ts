import type { Hono } from "hono";
import { authorizationCredentials } from "../http/auth-header";
import { ApiError, invalidField } from "../http/errors";
import { isAbsoluteUri } from "../http/identifiers";
import type { AppEnv } from "../http/types";
import { currentNonce, endpointUrl } from "../services/dpop";
import { clientIp, countFailure, ipKey, isBlocked } from "../services/rate-limits";
import { verifyBearer } from "../services/verification";

/** GET /v1/test-auth. Its OpenAPI declaration is in ./test-auth.openapi.ts. */
export const TEST_AUTH_PATH = "/v1/test-auth";

/** RFC 6750 §3: the challenge every rejected bearer request carries. */
export const INVALID_TOKEN_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="keymint", error="invalid_token"' };

/** RFC 9449 §7.1: the challenge for a DPoP-bound token presented without a valid proof. */
const DPOP_CHALLENGE = { "WWW-Authenticate": 'DPoP realm="keymint", error="invalid_token", algs="ES256 PS256 RS256 EdDSA"' };

/**
 * `?audience=`: the API a token must be for (or an API key must have a grant on). Read here, not
 * by zod (the hot path loads no zod); an audience that is not an absolute URI, or one given
 * twice, is a 400 as the document says.
 */
function audienceOf(url: string): string | undefined {
  const query = url.indexOf("?");
  if (query === -1) return undefined; // the usual request: no URL to parse
  const values = new URLSearchParams(url.slice(query + 1).split("#")[0]).getAll("audience");
  if (values.length === 0) return undefined;
  if (values.length > 1 || !isAbsoluteUri(values[0]!)) {
    throw invalidField("audience", "audience must be one absolute URI without a fragment.");
  }
  return values[0];
}

export function registerTestAuthRoute(app: Hono<AppEnv>) {
  app.get(TEST_AUTH_PATH, async (c) => {
    const ip = clientIp(c.req.raw.headers);
    const headers = c.req.raw.headers;
    const dpop = authorizationCredentials(headers, "DPoP");
    const bearer = dpop ?? authorizationCredentials(headers, "Bearer");
    const audience = audienceOf(c.req.url);
    const check = { ctx: c.executionCtx, ip, ipBlocked: isBlocked(ipKey(ip)), ...(audience === undefined ? {} : { resource: audience }) };
    // RFC 9449 §7: a DPoP-bound token comes with the DPoP scheme and a proof for this request.
    const presented = { scheme: dpop === null ? ("Bearer" as const) : ("DPoP" as const), proof: headers.get("dpop") ?? undefined, method: "GET", url: endpointUrl(c.env, "/v1/test-auth") };
    const result = bearer === null ? null : await verifyBearer(c.env, check, bearer, presented);
    if (!result?.valid) {
      // Against the failing credential if it is known, else the caller's IP; 429 once over.
      await countFailure(c.env, ip, result?.failedCredential);
      if (result?.code === "use_dpop_nonce") {
        throw new ApiError("invalid_token", "Use the DPoP-Nonce this response carries.", {
          "WWW-Authenticate": 'DPoP error="use_dpop_nonce", error_description="Use the DPoP-Nonce this response carries"',
          "DPoP-Nonce": await currentNonce(c.env),
        });
      }
      const challenge = result?.code === "invalid_dpop_proof" || dpop !== null ? DPOP_CHALLENGE : INVALID_TOKEN_CHALLENGE;
      throw new ApiError("invalid_token", "The API key or access token is missing, malformed, unknown or revoked.", challenge);
    }
    const { account_id, organization_id, credential_id, credential_type, scopes, aud, grants, claims } = result.identity;
    c.set("credentialId", credential_id);
    c.header("Cache-Control", "no-store");
    return c.json({ ok: true as const, account_id, organization_id, credential_id, credential_type, scopes, aud, grants, claims }, 200);
  });
}
