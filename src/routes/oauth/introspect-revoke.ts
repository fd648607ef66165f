import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../http/errors";
import { errorResponse, errorResponses } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import { revocation } from "../../services/revocation";
import { countTokenVerification, verifyAccessToken } from "../../services/verification";
import { readForm } from "../../http/form";
import { CLIENT_SECRET_POST_FIELDS, authenticateClient, clientAuthentication } from "./client-auth";
import type { Context } from "hono";

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
    aud: z.string().optional(),
    iss: z.string().optional(),
    exp: z.int().optional(),
    iat: z.int().optional(),
    jti: z.string().optional(),
    token_type: z.enum(["Bearer", "DPoP"]).optional(),
    cnf: z.object({ jkt: z.string() }).optional().openapi({ description: "A DPoP-bound token's key thumbprint (RFC 9449 §6.2)" }),
  })
  .openapi("IntrospectionResponse");

const introspect = createRoute({
  method: "post",
  path: "/oauth/introspect",
  tags: ["OAuth 2.0"],
  summary: "Token introspection (RFC 7662); the caller authenticates as any active client",
  security: [{ clientBasic: [] }, {}],
  request: { body: tokenForm },
  responses: {
    200: { description: "Whether the token is active, and its claims if it is", content: { "application/json": { schema: IntrospectionResponse } } },
    400: errorResponse(400, "invalid_request"),
    401: errorResponse(401, "invalid_client"),
    ...errorResponses(413, 429, 503),
  },
});

const revoke = createRoute({
  method: "post",
  path: "/oauth/revoke",
  tags: ["OAuth 2.0"],
  summary: "Token revocation (RFC 7009); the caller authenticates as the token's client",
  security: [{ clientBasic: [] }, {}],
  request: { body: tokenForm },
  responses: {
    200: { description: "Revoked, or not a token this service would accept" },
    400: errorResponse(400, "invalid_request or unauthorized_client (another client's token)"),
    401: errorResponse(401, "invalid_client"),
    ...errorResponses(413, 429, 503),
  },
});

/** Reads the form, authenticates the calling client and returns it with the `token` parameter. */
async function authenticatedTokenRequest(c: Context<AppEnv>) {
  const form = await readForm(c);
  const auth = clientAuthentication(c, form);
  const token = form.get("token");
  const client = await authenticateClient(c, auth);
  if (!token) throw new ApiError("invalid_request", "token is required.");
  return { client, token };
}

export function registerIntrospectionRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(introspect, async (c) => {
    const { token } = await authenticatedTokenRequest(c);
    const result = countTokenVerification(c.env, c.executionCtx, await verifyAccessToken(c.env, token));
    c.header("Cache-Control", "no-store");
    // An inactive token is an answer, not a failed authentication: the caller authenticated.
    // (Counting it would let anyone lock a resource server out by sending it junk tokens.)
    if (!result.valid) return c.json({ active: false }, 200);
    const { claims } = result.identity;
    return c.json(
      {
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        token_type: claims.cnf ? ("DPoP" as const) : ("Bearer" as const),
        ...(claims.cnf ? { cnf: claims.cnf } : {}),
      },
      200,
    );
  });

  app.openapi(revoke, async (c) => {
    const { client, token } = await authenticatedTokenRequest(c);
    const result = await verifyAccessToken(c.env, token);
    if (result.valid) {
      if (result.identity.claims.client_id !== client.client_id) {
        throw new ApiError("unauthorized_client", "This token was issued to another client.");
      }
      await revocation.tokenRevoked(c.env.REVOCATIONS, result.identity.claims.jti);
    }
    c.header("Cache-Control", "no-store");
    return c.body(null, 200);
  });
}
