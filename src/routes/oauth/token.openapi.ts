import { createRoute, z } from "@hono/zod-openapi";
import { MAX_IDENTIFIER_LENGTH } from "../../config";
import { documentedError, documentedErrors } from "../../http/schemas";
import { CLIENT_SECRET_POST_FIELDS } from "./client-auth";
import { SCOPE_LIST, TOKEN_PATH } from "./token";

/**
 * POST /oauth/token's OpenAPI declaration, apart from its handler (./token.ts) so that the hot
 * path never loads zod. The complete app (src/app.ts) documents the route with it.
 */

const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.enum(["Bearer", "DPoP"]).openapi({ description: "DPoP when the request carried a DPoP proof (RFC 9449)" }),
    expires_in: z.int().min(1).max(60).openapi({ description: "exp − iat: 60, or less when the credential expires sooner", example: 60 }),
    scope: z.string().openapi({ example: "events:write" }),
  })
  .openapi("TokenResponse");

export const tokenRoute = createRoute({
  method: "post",
  path: TOKEN_PATH,
  tags: ["OAuth 2.0"],
  summary: "Client credentials grant (RFC 6749 §4.4): a 60-second ES256 access token",
  security: [{ clientBasic: [] }, {}],
  request: {
    body: {
      required: true,
      content: {
        "application/x-www-form-urlencoded": {
          schema: {
            type: "object",
            required: ["grant_type"],
            properties: {
              grant_type: { type: "string", enum: ["client_credentials"] },
              scope: { type: "string", pattern: SCOPE_LIST.source, description: "Space-separated subset of the credential's grant on the API" },
              resource: {
                type: "string",
                maxLength: MAX_IDENTIFIER_LENGTH,
                description: "RFC 8707: the identifier of the API the token is for (at most one); none: the default API",
              },
              ...CLIENT_SECRET_POST_FIELDS,
            },
          },
        },
      },
    },
  },
  responses: {
    200: { description: "An access token", content: { "application/json": { schema: TokenResponse } } },
    400: documentedError(400, "invalid_request, unsupported_grant_type, invalid_scope, invalid_target, invalid_dpop_proof or use_dpop_nonce"),
    401: documentedError(401, "invalid_client"),
    ...documentedErrors(413, 429, 503),
  },
});
