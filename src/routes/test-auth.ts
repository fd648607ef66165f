import type { Hono } from "hono";
import { authorizationCredentials } from "../http/auth-header";
import { ApiError } from "../http/errors";
import type { AppEnv } from "../http/types";
import { clientIp, countFailure, ipKey, isBlocked } from "../services/rate-limits";
import { verifyBearer } from "../services/verification";

/** GET /v1/test-auth. Its OpenAPI declaration is in ./test-auth.openapi.ts. */
export const TEST_AUTH_PATH = "/v1/test-auth";

/** RFC 6750 §3: the challenge every rejected bearer request carries. */
export const INVALID_TOKEN_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="keymint", error="invalid_token"' };

export function registerTestAuthRoute(app: Hono<AppEnv>) {
  app.get(TEST_AUTH_PATH, async (c) => {
    const ip = clientIp(c.req.raw.headers);
    const bearer = authorizationCredentials(c.req.raw.headers, "Bearer");
    const check = { ctx: c.executionCtx, ipBlocked: isBlocked(ipKey(ip)) };
    const result = bearer === null ? null : await verifyBearer(c.env, check, bearer);
    if (!result?.valid) {
      // Against the failing credential if it is known, else the caller's IP; 429 once over.
      await countFailure(c.env, ip, result?.failedCredential);
      throw new ApiError("invalid_token", "The API key or access token is missing, malformed, unknown or revoked.", INVALID_TOKEN_CHALLENGE);
    }
    const { account_id, credential_id, credential_type, scopes } = result.identity;
    c.set("credentialId", credential_id);
    c.header("Cache-Control", "no-store");
    return c.json({ ok: true as const, account_id, credential_id, credential_type, scopes }, 200);
  });
}
