import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { contextStorage } from "hono/context-storage";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { COPY_JS, CONSOLE_CSS } from "../../console/assets";
import { ErrorPage, LinkSignedInPage, LoginPage } from "../../console/login";
import { MAX_ID_LENGTH } from "../../config";
import { accountNotFound } from "../../services/accounts";
import { redeemConsoleLink } from "../../services/console-links";
import { credentialNotFound } from "../../services/credentials";
import { organizationOf } from "../../services/organizations";
import { endpointOrganization, webhookNotFound } from "../../services/webhooks";
import { ApiError, RETRY_AFTER_UNAVAILABLE_SECONDS } from "../../http/errors";
import { StoreUnavailableError } from "../../storage/guarded";
import type { AppEnv } from "../../http/types";
import { accessConfig } from "../../services/access";
import { authenticateAdmin, isAdminToken } from "../../services/admin-auth";
import { assertNotBlocked, clientIp, hit } from "../../services/rate-limits";
import { SESSION_COOKIE, createSession, endSession } from "../../services/sessions";
import { limitWrites } from "../admin/auth";
import { registerAccountRoutes } from "./accounts";
import { registerApiRoutes } from "./apis";
import { registerAuditRoutes } from "./audit";
import { registerOrganizationRoutes } from "./organizations";
import { registerCredentialConfirmationRoutes } from "./credential-confirmations";
import { registerCredentialListRoutes } from "./credential-list";
import { registerNewCredentialRoutes } from "./credential-new";
import { registerCredentialPageRoutes } from "./credential-page";
import { registerShownOnceRoutes } from "./credential-shown-once";
import { registerWebhookRoutes } from "./webhooks";
import { form } from "./forms";
import { sendWebhooksAfterChanges } from "../webhook-sender";

/**
 * The admin console at /console: server-rendered pages over the same services as /admin/v1.
 * Sign-in is Cloudflare Access when configured, else the admin token at /console/login (a
 * signed, short-lived session cookie). Every page is no-store, framed by nobody, and under a
 * CSP that allows only this Worker's own stylesheet and script. This file is the app: headers,
 * assets, sign-in and sign-out, the admin guard and the error pages; each screen registers its
 * routes from its own file.
 */

const CONSOLE_CSP = {
  defaultSrc: ["'none'"],
  styleSrc: ["'self'"],
  scriptSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  connectSrc: ["'self'"],
};

const isLocal = (c: Context) => ["localhost", "127.0.0.1", "[::1]"].includes(new URL(c.req.url).hostname);

/** Signed-in admins only: Access JWT when Access is configured, else the session cookie. */
function requireConsoleAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const usingAccess = accessConfig(c.env) !== null;
    const result = await authenticateAdmin(c.env, {
      bearer: null,
      accessJwt: c.req.header("cf-access-jwt-assertion") ?? null,
      session: getCookie(c, SESSION_COOKIE) ?? null,
    });
    if (!result.ok) {
      if (usingAccess) {
        return c.html(<ErrorPage title="Sign-in required" message="This console is protected by Cloudflare Access. Open it through your Access login." />, 401);
      }
      return c.redirect("/console/login", 303);
    }
    c.set("actor", result.actor);
    c.set("adminOrganization", result.organization);
    c.set("adminReadOnly", result.readOnly);
    c.set("consoleOrganizationName", result.organizationName ?? null);
    await next();
  };
}

/**
 * An organization's console (a console link's session) reaches its own organization alone: an
 * account, credential or webhook endpoint page of another answers the console's 404, exactly as an unknown id, and
 * APIs are read-only; a viewer's session sends no form at all (403). The lists narrow themselves
 * (`c.get("adminOrganization")` in each screen's routes).
 */
function scopeConsole(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const post = c.req.method === "POST";
    const [, kind, id, action] = c.req.path.slice("/console".length).split("/");
    // Pages that exist only to change something: their forms would be refused anyway.
    const changePage =
      (kind === "credentials" && (id === "new" || ["delete", "roll", "end-grace"].includes(action ?? ""))) ||
      (kind === "accounts" && action !== undefined) ||
      (kind === "webhooks" && ["delete", "roll"].includes(action ?? ""));
    if ((post || changePage) && c.get("adminReadOnly")) throw new ApiError("forbidden", "This console is read-only: you were given a viewer's link.");
    const own = c.get("adminOrganization");
    if (own === null) return next();
    if (kind === "apis" && (post || action !== undefined)) throw new ApiError("forbidden", "APIs are read-only in an organization's console.");
    // Organizations are the platform's: an organization's console has no page of them.
    if (kind === "organizations") throw new ApiError("not_found", "There is no console page at this address.");
    if ((kind === "accounts" || kind === "credentials") && id !== undefined && id !== "new" && id.length <= MAX_ID_LENGTH) {
      const organization = await organizationOf(c.env, kind === "accounts" ? "account" : "credential", id);
      if (organization !== own) throw kind === "accounts" ? accountNotFound() : credentialNotFound();
    }
    // A platform endpoint, or another organization's, is no endpoint at all here.
    if (kind === "webhooks" && id !== undefined && id !== "" && (id.length > MAX_ID_LENGTH || (await endpointOrganization(c.env, id)) !== own)) throw webhookNotFound();
    await next();
  };
}

/** The console's 404: a page in the console's frame, not the API's JSON (app.ts sends /console/* here). */
export function consoleNotFound(c: Context<AppEnv>): Response | Promise<Response> {
  return c.html(<ErrorPage actor={c.get("actor")} title="Page not found" message="There is no console page at this address." />, 404);
}

