import type { Hono } from "hono";
import { JWKS_MAX_AGE_SECONDS, settings } from "../../config";
import type { AppEnv } from "../../http/types";
import { jwks } from "../../services/signing-keys";
import { CLIENT_ASSERTION_ALGORITHMS } from "../../lib/client-jwks";
import { DPOP_ALGORITHMS } from "../../services/dpop";

/** RFC 8414 metadata and the JWKS. Their OpenAPI declarations are in ./metadata.openapi.ts. */
export const METADATA_PATH = "/.well-known/oauth-authorization-server";
export const JWKS_PATH = "/.well-known/jwks.json";

/** Client authentication at the token, introspection and revocation endpoints. */
const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"];

export function registerMetadataRoutes(app: Hono<AppEnv>) {
  app.get(METADATA_PATH, (c) => {
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

  app.get(JWKS_PATH, async (c) => {
    c.header("Cache-Control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return c.json(await jwks(c.env), 200);
  });
}
