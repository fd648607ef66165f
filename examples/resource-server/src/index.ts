import { Hono } from "hono";
import { createMiddleware } from "hono/factory";

/** The part of Keymint's Verifier this Worker uses (src/rpc.ts in Keymint has the full type). */
type VerifyResult =
  | {
      valid: true;
      account_id: string;
      organization_id: string;
      credential_id: string;
      credential_type: "oauth_client" | "api_key";
      scopes: string[];
      aud: string | null;
      /** Custom claims: the token's, or for an API key what this API's token_claims give it (Keymint's contract, "Custom claims"). */
      claims: Record<string, string | number | boolean>;
    }
  | { valid: false; code: string };

interface Bindings {
  KEYMINT: {
    verify(token: string, options?: { audience?: string; dpop?: { proof: string; method: string; url: string } }): Promise<VerifyResult>;
  };
  /** This API's identifier in Keymint (POST /admin/v1/apis): only tokens for it, and API keys with a grant on it, pass. */
  AUDIENCE?: string;
}
type Caller = Extract<VerifyResult, { valid: true }>;

/** Every /api route needs a Keymint credential; `scope` demands one scope on top. */
const keymint = (scope?: string) =>
  createMiddleware<{ Bindings: Bindings; Variables: { caller: Caller } }>(async (c, next) => {
    // Bearer tokens and API keys, or DPoP-bound tokens (RFC 9449) with their proof for this request.
    const [, scheme, token] = /^(Bearer|DPoP) (\S+)$/i.exec(c.req.header("authorization") ?? "") ?? [];
    const proof = c.req.header("dpop");
    const dpop = scheme?.toLowerCase() === "dpop" && proof ? { proof, method: c.req.method, url: c.req.url } : undefined;
    const options = { ...(c.env.AUDIENCE ? { audience: c.env.AUDIENCE } : {}), ...(dpop ? { dpop } : {}) };
    const result = token ? await c.env.KEYMINT.verify(token, options) : { valid: false as const, code: "missing" };
    if (!result.valid) {
      c.header("WWW-Authenticate", result.code === "invalid_dpop_proof" ? 'DPoP error="invalid_token"' : 'Bearer error="invalid_token"');
      return c.json({ error: "invalid_token" }, result.code === "temporarily_unavailable" ? 503 : 401);
    }
    if (scope && !result.scopes.includes(scope)) return c.json({ error: "insufficient_scope" }, 403);
    c.set("caller", result);
    await next();
  });

const app = new Hono<{ Bindings: Bindings; Variables: { caller: Caller } }>();
app.get("/api/whoami", keymint(), (c) => c.json(c.get("caller")));
app.post("/api/events", keymint("events:write"), (c) => c.json({ accepted: true, account_id: c.get("caller").account_id }, 202));

export default app;
