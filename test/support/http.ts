import { env, exports } from "cloudflare:workers";

/** Test helpers: talk to the Worker through its public HTTP interface only. */

export const ADMIN_TOKEN = env.ADMIN_TOKEN;
export const BASE = "http://localhost:8787";

export interface Call {
  method?: string;
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
}

/** One request to the Worker. `body` objects are sent as JSON; strings as they are. */
export function call(path: string, { method = "GET", body, token = ADMIN_TOKEN, headers = {} }: Call = {}): Promise<Response> {
  const init: RequestInit = { method, headers: { ...headers } };
  const h = init.headers as Record<string, string>;
  if (token !== null) h.authorization ??= `Bearer ${token}`;
  if (body !== undefined) {
    if (typeof body === "string") init.body = body;
    else {
      init.body = JSON.stringify(body);
      h["content-type"] ??= "application/json";
    }
  }
  return exports.default.fetch(new Request(BASE + path, init));
}

export async function json<T = any>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

let counter = 0;
/** A name no other test uses. */
export function uniqueName(label = "test"): string {
  counter += 1;
  return `${label} ${Date.now().toString(36)}-${counter}`;
}

export async function createAccount(type: "service" | "user" = "service") {
  const response = await call("/admin/v1/accounts", { method: "POST", body: { name: uniqueName("account"), type } });
  if (response.status !== 201) throw new Error(`account create failed: ${response.status} ${await response.text()}`);
  return json(response);
}

export async function createCredential(
  accountId: string,
  type: "oauth_client" | "api_key" = "oauth_client",
  scopes: string[] = [],
) {
  const response = await call("/admin/v1/credentials", {
    method: "POST",
    body: { name: uniqueName("credential"), type, account_id: accountId, scopes },
  });
  if (response.status !== 201) throw new Error(`credential create failed: ${response.status} ${await response.text()}`);
  return json(response);
}

/** Row counts of every table, to assert that a rejected request changed nothing. */
export async function tableCounts(): Promise<Record<string, number>> {
  const tables = ["accounts", "credentials", "audit_events"];
  const rows = await env.DB.batch(tables.map((table) => env.DB.prepare(`SELECT count(*) AS n FROM ${table}`)));
  return Object.fromEntries(tables.map((table, i) => [table, (rows[i]!.results[0] as { n: number }).n]));
}

/**
 * A full dump of the tables, for "no row changed" assertions that also catch updates. Usage is
 * left out: `last_used_at` and the usage tables are written later by the usage queue's consumer,
 * whenever an earlier request's counts arrive (src/services/usage.ts).
 */
export async function snapshot(): Promise<string> {
  const tables = ["accounts", "credentials", "audit_events"];
  const rows = await env.DB.batch(tables.map((table) => env.DB.prepare(`SELECT * FROM ${table} ORDER BY 1`)));
  return JSON.stringify(rows.map((r) => r.results)).replace(/"last_used_at":("[^"]*"|null)/g, '"last_used_at":"-"');
}

export function expectError(response: Response, status: number, code: string) {
  return response.json().then((body: any) => {
    if (response.status !== status || body.error !== code || typeof body.error_description !== "string") {
      throw new Error(`expected ${status} ${code}, got ${response.status} ${JSON.stringify(body)}`);
    }
    return body;
  });
}

/** SHA-256 of a string as lowercase hex, to look for a secret's digest where it must not be. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Every row of every table in D1 (SELECT *), keyed by table name: for "stored nowhere" checks. */
export async function dumpAllTables(): Promise<Record<string, Record<string, unknown>[]>> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  const names = tables.results.map((row) => row.name);
  const rows = await env.DB.batch(names.map((name) => env.DB.prepare(`SELECT * FROM "${name}"`)));
  return Object.fromEntries(names.map((name, i) => [name, rows[i]!.results as Record<string, unknown>[]]));
}

/** Fetches every page of a list, starting at `path` (which may carry filters and `limit`). */
export async function walkPages<T = any>(
  path: string,
  between: (pageIndex: number) => Promise<void> = async () => {},
): Promise<{ data: T[]; next_cursor: string | null }[]> {
  const pages: { data: T[]; next_cursor: string | null }[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const response = await call(cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`);
    if (response.status !== 200) throw new Error(`list failed: ${response.status} ${await response.text()}`);
    const page = await json(response);
    pages.push(page);
    cursor = page.next_cursor;
    if (pages.length > 1000) throw new Error("pagination does not end");
    if (cursor !== null) await between(pages.length - 1);
  } while (cursor !== null);
  return pages;
}

/** Every audit event recorded for one target, newest first. */
export async function auditEventsFor(targetId: string): Promise<any[]> {
  const pages = await walkPages(`/admin/v1/audit-events?target_id=${encodeURIComponent(targetId)}&limit=100`);
  return pages.flatMap((page) => page.data);
}

/** Sends a request that must fail with this status and code, and checks it changed no stored row. */
export async function expectRejected(send: () => Promise<Response>, status: number, code: string) {
  const before = await snapshot();
  const body = await expectError(await send(), status, code);
  const after = await snapshot();
  if (after !== before) throw new Error(`a rejected request (${status} ${code}) changed stored rows`);
  return body;
}

/**
 * Checks a newest-first list of audit events against the actions expected (newest first).
 * Times never increase down the list; events recorded in the same millisecond may come in
 * either order, all others must come in the expected one.
 */
export function expectActions(events: { at: string; action: string }[], expected: string[]) {
  const actions = events.map((event) => event.action);
  if (JSON.stringify([...actions].sort()) !== JSON.stringify([...expected].sort())) {
    throw new Error(`expected actions ${JSON.stringify(expected)}, got ${JSON.stringify(actions)}`);
  }
  for (let i = 0; i + 1 < events.length; i++) {
    if (events[i]!.at < events[i + 1]!.at) throw new Error(`audit events are not newest first: ${JSON.stringify(events)}`);
  }
  for (let i = 0; i < events.length; i++) {
    for (let j = i + 1; j < events.length; j++) {
      const [a, b] = [events[i]!, events[j]!];
      if (a.at === b.at || a.action === b.action) continue;
      if (expected.indexOf(a.action) > expected.indexOf(b.action)) {
        throw new Error(`expected actions ${JSON.stringify(expected)} newest first, got ${JSON.stringify(actions)}`);
      }
    }
  }
}

/** The same value with its last character changed (so it can never equal the original). */
export function altered(value: string): string {
  return `${value.slice(0, -1)}${value.endsWith("x") ? "y" : "x"}`;
}
