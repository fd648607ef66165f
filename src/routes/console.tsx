import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import { AccountsPage, type AccountAction, type AccountFilters, ConfirmAccountPage, NAMED_CREDENTIALS, accountsHref } from "../console/accounts";
import {
  type AccessError,
  type ApiFormError,
  type ApiFormValues,
  ApisPage,
  DeleteApiPage,
  EditApiPage,
  type GrantSelection,
  emptySelection,
  isDefaultApi,
} from "../console/apis";
import { COPY_JS, CONSOLE_CSS } from "../console/assets";
import { AuditPage } from "../console/audit";
import {
  AlreadyShownPage,
  type CredentialFilters,
  CredentialPage,
  CredentialsPage,
  DeleteCredentialPage,
  EndGracePage,
  type FormError,
  NewCredentialPage,
  type NewCredentialValues,
  PrivateKeyClientReadyPage,
  ROLL_GRACE_CHOICES,
  type SettingsError,
  type SettingsValues,
  RollCredentialPage,
  SecretShownOncePage,
  listHref,
} from "../console/credentials";
import { TestResultView } from "../console/handoff";
import { allowlistText, fromDateTimeInput, isPrivateKeyJwt, toDateTimeInput } from "../console/lifecycle";
import { cidrProblem } from "../lib/cidr";
import { jwksProblem } from "../lib/client-jwks";
import { Layout } from "../console/layout";
import { ErrorPage, LoginPage } from "../console/login";
import { ApiError, RETRY_AFTER_UNAVAILABLE_SECONDS, StoreUnavailableError } from "../http/errors";
import { readForm } from "../http/form";
import { NameSchema, ScopesSchema } from "../http/schemas";
import { MAX_BODY_BYTES } from "../config";
import * as apis from "../services/apis";
import type { AppEnv } from "../http/types";
import * as accounts from "../services/accounts";
import { accessConfig } from "../services/access";
import { authenticateAdmin, isAdminToken } from "../services/admin-auth";
import { endGrace } from "../services/credential-grace";
import { handoff, testSecret } from "../services/handoff";
import * as search from "../services/search";
import * as credentials from "../services/credentials";
import { randomBase62 } from "../services/secrets";
import { lastSevenDays, recentDailyUsage, usageReport } from "../services/usage-reports";
import { SESSION_COOKIE, createSession, endSession } from "../services/sessions";
import { decodeCursor } from "../storage/pagination";
import { limitWrites } from "./admin/auth";
import { IdentifierSchema } from "./admin/apis";
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

const NONCE = /^[0-9A-Za-z]{32}$/;

const CredentialForm = z.object({
  nonce: z.string().regex(NONCE, "the form expired; load it again"),
  name: NameSchema,
  type: z.enum(["oauth_client", "api_key"], { message: "choose a type" }),
  account_id: z.string().min(1, "choose an account").max(64, "choose an account"),
});

const FIELD_LABELS: Record<string, string> = { name: "Name", type: "Type", account_id: "Account", nonce: "Form" };

/** The first problem of a failed form, in words for a person, and the field it is about. */
function formProblem(error: z.ZodError): FormError {
  const issue = error.issues[0];
  const field = String(issue?.path[0] ?? "form");
  const known = (["name", "type", "account_id"] as const).find((name) => name === field);
  return { field: known ?? "form", message: `${FIELD_LABELS[field] ?? "Form"}: ${issue?.message ?? "invalid"}.` };
}

// ---- lifecycle: expiry, allowlist, private_key_jwt keys -----------------------------------

/** The contract: at most 32 CIDRs in an allowlist. */
const MAX_ALLOWED_IPS = 32;

/** A service refusal of an expiry ("expires_at must be in the future.") in words for the field. */
const isExpiryRefusal = (error: unknown): error is ApiError =>
  error instanceof ApiError && error.code === "invalid_request" && error.description.startsWith("expires_at");
const expiryMessage = (error: ApiError) => `Expires at: ${error.description.replace(/^expires_at /, "")}`;

/** A service refusal of a JWK Set ("jwks keys[0] …"). */
const isJwksRefusal = (error: unknown): error is ApiError => error instanceof ApiError && error.code === "invalid_request" && error.description.startsWith("jwks");

/** An expiry typed in the console (UTC), or the message for its field. */
function expiryFrom(text: string): { value: string | null } | { message: string } {
  const read = fromDateTimeInput(text);
  return "problem" in read ? { message: `Expires at: ${read.problem}.` } : read;
}

/** The allowlist typed one CIDR per line: null (anywhere) when empty, else each checked as the API checks it. */
function allowlistFrom(text: string): { value: string[] | null } | { message: string } {
  const lines = [...new Set(text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean))];
  if (lines.length === 0) return { value: null };
  if (lines.length > MAX_ALLOWED_IPS) return { message: `IP allowlist: at most ${MAX_ALLOWED_IPS} CIDRs (there are ${lines.length}).` };
  for (const line of lines) {
    const problem = cidrProblem(line);
    if (problem) return { message: `IP allowlist: "${line.slice(0, 70)}" ${problem}.` };
  }
  return { value: lines };
}

