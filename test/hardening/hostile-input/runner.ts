import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../../src/index";
import type { ErrorCode } from "../../../src/http/errors";
import { generateSecret } from "../../../src/services/secrets";
import { signIn } from "../../support/console";
import { ADMIN_TOKEN, BASE, createAccount, createCredential, sha256Hex, snapshot } from "../../support/http";
import { basic, eventually, fetchJwks, storedSigningKey } from "../../support/oauth";

/**
 * Hostile input against every route, as one table split by route family: each file next to this
 * one holds the rows for one family (admin accounts, admin credentials, the OAuth token endpoint,
 * ...), and each row is a request and the exact answer it must get. This module is what they
 * share: the fixtures, the hostile values, the request builders, and the runner.
 *
 * For every row, the runner checks: no 5xx, the status (and error code, in the contract's
 * {"error","error_description"} shape, or the console page title), no secret of ours anywhere in
 * the response body or headers, and, unless the request is meant to succeed, no stored row changed.
 *
 * Rate limits: failed client authentication is limited per client_id (10/min). No row sends
 * cf-connecting-ip, and every row that fails client authentication after the form is read uses
 * a client_id no other row uses (`freshId()` or a unique junk string).
 *
 * table.test.ts checks the table as a whole (its size, and that no two rows share a name).
 */

// ---- fixtures ------------------------------------------------------------------------------

export interface Credential {
  id: string;
  account_id: string;
  name: string;
  client_id?: string;
  client_secret?: string;
  api_key?: string;
}
export interface Client extends Credential {
  client_id: string;
  client_secret: string;
}
export interface ApiKey extends Credential {
  api_key: string;
}

export interface Fixtures {
  account: { id: string };
  /** oauth_client, scopes ["read"]: the caller for introspection and the token endpoint. */
  client: Client;
  key: ApiKey;
  /** Rows that rejected requests aim at (delete, deactivate, roll): they must survive. */
  victimAccount: { id: string };
  victimClient: Client;
  /** An account and a credential whose names are HTML and SQL, for the console's escaping. */
  hostileAccount: { id: string; name: string };
  hostileCredential: Credential;
  cookie: string;
  kit: Kit;
  /** Plaintext secrets and their digests: none may appear in any response. */
  secrets: string[];
}

export interface Kit {
  kid: string;
  ours: CryptoKey;
  foreign: CryptoKeyPair;
  foreignJwk: JWK;
  publicJwk: JsonWebKey;
  rawPoint: Uint8Array;
}

/** Made once per test file, before its rows run (every file has its own storage). */
let f: Fixtures;

export const HOSTILE_HTML = `<script>alert("km")</script><img src=x onerror=alert(1)>`;
export const SQL_OR = "' OR 1=1 --";
export const SQL_DROP = '"; DROP TABLE credentials; --';
export const TRAVERSAL = "../../etc/passwd";
export const RLO = "\u202E";
export const enc = encodeURIComponent;

/** Ids of the right shape that no row has. */
export const ID = "cred_0000000000000000000000";
export const ACCT = "acct_0000000000000000000000";
export const KIB = 1024;

/** Names that must be refused: control characters and bidirectional overrides. */
export const badNames: [string, string][] = [
  ["NUL", "a\u0000b"],
  ["U+202E (RLO)", `${RLO}txt.exe`],
  ["U+200F (RLM)", "name\u200F"],
  ["U+2066…U+2069 (isolates)", "\u2066x\u2069"],
  ["U+0085 (NEL, C1)", "a\u0085b"],
  ["a tab", "tab\there"],
  ["a newline", "line\nbreak"],
  ["an ANSI escape", "\u001b[31mred"],
  ["U+061C (ALM)", "x\u061C"],
  ["U+007F (DEL)", "del\u007F"],
];

/** Path segments that are SQL or a path traversal, already percent-encoded as sent. */
export const hostileIds: [string, string][] = [
  ["SQL OR", enc(SQL_OR)],
  ["SQL DROP", enc(SQL_DROP)],
  ["encoded traversal", enc(TRAVERSAL)],
  ["%2e%2e%2f traversal", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
  ["double-encoded traversal", "%252e%252e%252fetc%252fpasswd"],
  ["a backslash traversal", enc("..\\..\\windows\\win.ini")],
  ["invalid percent-UTF-8", "%FF%FE"],
];

let uniqueCounter = 0;
/** A well-formed client_id no credential has and no other row uses. */
export const freshId = () => generateSecret("client_id");
/** A junk string made unique, so rate limits keyed by it never see it twice. */
export const junk = (text: string) => `${text} #${(uniqueCounter += 1)}-${Date.now().toString(36)}`;

/** One request to the Worker, with its deferred work (ctx.waitUntil) finished before we go on. */
export async function send(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, env, ctx);
  const body = await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response(response.status === 204 || response.status === 304 ? null : body, response);
}

