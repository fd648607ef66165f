import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { resetSigningKeyCache } from "../../src/services/signing-keys";
import { STORE_TIMEOUT_MS } from "../../src/storage/guarded";
import { postForm, sessionSetCookie, signIn } from "../support/console";
import { ADMIN_TOKEN, altered, BASE, call, createAccount, createCredential, json, snapshot } from "../support/http";
import { basic, revoke, testAuth, tokenFor, tokenRequest } from "../support/oauth";

/**
 * Fault injection, through worker.fetch with wrapped bindings: the D1 binding (DB) and the KV
 * binding (REVOCATIONS) throw on every call, hang forever (the STORE_TIMEOUT_MS
 * guards must answer), or fail part of the way (the D1 batch fails while reads work; the batch
 * commits and its answer is lost; KV writes fail while reads work). Every route must fail
 * closed: 503 temporarily_unavailable with Retry-After, in the contract's exact shape, with
 * nothing internal in it, never a token, never `active: true`, never a 200 at test-auth, and no
 * half-made change that is reported as done. Last, the rate-limiter bindings throw or hang:
 * limiting is a cost control, so authentication is then decided by the stores alone.
 */

type Failure = "throw" | "hang";
/** batch-throws: reads work, the write batch fails. batch-lost: the batch commits, then its answer is lost. */
type D1Fault = "ok" | Failure | "batch-throws" | "batch-lost";
/** writes-throw: reads work, put/delete fail. */
type KvFault = "ok" | Failure | "writes-throw";
interface Faults {
  d1?: D1Fault;
  kv?: KvFault;
  /** Every rate-limiter binding (Workers Rate Limiting) throws or hangs. */
  limiter?: Failure;
}

const LIMITERS = ["FAILED_CLIENT_AUTH_BY_CLIENT", "FAILED_AUTH_BY_IP", "CONSOLE_SIGN_IN_BY_IP", "ADMIN_WRITES_BY_ACTOR"] as const;

/** What a store failure says: everything a leak check looks for, so a leak cannot go unseen. */
const INJECTED_MESSAGE = "D1_ERROR: injected SQL failure; KV GET failed at Object.get (worker.js:1:1)";

function failing(mode: Failure): Promise<never> {
  return mode === "hang" ? new Promise<never>(() => {}) : Promise.reject(new Error(INJECTED_MESSAGE));
}

function faultyStatement(statement: D1PreparedStatement, mode: Failure): D1PreparedStatement {
  return {
    bind: (...values: unknown[]) => faultyStatement(statement.bind(...values), mode),
    first: () => failing(mode),
    all: () => failing(mode),
    run: () => failing(mode),
    raw: () => failing(mode),
  } as unknown as D1PreparedStatement;
}

function faultyD1(real: D1Database, mode: D1Fault): D1Database {
  if (mode === "ok") return real;
  if (mode === "batch-throws" || mode === "batch-lost") {
    const db = {
      prepare: (sql: string) => real.prepare(sql),
      batch: async (statements: D1PreparedStatement[]) => {
        if (mode === "batch-lost") await real.batch(statements);
        throw new Error(INJECTED_MESSAGE);
      },
      exec: () => failing("throw"),
      dump: () => failing("throw"),
      withSession: () => ({ ...db, getBookmark: () => null }),
    };
    return db as unknown as D1Database;
  }
  const db = {
    prepare: (sql: string) => faultyStatement(real.prepare(sql), mode),
    batch: () => failing(mode),
    exec: () => failing(mode),
    dump: () => failing(mode),
    withSession: () => ({ ...db, getBookmark: () => null }),
  };
  return db as unknown as D1Database;
}

function faultyKv(real: KVNamespace, mode: KvFault): KVNamespace {
  if (mode === "ok") return real;
  const fail = () => failing(mode === "hang" ? "hang" : "throw");
  const read = <K extends "get" | "getWithMetadata" | "list">(name: K) =>
    mode === "writes-throw" ? (real[name] as (...args: unknown[]) => unknown).bind(real) : fail;
  return { get: read("get"), getWithMetadata: read("getWithMetadata"), list: read("list"), put: fail, delete: fail } as unknown as KVNamespace;
}

/** The Worker with the bindings wrapped as `faults` says (worker.fetch: real concurrency, own env). */
async function send(request: Request, faults: Faults = {}): Promise<Response> {
  const faultyEnv = { ...env, DB: faultyD1(env.DB, faults.d1 ?? "ok"), REVOCATIONS: faultyKv(env.REVOCATIONS, faults.kv ?? "ok") } as Env;
  const limiter = faults.limiter;
  if (limiter) for (const name of LIMITERS) (faultyEnv as unknown as Record<string, unknown>)[name] = { limit: () => failing(limiter) };
  return worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, faultyEnv, createExecutionContext());
}

