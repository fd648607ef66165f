import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { authorizationCredentials } from "../http/auth-header";
import { ApiError } from "../http/errors";
import { errorResponse, errorResponses } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { clientIp, countFailure, ipKey, isBlocked } from "../services/rate-limits";
import { verifyBearer } from "../services/verification";

const TestAuthResponse = z
  .object({
    ok: z.literal(true),
    account_id: z.string(),
    credential_id: z.string(),
    credential_type: z.enum(["oauth_client", "api_key"]),
    scopes: z.array(z.string()),
  })
  .openapi("TestAuthResponse");

const testAuth = createRoute({
  method: "get",
  path: "/v1/test-auth",
  tags: ["Test Auth"],
  summary: "Tells whether an API key or access token works, and whose it is",
  security: [{ bearer: [] }],
  responses: {
    200: { description: "The key works", content: { "application/json": { schema: TestAuthResponse } } },
    401: errorResponse(401, "invalid_token, with `WWW-Authenticate: Bearer error=\"invalid_token\"`"),
    ...errorResponses(429, 503),
  },
});

/** RFC 6750 §3: the challenge every rejected bearer request carries. */
export const INVALID_TOKEN_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="keymint", error="invalid_token"' };

export function registerTestAuthRoute(app: OpenAPIHono<AppEnv>) {
  app.openapi(testAuth, async (c) => {
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
