import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { ErrorCode } from "../../src/http/errors";
import { generateSecret } from "../../src/services/secrets";
import { signIn } from "../support/console";
import { encodeJson, hmacSign, ourClaims } from "../support/forge";
import { ADMIN_TOKEN, BASE, createAccount, createCredential, sha256Hex, snapshot, uniqueName } from "../support/http";
import { base64urlToBytes, basic, bytesToBase64url, eventually, fetchJwks, storedSigningKey } from "../support/oauth";

/**
 * Hostile input against every route, as one table: each case is a request and the exact answer
 * it must get. For every case: no 5xx, the status (and error code, in the contract's
 * {"error","error_description"} shape, or the console page title), no secret of ours anywhere in
 * the response body or headers, and, unless the request is meant to succeed, no stored row changed.
 *
 * Rate limits: failed client authentication is limited per client_id (10/min). No case sends
 * cf-connecting-ip, and every case that fails client authentication after the form is read uses
 * a client_id no other case uses (`freshId()` or a unique junk string).
 */

// ---- fixtures ------------------------------------------------------------------------------

interface Credential {
  id: string;
  account_id: string;
  name: string;
  client_id?: string;
  client_secret?: string;
  api_key?: string;
}
interface Client extends Credential {
  client_id: string;
  client_secret: string;
}
interface ApiKey extends Credential {
  api_key: string;
}

interface Fixtures {
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

interface Kit {
  kid: string;
  ours: CryptoKey;
  foreign: CryptoKeyPair;
  foreignJwk: JWK;
  publicJwk: JsonWebKey;
  rawPoint: Uint8Array;
}

let f: Fixtures;

const HOSTILE_HTML = `<script>alert("km")</script><img src=x onerror=alert(1)>`;
const SQL_OR = "' OR 1=1 --";
const SQL_DROP = '"; DROP TABLE credentials; --';
const TRAVERSAL = "../../etc/passwd";
const RLO = "\u202E";
const enc = encodeURIComponent;

let uniqueCounter = 0;
/** A well-formed client_id no credential has and no other case uses. */
const freshId = () => generateSecret("client_id");
/** A junk string made unique, so rate limits keyed by it never see it twice. */
const junk = (text: string) => `${text} #${(uniqueCounter += 1)}-${Date.now().toString(36)}`;

/** One request to the Worker, with its deferred work (ctx.waitUntil) finished before we go on. */
async function send(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, env, ctx);
  const body = await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response(response.status === 204 || response.status === 304 ? null : body, response);
}