interface RequestInitLite {
  method?: string;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
  /** Bearer token; the admin token unless null. */
  token?: string | null;
  headers?: Record<string, string>;
}

function request(path: string, { method = "GET", body, token = ADMIN_TOKEN, headers = {} }: RequestInitLite = {}): Request {
  const h: Record<string, string> = { ...headers };
  if (token !== null) h.authorization ??= `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    if (typeof body !== "string") h["content-type"] ??= "application/json";
  }
  return new Request(BASE + path, { method, headers: h, body: payload, redirect: "manual" });
}

function formRequest(path: string, params: Record<string, string>, headers: Record<string, string> = {}): Request {
  return request(path, {
    method: "POST",
    token: null,
    body: new URLSearchParams(params).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

const LEAK_MARKERS = ["Error", "at ", "D1", "KV", "SQL", "sql", "injected", "timed out", "stack", "worker.js", "eyJ"];

/**
 * The fail-closed answer: 503 temporarily_unavailable with a numeric Retry-After, and a body that
 * is exactly {"error", "error_description"}: no token, no `active`, no internal message.
 */
/** The console's 503: an HTML page for a person, with Retry-After and no internal detail. */
async function expectUnavailablePage(response: Response, label: string): Promise<void> {
  const text = await response.text();
  const where = `${label}: ${response.status} ${text.slice(0, 200)}`;
  expect(response.status, where).toBe(503);
  expect(response.headers.get("retry-after"), where).toMatch(/^[1-9][0-9]*$/);
  expect(response.headers.get("content-type"), where).toMatch(/^text\/html/);
  expect(text, where).toContain("Try again shortly");
  for (const marker of LEAK_MARKERS) expect(text, `${where} contains ${JSON.stringify(marker)}`).not.toContain(marker);
}

async function expectUnavailable(response: Response, label: string): Promise<void> {
  const text = await response.text();
  const where = `${label}: ${response.status} ${text}`;
  expect(response.status, where).toBe(503);
  expect(response.headers.get("retry-after"), where).toMatch(/^[1-9][0-9]*$/);
  expect(response.headers.get("content-type"), where).toMatch(/^application\/json/);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort(), where).toEqual(["error", "error_description"]);
  expect(body.error, where).toBe("temporarily_unavailable");
  expect(typeof body.error_description, where).toBe("string");
  for (const marker of LEAK_MARKERS) expect(text, `${where} contains ${JSON.stringify(marker)}`).not.toContain(marker);
  for (const [name, value] of response.headers) {
    for (const marker of ["injected", "D1_ERROR", "SQL"]) expect(`${name}: ${value}`, where).not.toContain(marker);
  }
}

/** Every marker in KV (revoked: and changed:), for "nothing was written" checks. */
async function markers(): Promise<string> {
  const listed = await env.REVOCATIONS.list();
  const values = await Promise.all(listed.keys.map(async (key) => [key.name, await env.REVOCATIONS.get(key.name)]));
  return JSON.stringify(values);
}

/** Tables and markers together. */
async function stored(): Promise<string> {
  return JSON.stringify([await snapshot(), await markers()]);
}

/**
 * An account with credentials no request has used yet (so nothing about them can be cached in
 * this isolate: a request that gets past a failed store can only have guessed), plus a token
 * minted by another client of the account.
 */
async function fixture() {
  const account = await createAccount();
  const client = await createCredential(account.id, "oauth_client", ["read"]);
  const key = await createCredential(account.id, "api_key", ["read"]);
  const holder = await createCredential(account.id, "oauth_client", ["read"]);
  const token = await tokenFor(holder);
  return { account, client, key, holder, token };
}
type Fixture = Awaited<ReturnType<typeof fixture>>;

/** The OAuth and verification routes, each a fresh request (bodies are read once). */
function oauthRoutes(f: Fixture): [string, () => Request][] {
  return [
    ["POST /oauth/token (client_secret_basic)", () => formRequest("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(f.client.client_id, f.client.client_secret) })],
    [
      "POST /oauth/token (client_secret_post)",
      () => formRequest("/oauth/token", { grant_type: "client_credentials", client_id: f.client.client_id, client_secret: f.client.client_secret }),
    ],
    ["POST /oauth/introspect", () => formRequest("/oauth/introspect", { token: f.token }, { authorization: basic(f.client.client_id, f.client.client_secret) })],
    ["POST /oauth/revoke", () => formRequest("/oauth/revoke", { token: f.token }, { authorization: basic(f.client.client_id, f.client.client_secret) })],
    ["GET /v1/test-auth (API key)", () => request("/v1/test-auth", { token: f.key.api_key })],
    ["GET /healthz", () => request("/healthz", { token: null })],
  ];
}

/** Every /admin/v1 route, reads and writes, on real ids. */
function adminRoutes(f: Fixture): [string, () => Request][] {
  const account = `/admin/v1/accounts/${f.account.id}`;
  const credential = `/admin/v1/credentials/${f.key.id}`;
  return [
    ["POST /admin/v1/accounts", () => request("/admin/v1/accounts", { method: "POST", body: { name: "faulty", type: "service" } })],
    ["GET /admin/v1/accounts", () => request("/admin/v1/accounts")],
    ["GET /admin/v1/accounts/{id}", () => request(account)],
    ["POST /admin/v1/accounts/{id}/deactivate", () => request(`${account}/deactivate`, { method: "POST" })],
    ["POST /admin/v1/accounts/{id}/activate", () => request(`${account}/activate`, { method: "POST" })],
    ["DELETE /admin/v1/accounts/{id}", () => request(account, { method: "DELETE" })],
    [
      "POST /admin/v1/credentials",
      () => request("/admin/v1/credentials", { method: "POST", body: { name: "faulty", type: "oauth_client", account_id: f.account.id, scopes: [] } }),
    ],
    ["GET /admin/v1/credentials", () => request("/admin/v1/credentials")],
    ["GET /admin/v1/credentials/{id}", () => request(credential)],
    ["PATCH /admin/v1/credentials/{id}", () => request(credential, { method: "PATCH", body: { name: "renamed" } })],
    ["DELETE /admin/v1/credentials/{id}", () => request(credential, { method: "DELETE" })],
    ["POST /admin/v1/credentials/{id}/roll", () => request(`${credential}/roll`, { method: "POST", body: { expires_in: 0 } })],
    ["GET /admin/v1/audit-events", () => request(`/admin/v1/audit-events?target_id=${f.account.id}`)],
  ];
}

/** After a fault, with the stores back: the fixture works exactly as before. */
async function expectFixtureIntact(f: Fixture) {
  expect((await tokenRequest(f.client)).status).toBe(200);
  expect((await testAuth(f.key.api_key)).status).toBe(200);
  expect((await testAuth(f.token)).status).toBe(200);
  expect((await call(`/admin/v1/accounts/${f.account.id}`).then(json)).status).toBe("active");
}

const STORE_MODES: { name: string; faults: Faults }[] = [
  { name: "D1 throws", faults: { d1: "throw" } },
  { name: "KV throws", faults: { kv: "throw" } },
  { name: "D1 and KV throw", faults: { d1: "throw", kv: "throw" } },
];

describe("OAuth and verification routes fail closed", () => {
  for (const mode of STORE_MODES) {
    describe(mode.name, () => {
      let f: Fixture;
      beforeAll(async () => {
        f = await fixture();
      });

      // The token and verification paths decide from KV alone (the edge read model and the
      // revocation markers): with KV down they answer 503; with only D1 down they still decide.
      it("answers 503 where KV is needed, and at the health route; changes nothing", async () => {
        const before = await stored();
        for (const [label, make] of oauthRoutes(f)) {
          if (!mode.faults.kv && label === "POST /oauth/revoke") continue; // it would work: below
          const response = await send(make(), mode.faults);
          if (mode.faults.kv || label === "GET /healthz") await expectUnavailable(response, label);
          else expect(response.status, `${label} with D1 down is decided by KV`).toBe(200);
        }
        expect(await stored()).toBe(before);
        await expectFixtureIntact(f);
        if (!mode.faults.kv) {
          // Revocation is a KV marker: it works with D1 down, and the token is dead at once.
          const doomed = await tokenFor(f.holder);
          const revoked = await send(formRequest("/oauth/revoke", { token: doomed }, { authorization: basic(f.holder.client_id, f.holder.client_secret) }), mode.faults);
          expect(revoked.status).toBe(200);
          expect((await testAuth(doomed)).status).toBe(401);
        }
      });

      it("answers test-auth for an access token from a cold key cache only when it can read the keys and the markers", async () => {
        resetSigningKeyCache(); // a fresh isolate: no key in memory
        const response = await send(request("/v1/test-auth", { token: f.token }), mode.faults);
        if (mode.faults.kv) {
          await expectUnavailable(response, "test-auth (access token, cold key cache)");
          // With the key in memory, KV (the markers) could still stop it: a 503 too.
          expect((await testAuth(f.token)).status).toBe(200); // warms the key cache
          await expectUnavailable(await send(request("/v1/test-auth", { token: f.token }), mode.faults), "test-auth (access token, warm key cache)");
        } else expect(response.status).toBe(200); // the keys' edge copy is in KV
      });

      it("serves the JWKS while either store can give the keys", async () => {
        resetSigningKeyCache();
        const response = await send(request("/.well-known/jwks.json", { token: null }), mode.faults);
        if (mode.faults.d1 && mode.faults.kv) await expectUnavailable(response, "GET /.well-known/jwks.json (cold key cache)");
        else expect(response.status).toBe(200);
      });
    });
  }

  it("D1 down, key cache warm: an access token is still checked against fresh KV markers (revoked stays revoked)", async () => {
    // The contract lets caches hold what cannot be revoked (public keys); revocation is always
    // re-read from KV. So a valid token keeps verifying while D1 is down, a revoked one never does.
    const f = await fixture();
    const revoked = await tokenFor(f.holder);
    expect((await revoke(f.holder, revoked)).status).toBe(200);
    expect((await testAuth(f.token)).status).toBe(200); // key cache warm
    const good = await send(request("/v1/test-auth", { token: f.token }), { d1: "throw" });
    expect(good.status).toBe(200);
    const bad = await send(request("/v1/test-auth", { token: revoked }), { d1: "throw" });
    expect(bad.status).toBe(401);
    expect((await bad.json<{ error: string }>()).error).toBe("invalid_token");
  });
});

describe("the management API fails closed", () => {
  it("D1 throwing: every /admin/v1 read and write answers 503 and nothing is written to D1 or KV", async () => {
    const f = await fixture();
    const before = await stored();
    for (const [label, make] of adminRoutes(f)) await expectUnavailable(await send(make(), { d1: "throw" }), label);
    expect(await stored()).toBe(before);
    await expectFixtureIntact(f);
  });

  it("D1 and KV throwing: every /admin/v1 route answers 503, also for a delegated admin's access token", async () => {
    const f = await fixture();
    const adminClient = await createCredential(f.account.id, "oauth_client", ["admin"]);
    const adminToken = await tokenFor(adminClient);
    const before = await stored();
    for (const [label, make] of adminRoutes(f)) {
      await expectUnavailable(await send(make(), { d1: "throw", kv: "throw" }), label);
      const delegated = make();
      delegated.headers.set("authorization", `Bearer ${adminToken}`);
      await expectUnavailable(await send(delegated, { d1: "throw", kv: "throw" }), `${label} (delegated admin)`);
    }
    expect(await stored()).toBe(before);
  });

  it("KV throwing: a delegated admin cannot be checked against the markers, so 503 (never 401, never let in)", async () => {
    const f = await fixture();
    const adminClient = await createCredential(f.account.id, "oauth_client", ["admin"]);
    const adminToken = await tokenFor(adminClient);
    const before = await stored();
    for (const [label, make] of adminRoutes(f)) {
      const delegated = make();
      delegated.headers.set("authorization", `Bearer ${adminToken}`);
      await expectUnavailable(await send(delegated, { kv: "throw" }), `${label} (delegated admin)`);
    }
    expect(await stored()).toBe(before);
  });

  it("KV throwing: the changes that need a revocation marker answer 503 and leave D1 unchanged", async () => {
    const f = await fixture();
    const before = await stored();
    const routes: [string, () => Request][] = [
      ["deactivate", () => request(`/admin/v1/accounts/${f.account.id}/deactivate`, { method: "POST" })],
      ["delete account", () => request(`/admin/v1/accounts/${f.account.id}`, { method: "DELETE" })],
      ["delete credential", () => request(`/admin/v1/credentials/${f.key.id}`, { method: "DELETE" })],
    ];
    for (const kv of ["throw", "writes-throw"] as const) {
      for (const [label, make] of routes) await expectUnavailable(await send(make(), { kv }), `${label} (KV ${kv})`);
    }
    expect(await stored()).toBe(before);
    await expectFixtureIntact(f);
  });

  it("D1 writes failing (reads work): no management write leaves a row, an audit event or a half-made change", async () => {
    const f = await fixture();
    const deactivated = await createAccount();
    const deactivatedKey = await createCredential(deactivated.id, "api_key");
    expect((await call(`/admin/v1/accounts/${deactivated.id}/deactivate`, { method: "POST" })).status).toBe(200);
    const writes: [string, () => Request][] = [
      ["POST /admin/v1/accounts", () => request("/admin/v1/accounts", { method: "POST", body: { name: "half", type: "user" } })],
      [
        "POST /admin/v1/credentials",
        () => request("/admin/v1/credentials", { method: "POST", body: { name: "half", type: "api_key", account_id: f.account.id } }),
      ],
      [
        "POST /admin/v1/credentials (Idempotency-Key)",
        () =>
          request("/admin/v1/credentials", {
            method: "POST",
            body: { name: "half", type: "api_key", account_id: f.account.id },
            headers: { "idempotency-key": `fault-${f.account.id}` },
          }),
      ],
      // Changes that only add: nothing is restricted before the commit (see the next test for those that take away).
      ["PATCH /admin/v1/credentials/{id}", () => request(`/admin/v1/credentials/${f.key.id}`, { method: "PATCH", body: { name: "half", scopes: ["read", "x"] } })],
      ["POST /admin/v1/credentials/{id}/roll (grace)", () => request(`/admin/v1/credentials/${f.client.id}/roll`, { method: "POST", body: { expires_in: 600 } })],
      ["POST /admin/v1/accounts/{id}/activate", () => request(`/admin/v1/accounts/${deactivated.id}/activate`, { method: "POST" })],
    ];
    // D1 only: writes that put a revocation marker first (fail closed) may have written it.
    const before = await snapshot();
    for (const [label, make] of writes) await expectUnavailable(await send(make(), { d1: "batch-throws" }), label);
    expect(await snapshot()).toBe(before);
    // The old secret still works after the failed rolls; the deactivated account is still off.
    await expectFixtureIntact(f);
    expect((await testAuth(deactivatedKey.api_key)).status).toBe(401);
    // The same requests with the stores back succeed, so the failures above were the batch's.
    expect((await call(`/admin/v1/accounts/${deactivated.id}/activate`, { method: "POST" })).status).toBe(200);
    expect((await testAuth(deactivatedKey.api_key)).status).toBe(200);
  });

  it("D1 writes failing after the KV marker: deactivate and deletes answer 503, change no row, stay stopped, and a retry completes them", async () => {
    const a = await fixture();
    const b = await fixture();
    const c = await fixture();
    const before = await snapshot();
    await expectUnavailable(await send(request(`/admin/v1/accounts/${a.account.id}/deactivate`, { method: "POST" }), { d1: "batch-throws" }), "deactivate");
    await expectUnavailable(await send(request(`/admin/v1/credentials/${b.key.id}`, { method: "DELETE" }), { d1: "batch-throws" }), "delete credential");
    await expectUnavailable(await send(request(`/admin/v1/accounts/${c.account.id}`, { method: "DELETE" }), { d1: "batch-throws" }), "delete account");
    await expectUnavailable(await send(request(`/admin/v1/credentials/${b.client.id}/roll`, { method: "POST", body: { expires_in: 0 } }), { d1: "batch-throws" }), "roll (no grace)");
    await expectUnavailable(await send(request(`/admin/v1/credentials/${b.holder.id}`, { method: "PATCH", body: { scopes: [] } }), { d1: "batch-throws" }), "PATCH taking a scope away");
    expect(await snapshot()).toBe(before);
    // Reported as failed, and fail closed in the meantime: what was being stopped is stopped.
    expect((await testAuth(a.key.api_key)).status).toBe(401);
    expect((await testAuth(a.token)).status).toBe(401);
    expect((await tokenRequest(a.client)).status).toBe(401);
    expect((await testAuth(b.key.api_key)).status).toBe(401);
    expect((await testAuth(c.token)).status).toBe(401);
    expect((await tokenRequest(b.client)).status).toBe(401); // a no-grace roll's old secret
    expect((await json(await tokenRequest(b.holder))).scope).toBe(""); // the scope taken away
    // The retries complete the changes.
    expect((await call(`/admin/v1/accounts/${a.account.id}/deactivate`, { method: "POST" }).then(json)).status).toBe("deactivated");
    expect((await call(`/admin/v1/credentials/${b.key.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/credentials/${b.key.id}`)).status).toBe(404);
    expect((await call(`/admin/v1/accounts/${c.account.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/accounts/${c.account.id}`)).status).toBe(404);
    const rolled = await call(`/admin/v1/credentials/${b.client.id}/roll`, { method: "POST", body: { expires_in: 0 } });
    expect(rolled.status).toBe(200);
    expect((await tokenRequest({ ...b.client, client_secret: (await json(rolled)).client_secret })).status).toBe(200);
    expect((await call(`/admin/v1/credentials/${b.holder.id}`, { method: "PATCH", body: { scopes: [] } })).status).toBe(200);
    // What was not touched still works.
    expect((await testAuth(b.token)).status).toBe(200);
  });

  it("a commit whose answer is lost: 503, and the retry finds the change done (404 / idempotent 200), never undone", async () => {
    const f = await fixture();
    await expectUnavailable(await send(request(`/admin/v1/credentials/${f.key.id}`, { method: "DELETE" }), { d1: "batch-lost" }), "delete credential");
    expect((await call(`/admin/v1/credentials/${f.key.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await testAuth(f.key.api_key)).status).toBe(401);
    await expectUnavailable(await send(request(`/admin/v1/accounts/${f.account.id}/deactivate`, { method: "POST" }), { d1: "batch-lost" }), "deactivate");
    const retried = await call(`/admin/v1/accounts/${f.account.id}/deactivate`, { method: "POST" });
    expect(retried.status).toBe(200);
    expect((await json(retried)).status).toBe("deactivated");
    expect((await testAuth(f.token)).status).toBe(401);
    expect((await tokenRequest(f.client)).status).toBe(401);
  });
});

