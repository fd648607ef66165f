import { createRoute, z } from "@hono/zod-openapi";
import { isAbsoluteUri } from "../http/identifiers";
import { documentedError, documentedErrors } from "../http/schemas";
import { TEST_AUTH_PATH } from "./test-auth";

/** GET /v1/test-auth's OpenAPI declaration, apart from its handler so that the hot path never loads zod. */

const TestAuthResponse = z
  .object({
    ok: z.literal(true),
    account_id: z.string(),
    organization_id: z.string().openapi({ description: "The account's organization" }),
    credential_id: z.string(),
    credential_type: z.enum(["oauth_client", "api_key"]),
    scopes: z.array(z.string()).openapi({ description: "An access token's scope; an API key's scopes on the default API" }),
    aud: z.string().nullable().openapi({ description: "The token's audience; for an API key, the API it was checked for (the default API when none was asked)" }),
    grants: z
      .array(z.object({ api: z.string().openapi({ example: "https://billing.example.com" }), scopes: z.array(z.string()) }).openapi("Grant"))
      .openapi({ description: "An access token: [{api: aud, scopes}]; an API key: its grant on every API it may use, the default API first" }),
    claims: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .openapi({
        description: "Custom claims: an access token's own; for an API key, what the token_claims of the API asked about (else the default API) give it",
        example: { tenant: "cus_8a7d2c", plan: "enterprise" },
      }),
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

export const testAuthRoute = createRoute({
  method: "get",
  path: TEST_AUTH_PATH,
  tags: ["Test Auth"],
  summary: "Tells whether an API key or access token works, and whose it is",
  security: [{ bearer: [] }],
  request: { query: TestAuthQuery },
  responses: {
    200: { description: "The key works", content: { "application/json": { schema: TestAuthResponse } } },
    400: documentedError(400, "invalid_request: audience is not an absolute URI"),
    401: documentedError(401, "invalid_token, with `WWW-Authenticate: Bearer error=\"invalid_token\"` (or `DPoP` for a DPoP-bound token)"),
    ...documentedErrors(429, 503),
  },
});
