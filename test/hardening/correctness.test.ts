import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { generateSecret } from "../../src/services/secrets";
import { ADMIN_TOKEN, BASE, auditEventsFor, createAccount, createCredential } from "../support/http";
import { basic } from "../support/oauth";

/**
 * The seven defects of the correctness review, each reproduced through the real bindings.
 * Requests go through worker.fetch with bindings of the test's choosing, so one request can be
 * held at a chosen await (its D1 batch, its KV write) while others run to completion: that forces
 * each interleaving instead of hoping for it.
 */

interface Client {
  id: string;
  account_id: string;
  client_id: string;
  client_secret: string;
}

async function send(request: Request, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

function tokenRequest(client: Pick<Client, "client_id" | "client_secret">, ip?: string, scope?: string): Request {
  const body = new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) });
  const headers: Record<string, string> = { ...FORM, authorization: basic(client.client_id, client.client_secret) };
  if (ip) headers["cf-connecting-ip"] = ip;
  return new Request(`${BASE}/oauth/token`, { method: "POST", headers, body: body.toString() });
}

function testAuthRequest(bearer: string, ip?: string): Request {
  const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
  if (ip) headers["cf-connecting-ip"] = ip;
  return new Request(`${BASE}/v1/test-auth`, { headers });
}

function adminRequest(method: string, path: string, body?: unknown): Request {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  return new Request(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function mint(client: Pick<Client, "client_id" | "client_secret">, scope?: string): Promise<string> {
  const response = await send(tokenRequest(client, undefined, scope));
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json<{ access_token: string }>()).access_token;
}

let ipCounter = 0;
/** An IP address no other test uses (rate limits are per IP). */
const freshIp = () => `198.51.${100 + Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

type Call = (...args: unknown[]) => Promise<unknown>;
const method = (target: object, name: string) => (Reflect.get(target, name) as Call).bind(target);

/** A gate: `wait()` resolves once `open()` is called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, wait: () => opened };
}

/** The real bindings, except that the first D1 batch signals `reached` and waits for `release`. */
function heldBatch(reached: () => void, release: Promise<void>): Env {
  const db = env.DB;
  let held = false;
  const DB = {
    prepare: (sql: string) => db.prepare(sql),
    exec: method(db, "exec"),
    withSession: method(db, "withSession"),
    batch: async (statements: D1PreparedStatement[]) => {
      if (!held) {
        held = true;
        reached();
        await release;
      }
      return db.batch(statements);
    },
  };
  return { ...env, DB } as unknown as Env;
}

/** The real bindings, except that the first KV put signals `reached` and waits for `release`. */
function heldKvWrite(reached: () => void, release: Promise<void>): Env {
  const kv = env.REVOCATIONS;
  let held = false;
  const REVOCATIONS = {
    get: method(kv, "get"),
    getWithMetadata: method(kv, "getWithMetadata"),
    list: method(kv, "list"),
    delete: method(kv, "delete"),
    put: async (...args: unknown[]) => {
      if (!held) {
        held = true;
        reached();
        await release;
      }
      return method(kv, "put")(...args);
    },
  };
  return { ...env, REVOCATIONS } as unknown as Env;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("1. introspecting inactive tokens is not a failed authentication", () => {
  it("a resource server that introspects 60 junk tokens is never refused, at introspection or at its own /oauth/token", async () => {
    const account = await createAccount();
    const server = (await createCredential(account.id, "oauth_client")) as Client;
    const ip = freshIp();
    const junk = (i: number) => [`junk-${i}`, `eyJ${i}.eyJ${i}.sig`, generateSecret("api_key")][i % 3]!;
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const response = await send(
        new Request(`${BASE}/oauth/introspect`, {
          method: "POST",
          headers: { ...FORM, authorization: basic(server.client_id, server.client_secret), "cf-connecting-ip": ip },
          body: new URLSearchParams({ token: junk(i) }).toString(),
        }),
      );
      expect(await response.json()).toEqual({ active: false });
      statuses.push(response.status);
    }
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect((await send(tokenRequest(server, ip))).status).toBe(200);
  });
});

describe("2. a correct credential is never refused for its neighbours' failures", () => {
  it("an IP over its failure limit (unknown client_ids) still gets tokens and API-key checks for correct credentials", async () => {
    const account = await createAccount();
    const healthy = (await createCredential(account.id, "oauth_client")) as Client;
    const key = await createCredential(account.id, "api_key");
    const ip = freshIp();
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const response = await send(tokenRequest({ client_id: generateSecret("client_id"), client_secret: generateSecret("client_secret") }, ip));
      if (response.status === 429) limited++;
      else expect(response.status).toBe(401);
    }
    expect(limited, "the IP is over its limit").toBeGreaterThan(0);
    // Unknown values from that IP stay refused...
    expect((await send(tokenRequest({ client_id: generateSecret("client_id"), client_secret: generateSecret("client_secret") }, ip))).status).toBe(429);
    // ...but correct ones go through.
    expect((await send(tokenRequest(healthy, ip))).status).toBe(200);
    expect((await send(testAuthRequest(key.api_key, ip))).status).toBe(200);
  });

  it("a client whose secret keeps failing counts against its client_id, not against its IP", async () => {
    const account = await createAccount();
    const failing = (await createCredential(account.id, "oauth_client")) as Client;
    const key = await createCredential(account.id, "api_key");
    const ip = freshIp();
    const wrong = { client_id: failing.client_id, client_secret: generateSecret("client_secret") };
    const statuses: number[] = [];
    // More failures than the per-IP limit (30 a minute) allows.
    for (let i = 0; i < 40; i++) statuses.push((await send(tokenRequest(wrong, ip))).status);
    expect(statuses.filter((status) => status === 429).length, "the client_id is over its limit").toBeGreaterThan(0);
    // Neighbours behind the same IP are not refused...
    const other = (await createCredential(account.id, "oauth_client")) as Client;
    expect((await send(tokenRequest(other, ip))).status).toBe(200);
    expect((await send(testAuthRequest(key.api_key, ip))).status).toBe(200);
    expect((await send(tokenRequest({ client_id: generateSecret("client_id"), client_secret: generateSecret("client_secret") }, ip))).status).toBe(401);
    // ...and the targeted client's correct secret still works (client_ids are not secret).
    expect((await send(tokenRequest(failing, ip))).status).toBe(200);
  });
});

describe("3. account DELETE racing an activation", () => {
  it("no token outlives the DELETE, even when an activation wrote its marker in between", async () => {
    const account = await createAccount();
    const client = (await createCredential(account.id, "oauth_client")) as Client;
    expect((await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`))).status).toBe(200);
    await sleep(1_100); // tokens minted from here have an iat after the (rounded up) deactivation

    const reached = gate();
    const release = gate();
    const deletion = send(adminRequest("DELETE", `/admin/v1/accounts/${account.id}`), heldBatch(reached.open, release.wait()));
    await reached.wait(); // the DELETE wrote its marker and waits at its D1 commit
    expect((await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/activate`))).status).toBe(200);
    const token = await mint(client); // the account is active in D1 until the DELETE commits
    release.open();
    expect((await deletion).status).toBe(204);

    expect((await send(testAuthRequest(token))).status).toBe(401);
    expect((await send(tokenRequest(client))).status).toBe(401);
  });
});

describe("4. concurrent edits of one credential", () => {
  it("a stalled older edit cannot make a removed scope live again", async () => {
    const account = await createAccount();
    const client = (await createCredential(account.id, "oauth_client", ["read", "write"])) as Client;
    const reached = gate();
    const release = gate();
    // The older edit removes `write`, and stalls at its first KV write (the marker).
    const older = send(
      adminRequest("PATCH", `/admin/v1/credentials/${client.id}`, { scopes: ["read"] }),
      heldKvWrite(reached.open, release.wait()),
    );
    await reached.wait();
    // A newer edit lands first, and a token request sees (and may cache) the row at its version.
    expect((await send(adminRequest("PATCH", `/admin/v1/credentials/${client.id}`, { name: "renamed" }))).status).toBe(200);
    await mint(client, "write");
    release.open();
    const answer = await older;
    expect(answer.status).toBe(200);
    expect((await answer.json<{ scopes: string[]; name: string }>())).toMatchObject({ scopes: ["read"], name: "renamed" });

    // The removal is in force for every token minted after the edit returned.
    const response = await send(tokenRequest(client, undefined, "write"));
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
    const response = await send(adminRequest("PATCH", `/admin/v1/credentials/${client.id}`, { name: "never" }), { ...env, DB } as unknown as Env);
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: "conflict" });
    expect(batches).toBe(4); // the first try and 3 retries
    const stored = await env.DB.prepare("SELECT name FROM credentials WHERE id = ?").bind(client.id).first<{ name: string }>();
    expect(stored!.name).not.toBe("never");
    expect((await auditEventsFor(client.id)).map((event) => event.action)).toEqual(["credential.create"]);
  });
});

describe("5. a no-grace roll", () => {
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
        get: (key: unknown, type: unknown) => (key === entryName ? Promise.resolve(before) : (kv.get as Call).call(kv, key, type)),
        getWithMetadata: method(kv, "getWithMetadata"),
        list: method(kv, "list"),
        put: method(kv, "put"),
        delete: method(kv, "delete"),
      },
    } as unknown as Env;
    const reached = gate();
    const release = gate();
    const roll = send(adminRequest("POST", `/admin/v1/credentials/${client.id}/roll`, { expires_in: 0 }), heldBatch(reached.open, release.wait()));
    await reached.wait(); // the marker is written; the commit waits
    await sleep(1_100); // the next second: past the marker's `before`
    const minted = await send(tokenRequest(client), elsewhere);
    expect(minted.status).toBe(200);
    const token = (await minted.json<{ access_token: string }>()).access_token;
    expect((await send(testAuthRequest(token))).status).toBe(200);
    release.open();
    const rolled = await roll;
    expect(rolled.status).toBe(200);
    const { client_secret } = await rolled.json<{ client_secret: string }>();

    expect((await send(testAuthRequest(token))).status).toBe(401);
    expect((await send(tokenRequest(client))).status).toBe(401);
    // The new secret's tokens count once their iat is past the commit, rounded up to the second.
    await sleep((Math.ceil(Date.now() / 1000) + 1) * 1000 - Date.now() + 20);
    const fresh = await mint({ client_id: client.client_id, client_secret });
    expect((await send(testAuthRequest(fresh))).status).toBe(200);
  });
});

describe("6. a deactivation whose D1 change failed", () => {
  it("can be undone: activating the still-active account clears the stray marker", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const client = (await createCredential(account.id, "oauth_client")) as Client;
    const DB = {
      prepare: (sql: string) => env.DB.prepare(sql),
      exec: method(env.DB, "exec"),
      withSession: method(env.DB, "withSession"),
      batch: async () => {
        throw new Error("D1 is down");
      },
    };
    const failed = await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/deactivate`), { ...env, DB } as unknown as Env);
    expect(failed.status).toBe(503);
    // Fail closed: the marker went first, so the account is stopped although D1 says active.
    expect((await send(testAuthRequest(key.api_key))).status).toBe(401);
    const account1 = await send(adminRequest("GET", `/admin/v1/accounts/${account.id}`));
    expect((await account1.json<{ status: string }>()).status).toBe("active");

    const activated = await send(adminRequest("POST", `/admin/v1/accounts/${account.id}/activate`));
    expect(activated.status).toBe(200);
    expect((await send(testAuthRequest(key.api_key))).status).toBe(200);
    expect((await send(tokenRequest(client))).status).toBe(200);
  });

  it("the console's 503 page after a failed write does not claim that nothing changed", async () => {
    const form = new URLSearchParams({ admin_token: ADMIN_TOKEN });
    const signIn = await send(new Request(`${BASE}/console/login`, { method: "POST", headers: { ...FORM, origin: BASE }, body: form.toString() }));
    const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
    const account = await createAccount();
    const DB = {
      prepare: (sql: string) => env.DB.prepare(sql),
      exec: method(env.DB, "exec"),
      withSession: method(env.DB, "withSession"),
      batch: async () => {
        throw new Error("D1 is down");
      },
    };
    const page = await send(
      new Request(`${BASE}/console/accounts/${account.id}/deactivate`, { method: "POST", headers: { ...FORM, origin: BASE, cookie }, body: "" }),
      { ...env, DB } as unknown as Env,
    );
    expect(page.status).toBe(503);
    const text = await page.text();
    expect(text).not.toMatch(/nothing was changed/i);
    expect(text).toMatch(/may be incomplete/);
  });
});

