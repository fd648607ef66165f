import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { authorizationCredentials } from "../http/auth-header";
import { ApiError } from "../http/errors";
import { isAbsoluteUri } from "../http/identifiers";
import { errorResponse, errorResponses } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { clientIp, countFailure, ipKey, isBlocked } from "../services/rate-limits";
import { currentNonce, endpointUrl } from "../services/dpop";
import { verifyBearer } from "../services/verification";

const TestAuthResponse = z
  .object({
    ok: z.literal(true),
    account_id: z.string(),
    credential_id: z.string(),
    credential_type: z.enum(["oauth_client", "api_key"]),
    scopes: z.array(z.string()).openapi({ description: "An access token's scope; an API key's scopes on the default API" }),
    aud: z.string().nullable().openapi({ description: "The token's audience; for an API key, the API it was checked for (the default API when none was asked)" }),
    grants: z
      .array(z.object({ api: z.string().openapi({ example: "https://billing.example.com" }), scopes: z.array(z.string()) }).openapi("Grant"))
      .openapi({ description: "An access token: [{api: aud, scopes}]; an API key: its grant on every API it may use, the default API first" }),
  })
  .openapi("TestAuthResponse");

const TestAuthQuery = z.object({
  audience: z
    .string()
    .refine(isAbsoluteUri, "audience must be an absolute URI without a fragment")
    .optional()
    .openapi({
      param: { name: "audience", in: "query" },
      description: "Only pass a token for this API, or an API key with a grant on it",
      example: "https://billing.example.com",
    }),
});

const testAuth = createRoute({
  method: "get",
  path: "/v1/test-auth",
  tags: ["Test Auth"],
  summary: "Tells whether an API key or access token works, and whose it is",
  security: [{ bearer: [] }],
  request: { query: TestAuthQuery },
  responses: {
    200: { description: "The key works", content: { "application/json": { schema: TestAuthResponse } } },
    400: errorResponse(400, "invalid_request: audience is not an absolute URI"),
    401: errorResponse(401, "invalid_token, with `WWW-Authenticate: Bearer error=\"invalid_token\"`"),
    ...errorResponses(429, 503),
  },
});

/** RFC 6750 §3: the challenge every rejected bearer request carries. */
export const INVALID_TOKEN_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="keymint", error="invalid_token"' };

/** RFC 9449 §7.1: the challenge for a DPoP-bound token presented without a valid proof. */
const DPOP_CHALLENGE = { "WWW-Authenticate": 'DPoP realm="keymint", error="invalid_token", algs="ES256 PS256 RS256 EdDSA"' };

export function registerTestAuthRoute(app: OpenAPIHono<AppEnv>) {
  app.openapi(testAuth, async (c) => {
    const ip = clientIp(c.req.raw.headers);
    const headers = c.req.raw.headers;
    const dpop = authorizationCredentials(headers, "DPoP");
    const bearer = dpop ?? authorizationCredentials(headers, "Bearer");
    const { audience } = c.req.valid("query");
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
    const { account_id, credential_id, credential_type, scopes, aud, grants } = result.identity;
    c.set("credentialId", credential_id);
    c.header("Cache-Control", "no-store");
    return c.json({ ok: true as const, account_id, credential_id, credential_type, scopes, aud, grants }, 200);
  });
}
