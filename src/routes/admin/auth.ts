import type { Context, MiddlewareHandler } from "hono";
import { authorizationCredentials } from "../../http/auth-header";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { MAX_ID_LENGTH } from "../../config";
import { accountNotFound } from "../../services/accounts";
import { endpointOrganization, webhookNotFound } from "../../services/webhooks";
import { authenticateAdmin } from "../../services/admin-auth";
import { credentialNotFound } from "../../services/credentials";
import { organizationNotFound, organizationOf } from "../../services/organizations";
import { assertNotBlocked, hit } from "../../services/rate-limits";
import type { AuditContext } from "../../storage/audit-events";

const isRead = (method: string) => method === "GET" || method === "HEAD";

/**
 * Admin routes: any of the contract's three admin modes, else 401 (or 403 for a non-admin token).
 * Scope admin:read reads only: any write is 403.
 */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const result = await authenticateAdmin(c.env, {
      bearer: authorizationCredentials(c.req.raw.headers, "Bearer"),
      accessJwt: c.req.header("cf-access-jwt-assertion") ?? null,
    });
    if (!result.ok) {
      throw new ApiError(result.code, result.reason, result.code === "unauthorized" ? { "WWW-Authenticate": 'Bearer realm="keymint-admin"' } : {});
    }
    if (result.readOnly && !isRead(c.req.method)) throw new ApiError("forbidden", "This access token has the admin:read scope: it may only read.");
    c.set("actor", result.actor);
    c.set("adminOrganization", result.organization);
    await next();
  };
}

/**
 * What an organization admin may reach, before any route runs (platform admins pass untouched):
 * an account, credential or organization of another organization answers 404 exactly as an
 * unknown id does (the same error, after the same one read); what only platform admins may
 * change (organizations, APIs) answers 403. Lists and creates narrow themselves to the
 * organization (`listedOrganization`, and the account and credential create routes).
 */
export function scopeToOrganization(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const own = c.get("adminOrganization");
    if (own === null) return next();
    const [, kind, id] = c.req.path.slice("/admin/v1".length).split("/");
    if (kind === "apis" && !isRead(c.req.method)) throw new ApiError("forbidden", "APIs are read-only to an organization's admins.");
    if (kind === "organizations") {
      if (id !== undefined && id !== own) throw organizationNotFound();
      if (!isRead(c.req.method)) throw new ApiError("forbidden", "Only platform admins change organizations.");
    }
    // Longer than any id: the route's validation answers it (400), as for anyone.
    if (id !== undefined && id.length <= MAX_ID_LENGTH && (kind === "accounts" || kind === "credentials")) {
      const organization = await organizationOf(c.env, kind === "accounts" ? "account" : "credential", id);
      if (organization !== own) throw kind === "accounts" ? accountNotFound() : credentialNotFound();
    }
    // A platform endpoint (organization null) is as unknown to an organization's admin as another's.
    if (id !== undefined && id.length <= MAX_ID_LENGTH && kind === "webhooks" && (await endpointOrganization(c.env, id)) !== own) throw webhookNotFound();
    await next();
  };
}

/**
 * The organization a list may show: the one asked for (`?organization_id=`), narrowed to an
 * organization admin's own; "none" when an organization admin asked for another (an empty list,
 * as for an unknown organization).
 */
export function listedOrganization(c: Context<AppEnv>, requested: string | undefined): string | null | "none" {
  const own = c.get("adminOrganization");
  if (own === null) return requested ?? null;
  return requested === undefined || requested === own ? own : "none";
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
