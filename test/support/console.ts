import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { ADMIN_TOKEN, BASE } from "./http";

/**
 * Helpers for the console at /console: a "browser" that sends form posts with the same-origin
 * Origin header the CSRF check wants, and carries the session cookie by hand.
 */

export const SESSION_COOKIE = "km_session";

/** Where requests go: the Worker as deployed (default) or a test's own `worker.fetch` with another env. */
export type Send = (request: Request) => Promise<Response>;
export const sendToWorker: Send = (request) => exports.default.fetch(request);

export interface PageOptions {
  /** The whole `name=value` pair for the Cookie header, or null for none. */
  cookie?: string | null;
  /** The Origin header on POSTs; null sends none. Default: the request's own origin. */
  origin?: string | null;
  headers?: Record<string, string>;
  /** Scheme and host of the request, default http://localhost:8787. */
  base?: string;
  send?: Send;
}

function request(method: string, path: string, body: string | undefined, options: PageOptions): Request {
  const base = options.base ?? BASE;
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.cookie) headers.cookie = options.cookie;
  if (method === "POST") {
    const origin = options.origin === undefined ? base : options.origin;
    if (origin !== null) headers.origin = origin;
    headers["content-type"] ??= "application/x-www-form-urlencoded";
  }
  return new Request(base + path, { method, headers, body, redirect: "manual" });
}

export function getPage(path: string, options: PageOptions = {}): Promise<Response> {
  return (options.send ?? sendToWorker)(request("GET", path, undefined, options));
}

export function postForm(path: string, fields: Record<string, string>, options: PageOptions = {}): Promise<Response> {
  return (options.send ?? sendToWorker)(request("POST", path, new URLSearchParams(fields).toString(), options));
}

/** Every Set-Cookie header of a response. */
export function setCookies(response: Response): string[] {
  const headers = response.headers as Headers & { getSetCookie?: () => string[] };
  if (typeof headers.getSetCookie === "function") return headers.getSetCookie();
  const one = response.headers.get("set-cookie");
  return one ? [one] : [];
}

/** The attributes of one Set-Cookie header: name, value, and lower-cased attribute names. */
export function parseSetCookie(header: string): { name: string; value: string; attributes: Map<string, string> } {
  const [pair = "", ...parts] = header.split(";");
  const eq = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const part of parts) {
    const [key = "", ...rest] = part.trim().split("=");
    attributes.set(key.toLowerCase(), rest.join("="));
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/** The session Set-Cookie of a response, parsed, or undefined. */
export function sessionSetCookie(response: Response) {
  return setCookies(response)
    .map(parseSetCookie)
    .find((cookie) => cookie.name === SESSION_COOKIE);
}

/** Signs in with the admin token and returns the Cookie header value to send afterwards. */
export async function signIn(options: PageOptions = {}): Promise<string> {
  const response = await postForm("/console/login", { admin_token: ADMIN_TOKEN }, options);
  expect(response.status).toBe(303);
  const cookie = sessionSetCookie(response);
  if (!cookie) throw new Error("sign-in set no session cookie");
  return `${SESSION_COOKIE}=${cookie.value}`;
}

/** A signed-in browser: GET and POST with its cookie and a same-origin Origin header. */
export async function signedInBrowser() {
  const cookie = await signIn();
  return {
    cookie,
    get: (path: string, options: PageOptions = {}) => getPage(path, { cookie, ...options }),
    post: (path: string, fields: Record<string, string> = {}, options: PageOptions = {}) => postForm(path, fields, { cookie, ...options }),
  };
}
export type Browser = Awaited<ReturnType<typeof signedInBrowser>>;

/** The value attribute of the (first) input or option with this name in a page. */
export function hiddenValue(html: string, name: string): string {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html) ?? new RegExp(`<input[^>]*value="([^"]*)"[^>]*name="${name}"`).exec(html);
  if (!match) throw new Error(`no input named ${name} in the page`);
  return match[1]!;
}

/** The readonly value of a shown-once secret field (by id: client_secret, api_key, client_id). */
export function shownSecret(html: string, id: string): string | undefined {
  return new RegExp(`<input[^>]*id="${id}"[^>]*value="([^"]*)"`).exec(html)?.[1];
}

/** Loads the new-credential form and posts it; returns the response and the nonce used. */
export async function createViaConsole(browser: Browser, fields: { name: string; type: "oauth_client" | "api_key"; account_id: string }) {
  const form = await browser.get(`/console/credentials/new?account_id=${encodeURIComponent(fields.account_id)}`);
  expect(form.status).toBe(200);
  const nonce = hiddenValue(await form.text(), "nonce");
  const response = await browser.post("/console/credentials", { nonce, ...fields });
  return { response, nonce };
}

/** Page text without tags, whitespace collapsed, entities of the common five decoded. */
export function textOf(html: string): string {
  return html
    .replace(/<\/?bdi[^>]*>/g, "") // inline: isolates a name without separating it from what follows
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** Every header name and value of a response as one string, for "appears nowhere" checks. */
export function headerText(response: Response): string {
  return [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
}

/**
 * Bulk setup straight into D1, for pagination tests: the management API limits writes per actor
 * (ADMIN_WRITES_BY_ACTOR), and a hundred API calls would spend that budget for every other test.
 * Rows follow migrations/0001_initial.sql; `at` strings are RFC 3339 with milliseconds.
 */
function randomId(prefix: string): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return `${prefix}_${[...crypto.getRandomValues(new Uint8Array(22))].map((byte) => alphabet[byte % 62]).join("")}`;
}

/** Inserts `count` active service accounts, oldest first, created before `before` (ms); returns their ids oldest first. */
export async function insertAccounts(count: number, before = Date.now() - 60_000): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomId("acct"));
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare("INSERT INTO accounts (id, name, type, status, created_at, deactivated_at) VALUES (?, ?, 'service', 'active', ?, NULL)").bind(
        id,
        `bulk account ${i} ${id.slice(-6)}`,
        new Date(before - (count - i) * 1000).toISOString(),
      ),
    ),
  );
  return ids;
}

/** Inserts audit events for one target, oldest first, one second apart ending at `end` (ms). */
export async function insertAuditEvents(targetId: string, actions: string[], end = Date.now()): Promise<void> {
  await env.DB.batch(
    actions.map((action, i) =>
      env.DB.prepare("INSERT INTO audit_events (id, at, actor, action, target_type, target_id, ip) VALUES (?, ?, 'admin_token', ?, 'account', ?, NULL)").bind(
        randomId("evt"),
        new Date(end - (actions.length - 1 - i) * 1000).toISOString(),
        action,
        targetId,
      ),
    ),
  );
}