describe("KV failing while a credential is deleted or an account deactivated", () => {
  for (const kv of ["throw", "writes-throw"] as const) {
    it(`credential delete (KV ${kv}): 503, the credential and its tokens are untouched, and a retry deletes it`, async () => {
      const f = await fixture();
      const before = await stored();
      await expectUnavailable(await send(request(`/admin/v1/credentials/${f.holder.id}`, { method: "DELETE" }), { kv }), "delete credential");
      expect(await stored()).toBe(before);
      // Not reported as done anywhere: the credential is still listed and still works.
      expect((await call(`/admin/v1/credentials/${f.holder.id}`)).status).toBe(200);
      expect((await testAuth(f.token)).status).toBe(200);
      // The stores recover; the admin retries.
      expect((await call(`/admin/v1/credentials/${f.holder.id}`, { method: "DELETE" })).status).toBe(204);
      expect((await call(`/admin/v1/credentials/${f.holder.id}`)).status).toBe(404);
      expect((await tokenRequest(f.holder)).status).toBe(401);
      expect((await testAuth(f.token)).status).toBe(401);
    });

    it(`account deactivate (KV ${kv}): 503, the account stays active, and a retry deactivates it`, async () => {
      const f = await fixture();
      const before = await stored();
      await expectUnavailable(await send(request(`/admin/v1/accounts/${f.account.id}/deactivate`, { method: "POST" }), { kv }), "deactivate");
      expect(await stored()).toBe(before);
      await expectFixtureIntact(f);
      const retried = await call(`/admin/v1/accounts/${f.account.id}/deactivate`, { method: "POST" });
      expect((await json(retried)).status).toBe("deactivated");
      expect((await testAuth(f.key.api_key)).status).toBe(401);
      expect((await tokenRequest(f.client)).status).toBe(401);
      expect((await testAuth(f.token)).status).toBe(401);
    });
  }

  it("token revocation (RFC 7009) with KV writes failing: 503, the token stays valid, and a retry revokes it", async () => {
    const f = await fixture();
    const revocationRequest = () => formRequest("/oauth/revoke", { token: f.token }, { authorization: basic(f.holder.client_id, f.holder.client_secret) });
    await expectUnavailable(await send(revocationRequest(), { kv: "writes-throw" }), "POST /oauth/revoke");
    expect((await testAuth(f.token)).status).toBe(200); // not reported as revoked, and not revoked
    expect((await revoke(f.holder, f.token)).status).toBe(200);
    expect((await testAuth(f.token)).status).toBe(401);
  });

  it("account activate with KV writes failing: 503, and the account's secrets stay stopped until a retry succeeds", async () => {
    const f = await fixture();
    expect((await call(`/admin/v1/accounts/${f.account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    await expectUnavailable(await send(request(`/admin/v1/accounts/${f.account.id}/activate`, { method: "POST" }), { kv: "writes-throw" }), "activate");
    // D1 may say active already, but the marker still stops everything: fail closed.
    expect((await testAuth(f.key.api_key)).status).toBe(401);
    expect((await tokenRequest(f.client)).status).toBe(401);
    expect((await call(`/admin/v1/accounts/${f.account.id}/activate`, { method: "POST" })).status).toBe(200);
    expect((await testAuth(f.key.api_key)).status).toBe(200);
    expect((await tokenRequest(f.client)).status).toBe(200);
    expect((await testAuth(f.token)).status).toBe(401); // minted before the deactivation
  });

  it("roll without grace with KV writes failing: 503 and no secret shown; a retry rolls again and the new secret works", async () => {
    const f = await fixture();
    const response = await send(request(`/admin/v1/credentials/${f.holder.id}/roll`, { method: "POST", body: { expires_in: 0 } }), { kv: "writes-throw" });
    await expectUnavailable(response, "roll");
    const retried = await call(`/admin/v1/credentials/${f.holder.id}/roll`, { method: "POST", body: { expires_in: 0 } });
    expect(retried.status).toBe(200);
    const rolled = await json(retried);
    expect((await tokenRequest(f.holder)).status).toBe(401);
    expect((await tokenRequest({ client_id: f.holder.client_id, client_secret: rolled.client_secret })).status).toBe(200);
    expect((await testAuth(f.token)).status).toBe(401);
  });
});

/**
 * A deactivation writes its revocation marker to KV first, then commits to D1. When the commit
 * fails, the account is stopped (fail closed) although D1 still says active: the admin must be
 * able to undo that, and the console must not say that nothing changed.
 */
describe("a deactivation whose D1 commit failed after its marker was written", () => {
  type Call = (...args: unknown[]) => Promise<unknown>;
  const method = (target: object, name: string) => (Reflect.get(target, name) as Call).bind(target);

  /** The real bindings, except that every D1 batch throws (reads and sessions work). */
  function d1BatchesDown(): Env {
    const DB = {
      prepare: (sql: string) => env.DB.prepare(sql),
      exec: method(env.DB, "exec"),
      withSession: method(env.DB, "withSession"),
      batch: async () => {
        throw new Error("D1 is down");
      },
    };
    return { ...env, DB } as unknown as Env;
  }

  /** One request to the Worker with these bindings, its deferred work finished before we go on. */
  async function sendWith(request: Request, bindings: Env = env): Promise<Response> {
    const ctx = createExecutionContext();
    const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  const FORM = { "content-type": "application/x-www-form-urlencoded" };
  const adminRequest = (method: string, path: string) => new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const testAuthRequest = (bearer: string) => new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}` } });
  const clientTokenRequest = (client: { client_id: string; client_secret: string }) =>
    new Request(`${BASE}/oauth/token`, { method: "POST", headers: { ...FORM, authorization: basic(client.client_id, client.client_secret) }, body: "grant_type=client_credentials" });

  it("can be undone: activating the still-active account clears the stray marker", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const client = await createCredential(account.id, "oauth_client");
    const failed = await sendWith(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`), d1BatchesDown());
    expect(failed.status).toBe(503);
    // Fail closed: the marker went first, so the account is stopped although D1 says active.
    expect((await sendWith(testAuthRequest(key.api_key))).status).toBe(401);
    const account1 = await sendWith(adminRequest("GET", `/admin/v1/accounts/${account.id}`));
    expect((await account1.json<{ status: string }>()).status).toBe("active");

    const activated = await sendWith(adminRequest("POST", `/admin/v1/accounts/${account.id}/activate`));
    expect(activated.status).toBe(200);
    expect((await sendWith(testAuthRequest(key.api_key))).status).toBe(200);
    expect((await sendWith(clientTokenRequest(client))).status).toBe(200);
  });

  it("the console's 503 page after a failed write does not claim that nothing changed", async () => {
    const form = new URLSearchParams({ admin_token: ADMIN_TOKEN });
    const signedIn = await sendWith(new Request(`${BASE}/console/login`, { method: "POST", headers: { ...FORM, origin: BASE }, body: form.toString() }));
    const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
    const account = await createAccount();
    const page = await sendWith(
      new Request(`${BASE}/console/accounts/${account.id}/deactivate`, { method: "POST", headers: { ...FORM, origin: BASE, cookie }, body: "" }),
      d1BatchesDown(),
    );
    expect(page.status).toBe(503);
    const text = await page.text();
    expect(text).not.toMatch(/nothing was changed/i);
    expect(text).toMatch(/may be incomplete/);
  });
});

describe("the console fails closed", () => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await signIn();
  });

  for (const mode of STORE_MODES) {
    it(`${mode.name}: a console page and a console write answer a 503 page without detail, and change nothing`, async () => {
      const f = await fixture();
      const before = await stored();
      const page = await send(request("/console/credentials", { token: null, headers: { cookie } }), mode.faults);
      await expectUnavailablePage(page, "GET /console/credentials");
      const write = await send(
        request(`/console/credentials/${f.key.id}/delete`, {
          method: "POST",
          token: null,
          body: "",
          headers: { cookie, origin: BASE, "content-type": "application/x-www-form-urlencoded" },
        }),
        mode.faults,
      );
      await expectUnavailablePage(write, "POST /console/credentials/{id}/delete");
      expect(await stored()).toBe(before);
      expect((await testAuth(f.key.api_key)).status).toBe(200);
    });
  }
});

describe("stores that hang (no answer at all)", () => {
  it(
    "every hung call ends in a 503 after its timeout, and nothing changes",
    async () => {
      resetSigningKeyCache();
      const f = await fixture();
      const before = await stored();
      const cases: [string, () => Request, Faults, number][] = [
        ["POST /oauth/token (KV hangs)", () => formRequest("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(f.client.client_id, f.client.client_secret) }), { kv: "hang" }, STORE_TIMEOUT_MS.kv],
        ["GET /v1/test-auth API key (KV hangs)", () => request("/v1/test-auth", { token: f.key.api_key }), { kv: "hang" }, STORE_TIMEOUT_MS.kv],
        ["GET /healthz (both hang)", () => request("/healthz", { token: null }), { d1: "hang", kv: "hang" }, Math.min(STORE_TIMEOUT_MS.d1, STORE_TIMEOUT_MS.kv)],
        ["DELETE /admin/v1/credentials/{id} (KV hangs)", () => request(`/admin/v1/credentials/${f.holder.id}`, { method: "DELETE" }), { kv: "hang" }, STORE_TIMEOUT_MS.kv],
        ["GET /admin/v1/accounts (D1 hangs)", () => request("/admin/v1/accounts"), { d1: "hang" }, STORE_TIMEOUT_MS.d1],
      ];
      // In parallel, so the whole test takes one timeout rather than five.
      await Promise.all(
        cases.map(async ([label, make, faults, timeout]) => {
          const started = Date.now();
          const response = await send(make(), faults);
          const elapsed = Date.now() - started;
          await expectUnavailable(response, label);
          expect(elapsed, label).toBeGreaterThanOrEqual(timeout - 250);
          expect(elapsed, label).toBeLessThan(timeout + 5_000);
        }),
      );
      expect(await stored()).toBe(before);
      // The delete that hung was not reported as done and did not happen; its retry does.
      expect((await testAuth(f.token)).status).toBe(200);
      expect((await call(`/admin/v1/credentials/${f.holder.id}`, { method: "DELETE" })).status).toBe(204);
      expect((await testAuth(f.token)).status).toBe(401);
    },
    // Fixed, not derived from the timeouts: a timeout that never fires must fail this test.
    30_000,
  );
});

describe("the rate limiter failing (a cost control, never an authentication decision)", () => {
  let ipCounter = 0;
  const ip = () => `2001:db8:fa17::${(ipCounter += 1).toString(16)}`;

  /** Wrong and right secrets, bearers and sign-ins (failures and sign-ins reach the limiter), and an admin write; all at once. */
  async function expectDecidedByTheStores(limiter: Failure): Promise<number> {
    const f = await fixture();
    const adminClient = await createCredential(f.account.id, "oauth_client", ["admin"]);
    const adminToken = await tokenFor(adminClient);
    const faulty = (r: Request) => send(r, { limiter });
    const token = (secret: string) =>
      faulty(formRequest("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(f.client.client_id, secret), "cf-connecting-ip": ip() }));
    const bearer = (value: string) => faulty(request("/v1/test-auth", { token: value, headers: { "cf-connecting-ip": ip() } }));
    const signIn = (value: string) => postForm("/console/login", { admin_token: value }, { headers: { "cf-connecting-ip": ip() }, send: faulty });
    const started = Date.now();
    const [wrongSecret, rightSecret, junk, key, badSignIn, goodSignIn, write] = await Promise.all([
      token(altered(f.client.client_secret)), // malformed: no D1 read, but counted all the same
      token(f.client.client_secret),
      bearer("junk"),
      bearer(f.key.api_key),
      signIn(`wrong-${"x".repeat(40)}`),
      signIn(ADMIN_TOKEN),
      faulty(request(`/admin/v1/credentials/${f.key.id}`, { method: "PATCH", token: adminToken, body: { name: "limiter down" } })),
    ]);
    const elapsed = Date.now() - started;
    expect(wrongSecret.status).toBe(401);
    expect((await wrongSecret.json<{ error: string }>()).error).toBe("invalid_client");
    expect(rightSecret.status).toBe(200);
    expect(junk.status).toBe(401);
    expect((await junk.json<{ error: string }>()).error).toBe("invalid_token");
    expect(key.status).toBe(200);
    expect(badSignIn.status).toBe(401);
    expect(sessionSetCookie(badSignIn)).toBeUndefined();
    expect(goodSignIn.status).toBe(303);
    expect(sessionSetCookie(goodSignIn)).toBeDefined();
    expect(write.status).toBe(200);
    return elapsed;
  }

  it("throwing: every request is answered as if there were no limit (401 for wrong, 200 for right), never 503", async () => {
    await expectDecidedByTheStores("throw");
  });

  it(
    "hanging: requests still get their answer once the limiter call times out",
    async () => {
      const elapsed = await expectDecidedByTheStores("hang");
      // The requests that reach the limiter run in parallel, each waiting for one timeout.
      expect(elapsed).toBeGreaterThanOrEqual(STORE_TIMEOUT_MS.rate_limiter - 250);
      expect(elapsed).toBeLessThan(STORE_TIMEOUT_MS.rate_limiter + 5_000);
    },
    30_000,
  );
});
