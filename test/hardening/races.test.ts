import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, BASE, auditEventsFor, createAccount, createCredential } from "../support/http";
import { basic } from "../support/oauth";

/**
 * Races between many concurrent token and API-key requests and a revocation: credential DELETE,
 * account deactivation, account DELETE. Requests go through worker.fetch directly, so they really
 * interleave at every D1 and KV await (exports.default.fetch would run them one at a time).
 *
 * Local D1 and KV answer in well under a millisecond, so requests spread over time barely
 * overlap. Three things make the overlap certain instead of lucky:
 *   - a burst: every request and the change are sent in the same turn of the event loop;
 *   - waves sent from inside the change, just before and after its marker write and its D1
 *     commit (the change's bindings are instrumented, not altered);
 *   - stalled requests, whose KV read is answered only after the change has returned: they
 *     pass every check before the change and mint their token after it, the worst case.
 *
 * "Started after the change returned" is order in this isolate's event loop: a flag set when the
 * admin response arrives, read synchronously as each request is sent.
 *
 * Further down, single interleavings are forced by holding one request at a chosen await (`held`):
 * edits, rolls, activations and deletions racing each other on the same credential or account.
 */

type Phase = "burst" | "before-marker" | "after-marker" | "before-commit" | "after-commit" | "stalled" | "after";

interface Attempt {
  kind: "token" | "api_key";
  phase: Phase;
  startedAfterChange: boolean;
  /** Sent once the change's KV writes before its commit were all done. */
  startedAfterMarker: boolean;
  /** Answered after the change had returned. */
  answeredAfterChange: boolean;
  status: number;
  token?: string;
}

interface Client {
  id: string;
  client_id: string;
  client_secret: string;
}

async function send(request: Request, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function tokenRequest(client: Client, post = false, scope?: string): Request {
  const params = new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) });
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (post) {
    params.set("client_id", client.client_id);
    params.set("client_secret", client.client_secret);
  } else headers.authorization = basic(client.client_id, client.client_secret);
  return new Request(`${BASE}/oauth/token`, { method: "POST", headers, body: params.toString() });
}

function testAuthRequest(bearer: string): Request {
  return new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}` } });
}

function introspectRequest(caller: Client, token: string): Request {
  return new Request(`${BASE}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(caller.client_id, caller.client_secret) },
    body: new URLSearchParams({ token }).toString(),
  });
}

function adminRequest(method: string, path: string): Request {
  return new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
}

type Call = (...args: unknown[]) => Promise<unknown>;
const method = (target: object, name: string) => (Reflect.get(target, name) as Call).bind(target);

/** The real bindings, with a callback around the KV writes and the D1 batch. */
function instrumented(on: (phase: Phase) => void): Env {
  const kv = env.REVOCATIONS;
  const db = env.DB;
  const REVOCATIONS = {
    get: method(kv, "get"),
    getWithMetadata: method(kv, "getWithMetadata"),
    list: method(kv, "list"),
    delete: method(kv, "delete"),
    put: async (...args: unknown[]) => {
      on("before-marker");
      await method(kv, "put")(...args);
      on("after-marker");
    },
  };
  const DB = {
    prepare: (sql: string) => db.prepare(sql),
    exec: method(db, "exec"),
    withSession: method(db, "withSession"),
    batch: async (statements: D1PreparedStatement[]) => {
      on("before-commit");
      const results = await db.batch(statements);
      on("after-commit");
      return results;
    },
  };
  return { ...env, DB, REVOCATIONS } as unknown as Env;
}

/** The real bindings, except that KV reads are answered only once `gate` opens; `read` says one was made. */
function stalledKv(gate: Promise<void>, read: () => void): Env {
  const kv = env.REVOCATIONS;
  const held = (name: string) => async (...args: unknown[]) => {
    const value = await method(kv, name)(...args);
    read();
    await gate;
    return value;
  };
  const REVOCATIONS = { get: held("get"), getWithMetadata: held("getWithMetadata"), list: method(kv, "list"), put: method(kv, "put"), delete: method(kv, "delete") };
  return { ...env, REVOCATIONS } as unknown as Env;
}

interface RaceResult {
  changeStatus: number;
  attempts: Attempt[];
  /** Tokens minted by the client before the race. */
  earlier: string[];
}

/**
 * Runs the race: `count` token requests and as many API-key test-auth requests in one burst with
 * the change among them (after `changeAt` of them), waves of `wave` pairs at each phase of the
 * change, `wave` stalled token requests, and `wave` pairs sent after the change returned.
 */
