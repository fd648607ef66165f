import { createRoute, z } from "@hono/zod-openapi";
import { documentedErrors } from "../../http/schemas";
import { JWKS_PATH, METADATA_PATH } from "./metadata";

/** The metadata and JWKS routes' OpenAPI declarations, apart from their handlers so that the hot path never loads zod. */

export const metadataRoute = createRoute({
  method: "get",
  path: METADATA_PATH,
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

export const jwksRoute = createRoute({
  method: "get",
  path: JWKS_PATH,
  security: [],
  tags: ["OAuth 2.0"],
  summary: "Public signing keys (RFC 7517): the active key, the next one and recently retired ones",
  responses: {
    200: { description: "JWK Set", content: { "application/json": { schema: JwksSchema } } },
    ...documentedErrors(503),
  },
});
