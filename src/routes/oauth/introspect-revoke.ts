import { ApiError, invalidField } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { revocation } from "../../services/revocation";
import { countTokenVerification, verifyAccessToken } from "../../services/verification";
import { readForm } from "../../http/form";
import { authenticateClient, clientAuthentication } from "./client-auth";
import type { Context, Hono } from "hono";

/** RFC 7662 introspection and RFC 7009 revocation. Their OpenAPI declarations are in ./introspect-revoke.openapi.ts. */
export const INTROSPECT_PATH = "/oauth/introspect";
export const REVOKE_PATH = "/oauth/revoke";

/** Reads the form, authenticates the calling client and returns it with the `token` parameter. */
async function authenticatedTokenRequest(c: Context<AppEnv>) {
  const form = await readForm(c);
  const auth = clientAuthentication(c, form);
  const token = form.get("token");
  const client = await authenticateClient(c, auth);
  if (!token) throw invalidField("token", "token is required.");
  return { client, token };
}

export function registerIntrospectionRoutes(app: Hono<AppEnv>) {
  app.post(INTROSPECT_PATH, async (c) => {
    const { token } = await authenticatedTokenRequest(c);
    const result = countTokenVerification(c.env, c.executionCtx, await verifyAccessToken(c.env, token));
    c.header("Cache-Control", "no-store");
    // An inactive token is an answer, not a failed authentication: the caller authenticated.
    // (Counting it would let anyone lock a resource server out by sending it junk tokens.)
    if (!result.valid) return c.json({ active: false }, 200);
    const { token: claims } = result.identity;
    return c.json(
      {
        // Custom claims as top-level members (contract "Custom claims"); RFC 7662's own come after them.
        ...result.identity.claims,
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        sub: claims.sub,
        org_id: claims.org_id,
        organization_id: claims.org_id,
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

  app.post(REVOKE_PATH, async (c) => {
    const { client, token } = await authenticatedTokenRequest(c);
    const result = await verifyAccessToken(c.env, token);
    if (result.valid) {
      if (result.identity.token.client_id !== client.client_id) {
        throw new ApiError("unauthorized_client", "This token was issued to another client.");
      }
      await revocation.tokenRevoked(c.env.REVOCATIONS, result.identity.token.jti);
    }
    c.header("Cache-Control", "no-store");
    return c.body(null, 200);
  });
}
