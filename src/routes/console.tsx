import { Hono, type Context, type Handler, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import { AccountsPage, type AccountAction, ConfirmAccountPage } from "../console/accounts";
import { COPY_JS, CONSOLE_CSS } from "../console/assets";
import { AuditPage } from "../console/audit";
import {
  AlreadyShownPage,
  CredentialsPage,
  DeleteCredentialPage,
  NewCredentialPage,
  ROLL_GRACE_CHOICES,
  RollCredentialPage,
  SecretShownOncePage,
} from "../console/credentials";
import { ErrorPage, LoginPage } from "../console/login";
import { ApiError, RETRY_AFTER_UNAVAILABLE_SECONDS, StoreUnavailableError } from "../http/errors";
import { readForm } from "../http/form";
import { NameSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import * as accounts from "../services/accounts";
import { accessConfig } from "../services/access";
import { authenticateAdmin, isAdminToken } from "../services/admin-auth";
import { listAuditEvents } from "../services/audit";
import * as credentials from "../services/credentials";
import { randomBase62 } from "../services/secrets";
import { SESSION_COOKIE, createSession, endSession } from "../services/sessions";
import { decodeCursor } from "../storage/pagination";
import { limitWrites } from "./admin/auth";
import type { AuditContext } from "../storage/audit-events";
import { assertNotBlocked, clientIp, hit } from "../services/rate-limits";

/**
 * The admin console at /console: server-rendered pages over the same services as /admin/v1.
 * Sign-in is Cloudflare Access when configured, else the admin token at /console/login (a
 * signed, short-lived session cookie). Every page is no-store, framed by nobody, and under a
 * CSP that allows only this Worker's own stylesheet and script.
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
      session: usingAccess ? null : (getCookie(c, SESSION_COOKIE) ?? null),
    });
    if (!result.ok) {
      if (usingAccess) {
        return c.html(<ErrorPage title="Sign-in required" message="This console is protected by Cloudflare Access. Open it through your Access login." />, 401);
      }
      return c.redirect("/console/login", 303);
    }
    c.set("actor", result.actor);
    await next();
  };
}

const CredentialForm = z.object({
  nonce: z.string().regex(/^[0-9A-Za-z]{32}$/),
  name: NameSchema,
  type: z.enum(["oauth_client", "api_key"]),
  account_id: z.string().max(64),
});

/** The first problem of a failed form, in words for a person. */
function formProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  const field = String(issue?.path[0] ?? "form");
  const labels: Record<string, string> = { name: "Name", type: "Type", account_id: "Account", nonce: "Form" };
  return `${labels[field] ?? "Form"}: ${issue?.message ?? "invalid"}.`;
}

/** A console form, read as strictly as the OAuth forms: valid UTF-8, no field twice. */
async function form(c: Context<AppEnv>): Promise<Record<string, string>> {
  return Object.fromEntries(await readForm(c));
}

/**
 * The accounts the new-credential form offers: the newest 100, plus the preselected one when it
 * is older (so "Create" from an older account's credentials list can still choose it).
 */
async function accountChoices(c: Context<AppEnv>, selected: string | undefined): Promise<accounts.Account[]> {
  const list = (await accounts.listAccounts(c.env, 100, null)).data;
  if (!selected || list.some((account) => account.id === selected)) return list;
  const extra = await accounts.findAccount(c.env, selected);
  return extra ? [...list, extra] : list;
}

/** Who is acting in the console, for the audit log: channel "console". */
function consoleAudit(c: Context<AppEnv>): AuditContext {
  return { actor: c.get("actor"), channel: "console", ip: c.req.header("cf-connecting-ip") ?? null };
}

const cursorOf = (c: Context) => decodeCursor(c.req.query("cursor") ?? "") ?? null;
const page = (c: Context) => ({ limit: 50, after: cursorOf(c) });

/** A console route as the OpenAPI document lists it (HTML pages and form posts). */
export interface ConsoleRoute {
  method: "get" | "post";
  path: string;
  summary: string;
}

/**
 * The console app and the list of its routes. Routes are added only through `route`, which
 * records each one, so the OpenAPI document cannot miss a page (test/docs/openapi.test.ts).
 */
export function consoleApp(): { ui: Hono<AppEnv>; routes: ConsoleRoute[] } {
  const ui = new Hono<AppEnv>();
  const routes: ConsoleRoute[] = [];
  const add =
    (method: "get" | "post") =>
    <P extends string>(path: P, summary: string, handler: Handler<AppEnv, P>) => {
      routes.push({ method, path, summary });
      ui.on(method.toUpperCase(), path, handler);
    };
  const route = { get: add("get"), post: add("post") };
  ui.use(
    "*",
    secureHeaders({ contentSecurityPolicy: CONSOLE_CSP, referrerPolicy: "no-referrer", crossOriginEmbedderPolicy: false }),
    async (c, next) => {
      await next();
      if (!c.req.path.startsWith("/console/assets/")) c.header("Cache-Control", "no-store");
    },
    csrf(),
  );

  route.get("/assets/console.css", "The console stylesheet", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
  });
  route.get("/assets/copy.js", "The copy-button script", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.body(COPY_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });

  // ---- sign-in --------------------------------------------------------------------------
  route.get("/login", "Sign-in page (admin token)", (c) => {
    if (accessConfig(c.env)) return c.redirect("/console/credentials", 303);
    return c.html(<LoginPage signedOut={c.req.query("signed_out") === "1"} />);
  });
  route.post("/login", "Sign in with the admin token", async (c) => {
    if (accessConfig(c.env)) return c.redirect("/console/credentials", 303);
    // Every attempt counts, right or wrong: guessing the token is the threat.
    const ip = clientIp(c.req.raw.headers);
    const key = ip === null ? null : (["CONSOLE_SIGN_IN_BY_IP", ip] as const);
    if (key) assertNotBlocked([key]);
    await hit(c.env, [key]);
    const { admin_token: token = "" } = await form(c);
    if (!(await isAdminToken(c.env, token))) {
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
  route.post("/logout", "Sign out", async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie) await endSession(c.env, cookie);
    deleteCookie(c, SESSION_COOKIE, { path: "/console", secure: !isLocal(c), httpOnly: true, sameSite: "Strict" });
    return c.redirect("/console/login?signed_out=1", 303);
  });

  // ---- everything else needs an admin ---------------------------------------------------
  ui.use("*", requireConsoleAdmin(), limitWrites());
  route.get("/", "Redirects to the Credentials screen", (c) => c.redirect("/console/credentials", 303));

  route.get("/credentials", "The Credentials screen", async (c) => {
    const accountId = c.req.query("account_id") ?? null;
    const accountFilter = accountId ? await accounts.findAccount(c.env, accountId) : null;
    const { limit, after } = page(c);
    const list = await credentials.listCredentials(c.env, { account_id: accountFilter?.id ?? null, type: null }, limit, after);
    const names = await accounts.accountNames(c.env, list.data.map((credential) => credential.account_id));
    const flash = c.req.query("done") === "deleted" ? "Credential deleted. Its secret and tokens no longer work." : undefined;
    return c.html(
      <CredentialsPage actor={c.get("actor")} credentials={list.data} accountNames={names} next={list.next_cursor} accountFilter={accountFilter} flash={flash} />,
    );
  });

  route.get("/credentials/new", "Form to create a credential", async (c) => {
    const selected = c.req.query("account_id");
    return c.html(<NewCredentialPage actor={c.get("actor")} accounts={await accountChoices(c, selected)} nonce={randomBase62(32)} selected={selected} />);
  });

  route.post("/credentials", "Create a credential; the response shows its secret once", async (c) => {
    const body = await form(c);
    const parsed = CredentialForm.safeParse(body);
    if (!parsed.success) {
      const selected = body.account_id?.slice(0, 64);
      return c.html(
        <NewCredentialPage actor={c.get("actor")} accounts={await accountChoices(c, selected)} nonce={randomBase62(32)} selected={selected} error={formProblem(parsed.error)} />,
        400,
      );
    }
    const { nonce, ...input } = parsed.data;
    const result = await credentials.createCredential(c.env, consoleAudit(c), { ...input, scopes: [] }, `console:${nonce}`);
    if (!("client_secret" in result || "api_key" in result)) return c.html(<AlreadyShownPage actor={c.get("actor")} />);
    return c.html(<SecretShownOncePage actor={c.get("actor")} credential={result} />, 201);
  });

  route.get("/credentials/:id/delete", "Confirm deleting a credential", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    return c.html(<DeleteCredentialPage actor={c.get("actor")} credential={credential} />);
  });
  route.post("/credentials/:id/delete", "Delete a credential", async (c) => {
    await credentials.deleteCredential(c.env, consoleAudit(c), c.req.param("id"));
    return c.redirect("/console/credentials?done=deleted", 303);
  });

  route.get("/credentials/:id/roll", "Form to roll the secret of a credential", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    return c.html(<RollCredentialPage actor={c.get("actor")} credential={credential} nonce={randomBase62(32)} />);
  });
  route.post("/credentials/:id/roll", "Roll the secret of a credential; the response shows the new one once", async (c) => {
    const body = await form(c);
    const grace = ROLL_GRACE_CHOICES.find((choice) => String(choice.seconds) === body.expires_in);
    if (!grace || !/^[0-9A-Za-z]{32}$/.test(body.nonce ?? "")) throw new ApiError("invalid_request", "Choose a grace period.");
    const result = await credentials.rollCredential(c.env, consoleAudit(c), c.req.param("id"), grace.seconds, `console:${body.nonce}`);
    if (!("client_secret" in result || "api_key" in result)) return c.html(<AlreadyShownPage actor={c.get("actor")} rolled />);
    return c.html(<SecretShownOncePage actor={c.get("actor")} credential={result} rolled />);
  });

  route.get("/accounts", "The Accounts screen", async (c) => {
    const { limit, after } = page(c);
    const list = await accounts.listAccounts(c.env, limit, after);
    const done = c.req.query("done");
    const flash = done ? `Account ${done === "delete" ? "deleted" : done === "activate" ? "activated" : done === "deactivate" ? "deactivated" : "created"}.` : undefined;
    return c.html(<AccountsPage actor={c.get("actor")} accounts={list.data} next={list.next_cursor} flash={flash} />);
  });
  route.post("/accounts", "Create an account", async (c) => {
    const parsed = z.object({ name: NameSchema, type: z.enum(["service", "user"]) }).safeParse(await form(c));
    if (!parsed.success) {
      const list = await accounts.listAccounts(c.env, 50, null);
      return c.html(<AccountsPage actor={c.get("actor")} accounts={list.data} next={list.next_cursor} error={formProblem(parsed.error)} />, 400);
    }
    await accounts.createAccount(c.env, consoleAudit(c), parsed.data);
    return c.redirect("/console/accounts?done=create", 303);
  });

  const accountAction = (action: AccountAction) => {
    route.get(`/accounts/:id/${action}`, `Confirm: ${action} an account`, async (c) => {
      const account = await accounts.getAccount(c.env, c.req.param("id"));
      return c.html(<ConfirmAccountPage actor={c.get("actor")} account={account} action={action} />);
    });
    route.post(`/accounts/:id/${action}`, `${action[0]!.toUpperCase()}${action.slice(1)} an account`, async (c) => {
      const id = c.req.param("id");
      if (action === "delete") await accounts.deleteAccount(c.env, consoleAudit(c), id);
      else if (action === "activate") await accounts.activateAccount(c.env, consoleAudit(c), id);
      else await accounts.deactivateAccount(c.env, consoleAudit(c), id);
      return c.redirect(`/console/accounts?done=${action}`, 303);
    });
  };
  accountAction("deactivate");
  accountAction("activate");
  accountAction("delete");

  route.get("/audit", "The audit log", async (c) => {
    const target = (c.req.query("target_id") ?? "").trim().slice(0, 64);
    const { limit, after } = page(c);
    const list = await listAuditEvents(c.env, target || null, limit, after);
    return c.html(<AuditPage actor={c.get("actor")} events={list.data} next={list.next_cursor} target={target} />);
  });

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
      return c.html(<ErrorPage actor={c.get("actor")} title="Try again shortly" message="Keymint could not reach its storage. Nothing was changed." />, 503);
    }
    throw error; // the app's handler answers 503 without detail
  });
  return { ui, routes };
}