/**
 * The console app: HTML pages and form posts for a browser. They are not part of the API, so the
 * OpenAPI document leaves them out (src/routes/docs.ts).
 */
export function consoleApp(): Hono<AppEnv> {
  const ui = new Hono<AppEnv>();
  ui.use(
    "*",
    // Layout reads who is signed in (an organization's console, a viewer) from the request.
    contextStorage(),
    secureHeaders({ contentSecurityPolicy: CONSOLE_CSP, referrerPolicy: "no-referrer", crossOriginEmbedderPolicy: false }),
    async (c, next) => {
      await next();
      if (!c.req.path.startsWith("/console/assets/")) c.header("Cache-Control", "no-store");
    },
    csrf(),
  );

  // The console stylesheet
  ui.get("/assets/console.css", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
  });
  // The console script (copy.js): copy buttons, focus, Escape, Test now
  ui.get("/assets/copy.js", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.body(COPY_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });

  // ---- sign-in --------------------------------------------------------------------------
  // Sign-in page (admin token)
  ui.get("/login", (c) => {
    if (accessConfig(c.env)) return c.redirect("/console/credentials", 303);
    return c.html(<LoginPage signedOut={c.req.query("signed_out") === "1"} />);
  });
  // Sign in with the admin token
  ui.post("/login", async (c) => {
    if (accessConfig(c.env)) return c.redirect("/console/credentials", 303);
    const { admin_token: token = "" } = await form(c);
    if (!(await isAdminToken(c.env, token))) {
      // Failures count against the caller's IP, and only they: the right token is never refused
      // because others behind the same IP guessed wrong (contract, "Rate limits").
      const ip = clientIp(c.req.raw.headers);
      const key = ip === null ? null : (["CONSOLE_SIGN_IN_BY_IP", ip] as const);
      if (key) assertNotBlocked([key]);
      await hit(c.env, [key]);
      return c.html(<LoginPage error="That admin token is not right." />, 401);
    }
    const session = await createSession(c.env, "admin_token");
    setCookie(c, SESSION_COOKIE, session.cookie, {
      httpOnly: true,
      secure: !isLocal(c),
      sameSite: "Strict",
      path: "/console",
      maxAge: session.maxAge,
    });
    return c.redirect("/console/credentials", 303);
  });
  // Sign out
  ui.post("/logout", async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie) await endSession(c.env, cookie);
    deleteCookie(c, SESSION_COOKIE, { path: "/console", secure: !isLocal(c), httpOnly: true, sameSite: "Strict" });
    return c.redirect("/console/login?signed_out=1", 303);
  });

  // A console link (POST /admin/v1/organizations/{id}/console-links): single use, then a session
  // bound to its organization and role. The answer is a page that moves on by itself: a redirect
  // would carry over the cross-site navigation, and the SameSite=Strict cookie would not be sent.
  ui.get("/link/:token", async (c) => {
    const redeemed = await redeemConsoleLink(c.env, c.req.param("token"));
    if (!redeemed.ok) return c.html(<LoginPage error={redeemed.reason} />, 401);
    const session = await createSession(c.env, `link:${redeemed.email}`, { organization: redeemed.organization, role: redeemed.role });
    setCookie(c, SESSION_COOKIE, session.cookie, { httpOnly: true, secure: !isLocal(c), sameSite: "Strict", path: "/console", maxAge: session.maxAge });
    return c.html(<LinkSignedInPage organization={redeemed.organizationName} role={redeemed.role} />);
  });

  // ---- everything else needs an admin ---------------------------------------------------
  ui.use("*", requireConsoleAdmin(), scopeConsole(), limitWrites(), sendWebhooksAfterChanges());
  // Redirects to the Credentials screen
  ui.get("/", (c) => c.redirect("/console/credentials", 303));

  // In this order: /credentials/new before /credentials/:id.
  registerCredentialListRoutes(ui);
  registerNewCredentialRoutes(ui);
  registerCredentialPageRoutes(ui);
  registerShownOnceRoutes(ui);
  registerCredentialConfirmationRoutes(ui);
  registerApiRoutes(ui);
  registerAccountRoutes(ui);
  registerAuditRoutes(ui);
  registerOrganizationRoutes(ui);
  registerWebhookRoutes(ui);

  ui.onError((error, c) => {
    if (error instanceof HTTPException && error.status === 403) {
      // hono/csrf: a form posted from another site.
      return c.html(<ErrorPage title="Request refused" message="Forms must be sent from this console, not from another site." />, 403);
    }
    if (error instanceof ApiError && error.status < 500) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      const title = error.code === "not_found" ? "Not found" : error.code === "rate_limited" ? "Too many attempts" : "Request refused";
      return c.html(<ErrorPage actor={c.get("actor")} title={title} message={error.description} />, error.status);
    }
    if (error instanceof StoreUnavailableError) {
      c.header("Retry-After", String(RETRY_AFTER_UNAVAILABLE_SECONDS));
      // A change may have been partly made (a revocation marker is written before the database
      // commits, fail closed), so the page must not promise that nothing changed.
      const message =
        c.req.method === "GET"
          ? "Keymint could not reach its storage. Try again in a few seconds."
          : "Keymint could not reach its storage, so this change may be incomplete: a revocation can be in force already. Check the current state, then try the action once more to finish it.";
      return c.html(<ErrorPage actor={c.get("actor")} title="Try again shortly" message={message} />, 503);
    }
    throw error; // the app's handler answers 503 without detail
  });
  return ui;
}