/** A pasted JWK Set, checked by the rules the API applies (jwksProblem), or the message for its field. */
function jwksFrom(text: string): { value: { keys: Record<string, unknown>[] } } | { message: string } {
  if (!text.trim()) return { message: 'JWK Set: paste {"keys": [...]} with the client\'s public keys.' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { message: "JWK Set: this is not valid JSON." };
  }
  const problem = jwksProblem(parsed);
  if (problem) return { message: `JWK Set: ${problem}.` };
  return { value: parsed as { keys: Record<string, unknown>[] } };
}

/** A JWK Set as the form shows it back. */
const jwksText = (jwks: credentials.Credential["jwks"]) => (jwks ? JSON.stringify(jwks, null, 2) : "");

/** The new-credential form's values from its fields (a POST body, or the query of Find). */
function newCredentialValues(fields: Record<string, string | undefined>): NewCredentialValues {
  return {
    name: (fields.name ?? "").slice(0, 200),
    type: fields.type === "api_key" ? "api_key" : "oauth_client",
    account_id: (fields.account_id ?? "").slice(0, 64),
    account_q: (fields.account_q ?? "").slice(0, MAX_SEARCH),
    token_endpoint_auth_method: fields.token_endpoint_auth_method === "private_key_jwt" ? "private_key_jwt" : "client_secret_basic",
    jwks: (fields.jwks ?? "").slice(0, 32_000),
    dpop_bound_access_tokens: fields.dpop_bound_access_tokens === "true",
    expires_at: (fields.expires_at ?? "").slice(0, 40),
  };
}

/**
 * A console form, read as strictly as the OAuth forms: valid UTF-8, no field twice. Forms with
 * grant checkboxes (one field per checked scope) may be as large as any request body.
 */
async function form(c: Context<AppEnv>, maxBytes?: number): Promise<Record<string, string>> {
  return Object.fromEntries(await readForm(c, maxBytes));
}

/** Who is acting in the console, for the audit log: channel "console". */
function consoleAudit(c: Context<AppEnv>): AuditContext {
  return { actor: c.get("actor"), channel: "console", ip: c.req.header("cf-connecting-ip") ?? null };
}

/** Rows per list page, and the history a credential page shows before linking to the audit log. */
const PAGE_SIZE = 50;
const HISTORY_SIZE = 20;
/** The account picker shows this many accounts: the newest, or those matching the search. */
const ACCOUNT_CHOICES = 100;
/** Longest search text accepted (a name is at most 100 characters; ids are shorter). */
const MAX_SEARCH = 200;

/**
 * A list page's query, strictly: a parameter the page does not know, or one given twice, is a
 * 400 (an unknown filter must not silently show everything).
 */
function strictQuery<K extends string>(c: Context<AppEnv>, allowed: readonly K[]): Partial<Record<K, string>> {
  const all = c.req.queries();
  const out: Partial<Record<K, string>> = {};
  for (const [key, values] of Object.entries(all)) {
    if (!(allowed as readonly string[]).includes(key)) throw new ApiError("invalid_request", `Unknown parameter "${key.slice(0, 40)}".`);
    if (values.length > 1) throw new ApiError("invalid_request", `The parameter "${key}" is given more than once.`);
    out[key as K] = values[0]!;
  }
  return out;
}

/** One of `choices`, nothing (empty), or a 400 naming the choices. */
function oneOf<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T | null {
  if (!value) return null;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new ApiError("invalid_request", `${name} must be one of: ${choices.join(", ")}.`);
}

function searchText(value: string | undefined): string | null {
  const text = (value ?? "").trim();
  if (text.length > MAX_SEARCH) throw new ApiError("invalid_request", `Search for at most ${MAX_SEARCH} characters.`);
  return text || null;
}

/** Where a list page starts: `cursor` (older than) or `before` (newer than), never both. */
function pageRequest(query: { cursor?: string | undefined; before?: string | undefined }, limit = PAGE_SIZE): search.PageRequest {
  if (query.cursor && query.before) throw new ApiError("invalid_request", "Give cursor or before, not both.");
  const raw = query.cursor ?? query.before;
  if (!raw) return { limit, from: null };
  const position = decodeCursor(raw);
  if (!position) throw new ApiError("invalid_request", "This page link is broken: its cursor is not one Keymint issued.");
  return { limit, from: { position, direction: query.cursor ? "older" : "newer" } };
}

const CREDENTIAL_LIST_KEYS = ["q", "type", "status", "account_id", "cursor", "before"] as const;
const ACCOUNT_LIST_KEYS = ["q", "type", "status", "cursor", "before"] as const;

/**
 * The list a page came from (its filters and page), carried through confirmations as `back` so
 * that Cancel and the redirect after an action return to it. Only the list's own parameters
 * survive, re-encoded: it is never a URL, so it cannot send anyone elsewhere.
 */
function sanitizeBack(raw: string | undefined, keys: readonly string[]): string {
  if (!raw || raw.length > 1000) return "";
  const kept = new URLSearchParams();
  for (const [key, value] of new URLSearchParams(raw)) if (keys.includes(key) && value && !kept.has(key)) kept.set(key, value.slice(0, MAX_SEARCH));
  return kept.toString();
}

const andDone = (href: string, done: string) => `${href}${href.includes("?") ? "&" : "?"}done=${done}`;

function credentialFilters(query: Partial<Record<(typeof CREDENTIAL_LIST_KEYS)[number], string>>): CredentialFilters {
  return {
    q: searchText(query.q),
    type: oneOf("type", query.type, ["oauth_client", "api_key"] as const),
    status: oneOf("status", query.status, ["active", "deactivated"] as const),
    account_id: query.account_id || null,
  };
}