async function race(client: Client, apiKey: string, change: Request, { count = 40, changeAt = 20, wave = 4 } = {}): Promise<RaceResult> {
  const earlier: string[] = [];
  for (let i = 0; i < 3; i++) {
    const response = await send(tokenRequest(client));
    expect(response.status).toBe(200);
    earlier.push((await response.json<{ access_token: string }>()).access_token);
  }

  let changed = false;
  let marked = false;
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const attempts: Attempt[] = [];
  const inflight: Promise<unknown>[] = [];

  const attempt = (kind: Attempt["kind"], phase: Phase, post = false, bindings: Env = env) => {
    const startedAfterChange = changed;
    const startedAfterMarker = marked;
    const request = kind === "token" ? tokenRequest(client, post) : testAuthRequest(apiKey);
    const done = send(request, bindings).then(async (response) => {
      const entry: Attempt = { kind, phase, startedAfterChange, startedAfterMarker, answeredAfterChange: changed, status: response.status };
      if (kind === "token" && response.status === 200) entry.token = (await response.json<{ access_token: string }>()).access_token;
      else await response.body?.cancel();
      attempts.push(entry);
    });
    inflight.push(done);
  };
  const pairs = (phase: Phase, n: number) => {
    for (let i = 0; i < n; i++) {
      attempt("token", phase, i % 2 === 1);
      attempt("api_key", phase);
    }
  };

  let changeStatus = 0;
  const admin = async () => {
    // Each phase fires once (a deactivation, for one, writes one marker and commits once).
    const seen = new Set<Phase>();
    const response = await send(
      change,
      instrumented((phase) => {
        // A change writes several keys before it commits (revocation markers, edge entries):
        // from its D1 commit on, everything it revokes is refused.
        if (phase === "before-commit") marked = true;
        if (seen.has(phase)) return;
        seen.add(phase);
        pairs(phase, wave);
      }),
    );
    changeStatus = response.status;
    changed = true;
    await response.body?.cancel();
    openGate();
    pairs("after", wave);
  };

  // The stalled requests have read the markers (none yet) before anything else is sent.
  const stalledReads = Array.from({ length: wave }, () => latch());
  for (let i = 0; i < wave; i++) attempt("token", "stalled", i % 2 === 1, stalledKv(gate, stalledReads[i]!.open));
  await Promise.all(stalledReads.map((read) => read.opened));
  for (let i = 0; i < count; i++) {
    if (i === changeAt) inflight.push(admin());
    pairs("burst", 1);
  }
  // Requests add more requests while they run; wait until none is left.
  for (let settled = 0; settled < inflight.length; ) {
    const batch = inflight.length;
    await Promise.all(inflight.slice(settled, batch));
    settled = batch;
  }
  return { changeStatus, attempts, earlier };
}

/**
 * A refused request: 401 (invalid_client, invalid_token), or 429 once the failures of one
 * client_id pass FAILED_CLIENT_AUTH_BY_CLIENT (10 a minute): a refusal as well, never a token.
 */
function expectRefused(attempt: Pick<Attempt, "status" | "kind" | "phase"> & { token?: string }) {
  expect(attempt.token, `${attempt.kind} ${attempt.phase}`).toBeUndefined();
  expect([401, 429], `${attempt.kind} ${attempt.phase}: ${attempt.status}`).toContain(attempt.status);
}

/** Every token minted before or during the race is rejected by test-auth and by introspection. */
async function expectAllTokensDead(result: RaceResult, observer: Client) {
  const minted = [...result.earlier, ...result.attempts.flatMap((attempt) => (attempt.token ? [attempt.token] : []))];
  const checks = await Promise.all(
    minted.map(async (token) => {
      const [auth, introspection] = await Promise.all([send(testAuthRequest(token)), send(introspectRequest(observer, token))]);
      const body = await introspection.json<{ active: boolean }>();
      await auth.body?.cancel();
      return { auth: auth.status, introspection: introspection.status, active: body.active };
    }),
  );
  // test-auth refuses with 401, or 429 once the dead credential's failures pass its limit.
  for (const check of checks) {
    expect(check).toEqual({ auth: expect.toBeOneOf([401, 429]), introspection: 200, active: false });
  }
  return minted.length;
}

