import type { Context, MiddlewareHandler } from "hono";
import { authorizationCredentials } from "../../http/auth-header";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { authenticateAdmin } from "../../services/admin-auth";
import { assertNotBlocked, hit } from "../../services/rate-limits";
import type { AuditContext } from "../../storage/audit-events";

/** Admin routes: any of the contract's three admin modes, else 401 (or 403 for a non-admin token). */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const result = await authenticateAdmin(c.env, {
      bearer: authorizationCredentials(c.req.raw.headers, "Bearer"),
      accessJwt: c.req.header("cf-access-jwt-assertion") ?? null,
    });
    if (!result.ok) {
      throw new ApiError(result.code, result.reason, result.code === "unauthorized" ? { "WWW-Authenticate": 'Bearer realm="keymint-admin"' } : {});
    }
    c.set("actor", result.actor);
    await next();
  };
}

export function auditContext(c: Context<AppEnv>): AuditContext {
  return { actor: c.get("actor"), channel: "api", ip: c.req.header("cf-connecting-ip") ?? null };
}

/**
 * Management writes count against the actor's budget (ADMIN_WRITES_BY_ACTOR); reads are free.
 * The bootstrap ADMIN_TOKEN is exempt: it is the break-glass credential, and in an incident an
 * operator must be able to delete credentials as fast as they can send requests. Delegated
 * admins (admin-scoped clients, Cloudflare Access users) are limited.
 */
export function limitWrites(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.get("actor") !== "admin_token") {
      const key = ["ADMIN_WRITES_BY_ACTOR", c.get("actor")] as const;
      assertNotBlocked([key]);
      await hit(c.env, [key]);
    }
    await next();
  };
}
