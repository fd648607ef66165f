import type { Hono } from "hono";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { prefetchSigningKeys } from "../../services/signing-keys";
import { issueAccessToken } from "../../services/tokens";
import { recordUsage } from "../../services/usage";
import { readForm } from "../../http/form";
import { authenticateClient, clientAuthentication } from "./client-auth";

/** POST /oauth/token: the client credentials grant. Its OpenAPI declaration is in ./token.openapi.ts. */
export const TOKEN_PATH = "/oauth/token";

/** RFC 6749 §3.3: space-separated scope-tokens. */
export const SCOPE_LIST = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** The requested scopes, which must all be the credential's (none requested: all of them). */
function grantedScopes(requested: string | undefined, allowed: string[]): string[] {
  if (requested === undefined) return allowed;
  if (!SCOPE_LIST.test(requested)) throw new ApiError("invalid_scope", "scope must be space-separated scope tokens.");
  const scopes = [...new Set(requested.split(" "))];
  if (!scopes.every((scope) => allowed.includes(scope))) {
    throw new ApiError("invalid_scope", "The requested scope exceeds the credential's scopes.");
  }
  return scopes;
}

export function registerTokenRoute(app: Hono<AppEnv>) {
  app.post(TOKEN_PATH, async (c) => {
    const form = await readForm(c);
    const grantType = form.get("grant_type");
    if (!grantType) throw new ApiError("invalid_request", "grant_type is required.");
    if (grantType !== "client_credentials") {
      throw new ApiError("unsupported_grant_type", "Only the client_credentials grant is supported.");
    }
    const auth = clientAuthentication(c, form);
    prefetchSigningKeys(c.env); // a new isolate reads its keys alongside the credential
    const client = await authenticateClient(c, auth);
    const issued = await issueAccessToken(c.env, client, grantedScopes(form.get("scope"), client.scopes));
    recordUsage(c.env, c.executionCtx, client.credential_id, { kind: "token_issued" });
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    return c.json({ ...issued, expires_in: 60 as const }, 200);
  });
}

