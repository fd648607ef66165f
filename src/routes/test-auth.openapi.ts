import { createRoute, z } from "@hono/zod-openapi";
import { errorResponse, errorResponses } from "../http/schemas";
import { TEST_AUTH_PATH } from "./test-auth";

/** GET /v1/test-auth's OpenAPI declaration, apart from its handler so that the hot path never loads zod. */

const TestAuthResponse = z
  .object({
    ok: z.literal(true),
    account_id: z.string(),
    credential_id: z.string(),
    credential_type: z.enum(["oauth_client", "api_key"]),
    scopes: z.array(z.string()),
  })
  .openapi("TestAuthResponse");

export const testAuthRoute = createRoute({
  method: "get",
  path: TEST_AUTH_PATH,
  tags: ["Test Auth"],
  summary: "Tells whether an API key or access token works, and whose it is",
  security: [{ bearer: [] }],
  responses: {
    200: { description: "The key works", content: { "application/json": { schema: TestAuthResponse } } },
    401: errorResponse(401, "invalid_token, with `WWW-Authenticate: Bearer error=\"invalid_token\"`"),
    ...errorResponses(429, 503),
  },
});