/** The race really raced: tokens were minted in it, some answered only after the change returned. */
function expectRealOverlap(result: RaceResult, kind: Attempt["kind"]) {
  const got = result.attempts.filter((a) => a.kind === kind && a.status === 200);
  expect(got.length, `${kind} requests that got through before the change`).toBeGreaterThan(0);
  if (kind === "token") {
    const stalled = result.attempts.filter((a) => a.phase === "stalled");
    expect(stalled.every((a) => a.status === 200 && a.answeredAfterChange), JSON.stringify(stalled)).toBe(true);
  }
  for (const phase of ["before-marker", "after-marker", "before-commit", "after-commit", "after"] as const) {
    expect(result.attempts.some((a) => a.phase === phase), `a wave at ${phase}`).toBe(true);
  }
}

/** Every request that started once the change's pre-commit KV writes were done, or once it returned, failed. */
function expectRefusedOnceMarked(result: RaceResult, kind: Attempt["kind"]) {
  const late = result.attempts.filter((a) => a.kind === kind && (a.startedAfterChange || a.startedAfterMarker));
  expect(late.length).toBeGreaterThanOrEqual(8);
  for (const attempt of late) expectRefused(attempt);
  expect(late.filter((a) => a.startedAfterChange).length).toBeGreaterThanOrEqual(2);
}

async function setup() {
  const account = await createAccount();
  const client = (await createCredential(account.id, "oauth_client", ["read"])) as Client;
  const key = await createCredential(account.id, "api_key", ["read"]);
  const observerAccount = await createAccount();
  const observer = (await createCredential(observerAccount.id, "oauth_client")) as Client;
  return { account, client, apiKey: key.api_key as string, keyId: key.id as string, observer };
}

/** Where in the burst the change is sent: first, early, middle. */
const POSITIONS = [0, 10, 20];

describe("token requests racing a credential DELETE", () => {
  for (const changeAt of POSITIONS) {
    it(`once DELETE returns (sent after ${changeAt} of 40 requests), no token is issued and none minted before verifies`, async () => {
      const { client, apiKey, observer } = await setup();
      const result = await race(client, apiKey, adminRequest("DELETE", `/admin/v1/credentials/${client.id}`), { changeAt });
      expect(result.changeStatus).toBe(204);
      expectRealOverlap(result, "token");
      expectRefusedOnceMarked(result, "token");
      // The API key is another credential of the account: it works throughout.
      for (const attempt of result.attempts.filter((a) => a.kind === "api_key")) expect(attempt.status).toBe(200);
      expect(await expectAllTokensDead(result, observer)).toBeGreaterThan(3 + 4);
      expectRefused({ status: (await send(tokenRequest(client))).status, kind: "token", phase: "after" });
    });
  }

  it("the same with the API key deleted: test-auth refuses it once the marker is written", async () => {
    const { client, apiKey, keyId, observer } = await setup();
    const result = await race(client, apiKey, adminRequest("DELETE", `/admin/v1/credentials/${keyId}`), { changeAt: 10 });
    expect(result.changeStatus).toBe(204);
    expectRealOverlap(result, "api_key");
    expectRefusedOnceMarked(result, "api_key");
    // The client is untouched: its tokens still verify.
    const token = result.attempts.find((a) => a.token)?.token;
    expect(token).toBeDefined();
    expect((await send(introspectRequest(observer, token!)).then((r) => r.json<{ active: boolean }>())).active).toBe(true);
    expect((await send(testAuthRequest(token!))).status).toBe(200);
  });
});