/** A genuine access token for the fixture client. */
async function mint(client: Client = f.client): Promise<string> {
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

beforeAll(async () => {
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
  // Worker writes last_used_at at most once a minute per credential, so the cases below that
  // authenticate successfully do not change a row while this suite runs.
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

  f = {
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
});

// ---- the case table --------------------------------------------------------------------------

type Header = readonly [string, string];

interface Spec {
  method?: string;
  path: string;
  headers?: Header[];
  body?: BodyInit;
}

interface Case {
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

const H = {
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

const adminGet = (path: string, extra: Header[] = []): Spec => ({ path, headers: [H.admin, ...extra] });
const adminCall = (method: string, path: string, extra: Header[] = []): Spec => ({ method, path, headers: [H.admin, ...extra] });
const adminJson = (method: string, path: string, body: unknown, extra: Header[] = []): Spec => ({
  method,
  path,
  headers: [H.admin, H.json, ...extra],
  body: typeof body === "string" ? body : JSON.stringify(body),
});
const adminRaw = (method: string, path: string, headers: Header[], body: BodyInit): Spec => ({ method, path, headers: [H.admin, ...headers], body });
const oauthForm = (path: string, body: string, extra: Header[] = []): Spec => ({ method: "POST", path, headers: [H.form, ...extra], body });
/** A form sent by the fixture client with client_secret_basic. */
const asClient = (path: string, body: string) => (fx: Fixtures) => oauthForm(path, body, [H.basic(fx.client.client_id, fx.client.client_secret)]);
const testAuth = (...headers: Header[]): Spec => ({ path: "/v1/test-auth", headers });
const consoleGet = (path: string, extra: Header[] = []) => (fx: Fixtures): Spec => ({ path, headers: [["cookie", fx.cookie], ...extra] });
const consolePost = (path: string, body: string, extra: Header[] = []) => (fx: Fixtures): Spec => ({
  method: "POST",
  path,
  headers: [["cookie", fx.cookie], H.origin, H.form, ...extra],
  body,
});
const utf8 = (text: string) => new TextEncoder().encode(text);
const bytes = (...parts: (string | number[])[]) => new Uint8Array(parts.flatMap((part) => (typeof part === "string" ? [...utf8(part)] : part)));
const utf16 = (text: string) => new Uint8Array(new Uint16Array([...text].map((ch) => ch.charCodeAt(0))).buffer);
/** A fresh console form nonce (it doubles as an idempotency key, so no two cases share one). */
const nonce = () => generateSecret("api_key").slice(8, 40);
const emptyList = (_: Response, text: string) => {
  expect(JSON.parse(text)).toEqual({ data: [], next_cursor: null });
};

/** The genuine token a revoke case aimed at, for its check. */
const revokedCandidate = new Map<Fixtures, string>();

/** The genuine token stays valid: a rejected revocation must not have revoked it. */
async function stillValid(token: string) {
  const response = await send(new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${token}` } }));
  expect(response.status).toBe(200);
}

// 1. Wrong methods: 405 with the exact Allow list ---------------------------------------------

const ID = "cred_0000000000000000000000";
const ACCT = "acct_0000000000000000000000";
const wrongMethods: Case[] = [
  ...(
    [
      ["PUT", "/admin/v1/accounts", ["GET", "HEAD", "POST"]],
      ["DELETE", "/admin/v1/accounts", ["GET", "HEAD", "POST"]],
      ["PATCH", `/admin/v1/accounts/${ACCT}`, ["DELETE", "GET", "HEAD"]],
      ["POST", `/admin/v1/accounts/${ACCT}`, ["DELETE", "GET", "HEAD"]],
      ["GET", `/admin/v1/accounts/${ACCT}/deactivate`, ["POST"]],
      ["PUT", `/admin/v1/accounts/${ACCT}/activate`, ["POST"]],
      ["PUT", "/admin/v1/credentials", ["GET", "HEAD", "POST"]],
      ["POST", `/admin/v1/credentials/${ID}`, ["DELETE", "GET", "HEAD", "PATCH"]],
      ["PUT", `/admin/v1/credentials/${ID}`, ["DELETE", "GET", "HEAD", "PATCH"]],
      ["GET", `/admin/v1/credentials/${ID}/roll`, ["POST"]],
      ["DELETE", "/admin/v1/audit-events", ["GET", "HEAD"]],
      ["OPTIONS", "/admin/v1/audit-events", ["GET", "HEAD"]],
    ] as const
  ).map(([method, path, allow]): Case => ({
    name: `${method} ${path} (admin) → 405`,
    send: adminCall(method, path),
    status: 405,
    error: "method_not_allowed",
    allow: [...allow],
  })),
  ...(
    [
      ["GET", "/oauth/token", ["POST"]],
      ["PUT", "/oauth/token", ["POST"]],
      ["DELETE", "/oauth/token", ["POST"]],
      ["OPTIONS", "/oauth/token", ["POST"]],
      ["GET", "/oauth/introspect", ["POST"]],
      ["PATCH", "/oauth/introspect", ["POST"]],
      ["GET", "/oauth/revoke", ["POST"]],
      ["DELETE", "/oauth/revoke", ["POST"]],
      ["POST", "/v1/test-auth", ["GET", "HEAD"]],
      ["DELETE", "/v1/test-auth", ["GET", "HEAD"]],
      ["POST", "/.well-known/jwks.json", ["GET", "HEAD"]],
      ["PUT", "/.well-known/oauth-authorization-server", ["GET", "HEAD"]],
      ["POST", "/healthz", ["GET", "HEAD"]],
      ["DELETE", "/healthz", ["GET", "HEAD"]],
      ["POST", "/openapi.json", ["GET", "HEAD"]],
      ["POST", "/docs", ["GET", "HEAD"]],
      ["DELETE", "/docs", ["GET", "HEAD"]],
    ] as const
  ).map(([method, path, allow]): Case => ({
    name: `${method} ${path} → 405`,
    send: { method, path },
    status: 405,
    error: "method_not_allowed",
    allow: [...allow],
  })),
  // The console: signed in and same-origin (the CSRF check comes first otherwise).
  ...(
    [
      ["PUT", "/console/credentials", ["GET", "HEAD", "POST"]],
      ["DELETE", "/console/accounts", ["GET", "HEAD", "POST"]],
      ["PUT", "/console/login", ["GET", "HEAD", "POST"]],
      ["DELETE", `/console/credentials/${ID}/delete`, ["GET", "HEAD", "POST"]],
      ["POST", "/console/audit", ["GET", "HEAD"]],
    ] as const
  ).map(([method, path, allow]): Case => ({
    name: `${method} ${path} (console, signed in) → 405`,
    send: (fx) => ({ method, path, headers: [["cookie", fx.cookie], H.origin] }),
    status: 405,
    error: "method_not_allowed",
    allow: [...allow],
  })),
  {
    name: "PUT /console/credentials from no origin → 403 page (CSRF check before routing)",
    send: (fx) => ({ method: "PUT", path: "/console/credentials", headers: [["cookie", fx.cookie]] }),
    status: 403,
    page: "Request refused",
  },
];

// 2. Content types and encodings --------------------------------------------------------------

const accountBody = JSON.stringify({ name: "content type test", type: "service" });
const contentTypes: Case[] = [
  ...(
    [
      ["text/plain", "POST", "/admin/v1/accounts", accountBody],
      ["application/x-www-form-urlencoded", "POST", "/admin/v1/accounts", "name=x&type=service"],
      ["multipart/form-data; boundary=x", "POST", "/admin/v1/accounts", `--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--x--\r\n`],
      ["application/jsonx", "POST", "/admin/v1/accounts", accountBody],
      ["application/json-patch+json", "POST", "/admin/v1/accounts", accountBody],
      ["text/json", "POST", "/admin/v1/accounts", accountBody],
      ["application/xml", "POST", "/admin/v1/accounts", "<account><name>x</name></account>"],
      ["json", "POST", "/admin/v1/accounts", accountBody],
      ["text/plain", "POST", "/admin/v1/credentials", JSON.stringify({ name: "x", type: "api_key", account_id: ACCT })],
      ["text/plain", "PATCH", `/admin/v1/credentials/${ID}`, '{"name":"x"}'],
      ["multipart/form-data; boundary=y", "POST", `/admin/v1/credentials/${ID}/roll`, "--y--\r\n"],
      ["text/plain", "POST", `/admin/v1/accounts/${ACCT}/deactivate`, "please"],
    ] as const
  ).map(([type, method, path, body]): Case => ({
    name: `${method} ${path} as ${type} → 415`,
    send: adminRaw(method, path, [H.type(type)], body),
    status: 415,
    error: "unsupported_media_type",
  })),
  {
    name: "PATCH a real credential, form-encoded with a real secret in it → 415, nothing echoed",
    send: (fx) => adminRaw("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, [H.form], `name=${enc(fx.victimClient.client_secret)}`),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "POST /admin/v1/accounts with a body and no Content-Type → 415",
    send: adminRaw("POST", "/admin/v1/accounts", [], utf8(accountBody)),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "POST /admin/v1/accounts with Content-Type: application/json twice → 415",
    send: adminRaw("POST", "/admin/v1/accounts", [H.json, H.json], accountBody),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "POST /admin/v1/accounts as UTF-16 JSON → 400",
    send: adminRaw("POST", "/admin/v1/accounts", [H.type("application/json; charset=utf-16le")], utf16(accountBody)),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts with invalid UTF-8 bytes in the name → 400, not U+FFFD stored",
    send: adminRaw("POST", "/admin/v1/accounts", [H.json], bytes('{"name":"a', [0xff, 0xfe], '","type":"service"}')),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "PATCH a real credential with an overlong UTF-8 encoding of '<' → 400",
    send: (fx) => adminRaw("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, [H.json], bytes('{"name":"', [0xc0, 0xbc], 'script"}')),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts with a UTF-8 encoded surrogate (CESU) → 400",
    send: adminRaw("POST", "/admin/v1/accounts", [H.json], bytes('{"name":"', [0xed, 0xa0, 0x80], '","type":"user"}')),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["truncated JSON", '{"name": "trunc", "ty'],
      ["JSON null", "null"],
      ["a JSON array", '[{"name":"x","type":"service"}]'],
      ["a JSON string", '"name=x"'],
      ["trailing garbage", `${accountBody}xyz`],
      ["an empty body", ""],
      ["__proto__ smuggled in", '{"name":"x","type":"service","__proto__":{"admin":true}}'],
      ["constructor smuggled in", '{"name":"x","type":"service","constructor":{"prototype":{"admin":true}}}'],
      ["a lone surrogate escape in the name", '{"name":"\\ud800","type":"service"}'],
      ["NaN", '{"name":NaN,"type":"service"}'],
      ["single quotes", "{'name':'x','type':'service'}"],
    ] as const
  ).map(([label, body]): Case => ({
    name: `POST /admin/v1/accounts with ${label} → 400`,
    send: adminJson("POST", "/admin/v1/accounts", body),
    status: 400,
    error: "invalid_request",
  })),
  ...(
    [
      ["expires_in -1", '{"expires_in":-1}'],
      ["expires_in 604801", '{"expires_in":604801}'],
      ["expires_in 1.5", '{"expires_in":1.5}'],
      ['expires_in "0"', '{"expires_in":"0"}'],
      ["expires_in 1e400", '{"expires_in":1e400}'],
    ] as const
  ).map(([label, body]): Case => ({
    name: `roll a real credential with ${label} → 400, secret unchanged`,
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll`, body),
    status: 400,
    error: "invalid_request",
  })),
  // The OAuth endpoints take forms only: anything else is 400 invalid_request (RFC 6749 §3.2).
  ...(
    [
      ["/oauth/token", "a JSON body", [H.json], '{"grant_type":"client_credentials"}'],
      ["/oauth/token", "text/plain", [H.type("text/plain")], "grant_type=client_credentials"],
      ["/oauth/token", "multipart", [H.type("multipart/form-data; boundary=z")], '--z\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--z--\r\n'],
      ["/oauth/token", "a look-alike type", [H.type("application/x-www-form-urlencodedx")], "grant_type=client_credentials"],
      ["/oauth/token", "the form type twice", [H.form, H.form], "grant_type=client_credentials"],
      ["/oauth/introspect", "a JSON body", [H.json], '{"token":"x"}'],
      ["/oauth/revoke", "a JSON body", [H.json], '{"token":"x"}'],
    ] as const
  ).map(([path, label, headers, body]): Case => ({
    name: `POST ${path} with ${label} → 400`,
    send: { method: "POST", path, headers: [...headers], body },
    status: 400,
    error: "invalid_request",
  })),
  {
    name: "POST /oauth/token with a body and no Content-Type → 400",
    send: { method: "POST", path: "/oauth/token", body: utf8("grant_type=client_credentials") },
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["an invalid UTF-8 byte", bytes("grant_type=client_credentials&scope=", [0xff])],
      ["a bad percent-escape", "grant_type=client_credentials&scope=%zz"],
      ["a truncated percent-escape", "grant_type=client_credentials&scope=%E0%A4%A"],
      ["a percent-encoded invalid UTF-8 byte", "grant_type=client_credentials&scope=%FF"],
      ["a percent-encoded lone surrogate", "grant_type=client_credentials&scope=%ED%A0%80"],
      ["UTF-16", utf16("grant_type=client_credentials")],
      ["an empty body", ""],
    ] as const
  ).map(([label, body]): Case => ({
    name: `POST /oauth/token, form with ${label} → 400`,
    send: { method: "POST", path: "/oauth/token", headers: [H.form], body },
    status: 400,
    error: "invalid_request",
  })),
  {
    name: "POST /oauth/introspect, form with a bad percent-escape, from the real client → 400",
    send: asClient("/oauth/introspect", "token=%zz"),
    status: 400,
    error: "invalid_request",
  },
];

// 3. Truncated and oversized bodies -----------------------------------------------------------

const KIB = 1024;
const sizes: Case[] = [
  {
    name: "POST /admin/v1/accounts, 64 KiB + 1 → 413",
    send: adminJson("POST", "/admin/v1/accounts", "x".repeat(64 * KIB + 1)),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /admin/v1/accounts, exactly 64 KiB (not JSON) → 400, the limit is not off by one",
    send: adminJson("POST", "/admin/v1/accounts", "x".repeat(64 * KIB)),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, 70 KiB without credentials → 413 before anything is read",
    send: { method: "POST", path: "/admin/v1/accounts", headers: [H.json], body: JSON.stringify({ name: "x".repeat(70 * KIB), type: "service" }) },
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "PATCH a real credential, 70 KiB → 413",
    send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, { name: "y".repeat(70 * KIB) }),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /admin/v1/credentials, 1 MiB of scopes → 413",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "x", type: "api_key", account_id: fx.account.id, scopes: Array(40_000).fill("a".repeat(20)) }),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "roll a real credential with a 70 KiB body → 413",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll`, `{"expires_in":0${" ".repeat(70 * KIB)}}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /admin/v1/accounts, 70 KiB streamed without Content-Length → 413",
    send: () => {
      const chunk = utf8("x".repeat(KIB));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 70) controller.enqueue(chunk);
          else controller.close();
        },
      });
      return adminRaw("POST", "/admin/v1/accounts", [H.json], stream);
    },
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/token, 8 KiB + 1 → 413",
    send: oauthForm("/oauth/token", `grant_type=client_credentials&scope=${"a".repeat(8 * KIB + 1 - 36)}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/token, exactly 8 KiB → read (then 401 invalid_client: no client auth)",
    send: oauthForm("/oauth/token", `grant_type=client_credentials&scope=${"a".repeat(8 * KIB - 36)}`),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/introspect, 9 KiB from the real client → 413",
    send: asClient("/oauth/introspect", `token=${"a".repeat(9 * KIB)}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/revoke, 70 KiB → 413",
    send: oauthForm("/oauth/revoke", `token=${"a".repeat(70 * KIB)}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /console/login, 70 KiB → 413",
    send: { method: "POST", path: "/console/login", headers: [H.origin, H.form], body: `admin_token=${"a".repeat(70 * KIB)}` },
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /console/accounts, 70 KiB, signed in → 413",
    send: consolePost("/console/accounts", `name=${"a".repeat(70 * KIB)}&type=service`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/token, truncated grant_type → 400 unsupported_grant_type",
    send: oauthForm("/oauth/token", "grant_type=client_cred"),
    status: 400,
    error: "unsupported_grant_type",
  },
  {
    name: "POST /oauth/token, truncated after client_id= → 401 invalid_client without a challenge",
    send: oauthForm("/oauth/token", "grant_type=client_credentials&client_id=kmc_"),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, a truncated client_id and client_secret (post) → 401 invalid_client",
    send: () => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${freshId().slice(0, -3)}&client_secret=${generateSecret("client_secret").slice(0, 20)}`),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, a real client with its secret truncated by one (Basic) → 401 invalid_client",
    send: (fx) => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(fx.victimClient.client_id, fx.victimClient.client_secret.slice(0, -1))]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "GET /v1/test-auth with the real API key truncated by one → 401 invalid_token",
    send: (fx) => testAuth(H.bearer(fx.key.api_key.slice(0, -1))),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "POST /oauth/introspect, a truncated genuine token → 200 inactive",
    send: async (fx) => asClient("/oauth/introspect", `token=${(await mint()).slice(0, -10)}`)(fx),
    status: 200,
    inactive: true,
    authenticates: true,
  },
];