/** The accounts the new-credential form offers: the newest, or those matching the search; plus the chosen one. */
async function accountChoices(c: Context<AppEnv>, accountQuery: string, selected: string): Promise<accounts.Account[]> {
  const text = accountQuery.trim().slice(0, MAX_SEARCH) || null;
  const list = (await search.findAccounts(c.env, { text, type: null, status: null }, { limit: ACCOUNT_CHOICES, from: null })).data;
  if (!selected || list.some((account) => account.id === selected)) return list;
  const extra = await accounts.findAccount(c.env, selected.slice(0, 64));
  return extra ? [extra, ...list] : list;
}

// ---- APIs and grants ------------------------------------------------------------------------

/** The contract: at most 32 grants per credential. */
const MAX_GRANTS = 32;

/** The console lists and offers at most this many APIs (one D1 read). */
const MAX_CONSOLE_APIS = 1000;

/**
 * Every API, default first, then the others by name; `complete` is false past MAX_CONSOLE_APIS,
 * and then grants cannot be edited here (an API the form did not show would lose its grant).
 */
async function allApis(env: Env): Promise<{ list: apis.Api[]; complete: boolean }> {
  const page = await apis.listApis(env, MAX_CONSOLE_APIS, null);
  const others = page.data.filter((api) => !isDefaultApi(api)).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { list: [...page.data.filter(isDefaultApi), ...others], complete: page.next_cursor === null };
}

const incompleteApis = () =>
  new ApiError("invalid_request", `There are more than ${MAX_CONSOLE_APIS} APIs, more than this page can show: set grants through the admin API.`);

/** Scopes typed as text: separated by spaces or commas; a repeat is dropped, anything else is checked as the API checks it. */
function scopesFromText(text: string): { scopes: string[] } | { message: string } {
  const words = [...new Set(text.split(/[\s,]+/).filter(Boolean))];
  const parsed = ScopesSchema.safeParse(words);
  if (parsed.success) return { scopes: parsed.data };
  const issue = parsed.error.issues[0];
  const word = typeof issue?.path[0] === "number" ? words[issue.path[0]] : undefined;
  return { message: `Scopes: ${word === undefined ? "" : `"${word.slice(0, 70)}": `}${issue?.message ?? "invalid"}.` };
}

/** Grant checkboxes: `s.<api id>.<scope>` for a scope, `a.<api id>` for access with no scope. */
const GRANT_SCOPE_FIELD = /^s\.(api_[0-9A-Za-z]{1,40})\.([\s\S]{1,200})$/;
const GRANT_ACCESS_FIELD = /^a\.(api_[0-9A-Za-z]{1,40})$/;
const isGrantField = (name: string) => GRANT_SCOPE_FIELD.test(name) || GRANT_ACCESS_FIELD.test(name);

/** What the grant editor sent (or a query carried): the default API's scopes text and the boxes checked. */
function readSelection(fields: Record<string, string | undefined>): GrantSelection {
  const selection = emptySelection();
  selection.scopes = (fields.scopes ?? "").slice(0, 4000);
  for (const name of Object.keys(fields)) {
    const scope = GRANT_SCOPE_FIELD.exec(name);
    if (scope) {
      const picked = selection.picked.get(scope[1]!) ?? new Set<string>();
      picked.add(scope[2]!);
      selection.picked.set(scope[1]!, picked);
    }
    const access = GRANT_ACCESS_FIELD.exec(name);
    if (access) selection.access.add(access[1]!);
  }
  return selection;
}

/** A credential's scopes and grants as the grant editor shows them. */
function selectionOf(credential: credentials.Credential, list: apis.Api[]): GrantSelection {
  const selection = emptySelection();
  selection.scopes = credential.scopes.join(" ");
  for (const grant of credential.grants) {
    const api = list.find((candidate) => !isDefaultApi(candidate) && candidate.identifier === grant.api);
    if (!api) continue;
    if (grant.scopes.length === 0) selection.access.add(api.id);
    else selection.picked.set(api.id, new Set(grant.scopes));
  }
  return selection;
}

/**
 * The scopes and grants a selection asks for, checked against the APIs as they are now: an API
 * becomes a grant when one of its scopes is checked, or "grant access" is (an API with no scopes).
 */
function accessFrom(selection: GrantSelection, list: apis.Api[]): { scopes: string[]; grants: credentials.GrantInput[] } | AccessError {
  const scopes = scopesFromText(selection.scopes);
  if ("message" in scopes) return { field: "scopes", message: scopes.message };
  const grants: credentials.GrantInput[] = [];
  for (const id of new Set([...selection.picked.keys(), ...selection.access])) {
    const api = list.find((candidate) => candidate.id === id && !isDefaultApi(candidate));
    if (!api) return { field: "grants", message: "An API in this form no longer exists: it was deleted meanwhile. Check the APIs below and save again." };
    const declared = api.scopes ?? [];
    const picked = selection.picked.get(id) ?? new Set<string>();
    const undeclared = [...picked].filter((scope) => !declared.includes(scope));
    if (undeclared.length) {
      return { field: `api:${id}`, message: `${api.name} no longer declares ${undeclared.join(" ").slice(0, 200)}. Check its scopes below and save again.` };
    }
    grants.push({ api: api.identifier, scopes: declared.filter((scope) => picked.has(scope)) });
  }
  if (grants.length > MAX_GRANTS) return { field: "grants", message: `A credential can have grants on at most ${MAX_GRANTS} APIs besides the default one.` };
  return { scopes: scopes.scopes, grants };
}