describe("7. console sessions with an unusable ADMIN_TOKEN", () => {
  /** A cookie signed the way a key derived from `token` would sign it. */
  async function forgedCookie(token: string): Promise<string> {
    const material = new TextEncoder().encode(`keymint console session v1\0${token}`);
    const key = await crypto.subtle.importKey("raw", await crypto.subtle.digest("SHA-256", material), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const payload = { sid: crypto.randomUUID(), actor: "admin_token", exp: Math.floor(Date.now() / 1000) + 3600 };
    const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const body = b64(new TextEncoder().encode(JSON.stringify(payload)));
    const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    return `km_session=${body}.${b64(signature)}`;
  }

  for (const token of ["", "short-admin-token"]) {
    it(`with ADMIN_TOKEN ${JSON.stringify(token)} a cookie forged from it is refused`, async () => {
      const bindings = { ...env, ADMIN_TOKEN: token } as Env;
      const page = await send(new Request(`${BASE}/console/credentials`, { headers: { cookie: await forgedCookie(token) } }), bindings);
      expect(page.status).toBe(303);
      expect(page.headers.get("location")).toBe("/console/login");
    });
  }

  it("positive control: with the real ADMIN_TOKEN, a cookie signed the same way is accepted", async () => {
    const page = await send(new Request(`${BASE}/console/credentials`, { headers: { cookie: await forgedCookie(ADMIN_TOKEN) } }));
    expect(page.status).toBe(200);
  });
});

