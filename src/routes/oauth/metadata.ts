import { CLIENT_ASSERTION_ALGORITHMS } from "../../lib/client-jwks";
import { DPOP_ALGORITHMS } from "../../services/dpop";
import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { JWKS_MAX_AGE_SECONDS, settings } from "../../config";
import { errorResponses } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import { jwks } from "../../services/signing-keys";

const metadata = createRoute({
  method: "get",
  path: "/.well-known/oauth-authorization-server",
  security: [],
  tags: ["OAuth 2.0"],
  summary: "Authorization server metadata (RFC 8414)",
  responses: {
    200: {
      description: "Metadata",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()).openapi("AuthorizationServerMetadata") } },
    },
  },
});

const JwksSchema = z
  .object({
    keys: z.array(
      z.object({ kty: z.string(), crv: z.string(), x: z.string(), y: z.string(), kid: z.string(), alg: z.string(), use: z.string() }),
    ),
  })
  .openapi("JWKS");

const jwksRoute = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  security: [],
  tags: ["OAuth 2.0"],
  summary: "Public signing keys (RFC 7517): the active key, the next one and recently retired ones",
  responses: {
    200: { description: "JWK Set", content: { "application/json": { schema: JwksSchema } } },
    ...errorResponses(503),
  },
});

/** Client authentication at the token, introspection and revocation endpoints. */
const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"];

export function registerMetadataRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(metadata, (c) => {
    const { issuer } = settings(c.env);
    c.header("Cache-Control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return c.json(
      {
        issuer,
        token_endpoint: `${issuer}/oauth/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        introspection_endpoint: `${issuer}/oauth/introspect`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        grant_types_supported: ["client_credentials"],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
        introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        introspection_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
        dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
        access_token_signing_alg_values_supported: ["ES256"],
        service_documentation: `${issuer}/docs`,
      },
      200,
    );
  });

  app.openapi(jwksRoute, async (c) => {
    c.header("Cache-Control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return c.json(await jwks(c.env), 200);
  });
}