/** A genuine access token for the fixture client. */
export async function mint(client: Client = f.client): Promise<string> {
  const response = await send(
    new Request(`${BASE}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.client_id, client.client_secret) },
      body: "grant_type=client_credentials",
    }),
  );
  if (response.status !== 200) throw new Error(`mint failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function makeFixtures(): Promise<Fixtures> {
  const account = await createAccount();
  const client = (await createCredential(account.id, "oauth_client", ["read"])) as Client;
  const key = (await createCredential(account.id, "api_key", ["read"])) as ApiKey;
  const victimAccount = await createAccount();
  const victimClient = (await createCredential(victimAccount.id, "oauth_client", ["read"])) as Client;
  const hostileName = `${HOSTILE_HTML} ${SQL_OR}`;
  const created = await send(
    new Request(`${BASE}/admin/v1/accounts`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: hostileName, type: "service" }),
    }),
  );
  expect(created.status).toBe(201);
  const hostileAccount = (await created.json()) as { id: string; name: string };
  const hostileCredential = (await createCredential(hostileAccount.id, "api_key")) as Credential;
  const renamed = await send(
    new Request(`${BASE}/admin/v1/credentials/${hostileCredential.id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `${HOSTILE_HTML} ${SQL_DROP}` }),
    }),
  );
  expect(renamed.status).toBe(200);
  hostileCredential.name = `${HOSTILE_HTML} ${SQL_DROP}`;

  // Use the client and the key once, and let their deferred last_used_at writes land: the
  // Worker writes last_used_at at most once a minute per credential, so the rows that
  // authenticate successfully do not change a stored row while the file runs.
  const genuine = await mint(client);
  const keyCheck = await send(new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${key.api_key}` } }));
  expect(keyCheck.status).toBe(200);
  await eventually(
    () => env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE id IN (?, ?) AND last_used_at IS NOT NULL").bind(client.id, key.id).first<{ n: number }>(),
    (row) => row?.n === 2,
  );

  const kid = decodeProtectedHeader(genuine).kid!;
  const ours = await storedSigningKey(kid);
  const foreign = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = (await fetchJwks()).keys.find((jwk) => jwk.kid === kid) as unknown as JsonWebKey;
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const rawPoint = new Uint8Array((await crypto.subtle.exportKey("raw", publicKey)) as ArrayBuffer);

  const plaintexts = [ADMIN_TOKEN, client.client_secret, key.api_key, victimClient.client_secret];
  const secrets = [...plaintexts, ...(await Promise.all(plaintexts.map(sha256Hex))), ...plaintexts.map((secret) => secret.slice(-20))];

  return {
    account,
    client,
    key,
    victimAccount,
    victimClient,
    hostileAccount,
    hostileCredential,
    cookie: await signIn(),
    kit: { kid, ours: ours.privateKey, foreign, foreignJwk: await exportJWK(foreign.publicKey), publicJwk, rawPoint },
    secrets,
  };
}

// ---- rows ----------------------------------------------------------------------------------

export type Header = readonly [string, string];

export interface Spec {
  method?: string;
  path: string;
  headers?: Header[];
  body?: BodyInit;
}

/** One row of the table: a request and the answer it must get. */
export interface Case {
  name: string;
  send: Spec | ((f: Fixtures) => Spec | Promise<Spec>);
  status: number;
  /** The error code of a JSON error answer. */
  error?: ErrorCode;
  /** Introspection of a token that must not count: exactly {"active": false}. */
  inactive?: true;
  /** A console HTML page: its title (before " · Keymint"). */
  page?: string | ((f: Fixtures) => string);
  /** 405: the exact methods in Allow. */
  allow?: string[];
  /** The WWW-Authenticate challenge expected: a scheme, or "none" for no header. */
  challenge?: "Basic" | "Bearer" | "none";
  location?: string;
  /** The request is meant to succeed and may change rows: skip the no-change check. */
  changes?: true;
  /**
   * A client authenticates successfully on the way (the request then fails for another
   * reason): its last_used_at may legitimately move, so that one column is not compared.
   */
  authenticates?: true;
  check?: (response: Response, text: string, f: Fixtures) => void | Promise<void>;
}

/** A titled group of rows (wrong methods, content types, ...): one describe block. */
export type Group = [title: string, cases: Case[]];

// ---- request builders ----------------------------------------------------------------------

