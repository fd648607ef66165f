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

/** A full dump of the tables, for "no row changed" assertions that also catch updates. */
export async function snapshot(): Promise<string> {
  const tables = ["accounts", "credentials", "audit_events"];
  const rows = await env.DB.batch(tables.map((table) => env.DB.prepare(`SELECT * FROM ${table} ORDER BY 1`)));
  return JSON.stringify(rows.map((r) => r.results));
}

export function expectError(response: Response, status: number, code: string) {
  return response.json().then((body: any) => {
    if (response.status !== status || body.error !== code || typeof body.error_description !== "string") {
      throw new Error(`expected ${status} ${code}, got ${response.status} ${JSON.stringify(body)}`);
    }
    return body;
  });
}