describe("token and API-key requests racing an account deactivation", () => {
  for (const changeAt of POSITIONS) {
    it(`once deactivate returns (sent after ${changeAt} of 40 requests), the API key and client secret fail and every earlier token fails`, async () => {
      const { account, client, apiKey, observer } = await setup();
      const result = await race(client, apiKey, adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`), { changeAt });
      expect(result.changeStatus).toBe(200);
      expectRealOverlap(result, "token");
      expectRealOverlap(result, "api_key");
      expectRefusedOnceMarked(result, "token");
      expectRefusedOnceMarked(result, "api_key");
      expect(await expectAllTokensDead(result, observer)).toBeGreaterThan(3 + 4);
      for (const post of [false, true]) expectRefused({ status: (await send(tokenRequest(client, post))).status, kind: "token", phase: "after" });
      expect((await send(testAuthRequest(apiKey))).status).toBeOneOf([401, 429]);
    });
  }
});

describe("token and API-key requests racing an account DELETE", () => {
  it("once DELETE returns, nothing of the account works any more", async () => {
    const { account, client, apiKey, observer } = await setup();
    const result = await race(client, apiKey, adminRequest("DELETE", `/admin/v1/accounts/${account.id}`), { changeAt: 10 });
    expect(result.changeStatus).toBe(204);
    expectRealOverlap(result, "token");
    expectRefusedOnceMarked(result, "token");
    expectRefusedOnceMarked(result, "api_key");
    await expectAllTokensDead(result, observer);
    expect((await send(testAuthRequest(apiKey))).status).toBeOneOf([401, 429]);
  });
});

/** A promise with its resolve function, to hold one request at a chosen point. */
function latch() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

type Hold = ReturnType<typeof hold>;

/**
 * The real bindings, with holds at chosen points of one request: after its first KV read, before
 * its first KV write, before its first D1 batch. Each hold signals `arrived` and waits for `open`.
 */
function held(points: { afterRead?: Hold; beforeWrite?: Hold; beforeCommit?: Hold }): Env {
  const kv = env.REVOCATIONS;
  const db = env.DB;
  const once = (point: Hold | undefined) => {
    let used = false;
    return async () => {
      if (!point || used) return;
      used = true;
      point.reached();
      await point.opened;
    };
  };
  const [afterRead, beforeWrite, beforeCommit] = [once(points.afterRead), once(points.beforeWrite), once(points.beforeCommit)];
  const REVOCATIONS = {
    get: async (...args: unknown[]) => {
      const value = await method(kv, "get")(...args);
      await afterRead();
      return value;
    },
    getWithMetadata: method(kv, "getWithMetadata"),
    list: method(kv, "list"),
    put: async (...args: unknown[]) => {
      await beforeWrite();
      return method(kv, "put")(...args);
    },
    delete: method(kv, "delete"),
  };
  const DB = {
    prepare: (sql: string) => db.prepare(sql),
    exec: method(db, "exec"),
    withSession: method(db, "withSession"),
    batch: async (statements: D1PreparedStatement[]) => {
      await beforeCommit();
      return db.batch(statements);
    },
  };
  return { ...env, DB, REVOCATIONS } as unknown as Env;
}

function hold() {
  const gate = latch();
  const arrival = latch();
  return { ...gate, reached: arrival.open, arrived: arrival.opened };
}

function jsonRequest(method: string, path: string, body: unknown): Request {
  return new Request(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function mint(client: Client, scope?: string): Promise<string> {
  const response = await send(tokenRequest(client, false, scope));
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json<{ access_token: string }>()).access_token;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A PATCH or a roll merges into the credential's marker (read, merge, write), and KV has no
 * compare-and-set, so its write can land over a racing DELETE's {"all": true}. The DELETE reads
 * its marker back after its commit and the edit, finding its row gone, re-asserts it: the
 * DELETE's tokens never verify again once it has returned.
 */
describe("an edit or roll racing a credential DELETE", () => {
  const edits: [string, (id: string) => Request, number][] = [
    ["PATCH", (id) => jsonRequest("PATCH", `/admin/v1/credentials/${id}`, { name: "racing edit" }), 200],
    ["roll with a grace period", (id) => jsonRequest("POST", `/admin/v1/credentials/${id}/roll`, { expires_in: 3600 }), 200],
  ];
  for (const [label, edit, okStatus] of edits) {
    it(`${label} that read the marker before the DELETE and commits after it: the DELETE's tokens stay dead`, async () => {
      const { client, observer } = await setup();
      const token = (await (await send(tokenRequest(client))).json<{ access_token: string }>()).access_token;
      const afterRead = hold();
      const editing = send(edit(client.id), held({ afterRead }));
      await afterRead.arrived; // the edit has read the marker: none yet
      expect((await send(adminRequest("DELETE", `/admin/v1/credentials/${client.id}`))).status).toBe(204);
      expect((await send(testAuthRequest(token))).status).toBeOneOf([401, 429]);
      afterRead.open();
      expect((await editing).status).toBe(404); // the row is gone
      expect((await send(testAuthRequest(token))).status).toBeOneOf([401, 429]);
      expect((await send(introspectRequest(observer, token)).then((r) => r.json<{ active: boolean }>())).active).toBe(false);
    });

    it(`${label} that commits between the DELETE's marker and its commit: the DELETE's tokens stay dead`, async () => {
      const { client, observer } = await setup();
      const token = (await (await send(tokenRequest(client))).json<{ access_token: string }>()).access_token;
      const afterRead = hold();
      const beforeCommit = hold();
      const editing = send(edit(client.id), held({ afterRead }));
      await afterRead.arrived;
      const deleting = send(adminRequest("DELETE", `/admin/v1/credentials/${client.id}`), held({ beforeCommit }));
      await beforeCommit.arrived; // the DELETE's marker is written, its commit not yet
      afterRead.open();
      expect((await editing).status).toBe(okStatus);
      beforeCommit.open();
      expect((await deleting).status).toBe(204);
      expect((await send(testAuthRequest(token))).status).toBeOneOf([401, 429]);
      expect((await send(introspectRequest(observer, token)).then((r) => r.json<{ active: boolean }>())).active).toBe(false);
    });
  }
});

describe("an activation racing a deletion or deactivation of the same account", () => {
  it("activate held before its commit while the account is deleted: 404, no marker written, the tokens stay dead", async () => {
    const { account, client, apiKey, observer } = await setup();
    const token = (await (await send(tokenRequest(client))).json<{ access_token: string }>()).access_token;
    expect((await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`))).status).toBe(200);
    const beforeCommit = hold();
    const activating = send(adminRequest("POST", `/admin/v1/accounts/${account.id}/activate`), held({ beforeCommit }));
    await beforeCommit.arrived;
    expect((await send(adminRequest("DELETE", `/admin/v1/accounts/${account.id}`))).status).toBe(204);
    beforeCommit.open();
    expect((await activating).status).toBe(404);
    expect(await env.REVOCATIONS.get(`revoked:account:${account.id}`, "json")).toMatchObject({ all: true });
    expect((await send(testAuthRequest(token))).status).toBeOneOf([401, 429]);
    expect((await send(testAuthRequest(apiKey))).status).toBeOneOf([401, 429]);
    expect((await send(introspectRequest(observer, token)).then((r) => r.json<{ active: boolean }>())).active).toBe(false);
  });

  /**
   * Activation commits, then writes its {"before"} marker; a deactivation that runs entirely in
   * between writes {"all"}, commits and returns. The activation's late write would replace
   * {"all"}, so the activation re-reads D1 after its write and puts the deactivation's marker
   * back (and a deactivation reads its own marker back after its commit, for the other order).
   */
  it("an activation whose marker lands after a concurrent deactivation returned does not revive the account", async () => {
    const { account, apiKey } = await setup();
    expect((await send(testAuthRequest(apiKey))).status).toBe(200); // cached while active
    expect((await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`))).status).toBe(200);
    const beforeWrite = hold();
    const activating = send(adminRequest("POST", `/admin/v1/accounts/${account.id}/activate`), held({ beforeWrite }));
    await beforeWrite.arrived; // committed (active), marker not yet written
    const deactivated = await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`));
    expect((await deactivated.json<{ status: string }>()).status).toBe("deactivated");
    beforeWrite.open();
    await (await activating).body?.cancel();
    expect((await send(adminRequest("GET", `/admin/v1/accounts/${account.id}`)).then((r) => r.json<{ status: string }>())).status).toBe("deactivated");
    expect((await send(testAuthRequest(apiKey))).status).toBeOneOf([401, 429]);
  });

  it("an account DELETE held at its commit while an activation runs: no token outlives the DELETE, not even one minted in between", async () => {
    const account = await createAccount();
    const client = (await createCredential(account.id, "oauth_client")) as Client;
    expect((await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`))).status).toBe(200);
    await sleep(1_100); // tokens minted from here have an iat after the (rounded up) deactivation

    const beforeCommit = hold();
    const deletion = send(adminRequest("DELETE", `/admin/v1/accounts/${account.id}`), held({ beforeCommit }));
    await beforeCommit.arrived; // the DELETE wrote its marker and waits at its D1 commit
    expect((await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/activate`))).status).toBe(200);
    const token = await mint(client); // the account is active in D1 until the DELETE commits
    beforeCommit.open();
    expect((await deletion).status).toBe(204);

    expect((await send(testAuthRequest(token))).status).toBe(401);
    expect((await send(tokenRequest(client))).status).toBe(401);
  });
});

describe("concurrent edits of one credential", () => {
  it("a stalled older edit cannot make a removed scope live again", async () => {
    const account = await createAccount();
    const client = (await createCredential(account.id, "oauth_client", ["read", "write"])) as Client;
    const beforeWrite = hold();
    // The older edit removes `write`, and stalls at its first KV write (the marker).
    const older = send(jsonRequest("PATCH", `/admin/v1/credentials/${client.id}`, { scopes: ["read"] }), held({ beforeWrite }));
    await beforeWrite.arrived;
    // A newer edit lands first, and a token request sees (and may cache) the row at its version.
    expect((await send(jsonRequest("PATCH", `/admin/v1/credentials/${client.id}`, { name: "renamed" }))).status).toBe(200);
    await mint(client, "write");
    beforeWrite.open();
    const answer = await older;
    expect(answer.status).toBe(200);
    expect((await answer.json<{ scopes: string[]; name: string }>())).toMatchObject({ scopes: ["read"], name: "renamed" });

    // The removal is in force for every token minted after the edit returned.
    const response = await send(tokenRequest(client, false, "write"));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_scope" });
    const stored = await env.DB.prepare("SELECT scopes, name, updated_at FROM credentials WHERE id = ?").bind(client.id).first<{ scopes: string; name: string; updated_at: string }>();
    expect(JSON.parse(stored!.scopes)).toEqual(["read"]);
    expect(stored!.name).toBe("renamed");
  });

  it("an edit that loses to other edits on every try answers 409 conflict and changes nothing", async () => {
    const account = await createAccount();
    const client = (await createCredential(account.id, "oauth_client", ["read"])) as Client;
    const db = env.DB;
    let batches = 0;
    // Before each of this edit's commits, another edit of the same credential lands.
    const DB = {
      prepare: (sql: string) => db.prepare(sql),
      exec: method(db, "exec"),
      withSession: method(db, "withSession"),
      batch: async (statements: D1PreparedStatement[]) => {
        batches++;
        await db
          .prepare("UPDATE credentials SET updated_at = ? WHERE id = ?")
          .bind(new Date(Date.now() + batches * 1000).toISOString(), client.id)
          .run();
        return db.batch(statements);
      },
    };
    const response = await send(jsonRequest("PATCH", `/admin/v1/credentials/${client.id}`, { name: "never" }), { ...env, DB } as unknown as Env);
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: "conflict" });
    expect(batches).toBe(4); // the first try and 3 retries
    const stored = await env.DB.prepare("SELECT name FROM credentials WHERE id = ?").bind(client.id).first<{ name: string }>();
    expect(stored!.name).not.toBe("never");
    expect((await auditEventsFor(client.id)).map((event) => event.action)).toEqual(["credential.create"]);
  });
});

describe("a roll without grace racing a token request at another location", () => {
  it("revokes a token the old secret minted while the roll's commit was on its way", async () => {
    const account = await createAccount();
    const client = (await createCredential(account.id, "oauth_client")) as Client;
    // Another location, whose KV still shows the entry as it was before the roll (KV takes up to
    // a minute to propagate): there the old secret still mints while the commit is on its way.
    const entryName = `credential:client_id:${client.client_id}`;
    const before = await env.REVOCATIONS.get(entryName, "json");
    expect(before).not.toBeNull();
    const kv = env.REVOCATIONS;
    const elsewhere = {
      ...env,
      REVOCATIONS: {
        // One key, or a bulk read (the token path reads the entry with its API's in one).
        get: async (key: unknown, type: unknown) => {
          if (key === entryName) return before;
          const found = await (kv.get as Call).call(kv, key, type);
          if (Array.isArray(key) && key.includes(entryName)) (found as Map<string, unknown>).set(entryName, before);
          return found;
        },
        getWithMetadata: method(kv, "getWithMetadata"),
        list: method(kv, "list"),
        put: method(kv, "put"),
        delete: method(kv, "delete"),
      },
    } as unknown as Env;
    const beforeCommit = hold();
    const roll = send(jsonRequest("POST", `/admin/v1/credentials/${client.id}/roll`, { expires_in: 0 }), held({ beforeCommit }));
    await beforeCommit.arrived; // the marker is written; the commit waits
    await sleep(1_100); // the next second: past the marker's `before`
    const minted = await send(tokenRequest(client), elsewhere);
    expect(minted.status).toBe(200);
    const token = (await minted.json<{ access_token: string }>()).access_token;
    expect((await send(testAuthRequest(token))).status).toBe(200);
    beforeCommit.open();
    const rolled = await roll;
    expect(rolled.status).toBe(200);
    const { client_secret } = await rolled.json<{ client_secret: string }>();

    expect((await send(testAuthRequest(token))).status).toBe(401);
    expect((await send(tokenRequest(client))).status).toBe(401);
    // The new secret's tokens count once their iat is past the commit, rounded up to the second.
    await sleep((Math.ceil(Date.now() / 1000) + 1) * 1000 - Date.now() + 20);
    const fresh = await mint({ id: client.id, client_id: client.client_id, client_secret });
    expect((await send(testAuthRequest(fresh))).status).toBe(200);
  });
});