export const H = {
  admin: ["authorization", `Bearer ${ADMIN_TOKEN}`] as Header,
  json: ["content-type", "application/json"] as Header,
  form: ["content-type", "application/x-www-form-urlencoded"] as Header,
  origin: ["origin", BASE] as Header,
  bearer: (token: string): Header => ["authorization", `Bearer ${token}`],
  basic: (id: string, secret: string): Header => ["authorization", basic(id, secret)],
  rawBasic: (decoded: string): Header => ["authorization", `Basic ${btoa(decoded)}`],
  auth: (value: string): Header => ["authorization", value],
  type: (value: string): Header => ["content-type", value],
};

export const adminGet = (path: string, extra: Header[] = []): Spec => ({ path, headers: [H.admin, ...extra] });
export const adminCall = (method: string, path: string, extra: Header[] = []): Spec => ({ method, path, headers: [H.admin, ...extra] });
export const adminJson = (method: string, path: string, body: unknown, extra: Header[] = []): Spec => ({
  method,
  path,
  headers: [H.admin, H.json, ...extra],
  body: typeof body === "string" ? body : JSON.stringify(body),
});
export const adminRaw = (method: string, path: string, headers: Header[], body: BodyInit): Spec => ({ method, path, headers: [H.admin, ...headers], body });
export const oauthForm = (path: string, body: string, extra: Header[] = []): Spec => ({ method: "POST", path, headers: [H.form, ...extra], body });
/** A form sent by the fixture client with client_secret_basic. */
export const asClient = (path: string, body: string) => (fx: Fixtures) => oauthForm(path, body, [H.basic(fx.client.client_id, fx.client.client_secret)]);
export const testAuth = (...headers: Header[]): Spec => ({ path: "/v1/test-auth", headers });
export const consoleGet = (path: string, extra: Header[] = []) => (fx: Fixtures): Spec => ({ path, headers: [["cookie", fx.cookie], ...extra] });
export const consolePost = (path: string, body: string, extra: Header[] = []) => (fx: Fixtures): Spec => ({
  method: "POST",
  path,
  headers: [["cookie", fx.cookie], H.origin, H.form, ...extra],
  body,
});
export const utf8 = (text: string) => new TextEncoder().encode(text);
export const bytes = (...parts: (string | number[])[]) => new Uint8Array(parts.flatMap((part) => (typeof part === "string" ? [...utf8(part)] : part)));
export const utf16 = (text: string) => new Uint8Array(new Uint16Array([...text].map((ch) => ch.charCodeAt(0))).buffer);
/** A fresh console form nonce (it doubles as an idempotency key, so no two rows share one). */
export const nonce = () => generateSecret("api_key").slice(8, 40);
export const emptyList = (_: Response, text: string) => {
  expect(JSON.parse(text)).toEqual({ data: [], next_cursor: null });
};

/** Wrong methods: 405 method_not_allowed with exactly `allow` in Allow. */
type WrongMethod = readonly [method: string, path: string, allow: readonly string[]];

/** With the admin token. */
export const adminWrongMethods = (rows: readonly WrongMethod[]) =>
  rows.map(([method, path, allow]): Case => ({
    name: `${method} ${path} (admin) → 405`,
    send: adminCall(method, path),
    status: 405,
    error: "method_not_allowed",
    allow: [...allow],
  }));

/** With no credentials at all. */
export const plainWrongMethods = (rows: readonly WrongMethod[]) =>
  rows.map(([method, path, allow]): Case => ({
    name: `${method} ${path} → 405`,
    send: { method, path },
    status: 405,
    error: "method_not_allowed",
    allow: [...allow],
  }));

/** An admin request with a body of a type the API does not take: 415 unsupported_media_type. */
export const adminUnsupportedTypes = (rows: readonly (readonly [type: string, method: string, path: string, body: string])[]) =>
  rows.map(([type, method, path, body]): Case => ({
    name: `${method} ${path} as ${type} → 415`,
    send: adminRaw(method, path, [H.type(type)], body),
    status: 415,
    error: "unsupported_media_type",
  }));

/** An admin GET whose query is refused: 400 invalid_request. */
export const adminRefusedQueries = (paths: readonly string[]) =>
  paths.map((path): Case => ({ name: `GET ${path} → 400`, send: adminGet(path), status: 400, error: "invalid_request" }));

/** An admin list GET with a hostile query: 200 and no rows, or 400 invalid_request. */
export const adminListQueries = (rows: readonly (readonly [path: string, status: 200 | 400])[]) =>
  rows.map(
    ([path, status]): Case =>
      status === 200
        ? { name: `GET ${path} → 200, no rows`, send: adminGet(path), status, check: emptyList }
        : { name: `GET ${path} → 400`, send: adminGet(path), status, error: "invalid_request" },
  );

/** An OAuth endpoint sent something other than a form: 400 invalid_request (RFC 6749 §3.2). */
export const oauthNonForms = (rows: readonly (readonly [path: string, label: string, headers: readonly Header[], body: string])[]) =>
  rows.map(([path, label, headers, body]): Case => ({
    name: `POST ${path} with ${label} → 400`,
    send: { method: "POST", path, headers: [...headers], body },
    status: 400,
    error: "invalid_request",
  }));

