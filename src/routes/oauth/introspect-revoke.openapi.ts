import { createRoute, z } from "@hono/zod-openapi";
import { documentedError, documentedErrors } from "../../http/schemas";
import { CLIENT_SECRET_POST_FIELDS } from "./client-auth";
import { INTROSPECT_PATH, REVOKE_PATH } from "./introspect-revoke";

/** The introspection and revocation routes' OpenAPI declarations, apart from their handlers so that the hot path never loads zod. */

const tokenForm = {
  required: true,
  content: {
    "application/x-www-form-urlencoded": {
      schema: {
        type: "object" as const,
        required: ["token"],
        properties: {
          token: { type: "string" as const, description: "An access token" },
          token_type_hint: {
            type: "string" as const,
            description: "Any hint is accepted and ignored (RFC 7662 §2.1, RFC 7009 §2.1): only access tokens exist here.",
            example: "access_token",
          },
          ...CLIENT_SECRET_POST_FIELDS,
        },
      },
    },
  },
};

const IntrospectionResponse = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    sub: z.string().optional(),
    org_id: z.string().optional().openapi({ description: "The token's org_id claim: its account's organization" }),
    organization_id: z.string().optional().openapi({ description: "The same organization, under the name test-auth and the RPC use" }),
    aud: z.string().optional(),
    iss: z.string().optional(),
    exp: z.int().optional(),
    iat: z.int().optional(),
    jti: z.string().optional(),
    token_type: z.enum(["Bearer", "DPoP"]).optional(),
    cnf: z.object({ jkt: z.string() }).optional().openapi({ description: "A DPoP-bound token's key thumbprint (RFC 9449 §6.2)" }),
  })
  // The token's custom claims (its API's token_claims, the issuance hook's) as top-level members.
  .catchall(z.union([z.string(), z.number(), z.boolean()]))
  .openapi("IntrospectionResponse", { description: "RFC 7662's members, and the token's custom claims as top-level members" });

export const introspectRoute = createRoute({
  method: "post",
  path: INTROSPECT_PATH,
  tags: ["OAuth 2.0"],
  summary: "Token introspection (RFC 7662); the caller authenticates as any active client",
  security: [{ clientBasic: [] }, {}],
  request: { body: tokenForm },
  responses: {
    200: { description: "Whether the token is active, and its claims if it is", content: { "application/json": { schema: IntrospectionResponse } } },
    400: documentedError(400, "invalid_request"),
    401: documentedError(401, "invalid_client"),
    ...documentedErrors(413, 429, 503),
  },
});

export const revokeRoute = createRoute({
  method: "post",
  path: REVOKE_PATH,
  tags: ["OAuth 2.0"],
  summary: "Token revocation (RFC 7009); the caller authenticates as the token's client",
  security: [{ clientBasic: [] }, {}],
  request: { body: tokenForm },
  responses: {
    200: { description: "Revoked, or not a token this service would accept" },
    400: documentedError(400, "invalid_request or unauthorized_client (another client's token)"),
    401: documentedError(401, "invalid_client"),
    ...documentedErrors(413, 429, 503),
  },
});