// 4. Repeated parameters ----------------------------------------------------------------------

const duplicates: Case[] = [
  ...(
    [
      "/admin/v1/accounts?limit=1&limit=2",
      "/admin/v1/accounts?limit=5&limit=5",
      "/admin/v1/credentials?type=api_key&type=oauth_client",
      `/admin/v1/credentials?account_id=${ACCT}&account_id=${ACCT}`,
      "/admin/v1/audit-events?target_id=a&target_id=b",
      "/admin/v1/audit-events?cursor=x&cursor=y",
      "/admin/v1/accounts?LIMIT=1",
      "/admin/v1/accounts?limit[]=1",
      `/admin/v1/accounts/${ACCT}?expand=credentials`,
    ] as const
  ).map(
    (path): Case => ({ name: `GET ${path} → 400`, send: adminGet(path), status: 400, error: "invalid_request" }),
  ),
  {
    name: "DELETE a real credential with ?force=1 → 400 and it still exists",
    send: (fx) => adminCall("DELETE", `/admin/v1/credentials/${fx.victimClient.id}?force=1`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "DELETE a real account with ?cascade=true&cascade=false → 400 and it still exists",
    send: (fx) => adminCall("DELETE", `/admin/v1/accounts/${fx.victimAccount.id}?cascade=true&cascade=false`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "deactivate a real account with ?dry_run=1 → 400 and it stays active",
    send: (fx) => adminCall("POST", `/admin/v1/accounts/${fx.victimAccount.id}/deactivate?dry_run=1`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "roll a real credential with ?expires_in=0 in the query → 400",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll?expires_in=0`, { expires_in: 0 }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "PATCH a real credential with ?name=x in the query → 400",
    send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}?name=x`, { name: "y" }),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["repeated", ["k1", "k2"]],
      ["with spaces (SQL)", [SQL_OR]],
      ["of 256 characters", ["i".repeat(256)]],
      ["empty", [""]],
    ] as const
  ).map(
    ([label, values]): Case => ({
      name: `POST /admin/v1/credentials with an Idempotency-Key ${label} → 400`,
      send: (fx) =>
        adminJson(
          "POST",
          "/admin/v1/credentials",
          { name: "idem", type: "api_key", account_id: fx.account.id },
          values.map((value): Header => ["idempotency-key", value]),
        ),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "roll a real credential with the real API key as Idempotency-Key and a bad body → 400, not echoed",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll`, { expires_in: -5 }, [["idempotency-key", fx.key.api_key]]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials with a JSON key repeated → last one must still validate: 400 on the bad one",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", `{"name":"ok","type":"api_key","account_id":"${fx.account.id}","scopes":[],"scopes":["\\u0000"]}`),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["grant_type", "grant_type=client_credentials&grant_type=client_credentials"],
      ["grant_type, the second empty", "grant_type=client_credentials&grant_type="],
      ["scope", "grant_type=client_credentials&scope=read&scope=admin"],
    ] as const
  ).map(
    ([label, body]): Case => ({
      name: `POST /oauth/token with ${label} repeated (real client, Basic) → 400`,
      send: (fx) => oauthForm("/oauth/token", body, [H.basic(fx.client.client_id, fx.client.client_secret)]),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "POST /oauth/token with client_id repeated (post) → 400",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.client.client_id}&client_id=${freshId()}&client_secret=${fx.client.client_secret}`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token with client_secret repeated, the real one first → 400, secret not echoed",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.client.client_id}&client_secret=${fx.client.client_secret}&client_secret=${fx.client.client_secret}`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/introspect with token repeated → 400",
    send: async (fx) => asClient("/oauth/introspect", `token=${await mint()}&token=x`)(fx),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/revoke with token repeated → 400, and the token stays valid",
    send: async (fx) => {
      const token = await mint();
      revokedCandidate.set(fx, token);
      return asClient("/oauth/revoke", `token=${token}&token=${token}`)(fx);
    },
    status: 400,
    error: "invalid_request",
    check: async (_, __, fx) => stillValid(revokedCandidate.get(fx)!),
  },
  {
    name: "GET /console/credentials?account_id=a&account_id=b, signed in → 400 page (a filter twice is refused, not guessed)",
    send: consoleGet("/console/credentials?account_id=a&account_id=b"),
    status: 400,
    page: "Request refused",
  },
  {
    name: "POST /console/accounts with name repeated, both with U+202E → 400 page (a field twice is refused)",
    send: consolePost("/console/accounts", `name=${enc(`${RLO}gpj.exe`)}&name=${enc(`a${RLO}b`)}&type=service`),
    status: 400,
    page: "Request refused",
  },
];

// 5. NUL, control characters and bidirectional overrides --------------------------------------

const badNames: [string, string][] = [
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
const controls: Case[] = [
  ...badNames.map(
    ([label, name]): Case => ({
      name: `POST /admin/v1/accounts, name with ${label} → 400`,
      send: adminJson("POST", "/admin/v1/accounts", { name, type: "service" }),
      status: 400,
      error: "invalid_request",
    }),
  ),
  ...badNames.slice(0, 4).map(
    ([label, name]): Case => ({
      name: `PATCH a real credential, name with ${label} → 400`,
      send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, { name }),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "POST /admin/v1/accounts, the real API key + NUL as the name → 400, key not echoed",
    send: (fx) => adminJson("POST", "/admin/v1/accounts", { name: `${fx.key.api_key}\u0000`, type: "service" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, type with a NUL → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "x", type: "service\u0000" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, an empty name → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "", type: "service" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, 101 code points → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "😀".repeat(101), type: "service" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, name with NUL → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k\u0000ey", type: "api_key", account_id: fx.account.id }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, scope with NUL → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: fx.account.id, scopes: ["read\u0000"] }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, scope with U+202E → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: fx.account.id, scopes: [`${RLO}nimda`] }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, account_id with NUL → 404",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: `${fx.account.id}\u0000` }),
    status: 404,
    error: "not_found",
  },
  {
    name: "PATCH a real credential, scopes with a client secret in them → 400, not echoed",
    send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, { scopes: [`${fx.client.client_secret} ${RLO}`] }),
    status: 400,
    error: "invalid_request",
  },
  { name: "GET /admin/v1/credentials?type=api_key%00 → 400", send: adminGet("/admin/v1/credentials?type=api_key%00"), status: 400, error: "invalid_request" },
  {
    name: "GET /admin/v1/audit-events?target_id={the real API key} → 200, nothing, not echoed",
    send: (fx) => adminGet(`/admin/v1/audit-events?target_id=${fx.key.api_key}`),
    status: 200,
    check: emptyList,
  },
  { name: "GET /admin/v1/accounts?limit=1%00 → 400", send: adminGet("/admin/v1/accounts?limit=1%00"), status: 400, error: "invalid_request" },
  { name: "GET /admin/v1/accounts?cursor=%00 → 400", send: adminGet("/admin/v1/accounts?cursor=%00"), status: 400, error: "invalid_request" },
  { name: "GET /admin/v1/accounts?limit=%E2%80%AE5 → 400", send: adminGet("/admin/v1/accounts?limit=%E2%80%AE5"), status: 400, error: "invalid_request" },
  {
    name: "GET /admin/v1/credentials?account_id=%00 → 200, nothing",
    send: adminGet("/admin/v1/credentials?account_id=%00"),
    status: 200,
    check: emptyList,
  },
  {
    name: "GET /admin/v1/audit-events?target_id=%E2%80%AE → 200, nothing",
    send: adminGet("/admin/v1/audit-events?target_id=%E2%80%AE"),
    status: 200,
    check: emptyList,
  },
  { name: "GET /admin/v1/accounts/%00 → 404", send: adminGet("/admin/v1/accounts/%00"), status: 404, error: "not_found" },
  { name: "GET /admin/v1/credentials/%E2%80%AE → 404", send: adminGet("/admin/v1/credentials/%E2%80%AE"), status: 404, error: "not_found" },
  { name: "DELETE /admin/v1/accounts/acct%00 → 404", send: adminCall("DELETE", "/admin/v1/accounts/acct%00"), status: 404, error: "not_found" },
  {
    name: "POST /oauth/token, grant_type with a NUL → 400 unsupported_grant_type",
    send: oauthForm("/oauth/token", "grant_type=client_credentials%00"),
    status: 400,
    error: "unsupported_grant_type",
  },
  {
    name: "POST /oauth/token, scope with a NUL (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", "grant_type=client_credentials&scope=read%00", [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/token, scope with U+202E (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&scope=${enc(`${RLO}read`)}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/token, client_id with a NUL (post) → 401 invalid_client without a challenge",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${enc(junk(`${fx.client.client_id}\u0000`))}&client_secret=${fx.client.client_secret}`),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, client_secret with U+202E (Basic) → 401 invalid_client",
    send: () => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(freshId(), `${RLO}${generateSecret("client_secret")}`)]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/introspect, token=%00 → 200 inactive",
    send: asClient("/oauth/introspect", "token=%00"),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "POST /oauth/introspect, U+202E before a genuine token → 200 inactive",
    send: async (fx) => asClient("/oauth/introspect", `token=%E2%80%AE${await mint()}`)(fx),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "GET /v1/test-auth, U+202E (sent as UTF-8 bytes) inside an API key → 401",
    send: (fx) => testAuth(H.bearer(`km_live_${RLO}${fx.key.api_key.slice(9)}`)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth, a tab inside the bearer value → 401",
    send: (fx) => testAuth(H.auth(`Bearer ${fx.key.api_key.slice(0, 20)}\t${fx.key.api_key.slice(20)}`)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
];

// 6. SQL and path traversal in ids, queries and bodies -----------------------------------------

const hostileIds: [string, string][] = [
  ["SQL OR", enc(SQL_OR)],
  ["SQL DROP", enc(SQL_DROP)],
  ["encoded traversal", enc(TRAVERSAL)],
  ["%2e%2e%2f traversal", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
  ["double-encoded traversal", "%252e%252e%252fetc%252fpasswd"],
  ["a backslash traversal", enc("..\\..\\windows\\win.ini")],
  ["invalid percent-UTF-8", "%FF%FE"],
];
const injection: Case[] = [
  ...hostileIds.flatMap(([label, id]): Case[] => [
    { name: `GET /admin/v1/accounts/{${label}} → 404`, send: adminGet(`/admin/v1/accounts/${id}`), status: 404, error: "not_found" },
    { name: `GET /admin/v1/credentials/{${label}} → 404`, send: adminGet(`/admin/v1/credentials/${id}`), status: 404, error: "not_found" },
  ]),
  ...(
    [
      ["DELETE", `/admin/v1/accounts/${enc(SQL_OR)}`],
      ["DELETE", `/admin/v1/credentials/${enc(SQL_DROP)}`],
      ["DELETE", `/admin/v1/credentials/%2e%2e%2f%2e%2e%2fetc%2fpasswd`],
      ["POST", `/admin/v1/accounts/${enc(SQL_OR)}/deactivate`],
      ["POST", `/admin/v1/accounts/${enc(TRAVERSAL)}/activate`],
    ] as const
  ).map(([method, path]): Case => ({ name: `${method} ${path} → 404`, send: adminCall(method, path), status: 404, error: "not_found" })),
  {
    name: `PATCH /admin/v1/credentials/{SQL OR} with a valid body → 404`,
    send: adminJson("PATCH", `/admin/v1/credentials/${enc(SQL_OR)}`, { name: "renamed" }),
    status: 404,
    error: "not_found",
  },
  {
    name: `roll /admin/v1/credentials/{SQL DROP} → 404`,
    send: adminJson("POST", `/admin/v1/credentials/${enc(SQL_DROP)}/roll`, { expires_in: 0 }),
    status: 404,
    error: "not_found",
  },
  {
    name: "roll /admin/v1/credentials/{a real secret} → 404, secret not echoed",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.key.api_key}/roll`, { expires_in: 0 }),
    status: 404,
    error: "not_found",
  },
  {
    name: "POST /admin/v1/credentials, account_id = SQL OR → 404",
    send: adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: SQL_OR }),
    status: 404,
    error: "not_found",
  },
  {
    name: "POST /admin/v1/credentials, account_id = traversal → 404",
    send: adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: TRAVERSAL }),
    status: 404,
    error: "not_found",
  },
  {
    name: "POST /admin/v1/credentials, type = SQL DROP → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: SQL_DROP, account_id: fx.account.id }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, scopes = [SQL DROP] → 400 (not a scope-token)",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: fx.account.id, scopes: [SQL_DROP] }),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      [`/admin/v1/credentials?account_id=${enc(SQL_OR)}`, 200],
      [`/admin/v1/credentials?account_id=${enc(TRAVERSAL)}`, 200],
      [`/admin/v1/audit-events?target_id=${enc(SQL_DROP)}`, 200],
      [`/admin/v1/audit-events?target_id=%2e%2e%2f%2e%2e%2fetc%2fpasswd`, 200],
      [`/admin/v1/credentials?type=${enc(SQL_OR)}`, 400],
      [`/admin/v1/accounts?cursor=${enc(SQL_OR)}`, 400],
      [`/admin/v1/credentials?cursor=${enc(TRAVERSAL)}`, 400],
      [`/admin/v1/accounts?limit=${enc("1 OR 1=1")}`, 400],
      [`/admin/v1/accounts?limit=0`, 400],
      [`/admin/v1/accounts?limit=101`, 400],
      [`/admin/v1/accounts?limit=-1`, 400],
      [`/admin/v1/accounts?limit=1e2`, 400],
      [`/admin/v1/audit-events?target_id=${"t".repeat(65)}`, 400],
      [`/admin/v1/accounts?${enc(SQL_DROP)}=1`, 400],
    ] as const
  ).map(
    ([path, status]): Case =>
      status === 200
        ? { name: `GET ${path} → 200, no rows`, send: adminGet(path), status, check: emptyList }
        : { name: `GET ${path} → 400`, send: adminGet(path), status, error: "invalid_request" },
  ),
  // Accepted, stored literally, and every table is still there afterwards.
  {
    name: "POST /admin/v1/accounts named with SQL DROP → 201, stored as text",
    send: adminJson("POST", "/admin/v1/accounts", { name: SQL_DROP, type: "user" }),
    status: 201,
    changes: true,
    check: async (_, text) => {
      const account = JSON.parse(text);
      expect(account.name).toBe(SQL_DROP);
      const row = await env.DB.prepare("SELECT name FROM accounts WHERE id = ?").bind(account.id).first<{ name: string }>();
      expect(row?.name).toBe(SQL_DROP);
      expect((await env.DB.prepare("SELECT count(*) AS n FROM credentials").first<{ n: number }>())!.n).toBeGreaterThan(0);
    },
  },
  {
    name: "POST /admin/v1/credentials with scope ../../etc/passwd (a valid scope-token) → 201, literal",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: SQL_OR, type: "api_key", account_id: fx.account.id, scopes: [TRAVERSAL, "'OR'1'='1"] }),
    status: 201,
    changes: true,
    check: (_, text) => {
      const credential = JSON.parse(text);
      expect(credential.name).toBe(SQL_OR);
      expect(credential.scopes).toEqual([TRAVERSAL, "'OR'1'='1"]);
    },
  },
  {
    name: "POST /admin/v1/accounts, 100 astral code points and a BOM → 201",
    send: adminJson("POST", "/admin/v1/accounts", `\uFEFF${JSON.stringify({ name: "😀".repeat(100), type: "service" })}`),
    status: 201,
    changes: true,
    check: (_, text) => expect(JSON.parse(text).name).toBe("😀".repeat(100)),
  },
  {
    name: "POST /oauth/token, client_id = SQL OR (post) → 401 invalid_client",
    send: () => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${enc(junk(SQL_OR))}&client_secret=${enc(SQL_DROP)}`),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, Basic with traversal as client_id → 401 invalid_client",
    send: () => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(junk(TRAVERSAL), SQL_OR)]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, scope = SQL OR (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&scope=${enc(SQL_OR)}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/token, scope = SQL DROP (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&scope=${enc(SQL_DROP)}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/introspect, token = SQL OR → 200 inactive",
    send: asClient("/oauth/introspect", `token=${enc(SQL_OR)}`),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "POST /oauth/introspect, token = traversal → 200 inactive",
    send: asClient("/oauth/introspect", `token=${enc(TRAVERSAL)}`),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "POST /oauth/revoke, token = SQL DROP → 200 (RFC 7009: nothing to revoke)",
    send: asClient("/oauth/revoke", `token=${enc(SQL_DROP)}`),
    status: 200,
    authenticates: true,
    check: (_, text) => expect(text).toBe(""),
  },
  {
    name: "GET /v1/test-auth, Bearer km_live_ + SQL → 401",
    send: testAuth(H.bearer("km_live_'OR'1'='1'--")),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth, Bearer with traversal → 401",
    send: testAuth(H.bearer(TRAVERSAL)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
];

// 7. Authorization header oddities ----------------------------------------------------------------

const headerOddities: Case[] = [
  // The token endpoint (client_secret_basic).
  ...(
    [
      ["Basic without credentials", () => H.auth("Basic")],
      ["Basic with bad base64", () => H.auth("Basic !!!not-base64!!!")],
      ["Basic with base64 of an odd length", () => H.auth("Basic a2")],
      ["Basic without a colon", () => H.rawBasic(freshId())],
      ["Basic with bad percent-encoding in the id", () => H.rawBasic(`kmc_%zz${freshId().slice(4)}:x`)],
      ["Basic with bad percent-encoding in the secret", () => H.rawBasic(`${freshId()}:%E0%A4%A`)],
      ["Basic with invalid UTF-8", () => H.auth(`Basic ${btoa(String.fromCharCode(0x6b, 0xff, 0x3a, 0xfe))}`)],
      ["an empty Authorization", () => H.auth("")],
      ["Bearer with the admin token", () => H.bearer(ADMIN_TOKEN)],
      ["Digest", () => H.auth(`Digest username="${freshId()}", response="x"`)],
      ["Basic with two spaces inside the value", () => H.auth(`Basic ${btoa(`${freshId()}:x`)} extra`)],
      ["a 5000-character Basic value", () => H.auth(`Basic ${"A".repeat(5000)}`)],
    ] as const
  ).map(
    ([label, header]): Case => ({
      name: `POST /oauth/token, ${label} → 401 invalid_client with a Basic challenge`,
      send: () => oauthForm("/oauth/token", "grant_type=client_credentials", [header()]),
      status: 401,
      error: "invalid_client",
      challenge: "Basic",
    }),
  ),
  {
    name: "POST /oauth/token, Authorization repeated (the real client's Basic twice) → 401 invalid_client",
    send: (fx) => {
      const header = H.basic(fx.client.client_id, fx.client.client_secret);
      return oauthForm("/oauth/token", "grant_type=client_credentials", [header, header]);
    },
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, Basic with a fresh id and the real API key as secret → 401, key not echoed",
    send: (fx) => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(freshId(), fx.key.api_key)]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, Basic and client_secret in the body at once → 400 invalid_request",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_secret=${fx.client.client_secret}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token, an empty Authorization and client_secret in the body → 400 invalid_request",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.client.client_id}&client_secret=${fx.client.client_secret}`, [H.auth("")]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token, Basic naming another client_id in the body → 400 invalid_request",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.victimClient.client_id}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token?client_id=…&client_secret=… (query, not body) → 401, secret not echoed",
    send: (fx) => oauthForm(`/oauth/token?client_id=${fx.client.client_id}&client_secret=${fx.client.client_secret}`, "grant_type=client_credentials"),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  // Introspection and revocation authenticate the caller the same way.
  ...(
    [
      ["/oauth/introspect", "Basic without a colon", () => H.rawBasic(freshId())],
      ["/oauth/introspect", "Basic with bad base64", () => H.auth("Basic ****")],
      ["/oauth/introspect", "an empty Authorization", () => H.auth("")],
      ["/oauth/introspect", "Basic with bad percent-encoding", () => H.rawBasic(`${freshId()}:%G0`)],
      ["/oauth/revoke", "Basic without credentials", () => H.auth("Basic")],
      ["/oauth/revoke", "Bearer with the API key", () => H.bearer(generateSecret("api_key"))],
    ] as const
  ).map(
    ([path, label, header]): Case => ({
      name: `POST ${path}, ${label} → 401 invalid_client`,
      send: () => oauthForm(path, "token=abc", [header()]),
      status: 401,
      error: "invalid_client",
      challenge: "Basic",
    }),
  ),
  {
    name: "POST /oauth/introspect, Authorization repeated → 401 invalid_client",
    send: (fx) => {
      const header = H.basic(fx.client.client_id, fx.client.client_secret);
      return oauthForm("/oauth/introspect", "token=abc", [header, header]);
    },
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/introspect, no client authentication at all → 401 invalid_client",
    send: oauthForm("/oauth/introspect", "token=abc"),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/introspect, the real client without a token → 400 invalid_request",
    send: asClient("/oauth/introspect", "token_type_hint=access_token"),
    status: 400,
    error: "invalid_request",
    authenticates: true,
  },
  // Test Auth (RFC 6750 challenge on every refusal).
  ...(
    [
      ["no Authorization", () => []],
      ["an empty Authorization", () => [H.auth("")]],
      ["Bearer without a token", () => [H.auth("Bearer")]],
      ["Bearer followed by spaces only", () => [H.auth("Bearer    ")]],
      ["Basic with the API key", (fx) => [H.rawBasic(`${fx.key.api_key}:`)]],
      ["Bearer with the API key and a trailing word", (fx) => [H.auth(`Bearer ${fx.key.api_key} x`)]],
      ["Bearer with a client secret", (fx) => [H.bearer(fx.client.client_secret)]],
      ["Bearer with a client_id", (fx) => [H.bearer(fx.client.client_id)]],
      ["Bearer with the admin token", () => [H.admin]],
      ["Bearer with 5000 characters", () => [H.bearer("k".repeat(5000))]],
      ["Bearer with the API key's checksum changed", (fx) => [H.bearer(`${fx.key.api_key.slice(0, -1)}${fx.key.api_key.endsWith("0") ? "1" : "0"}`)]],
      ["the API key as a cookie", (fx) => [["cookie", `api_key=${fx.key.api_key}`]]],
      ["the API key, then the admin token (repeated header)", (fx) => [H.bearer(fx.key.api_key), H.admin]],
    ] satisfies [string, (fx: Fixtures) => Header[]][]
  ).map(
    ([label, headers]): Case => ({
      name: `GET /v1/test-auth, ${label} → 401 invalid_token`,
      send: (fx) => testAuth(...headers(fx)),
      status: 401,
      error: "invalid_token",
      challenge: "Bearer",
    }),
  ),
  {
    name: "GET /v1/test-auth, Authorization repeated (the API key twice) → 401 invalid_token",
    send: (fx) => testAuth(H.bearer(fx.key.api_key), H.bearer(fx.key.api_key)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth?api_key=… (query, not header) → 401, key not echoed",
    send: (fx) => ({ path: `/v1/test-auth?api_key=${fx.key.api_key}&access_token=${fx.key.api_key}` }),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth, BEARER (scheme in capitals) with the API key → 200",
    send: (fx) => testAuth(H.auth(`BEARER ${fx.key.api_key}`)),
    status: 200,
    changes: true,
    check: (_, text, fx) => expect(JSON.parse(text)).toMatchObject({ ok: true, credential_id: fx.key.id }),
  },
  // Admin routes.
  ...(
    [
      ["an empty Authorization", () => [H.auth("")]],
      ["Bearer without a token", () => [H.auth("Bearer")]],
      ["the admin token twice (repeated header)", () => [H.admin, H.admin]],
      ["Bearer with the admin token, then Basic (repeated header)", () => [H.admin, H.rawBasic("a:b")]],
      ["Basic with the admin token as password", () => [H.rawBasic(`admin:${ADMIN_TOKEN}`)]],
      ["Bearer with the API key", (fx) => [H.bearer(fx.key.api_key)]],
      ["Bearer with a client secret", (fx) => [H.bearer(fx.client.client_secret)]],
      ["Bearer with the admin token plus one character", () => [H.bearer(`${ADMIN_TOKEN}x`)]],
      ["Bearer with the admin token less one character", () => [H.bearer(ADMIN_TOKEN.slice(0, -1))]],
      ["the admin token as a cookie", () => [["cookie", `km_session=${ADMIN_TOKEN}`]]],
      ["a garbage Cf-Access-Jwt-Assertion (Access off)", () => [["cf-access-jwt-assertion", "a.b.c"]]],
    ] satisfies [string, (fx: Fixtures) => Header[]][]
  ).map(
    ([label, headers]): Case => ({
      name: `POST /admin/v1/accounts, ${label} → 401 unauthorized`,
      send: (fx) => ({ method: "POST", path: "/admin/v1/accounts", headers: [...headers(fx), H.json], body: accountBody }),
      status: 401,
      error: "unauthorized",
    }),
  ),
  {
    name: "DELETE a real credential with a genuine token lacking the admin scope → 403 forbidden",
    send: async (fx) => ({ method: "DELETE", path: `/admin/v1/credentials/${fx.victimClient.id}`, headers: [H.bearer(await mint())] }),
    status: 403,
    error: "forbidden",
  },
];

// 8. Forged access tokens -----------------------------------------------------------------------

type Forge = (fx: Fixtures, claims: JWTPayload) => Promise<string>;

/** Our claims for the fixture client (scope read unless overridden) as the middle segment. */
const payloadOf = (fx: Fixtures, claims: JWTPayload) => {
  const now = Math.floor(Date.now() / 1000);
  return encodeJson({
    iss: BASE,
    sub: fx.client.account_id,
    aud: BASE,
    client_id: fx.client.client_id,
    cid: fx.client.id,
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    scope: "read",
    ...claims,
  });
};
const signedByUs = (fx: Fixtures, claims: JWTPayload, header: Record<string, unknown> = {}) =>
  ourClaims(fx.client, claims)
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid, ...header })
    .sign(fx.kit.ours);
/** Signed with our key by WebCrypto, for headers jose refuses to sign (ES256 is raw r||s in JWS). */
const rawSigned = async (fx: Fixtures, header: Record<string, unknown>, claims: JWTPayload) => {
  const input = `${encodeJson({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid, ...header })}.${payloadOf(fx, claims)}`;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, fx.kit.ours, utf8(input));
  return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
};
const hs256 = async (fx: Fixtures, claims: JWTPayload, key: Uint8Array) => {
  const input = `${encodeJson({ alg: "HS256", typ: "at+jwt", kid: fx.kit.kid })}.${payloadOf(fx, claims)}`;
  return `${input}.${await hmacSign(key, input)}`;
};
const now = () => Math.floor(Date.now() / 1000);

const FORGERIES: Record<string, Forge> = {
  "alg none, no signature": async (fx, claims) => `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${payloadOf(fx, claims)}.`,
  "alg none, a genuine signature kept": async (fx, claims) => {
    const genuine = (await mint()).split(".");
    return `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${payloadOf(fx, claims)}.${genuine[2]}`;
  },
  "HS256 keyed with the public JWK": (fx, claims) => hs256(fx, claims, utf8(JSON.stringify(fx.kit.publicJwk))),
  "HS256 keyed with the raw public point": (fx, claims) => hs256(fx, claims, fx.kit.rawPoint),
  "a foreign key claiming our kid": (fx, claims) =>
    ourClaims(fx.client, claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid }).sign(fx.kit.foreign.privateKey),
  "an embedded jwk header (foreign key, our kid)": (fx, claims) =>
    ourClaims(fx.client, claims)
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid, jwk: fx.kit.foreignJwk })
      .sign(fx.kit.foreign.privateKey),
  "an embedded jwk header (foreign key, no kid)": (fx, claims) =>
    ourClaims(fx.client, claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", jwk: fx.kit.foreignJwk }).sign(fx.kit.foreign.privateKey),
  "a tampered payload on a genuine signature": async (fx, claims) => {
    const [header, payload, signature] = (await mint()).split(".") as [string, string, string];
    const tampered = { ...decodeJwt(`${header}.${payload}.${signature}`), sub: fx.victimAccount.id, scope: "read admin", ...claims };
    return `${header}.${encodeJson(tampered)}.${signature}`;
  },
  "a genuine token with its signature stripped": async () => {
    const [header, payload] = (await mint()).split(".");
    return `${header}.${payload}.`;
  },
  "a genuine header and payload with another token's signature": async () => {
    const [header, payload] = (await mint()).split(".");
    return `${header}.${payload}.${(await mint()).split(".")[2]}`;
  },
  // Signed with our real key: only the claim checks can refuse these.
  expired: (fx, claims) => signedByUs(fx, { ...claims, iat: now() - 200, exp: now() - 140 }),
  "not yet valid (nbf 10 minutes ahead)": (fx, claims) => signedByUs(fx, { ...claims, nbf: now() + 600 }),
  "wrong iss": (fx, claims) => signedByUs(fx, { ...claims, iss: "https://attacker.example" }),
  "wrong aud": (fx, claims) => signedByUs(fx, { ...claims, aud: "https://api.other.example" }),
  "wrong typ (JWT)": (fx, claims) => signedByUs(fx, claims, { typ: "JWT" }),
  "kid = SQL OR": (fx, claims) => signedByUs(fx, claims, { kid: SQL_OR }),
  "kid = path traversal": (fx, claims) => signedByUs(fx, claims, { kid: TRAVERSAL }),
  "kid of 2000 characters": (fx, claims) => signedByUs(fx, claims, { kid: "k".repeat(2000) }),
  "an unknown crit header": (fx, claims) => rawSigned(fx, { crit: ["x-keymint"], "x-keymint": true }, claims),
  "a JSON array as payload (alg none)": async (fx) => `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${encodeJson(["admin"])}.x`,
  // Aimed at the access-token verifier's own parsing (src/lib/es256-jwt.ts).
  "exp equal to now (exact: no tolerance)": (fx, claims) => signedByUs(fx, { ...claims, iat: now() - 60, exp: now() }),
  "nbf as a string": (fx, claims) => rawSigned(fx, {}, { ...claims, nbf: String(now() - 10) as unknown as number }),
  "exp as a string": (fx, claims) => rawSigned(fx, {}, { ...claims, exp: String(now() + 60) as unknown as number }),
  "no kid": (fx, claims) => rawSigned(fx, { kid: undefined }, claims),
  "our signature DER-encoded (72 bytes)": async (fx, claims) => {
    const [header, payload, signature] = (await rawSigned(fx, {}, claims)).split(".") as [string, string, string];
    const raw = base64urlToBytes(signature);
    const integer = (bytes: Uint8Array) => {
      const trimmed = bytes.slice(bytes.findIndex((b) => b !== 0));
      const value = trimmed[0]! & 0x80 ? [0, ...trimmed] : [...trimmed];
      return [0x02, value.length, ...value];
    };
    const body = [...integer(raw.slice(0, 32)), ...integer(raw.slice(32))];
    return `${header}.${payload}.${bytesToBase64url(new Uint8Array([0x30, body.length, ...body]))}`;
  },
  "our signature with one byte cut": async (fx, claims) => {
    const [header, payload, signature] = (await rawSigned(fx, {}, claims)).split(".") as [string, string, string];
    return `${header}.${payload}.${bytesToBase64url(base64urlToBytes(signature).slice(0, 63))}`;
  },
  "a payload that is not UTF-8, signed by us": async (fx) => {
    const input = `${encodeJson({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid })}.${bytesToBase64url(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))}`;
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, fx.kit.ours, utf8(input));
    return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
  },
  "wrong alg label on our signature (ES384)": async (fx, claims) => {
    const [, payload, signature] = (await signedByUs(fx, claims)).split(".");
    return `${encodeJson({ alg: "ES384", typ: "at+jwt", kid: fx.kit.kid })}.${payload}.${signature}`;
  },
};

/** The control: our real key, our claims. It must be accepted, or the forgery cases prove nothing. */
const CONTROL = "the control: our key, our claims";

const forged: Case[] = [
  {
    name: `GET /v1/test-auth, ${CONTROL} → 200`,
    send: async (fx) => testAuth(H.bearer(await signedByUs(fx, {}))),
    status: 200,
  },
  {
    name: `GET /v1/test-auth, ${CONTROL}, signed by WebCrypto as the crit case is → 200`,
    send: async (fx) => testAuth(H.bearer(await rawSigned(fx, {}, {}))),
    status: 200,
  },
  {
    name: `POST /oauth/introspect, ${CONTROL} → active`,
    send: async (fx) => asClient("/oauth/introspect", `token=${await signedByUs(fx, {})}`)(fx),
    status: 200,
    authenticates: true,
    check: (_, text) => expect(JSON.parse(text)).toMatchObject({ active: true, scope: "read" }),
  },
  {
    name: `GET /admin/v1/accounts, ${CONTROL} with scope admin → 200`,
    send: async (fx) => ({ path: "/admin/v1/accounts?limit=1", headers: [H.bearer(await signedByUs(fx, { scope: "read admin" }))] }),
    status: 200,
  },
  ...Object.entries(FORGERIES).flatMap(([label, forge]): Case[] => [
    {
      name: `GET /v1/test-auth, forged: ${label} → 401 invalid_token`,
      send: async (fx) => testAuth(H.bearer(await forge(fx, {}))),
      status: 401,
      error: "invalid_token",
      challenge: "Bearer",
    },
    {
      name: `POST /oauth/introspect, forged: ${label} → 200 inactive`,
      send: async (fx) => asClient("/oauth/introspect", `token=${await forge(fx, {})}`)(fx),
      status: 200,
      inactive: true,
      authenticates: true,
    },
  ]),
  ...["alg none, no signature", "HS256 keyed with the public JWK", "a foreign key claiming our kid", "an embedded jwk header (foreign key, our kid)", "a tampered payload on a genuine signature"].map(
    (label): Case => ({
      name: `DELETE a real credential as admin, forged: ${label} (scope admin) → 401 unauthorized`,
      send: async (fx) => ({
        method: "DELETE",
        path: `/admin/v1/credentials/${fx.victimClient.id}`,
        headers: [H.bearer(await FORGERIES[label]!(fx, { scope: "read admin" }))],
      }),
      status: 401,
      error: "unauthorized",
    }),
  ),
  ...["a tampered payload on a genuine signature", "alg none, a genuine signature kept", "a genuine token with its signature stripped"].map(
    (label): Case => ({
      name: `POST /oauth/revoke, forged: ${label} → 200, the genuine token is not revoked`,
      send: async (fx) => {
        const genuine = await mint();
        const [header, payload] = genuine.split(".");
        const token =
          label === "a genuine token with its signature stripped"
            ? `${header}.${payload}.`
            : label === "alg none, a genuine signature kept"
              ? `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${payload}.${genuine.split(".")[2]}`
              : `${header}.${encodeJson({ ...decodeJwt(genuine), scope: "read admin" })}.${genuine.split(".")[2]}`;
        revokedCandidate.set(fx, genuine);
        return asClient("/oauth/revoke", `token=${token}`)(fx);
      },
      status: 200,
      authenticates: true,
      check: async (_, text, fx) => {
        expect(text).toBe("");
        await stillValid(revokedCandidate.get(fx)!);
      },
    }),
  ),
];

// 9. Routes without auth: queries and odd input are harmless -----------------------------------

// ---- private_key_jwt assertions, DPoP proofs and client key sets (issue 14) ---------------

/** A private_key_jwt client and a key of its own, made on first use. */
let signer: Promise<{ clientId: string; privateKey: CryptoKey; jwk: JWK & { kid: string }; foreign: CryptoKey }> | undefined;
function pkjwt() {
  signer ??= (async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const foreign = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "hostile-key" } as JWK & { kid: string };
    const account = await createAccount();
    const response = await send(
      new Request(`${BASE}/admin/v1/credentials`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ name: uniqueName("signer"), type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } }),
      }),
    );
    const created = (await response.json()) as { client_id: string };
    return { clientId: created.client_id, privateKey: pair.privateKey as CryptoKey, jwk, foreign: foreign.privateKey as CryptoKey };
  })();
  return signer;
}

/** An assertion for the signer, ES256 unless `header`/`claims` say otherwise; `key` signs it. */
async function assertionFor(overrides: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: "own" | "foreign" } = {}) {
  const s = await pkjwt();
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "ES256", kid: s.jwk.kid, ...overrides.header };
  const claims = { iss: s.clientId, sub: s.clientId, aud: BASE, iat: now, exp: now + 60, jti: crypto.randomUUID(), ...overrides.claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[name];
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  if (header.alg === "none") return `${input}.`;
  const key = overrides.key === "foreign" ? s.foreign : s.privateKey;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(input));
  return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
}

const assertionForm = (assertion: string) =>
  new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString();

const tokenWithAssertion = async (assertion: string): Promise<Spec> => ({ method: "POST", path: "/oauth/token", headers: [H.form], body: assertionForm(assertion) });

/** A DPoP proof by a fresh key (or with `header.jwk` replaced), for the token endpoint unless told. */
async function dpopProof(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  const now = Math.floor(Date.now() / 1000);
  const input = `${encodeJson({ alg: "ES256", typ: "dpop+jwt", jwk, ...header })}.${encodeJson({ htm: "POST", htu: `${BASE}/oauth/token`, iat: now, jti: crypto.randomUUID(), ...claims })}`;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey as CryptoKey, new TextEncoder().encode(input));
  return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
}

let replayedAssertion: string | undefined;
let replayedProof: string | undefined;

const clientKeys: Case[] = [
  ...(
    [
      ["alg none", { header: { alg: "none" } }],
      ["HS256 (a key that could be the public one)", { header: { alg: "HS256" } }],
      ["a foreign key under the registered kid", { key: "foreign" }],
      ["an embedded jwk", { header: { jwk: { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" } } }],
      ["a jku", { header: { jku: "https://evil.example/jwks" } }],
      ["an x5u", { header: { x5u: "https://evil.example/cert.pem" } }],
      ["a wrong aud", { claims: { aud: "https://elsewhere.example" } }],
      ["an exp 6 minutes ahead", { claims: { exp: Math.floor(Date.now() / 1000) + 360 } }],
      ["no jti", { claims: { jti: undefined } }],
    ] as [string, Parameters<typeof assertionFor>[0]][]
  ).map(([label, overrides]): Case => ({
    name: `POST /oauth/token, private_key_jwt assertion with ${label}`,
    send: async () => tokenWithAssertion(await assertionFor(overrides)),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  })),
  {
    name: "POST /oauth/token, a private_key_jwt assertion (the control for the replay below)",
    send: async () => tokenWithAssertion((replayedAssertion = await assertionFor())),
    status: 200,
    authenticates: true,
  },
  {
    name: "POST /oauth/token, the same private_key_jwt assertion again",
    send: async () => tokenWithAssertion(replayedAssertion ?? (await assertionFor())),
    status: 401,
    error: "invalid_client",
  },
  ...(
    [
      ["a private key in jwk", {}, { jwk: { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", d: "AAAA" } }],
      ["a wrong htu", { htu: `${BASE}/oauth/elsewhere` }, {}],
      ["a wrong htm", { htm: "GET" }, {}],
      ["an iat 5 minutes old", { iat: Math.floor(Date.now() / 1000) - 300 }, {}],
    ] as [string, Record<string, unknown>, Record<string, unknown>][]
  ).map(([label, claims, header]): Case => ({
    name: `POST /oauth/token, DPoP proof with ${label}`,
    send: async () => ({ method: "POST", path: "/oauth/token", headers: [H.form, H.basic(f.client.client_id, f.client.client_secret), ["dpop", await dpopProof(claims, header)]], body: "grant_type=client_credentials" }),
    status: 400,
    error: "invalid_dpop_proof",
    authenticates: true,
  })),
  {
    name: "POST /oauth/token, a DPoP proof (the control for the replay below)",
    send: async () => ({ method: "POST", path: "/oauth/token", headers: [H.form, H.basic(f.client.client_id, f.client.client_secret), ["dpop", (replayedProof = await dpopProof())]], body: "grant_type=client_credentials" }),
    status: 200,
    authenticates: true,
  },
  {
    name: "POST /oauth/token, the same DPoP proof again",
    send: async () => ({ method: "POST", path: "/oauth/token", headers: [H.form, H.basic(f.client.client_id, f.client.client_secret), ["dpop", replayedProof ?? (await dpopProof())]], body: "grant_type=client_credentials" }),
    status: 400,
    error: "invalid_dpop_proof",
    authenticates: true,
  },
  ...(
    [
      ["a private key", { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI", kid: "k" }],
      ["an RSA key of 1024 bits", { kty: "RSA", e: "AQAB", n: `w${"A".repeat(170)}`, kid: "k" }],
      ["two keys with the same kid", { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "same" }, true],
    ] as [string, Record<string, unknown>, boolean?][]
  ).map(([label, key, twice]): Case => ({
    name: `POST /admin/v1/credentials, private_key_jwt with a jwks holding ${label}`,
    send: (fx) => ({
      method: "POST",
      path: "/admin/v1/credentials",
      headers: [H.admin, H.json],
      body: JSON.stringify({ name: "keys", type: "oauth_client", account_id: fx.account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: twice ? [key, key] : [key] } }),
    }),
    status: 400,
    error: "invalid_request",
  })),
];

const publicRoutes: Case[] = [
  { name: "GET /healthz?x=1&x=2 → 200", send: { path: "/healthz?x=1&x=2" }, status: 200, check: (_, text) => expect(JSON.parse(text)).toEqual({ ok: true }) },
  { name: "HEAD /healthz → 200, no body", send: { method: "HEAD", path: "/healthz" }, status: 200, check: (_, text) => expect(text).toBe("") },
  {
    name: "GET /.well-known/jwks.json?kid=../../etc/passwd → 200, public keys only",
    send: { path: `/.well-known/jwks.json?kid=${enc(TRAVERSAL)}` },
    status: 200,
    check: (_, text) => {
      for (const key of JSON.parse(text).keys) expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
    },
  },
  {
    name: "GET /.well-known/oauth-authorization-server with a hostile Host-like query → 200, issuer unchanged",
    send: { path: `/.well-known/oauth-authorization-server?issuer=${enc("https://evil.example")}` },
    status: 200,
    check: (_, text) => expect(JSON.parse(text).issuer).toBe(BASE),
  },
  {
    name: "GET /openapi.json?<script> → 200 JSON",
    send: { path: `/openapi.json?${enc("<script>")}=1` },
    status: 200,
    check: (_, text) => expect(JSON.parse(text).openapi).toBe("3.1.0"),
  },
  {
    name: "GET /docs?<script>alert(1)</script> → 200 static page, query not reflected",
    send: { path: `/docs?q=${enc("<script>alert(1)</script>")}` },
    status: 200,
    check: (_, text) => expect(text).not.toContain("alert(1)"),
  },
  { name: "GET /%2e%2e/%2e%2e/etc/passwd → 404", send: { path: "/%2e%2e/%2e%2e/etc/passwd" }, status: 404, error: "not_found" },
  { name: "GET /admin/v1/..%2F..%2Fetc%2Fpasswd → 404", send: adminGet("/admin/v1/..%2F..%2Fetc%2Fpasswd"), status: 404, error: "not_found" },
  { name: "GET /oauth/token%00 → 404", send: { path: "/oauth/token%00" }, status: 404, error: "not_found" },
];

// 10. The console, signed in -------------------------------------------------------------------

const consoleCases: Case[] = [
  {
    name: "GET /console/credentials?account_id=SQL OR → 404 page (an unknown account, not everything)",
    send: consoleGet(`/console/credentials?account_id=${enc(SQL_OR)}`),
    status: 404,
    page: "Not found",
  },
  {
    name: "GET /console/accounts?cursor=traversal → 400 page (a broken page link, not the first page)",
    send: consoleGet(`/console/accounts?cursor=${enc(TRAVERSAL)}`),
    status: 400,
    page: "Request refused",
  },
  {
    name: "GET /console/audit?target_id=<script> → 200, the script escaped",
    send: consoleGet(`/console/audit?target_id=${enc("<script>alert(1)</script>")}`),
    status: 200,
    page: "Audit log",
    check: (_, text) => {
      expect(text).not.toContain("<script>alert(1)");
      expect(text).toContain("&lt;script&gt;alert(1)");
    },
  },
  {
    name: "GET /console/credentials lists a hostile-named credential escaped",
    send: consoleGet("/console/credentials"),
    status: 200,
    page: "Credentials",
    check: (_, text) => {
      expect(text).not.toContain("<img src=x");
      expect(text).not.toContain('<script>alert("km")');
      expect(text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    },
  },
  {
    name: "GET /console/accounts lists a hostile-named account escaped",
    send: consoleGet("/console/accounts"),
    status: 200,
    page: "Accounts",
    check: (_, text) => {
      expect(text).not.toContain("<img src=x");
      expect(text).toContain("&lt;script&gt;");
    },
  },
  {
    name: "GET the delete page of a hostile-named credential → 200, its name escaped in title and body",
    send: (fx) => consoleGet(`/console/credentials/${fx.hostileCredential.id}/delete`)(fx),
    status: 200,
    page: (fx) => `Delete ${escapeHtml(fx.hostileCredential.name)}`,
    check: (_, text) => expect(text).not.toContain("<img src=x"),
  },
  {
    name: "GET the deactivate page of a hostile-named account → 200, escaped",
    send: (fx) => consoleGet(`/console/accounts/${fx.hostileAccount.id}/deactivate`)(fx),
    status: 200,
    check: (_, text) => {
      expect(text).not.toContain("<img src=x");
      expect(text).not.toContain('<script>alert("km")');
    },
  },
  ...(
    [
      ["GET", `/console/credentials/${enc(SQL_OR)}/delete`],
      ["GET", `/console/credentials/%2e%2e%2f%2e%2e%2fetc%2fpasswd/roll`],
      ["GET", `/console/accounts/${enc(SQL_DROP)}/deactivate`],
      ["GET", `/console/accounts/${enc(TRAVERSAL)}/delete`],
      ["GET", `/console/accounts/%00/activate`],
    ] as const
  ).map(([method, path]): Case => ({ name: `${method} ${path} → 404 page`, send: consoleGet(path), status: 404, page: "Not found" })),
  ...(
    [
      [`/console/credentials/${enc(SQL_OR)}/delete`, ""],
      [`/console/credentials/${enc(SQL_DROP)}/roll`, "expires_in=0"],
      [`/console/accounts/${enc(TRAVERSAL)}/delete`, ""],
      [`/console/accounts/${enc(SQL_OR)}/deactivate`, ""],
    ] as const
  ).map(([path, body]): Case => ({
    name: `POST ${path} → 404 page`,
    send: (fx) => consolePost(path, body && `nonce=${nonce()}&${body}`)(fx),
    status: 404,
    page: "Not found",
  })),
  {
    name: "POST roll of a real credential with expires_in = SQL OR → 400 page, secret unchanged",
    send: (fx) => consolePost(`/console/credentials/${fx.victimClient.id}/roll`, `nonce=${nonce()}&expires_in=${enc(SQL_OR)}`)(fx),
    status: 400,
    page: "Request refused",
  },
  {
    name: "POST roll of a real credential with a NUL in the nonce → 400 page",
    send: (fx) => consolePost(`/console/credentials/${fx.victimClient.id}/roll`, `nonce=${nonce().slice(1)}%00&expires_in=0`)(fx),
    status: 400,
    page: "Request refused",
  },
  ...badNames.slice(0, 5).map(
    ([label, name]): Case => ({
      name: `POST /console/accounts, name with ${label} → 400 page`,
      send: consolePost("/console/accounts", `name=${enc(name)}&type=service`),
      status: 400,
      page: "Accounts",
    }),
  ),
  {
    name: "POST /console/credentials, name with U+202E → 400 page",
    send: (fx) => consolePost("/console/credentials", `nonce=${nonce()}&name=${enc(`${RLO}key`)}&type=api_key&account_id=${fx.account.id}`)(fx),
    status: 400,
    page: "Create credential",
  },
  {
    name: "POST /console/credentials, a nonce of SQL → 400 page",
    send: (fx) => consolePost("/console/credentials", `nonce=${enc(SQL_OR)}&name=k&type=api_key&account_id=${fx.account.id}`)(fx),
    status: 400,
    page: "Create credential",
  },
  {
    name: "POST /console/credentials, account_id = SQL DROP → 400, the form again with the account marked",
    send: (fx) => consolePost("/console/credentials", `nonce=${nonce()}&name=k&type=api_key&account_id=${enc(SQL_DROP)}`)(fx),
    status: 400,
    page: "Create credential",
  },
  {
    name: "POST /console/accounts, an HTML name → 303, then listed escaped",
    send: consolePost("/console/accounts", `name=${enc(`<svg onload=alert(2)> ${uniqueName("x")}`)}&type=user`),
    status: 303,
    location: "/console/accounts?done=create",
    changes: true,
    check: async (_, __, fx) => {
      const page = await send(new Request(`${BASE}/console/accounts`, { headers: { cookie: fx.cookie } }));
      const html = await page.text();
      expect(html).not.toContain("<svg onload=alert(2)>");
      expect(html).toContain("&lt;svg onload=alert(2)&gt;");
    },
  },
  {
    name: "POST /console/login with a wrong token that is the API key → 401 page, no cookie, not echoed",
    send: (fx) => ({ method: "POST", path: "/console/login", headers: [H.origin, H.form], body: `admin_token=${fx.key.api_key}` }),
    status: 401,
    page: "Sign in",
    check: (response) => expect(response.headers.get("set-cookie")).toBeNull(),
  },
  {
    name: "POST /console/login with the admin token as JSON → 400 page (forms only), no cookie",
    send: { method: "POST", path: "/console/login", headers: [H.origin, H.json], body: JSON.stringify({ admin_token: ADMIN_TOKEN }) },
    status: 400,
    page: "Request refused",
    check: (response) => expect(response.headers.get("set-cookie")).toBeNull(),
  },
  {
    name: "POST /console/login with admin_token repeated (wrong, then SQL) → 400 page, no cookie",
    send: { method: "POST", path: "/console/login", headers: [H.origin, H.form], body: `admin_token=wrong&admin_token=${enc(SQL_OR)}` },
    status: 400,
    page: "Request refused",
    check: (response) => expect(response.headers.get("set-cookie")).toBeNull(),
  },
  {
    name: "GET /console/credentials with a forged session cookie (SQL) → 303 to sign-in",
    send: { path: "/console/credentials", headers: [["cookie", `km_session=${enc(SQL_OR)}`]] },
    status: 303,
    location: "/console/login",
  },
  {
    name: "GET /console/credentials with the admin token as the session cookie → 303 to sign-in",
    send: { path: "/console/credentials", headers: [["cookie", `km_session=${ADMIN_TOKEN}`]] },
    status: 303,
    location: "/console/login",
  },
  {
    name: "GET /console/credentials with the admin token as Bearer (no session) → 303 to sign-in",
    send: { path: "/console/credentials", headers: [H.bearer(ADMIN_TOKEN)] },
    status: 303,
    location: "/console/login",
  },
  {
    name: "POST /console/accounts/{real}/delete from another origin → 403 page, account kept",
    send: (fx) => ({ method: "POST", path: `/console/accounts/${fx.victimAccount.id}/delete`, headers: [["cookie", fx.cookie], ["origin", "https://evil.example"], H.form], body: "" }),
    status: 403,
    page: "Request refused",
  },
];

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// ---- the runner ----------------------------------------------------------------------------

const GROUPS: [string, Case[]][] = [
  ["wrong methods", wrongMethods],
  ["content types and encodings", contentTypes],
  ["truncated and oversized bodies", sizes],
  ["repeated parameters", duplicates],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
  ["Authorization header oddities", headerOddities],
  ["forged access tokens", forged],
  ["private_key_jwt assertions, DPoP proofs and client keys", clientKeys],
  ["public routes", publicRoutes],
  ["the console", consoleCases],
];

const withoutLastUsed = (dump: string) => dump.replace(/"last_used_at":("[^"]*"|null)/g, '"last_used_at":"-"');

function toRequest(spec: Spec): Request {
  const headers = new Headers();
  for (const [name, value] of spec.headers ?? []) headers.append(name, value);
  return new Request(BASE + spec.path, { method: spec.method ?? "GET", headers, body: spec.body ?? null, redirect: "manual" });
}

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

const ALL_CASES = GROUPS.flatMap(([, cases]) => cases);

describe("hostile input", () => {
  it("has at least 150 cases, each with a unique name", () => {
    expect(ALL_CASES.length).toBeGreaterThanOrEqual(150);
    expect(new Set(ALL_CASES.map((c) => c.name)).size).toBe(ALL_CASES.length);
  });

  describe.each(GROUPS)("%s", (_, cases) => {
    it.each(cases)("$name", run);
  });

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