/** A grant the service refused (the APIs changed between the check above and the write). */
const isGrantRefusal = (error: unknown): error is ApiError => error instanceof ApiError && error.code === "invalid_request" && /^grants\[/.test(error.description);

/** The values of the API forms, as typed. */
function apiValues(body: Record<string, string | undefined>): ApiFormValues {
  return { name: (body.name ?? "").slice(0, 200), identifier: (body.identifier ?? "").slice(0, 2100), scopes: (body.scopes ?? "").slice(0, 4000) };
}

const API_FIELD_LABELS: Record<string, string> = { name: "Name", identifier: "Identifier", scopes: "Scopes" };

function apiProblem(error: z.ZodError): ApiFormError {
  const issue = error.issues[0];
  const field = (["name", "identifier", "scopes"] as const).find((name) => name === issue?.path[0]) ?? "form";
  return { field, message: `${API_FIELD_LABELS[field] ?? "Form"}: ${issue?.message ?? "invalid"}.` };
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
  // The console script: copy buttons, focus, Escape, Test now

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

  // ---- everything else needs an admin ---------------------------------------------------
  ui.use("*", requireConsoleAdmin(), limitWrites());
  // Redirects to the Credentials screen
  ui.get("/", (c) => c.redirect("/console/credentials", 303));

  // ---- credentials ------------------------------------------------------------------------
  // The Credentials screen: search, filters and pages

  ui.get("/credentials", async (c) => {
    const query = strictQuery(c, [...CREDENTIAL_LIST_KEYS, "done"]);
    const filters = credentialFilters(query);
    const request = pageRequest(query);
    const accountFilter = filters.account_id ? await accounts.getAccount(c.env, filters.account_id) : null;
    const page = await search.findCredentials(
      c.env,
      { text: filters.q, type: filters.type, account_status: filters.status, account_id: filters.account_id },
      request,
    );
    const ids = page.data.map((credential) => credential.id);
    const [owners, usage, accountUsage] = await Promise.all([
      search.accountSummaries(c.env, page.data.map((credential) => credential.account_id)),
      recentDailyUsage(c.env, ids),
      accountFilter ? usageReport(c.env, { accountId: accountFilter.id }, lastSevenDays()) : null,
    ]);
    const back = sanitizeBack(new URL(c.req.url).search.slice(1), CREDENTIAL_LIST_KEYS);
    const flash = query.done === "deleted" ? "Credential deleted. Its secret and tokens no longer work." : undefined;
    return c.html(
      <CredentialsPage
        actor={c.get("actor")}
        page={page}
        accounts={owners}
        filters={filters}
        accountFilter={accountFilter}
        back={back}
        usage={usage}
        accountUsage={accountUsage}
        flash={flash}
      />,
    );
  });

  const newCredentialForm = async (
    c: Context<AppEnv>,
    values: NewCredentialValues,
    selection: GrantSelection,
    problem: { error?: FormError; accessError?: AccessError } = {},
    status: 200 | 400 = 200,
    apiList?: apis.Api[],
  ) =>
    c.html(
      <NewCredentialPage
        actor={c.get("actor")}
        accounts={await accountChoices(c, values.account_q, values.account_id)}
        apis={apiList ?? (await allApis(c.env)).list}
        nonce={randomBase62(32)}
        values={values}
        selection={selection}
        maxLifetimeDays={credentials.maxLifetimeDays(c.env)}
        error={problem.error}
        accessError={problem.accessError}
      />,
      status,
    );

  // Form to create a credential; the account picker searches every account

  ui.get("/credentials/new", async (c) => {
    // Find (a GET of the whole form) carries the grant checkboxes too.
    const grantFields = Object.keys(c.req.queries()).filter(isGrantField);
    const query: Record<string, string | undefined> = strictQuery(c, [
      "account_id",
      "account_q",
      "name",
      "type",
      "nonce",
      "scopes",
      "token_endpoint_auth_method",
      "jwks",
      "dpop_bound_access_tokens",
      "expires_at",
      ...grantFields,
    ]);
    return newCredentialForm(c, newCredentialValues(query), readSelection(query));
  });

  // Create a credential; the response shows its secret once
  ui.post("/credentials", async (c) => {
    const body = await form(c, MAX_BODY_BYTES);
    const values = newCredentialValues(body);
    const selection = readSelection(body);
    const { list, complete } = await allApis(c.env);
    const again = (problem: { error?: FormError; accessError?: AccessError }, shown = values) => newCredentialForm(c, shown, selection, problem, 400, list);
    const parsed = CredentialForm.safeParse(body);
    if (!parsed.success) return again({ error: formProblem(parsed.error) });
    const privateKeyJwt = values.token_endpoint_auth_method === "private_key_jwt";
    if (privateKeyJwt && values.type !== "oauth_client") {
      return again({ error: { field: "token_endpoint_auth_method", message: "Client authentication: a private key JWT is for OAuth 2.0 clients. Choose that type, or Client secret." } });
    }
    let jwks: { keys: Record<string, unknown>[] } | undefined;
    if (privateKeyJwt) {
      const read = jwksFrom(values.jwks);
      if ("message" in read) return again({ error: { field: "jwks", message: read.message } });
      jwks = read.value;
    } else if (values.jwks.trim()) {
      return again({ error: { field: "jwks", message: "JWK Set: only a private key JWT client has one. Choose Private key JWT above, or empty this field." } });
    }
    if (values.dpop_bound_access_tokens && values.type !== "oauth_client") {
      return again({ error: { field: "dpop_bound_access_tokens", message: "Require DPoP-bound tokens: only OAuth 2.0 clients get tokens. Uncheck it for an API key." } });
    }
    const expiry = expiryFrom(values.expires_at);
    if ("message" in expiry) return again({ error: { field: "expires_at", message: expiry.message } });
    const access = accessFrom(selection, list);
    if ("field" in access) return again({ accessError: access });
    if (access.grants.length && !complete) throw incompleteApis();
    const { nonce, ...input } = parsed.data;
    const lifecycle = {
      ...(privateKeyJwt ? { token_endpoint_auth_method: "private_key_jwt" as const, jwks } : {}),
      ...(values.dpop_bound_access_tokens ? { dpop_bound_access_tokens: true } : {}),
      ...(expiry.value === null ? {} : { expires_at: expiry.value }),
    };
    let result: Awaited<ReturnType<typeof credentials.createCredential>>;
    try {
      result = await credentials.createCredential(c.env, consoleAudit(c), { ...input, ...access, ...lifecycle }, `console:${nonce}`);
    } catch (error) {
      if (isExpiryRefusal(error)) return again({ error: { field: "expires_at", message: expiryMessage(error) } });
      if (isJwksRefusal(error)) return again({ error: { field: "jwks", message: `JWK Set: ${error.description.replace(/^jwks /, "")}` } });
      if (error instanceof ApiError && error.code === "not_found") {
        return again({ error: { field: "account_id", message: "Account: no account has this id." } }, { ...values, account_id: "" });
      }
      if (error instanceof ApiError && error.code === "invalid_request" && /deactivated/.test(error.description)) {
        const account = await accounts.findAccount(c.env, input.account_id);
        const message = `Account: ${account?.name ?? "this account"} is deactivated, so its credentials would work nowhere. Activate it on the Accounts page first, or choose another account.`;
        return again({ error: { field: "account_id", message } });
      }
      if (isGrantRefusal(error)) {
        return newCredentialForm(c, values, selection, { accessError: { field: "grants", message: `The APIs changed meanwhile: ${error.description} Check the grants below and save again.` } }, 400);
      }
      throw error;
    }
    if ("replayed" in result) {
      // The same form sent twice: a private_key_jwt client has nothing shown once, so its page will do.
      if (isPrivateKeyJwt(result.credential)) return c.redirect(`/console/credentials/${result.credential.id}`, 303);
      return c.html(<AlreadyShownPage actor={c.get("actor")} />);
    }
    if (isPrivateKeyJwt(result)) return c.html(<PrivateKeyClientReadyPage actor={c.get("actor")} credential={result} urls={handoff(c.env)} />, 201);
    if (!("client_secret" in result || "api_key" in result)) return c.html(<AlreadyShownPage actor={c.get("actor")} />);
    return c.html(<SecretShownOncePage actor={c.get("actor")} credential={result} urls={handoff(c.env)} />, 201);
  });

  const backOf = (c: Context<AppEnv>) => sanitizeBack(c.req.query("back"), CREDENTIAL_LIST_KEYS);
  const ownerOf = (c: Context<AppEnv>, credential: credentials.Credential) => accounts.findAccount(c.env, credential.account_id);

  // A credential: its fields, account, handoff kit and history

  const credentialPage = async (
    c: Context<AppEnv>,
    id: string,
    back: string,
    extra: {
      flash?: string | undefined;
      selection?: GrantSelection;
      accessError?: AccessError;
      settings?: SettingsValues;
      settingsError?: SettingsError;
      jwks?: string;
      jwksError?: string;
    } = {},
    status: 200 | 400 = 200,
  ) => {
    const credential = await credentials.getCredential(c.env, id);
    const [account, history, { list }, usage] = await Promise.all([
      ownerOf(c, credential),
      search.findAuditEvents(c.env, credential.id, { limit: HISTORY_SIZE, from: null }),
      allApis(c.env),
      usageReport(c.env, { credentialId: credential.id }, lastSevenDays()),
    ]);
    return c.html(
      <CredentialPage
        actor={c.get("actor")}
        credential={credential}
        account={account}
        events={history.data}
        moreEvents={history.older !== null}
        urls={handoff(c.env)}
        back={back}
        apis={list}
        selection={extra.selection ?? selectionOf(credential, list)}
        accessError={extra.accessError}
        maxLifetimeDays={credentials.maxLifetimeDays(c.env)}
        settings={extra.settings ?? settingsOf(credential)}
        settingsError={extra.settingsError}
        jwks={extra.jwks ?? jwksText(credential.jwks)}
        jwksError={extra.jwksError}
        usage={usage}
        flash={extra.flash}
      />,
      status,
    );
  };

  const CREDENTIAL_FLASH: Record<string, string> = {
    "grace-ended": "The previous secret no longer works.",
    "access-saved": "Access saved. Tokens minted from now on follow it.",
    "settings-saved": "Expiry and restrictions saved.",
    "settings-unchanged": "Nothing changed: the expiry and restrictions were already so.",
    "keys-saved": "Keys replaced. A key no longer in the set stopped working at once.",
  };
  const settingsOf = (credential: credentials.Credential): SettingsValues => ({
    expires_at: toDateTimeInput(credential.expires_at),
    allowed_ips: allowlistText(credential.allowed_ips),
    dpop_bound_access_tokens: credential.dpop_bound_access_tokens,
  });
  const credentialHref = (id: string, back: string, done: string) => `/console/credentials/${id}?${new URLSearchParams({ ...(back ? { back } : {}), done })}`;

  ui.get("/credentials/:id", async (c) => {
    const query = strictQuery(c, ["back", "done"] as const);
    return credentialPage(c, c.req.param("id"), backOf(c), { flash: query.done ? CREDENTIAL_FLASH[query.done] : undefined });
  });

  // Save a credential's access: the default API's scopes and the grants on other APIs
  ui.post("/credentials/:id/access", async (c) => {
    const id = c.req.param("id");
    const body = await form(c, MAX_BODY_BYTES);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const selection = readSelection(body);
    const { list, complete } = await allApis(c.env);
    if (!complete) throw incompleteApis();
    const access = accessFrom(selection, list);
    if ("field" in access) return credentialPage(c, id, back, { selection, accessError: access }, 400);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, access);
    } catch (error) {
      if (!isGrantRefusal(error)) throw error;
      const accessError: AccessError = { field: "grants", message: `The APIs changed meanwhile: ${error.description} Check the grants below and save again.` };
      return credentialPage(c, id, back, { selection, accessError }, 400);
    }
    return c.redirect(`/console/credentials/${id}?${new URLSearchParams({ ...(back ? { back } : {}), done: "access-saved" })}`, 303);
  });

  // Save a credential's expiry, IP allowlist and (OAuth clients) whether DPoP is required
  ui.post("/credentials/:id/settings", async (c) => {
    const id = c.req.param("id");
    const body = await form(c);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const credential = await credentials.getCredential(c.env, id);
    const typed: SettingsValues = {
      expires_at: (body.expires_at ?? "").slice(0, 40),
      allowed_ips: (body.allowed_ips ?? "").slice(0, 4000),
      dpop_bound_access_tokens: body.dpop_bound_access_tokens === "true",
    };
    const again = (settingsError: SettingsError) => credentialPage(c, id, back, { settings: typed, settingsError }, 400);
    const expiry = expiryFrom(typed.expires_at);
    if ("message" in expiry) return again({ field: "expires_at", message: expiry.message });
    const allowlist = allowlistFrom(typed.allowed_ips);
    if ("message" in allowlist) return again({ field: "allowed_ips", message: allowlist.message });
    if (typed.dpop_bound_access_tokens && credential.type !== "oauth_client") {
      return again({ field: "dpop_bound_access_tokens", message: "Require DPoP-bound tokens: only OAuth 2.0 clients get tokens." });
    }
    // Only what changed is sent: the form shows the expiry to the second, so an untouched field
    // must not shave the milliseconds off (nor write an audit event for nothing).
    const changes = {
      expires_at: typed.expires_at.trim() === toDateTimeInput(credential.expires_at) ? undefined : expiry.value,
      allowed_ips: JSON.stringify(allowlist.value) === JSON.stringify(credential.allowed_ips) ? undefined : allowlist.value,
      dpop_bound_access_tokens:
        credential.type !== "oauth_client" || typed.dpop_bound_access_tokens === credential.dpop_bound_access_tokens ? undefined : typed.dpop_bound_access_tokens,
    };
    if (Object.values(changes).every((value) => value === undefined)) return c.redirect(credentialHref(id, back, "settings-unchanged"), 303);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, changes);
    } catch (error) {
      if (!isExpiryRefusal(error)) throw error;
      return again({ field: "expires_at", message: expiryMessage(error) });
    }
    return c.redirect(credentialHref(id, back, "settings-saved"), 303);
  });

  // Replace the public keys of a private_key_jwt client (rotation)
  ui.post("/credentials/:id/jwks", async (c) => {
    const id = c.req.param("id");
    const body = await form(c, MAX_BODY_BYTES);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const credential = await credentials.getCredential(c.env, id);
    if (!isPrivateKeyJwt(credential)) throw new ApiError("invalid_request", "Only a private key JWT client has public keys to replace.");
    const typed = (body.jwks ?? "").slice(0, 32_000);
    const read = jwksFrom(typed);
    if ("message" in read) return credentialPage(c, id, back, { jwks: typed, jwksError: read.message }, 400);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, { jwks: read.value });
    } catch (error) {
      if (isExpiryRefusal(error)) {
        // An expired credential (or one outside the lifetime policy) must get a valid expiry first.
        return credentialPage(c, id, back, { jwks: typed, settingsError: { field: "expires_at", message: `${expiryMessage(error)} Set it before replacing the keys.` } }, 400);
      }
      if (!isJwksRefusal(error)) throw error;
      return credentialPage(c, id, back, { jwks: typed, jwksError: `JWK Set: ${error.description.replace(/^jwks /, "")}` }, 400);
    }
    return c.redirect(credentialHref(id, back, "keys-saved"), 303);
  });

  // Test now: try the secret just shown (server side, never stored) and show the token's claims

  ui.post("/credentials/:id/test", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    const { secret = "" } = await form(c);
    const result = await testSecret(c.env, c.executionCtx, credential, secret.slice(0, 512));
    return c.html(
      <Layout title="Test result" section="credentials" actor={c.get("actor")} focus="heading">
        <h1>Test of {credential.name}</h1>
        <TestResultView result={result} />
      </Layout>,
    );
  });

  // Confirm deleting a credential
  ui.get("/credentials/:id/delete", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    return c.html(<DeleteCredentialPage actor={c.get("actor")} credential={credential} account={await ownerOf(c, credential)} back={backOf(c)} />);
  });
  // Delete a credential

  ui.post("/credentials/:id/delete", async (c) => {
    const { back } = await form(c);
    await credentials.deleteCredential(c.env, consoleAudit(c), c.req.param("id"));
    return c.redirect(andDone(listHref(sanitizeBack(back, CREDENTIAL_LIST_KEYS)), "deleted"), 303);
  });

  // Form to roll the secret of a credential
  ui.get("/credentials/:id/roll", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    if (isPrivateKeyJwt(credential)) {
      throw new ApiError("invalid_request", "A private key JWT client has no secret to roll: replace its public keys on its page instead.");
    }
    return c.html(
      <RollCredentialPage actor={c.get("actor")} credential={credential} account={await ownerOf(c, credential)} nonce={randomBase62(32)} back={backOf(c)} />,
    );
  });
  // Roll the secret of a credential; the response shows the new one once
  ui.post("/credentials/:id/roll", async (c) => {
    const body = await form(c);
    const grace = ROLL_GRACE_CHOICES.find((choice) => String(choice.seconds) === body.expires_in);
    if (!grace || !NONCE.test(body.nonce ?? "")) throw new ApiError("invalid_request", "Choose a grace period.");
    // The service refuses to roll a private_key_jwt client (it has no secret).
    const result = await credentials.rollCredential(c.env, consoleAudit(c), c.req.param("id"), grace.seconds, `console:${body.nonce}`);
    if (!("client_secret" in result || "api_key" in result)) return c.html(<AlreadyShownPage actor={c.get("actor")} rolled />);
    return c.html(<SecretShownOncePage actor={c.get("actor")} credential={result} urls={handoff(c.env)} rolled />);
  });

  // Confirm ending the grace period of a rolled secret

  ui.get("/credentials/:id/end-grace", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    if (!credential.previous_secret_expires_at) {
      throw new ApiError("invalid_request", "This credential has no previous secret in a grace period.");
    }
    return c.html(<EndGracePage actor={c.get("actor")} credential={credential} account={await ownerOf(c, credential)} back={backOf(c)} />);
  });
  // End the grace period: the previous secret stops working now

  ui.post("/credentials/:id/end-grace", async (c) => {
    const { back } = await form(c);
    const credential = await endGrace(c.env, consoleAudit(c), c.req.param("id"));
    const href = `/console/credentials/${credential.id}?${new URLSearchParams({ ...(back ? { back: sanitizeBack(back, CREDENTIAL_LIST_KEYS) } : {}), done: "grace-ended" })}`;
    return c.redirect(href, 303);
  });

  // ---- APIs -------------------------------------------------------------------------------
  const apisPage = async (c: Context<AppEnv>, extra: { flash?: string; error?: ApiFormError; values?: ApiFormValues } = {}, status: 200 | 400 | 409 = 200) => {
    const { list, complete } = await allApis(c.env);
    return c.html(
      <ApisPage
        actor={c.get("actor")}
        apis={list}
        complete={complete}
        values={extra.values ?? { name: "", identifier: "", scopes: "" }}
        flash={extra.flash}
        error={extra.error}
      />,
      status,
    );
  };
  const API_FLASH: Record<string, string> = {
    created: "API created. Give credentials access to it on their pages.",
    updated: "API saved.",
    deleted: "API deleted. Its grants are gone and its tokens no longer work.",
  };

  // The APIs screen: every API (the default one first) and the form to create one
  ui.get("/apis", async (c) => {
    const { done } = strictQuery(c, ["done"] as const);
    return apisPage(c, done && API_FLASH[done] ? { flash: API_FLASH[done] } : {});
  });

  // Create an API
  ui.post("/apis", async (c) => {
    const body = await form(c);
    const values = apiValues(body);
    const parsed = z.object({ name: NameSchema, identifier: IdentifierSchema }).safeParse({ ...body, identifier: values.identifier.trim() });
    if (!parsed.success) return apisPage(c, { values, error: apiProblem(parsed.error) }, 400);
    const scopes = scopesFromText(values.scopes);
    if ("message" in scopes) return apisPage(c, { values, error: { field: "scopes", message: scopes.message } }, 400);
    try {
      await apis.createApi(c.env, consoleAudit(c), { ...parsed.data, scopes: scopes.scopes });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "conflict")) throw error;
      return apisPage(c, { values, error: { field: "identifier", message: `Identifier: ${error.description}` } }, 409);
    }
    return c.redirect("/console/apis?done=created", 303);
  });

  // Form to rename an API and change its scopes (the default API: its name only)
  ui.get("/apis/:id/edit", async (c) => {
    strictQuery(c, []);
    const api = await apis.getApi(c.env, c.req.param("id"));
    return c.html(<EditApiPage actor={c.get("actor")} api={api} values={{ name: api.name, identifier: api.identifier, scopes: (api.scopes ?? []).join(" ") }} />);
  });

  // Save an API's name and scopes
  ui.post("/apis/:id", async (c) => {
    const body = await form(c);
    const api = await apis.getApi(c.env, c.req.param("id"));
    const values = { ...apiValues(body), identifier: api.identifier };
    const again = (error: ApiFormError) => c.html(<EditApiPage actor={c.get("actor")} api={api} values={values} error={error} />, 400);
    const name = NameSchema.safeParse(body.name ?? "");
    if (!name.success) return again({ field: "name", message: `Name: ${name.error.issues[0]?.message ?? "invalid"}.` });
    let scopes: string[] | undefined;
    // The default API's form has no scopes; a scopes field sent for it is refused by the service.
    if (body.scopes !== undefined) {
      const typed = scopesFromText(values.scopes);
      if ("message" in typed) return again({ field: "scopes", message: typed.message });
      scopes = typed.scopes;
    }
    await apis.updateApi(c.env, consoleAudit(c), api.id, { name: name.data, scopes });
    return c.redirect("/console/apis?done=updated", 303);
  });

  // Confirm deleting an API: how many credentials lose access
  ui.get("/apis/:id/delete", async (c) => {
    strictQuery(c, []);
    const api = await apis.getApi(c.env, c.req.param("id"));
    if (isDefaultApi(api)) throw new ApiError("invalid_request", "The default API cannot be deleted.");
    return c.html(<DeleteApiPage actor={c.get("actor")} api={api} grantCount={await apis.grantCount(c.env, api.id)} />);
  });

  // Delete an API: its grants go, its tokens stop working
  ui.post("/apis/:id/delete", async (c) => {
    await form(c);
    await apis.deleteApi(c.env, consoleAudit(c), c.req.param("id"));
    return c.redirect("/console/apis?done=deleted", 303);
  });

  // ---- accounts ---------------------------------------------------------------------------
  const accountsPage = async (c: Context<AppEnv>, extra: { flash?: string; error?: string; values?: { name: string; type: "service" | "user" } } = {}, status: 200 | 400 = 200) => {
    const query = status === 200 ? strictQuery(c, [...ACCOUNT_LIST_KEYS, "done"]) : {};
    const filters: AccountFilters = {
      q: searchText(query.q),
      type: oneOf("type", query.type, ["service", "user"] as const),
      status: oneOf("status", query.status, ["active", "deactivated"] as const),
    };
    const page = await search.findAccounts(c.env, { text: filters.q, type: filters.type, status: filters.status }, pageRequest(query));
    const back = status === 200 ? sanitizeBack(new URL(c.req.url).search.slice(1), ACCOUNT_LIST_KEYS) : "";
    return c.html(<AccountsPage actor={c.get("actor")} page={page} filters={filters} back={back} {...extra} />, status);
  };

  // The Accounts screen: search, filters and pages

  ui.get("/accounts", async (c) => {
    const done = c.req.query("done");
    const flash = done
      ? `Account ${done === "delete" ? "deleted" : done === "activate" ? "activated" : done === "deactivate" ? "deactivated" : "created"}.`
      : undefined;
    return accountsPage(c, flash ? { flash } : {});
  });
  // Create an account

  ui.post("/accounts", async (c) => {
    const body = await form(c);
    const parsed = z.object({ name: NameSchema, type: z.enum(["service", "user"]) }).safeParse(body);
    if (!parsed.success) {
      const values = { name: (body.name ?? "").slice(0, 200), type: body.type === "user" ? ("user" as const) : ("service" as const) };
      return accountsPage(c, { error: formProblem(parsed.error).message, values }, 400);
    }
    await accounts.createAccount(c.env, consoleAudit(c), parsed.data);
    return c.redirect("/console/accounts?done=create", 303);
  });

  const accountAction = (action: AccountAction) => {
    ui.get(`/accounts/:id/${action}`, async (c) => {
      const account = await accounts.getAccount(c.env, c.req.param("id"));
      const [count, some] = await Promise.all([
        search.credentialCount(c.env, account.id),
        search.findCredentials(c.env, { text: null, type: null, account_status: null, account_id: account.id }, { limit: NAMED_CREDENTIALS, from: null }),
      ]);
      const back = sanitizeBack(c.req.query("back"), ACCOUNT_LIST_KEYS);
      return c.html(<ConfirmAccountPage actor={c.get("actor")} account={account} action={action} back={back} credentialCount={count} credentials={some.data} />);
    });
    ui.post(`/accounts/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      const { back } = await form(c);
      if (action === "delete") await accounts.deleteAccount(c.env, consoleAudit(c), id);
      else if (action === "activate") await accounts.activateAccount(c.env, consoleAudit(c), id);
      else await accounts.deactivateAccount(c.env, consoleAudit(c), id);
      return c.redirect(andDone(accountsHref(sanitizeBack(back, ACCOUNT_LIST_KEYS)), action), 303);
    });
  };
  accountAction("deactivate");
  accountAction("activate");
  accountAction("delete");

  // ---- audit ------------------------------------------------------------------------------
  // The audit log

  ui.get("/audit", async (c) => {
    const query = strictQuery(c, ["target_id", "cursor", "before"] as const);
    const target = (query.target_id ?? "").trim();
    if (target.length > 64) throw new ApiError("invalid_request", "A target ID is at most 64 characters.");
    const page = await search.findAuditEvents(c.env, target || null, pageRequest(query));
    return c.html(<AuditPage actor={c.get("actor")} page={page} target={target} />);
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