// ---- the runner ----------------------------------------------------------------------------

const withoutLastUsed = (dump: string) => dump.replace(/"last_used_at":("[^"]*"|null)/g, '"last_used_at":"-"');

function toRequest(spec: Spec): Request {
  const headers = new Headers();
  for (const [name, value] of spec.headers ?? []) headers.append(name, value);
  return new Request(BASE + spec.path, { method: spec.method ?? "GET", headers, body: spec.body ?? null, redirect: "manual" });
}

/** Sends one row's request and checks the answer against the row. */
async function run(c: Case) {
  const spec = typeof c.send === "function" ? await c.send(f) : c.send;
  const before = c.changes ? null : await snapshot();
  const response = await send(toRequest(spec));
  const text = await response.text();
  const context = `${c.name}: ${response.status} ${text.slice(0, 300)}`;

  expect(response.status, context).toBeLessThan(500);
  expect(response.status, context).toBe(c.status);

  // No secret of ours, nor its digest, anywhere in the answer.
  const headerText = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
  for (const secret of f.secrets) {
    expect(text.includes(secret), `${c.name}: a secret in the body`).toBe(false);
    expect(headerText.includes(secret), `${c.name}: a secret in a header`).toBe(false);
  }

  if (c.error) {
    expect(response.headers.get("content-type"), context).toMatch(/^application\/json\b/);
    const body = JSON.parse(text);
    expect(Object.keys(body).sort(), context).toEqual(["error", "error_description"]);
    expect(body.error, context).toBe(c.error);
    expect(typeof body.error_description).toBe("string");
    expect(body.error_description.length).toBeGreaterThan(0);
  }
  if (c.inactive) {
    expect(JSON.parse(text), context).toEqual({ active: false });
    expect(response.headers.get("cache-control")).toBe("no-store");
  }
  if (c.page !== undefined) {
    expect(response.headers.get("content-type"), context).toMatch(/^text\/html\b/);
    const title = typeof c.page === "function" ? c.page(f) : c.page;
    expect(text, context).toContain(`<title>${title} · Keymint</title>`);
  }
  if (c.allow) {
    const allow = (response.headers.get("allow") ?? "").split(",").map((method) => method.trim()).filter(Boolean);
    expect(allow.sort(), context).toEqual([...c.allow].sort());
  }
  const challenge = response.headers.get("www-authenticate");
  if (c.challenge === "none") expect(challenge, context).toBeNull();
  if (c.challenge === "Basic") expect(challenge, context).toMatch(/^Basic /);
  if (c.challenge === "Bearer") expect(challenge, context).toMatch(/^Bearer .*error="invalid_token"/);
  if (c.location) expect(response.headers.get("location"), context).toBe(c.location);

  if (before !== null) {
    const after = await snapshot();
    if (c.authenticates) expect(withoutLastUsed(after), `${c.name}: rows changed`).toBe(withoutLastUsed(before));
    else expect(after, `${c.name}: rows changed`).toBe(before);
  }
  await c.check?.(response, text, f);
}

/** One route family's rows, as a test file declared them. */
export interface Family {
  family: string;
  groups: Group[];
}

/** Set while table.test.ts loads the family files: they are then recorded, not run. */
let collecting: Family[] | undefined;

/**
 * Registers a family's rows as tests: the fixtures first, one describe block per group, one test
 * per row (named by the row), then a check that the rows the rejected requests aimed at survived.
 */
export function describeHostileInput(family: string, groups: Group[]): void {
  if (collecting) {
    collecting.push({ family, groups });
    return;
  }
  describe(`hostile input: ${family}`, () => {
    beforeAll(async () => {
      f = await makeFixtures();
    });

    for (const [title, cases] of groups) {
      describe(title, () => {
        for (const c of cases) it(c.name, () => run(c));
      });
    }

    it("left the rows the rejected requests aimed at as they were", async () => {
      const victim = await env.DB.prepare("SELECT status FROM accounts WHERE id = ?").bind(f.victimAccount.id).first<{ status: string }>();
      expect(victim?.status).toBe("active");
      const response = await send(
        new Request(`${BASE}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(f.victimClient.client_id, f.victimClient.client_secret) },
          body: "grant_type=client_credentials",
        }),
      );
      expect(response.status).toBe(200);
    });
  });
}

/** Loads the family files with `load` and answers their rows, registering no test. */
export async function collectFamilies(load: () => Promise<unknown>): Promise<Family[]> {
  collecting = [];
  try {
    await load();
    return collecting;
  } finally {
    collecting = undefined;
  }
}
