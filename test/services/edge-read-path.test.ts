import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { generateSecret } from "../../src/services/secrets";
import { BASE, call, createAccount, createCredential, expectError, json, sha256Hex } from "../support/http";
import { basic } from "../support/oauth";

/**
 * The edge read path (docs/architecture.md): a token request and an API-key check make one KV
 * read of the credential's edge entry and no D1 call, from the very first request, because every
 * admin change writes the entry before it answers. The counts, not the times, are asserted here;
 * `npm run bench` measures the times under a latency model.
 *
 * Each request goes through worker.fetch with bindings that count every call (the real bindings
 * answer), and waitOnExecutionContext, so deferred work is counted too.
 */

interface Counts {
  d1: number;
  kvReads: number;
  kvWrites: number;
}

type Call = (...args: unknown[]) => Promise<unknown>;

function counting(): { bindings: Env; counts: Counts } {
  const counts: Counts = { d1: 0, kvReads: 0, kvWrites: 0 };
  const kv = env.REVOCATIONS;
  const db = env.DB;
  const wrap = (target: object, name: string, on: () => void) => (...args: unknown[]) => {
    on();
    return (Reflect.get(target, name) as Call).apply(target, args);
  };
  const REVOCATIONS = {
    get: wrap(kv, "get", () => counts.kvReads++),
    getWithMetadata: wrap(kv, "getWithMetadata", () => counts.kvReads++),
    list: wrap(kv, "list", () => counts.kvReads++),
    put: wrap(kv, "put", () => counts.kvWrites++),
    delete: wrap(kv, "delete", () => counts.kvWrites++),
  };
  // Every D1 statement the Worker prepares, and every session or batch it opens.
  const DB = {
    prepare: (sql: string) => {
      counts.d1++;
      return db.prepare(sql);
    },
    batch: wrap(db, "batch", () => counts.d1++),
    withSession: wrap(db, "withSession", () => counts.d1++),
    exec: wrap(db, "exec", () => counts.d1++),
  };
  return { bindings: { ...env, DB, REVOCATIONS } as unknown as Env, counts };
}

async function counted(request: Request): Promise<{ response: Response; counts: Counts }> {
  const { bindings, counts } = counting();
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await response.clone().arrayBuffer();
  await waitOnExecutionContext(ctx);
  return { response, counts };
}

const tokenRequest = (clientId: string, secret: string, ip?: string) =>
  new Request(`${BASE}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, secret), ...(ip ? { "cf-connecting-ip": ip } : {}) },
    body: "grant_type=client_credentials",
  });

const testAuthRequest = (bearer: string, ip?: string) =>
  new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}`, ...(ip ? { "cf-connecting-ip": ip } : {}) } });

const entryKey = {
  client: (clientId: string) => `credential:client_id:${clientId}`,
  key: async (apiKey: string) => `credential:digest:${await sha256Hex(apiKey)}`,
};

describe("the edge read path: one KV read, no D1", () => {
  it("a new OAuth client's very first token request reads its entry and nothing from D1", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["read"]);
    await call("/.well-known/jwks.json"); // this isolate has its signing keys, as a warm one would
    const { response, counts } = await counted(tokenRequest(client.client_id, client.client_secret));
    expect(response.status).toBe(200);
    expect(counts).toEqual({ d1: 0, kvReads: 1, kvWrites: 0 });
  });

  it("a new API key's very first check reads its entry and nothing from D1", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const { response, counts } = await counted(testAuthRequest(key.api_key));
    expect(response.status).toBe(200);
    expect(counts).toEqual({ d1: 0, kvReads: 1, kvWrites: 0 });
  });

  it("positive control: the same counter sees the D1 read when the entry is missing", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    await env.REVOCATIONS.delete(entryKey.client(client.client_id));
    await env.REVOCATIONS.delete(await entryKey.key(key.api_key));
    // The row, then its grants: two statements on the primary.
    const token = await counted(tokenRequest(client.client_id, client.client_secret));
    expect(token.response.status).toBe(200);
    expect(token.counts.d1).toBe(2);
    const check = await counted(testAuthRequest(key.api_key));
    expect(check.response.status).toBe(200);
    expect(check.counts.d1).toBe(2);
  });

  it("a deleted credential and a deactivated account are turned away by the entry alone", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    expect((await call(`/admin/v1/credentials/${key.id}`, { method: "DELETE" })).status).toBe(204);
    const dead = await counted(testAuthRequest(key.api_key));
    await expectError(dead.response, 401, "invalid_token");
    expect(dead.counts.d1).toBe(0);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    const inactive = await counted(tokenRequest(client.client_id, client.client_secret));
    await expectError(inactive.response, 401, "invalid_client");
    expect(inactive.counts.d1).toBe(0);
    expect((await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" })).status).toBe(200);
    const again = await counted(tokenRequest(client.client_id, client.client_secret));
    expect(again.response.status).toBe(200);
    expect(again.counts.d1).toBe(0);
  });

  it("edits, rolls and grace periods are in the entry at once", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["a", "b"]);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { scopes: ["a"] } })).status).toBe(200);
    const edited = await counted(tokenRequest(client.client_id, client.client_secret));
    expect((await json(edited.response)).scope).toBe("a");
    expect(edited.counts.d1).toBe(0);

    const key = await createCredential(account.id, "api_key");
    const rolled = await json(await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 3600 } }));
    for (const presented of [key.api_key, rolled.api_key]) {
      const check = await counted(testAuthRequest(presented));
      expect(check.response.status).toBe(200);
      expect(check.counts.d1).toBe(0);
    }
    await json(await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 0 } }));
    for (const presented of [key.api_key, rolled.api_key]) {
      const check = await counted(testAuthRequest(presented));
      await expectError(check.response, 401, "invalid_token");
    }
  });
});

describe("misses: bounded D1 reads", () => {
  it("an unknown well-formed client_id costs one D1 read, then none while this isolate remembers it", async () => {
    const clientId = generateSecret("client_id");
    const first = await counted(tokenRequest(clientId, generateSecret("client_secret")));
    await expectError(first.response, 401, "invalid_client");
    expect(first.counts.d1).toBe(1); // the row only: there is none
    const second = await counted(tokenRequest(clientId, generateSecret("client_secret")));
    await expectError(second.response, 401, "invalid_client");
    expect(second.counts.d1).toBe(0);
  });

  it("a malformed value costs no read at all", async () => {
    const key = generateSecret("api_key");
    const { response, counts } = await counted(testAuthRequest(`${key.slice(0, -1)}${key.endsWith("x") ? "y" : "x"}`));
    await expectError(response, 401, "invalid_token");
    expect(counts).toEqual({ d1: 0, kvReads: 0, kvWrites: 0 });
  });

  it("a correct credential whose entry is missing is answered from an IP over its failure limit; unknown values from it still get 429", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const client = await createCredential(account.id, "oauth_client");
    const ip = `203.0.113.${77 + Math.floor(Math.random() * 20)}`;
    let limited = false;
    for (let i = 0; i < 70 && !limited; i++) limited = (await counted(testAuthRequest(generateSecret("api_key"), ip))).response.status === 429;
    expect(limited, "the IP is over its failure limit").toBe(true);
    // Created in another location within KV's propagation delay, or not yet backfilled: no entry here.
    await env.REVOCATIONS.delete(await entryKey.key(key.api_key));
    await env.REVOCATIONS.delete(entryKey.client(client.client_id));
    const apiKey = await counted(testAuthRequest(key.api_key, ip));
    expect(apiKey.response.status, "the API key, found in D1").toBe(200);
    expect(apiKey.counts.d1).toBeGreaterThan(0);
    const token = await counted(tokenRequest(client.client_id, client.client_secret, ip));
    expect(token.response.status, "the client, found in D1").toBe(200);
    // The limit still turns that IP's failures into 429.
    expect((await counted(testAuthRequest(generateSecret("api_key"), ip))).response.status).toBe(429);
  });

  it("D1 reads on a miss stay bounded without the IP: an unknown value is asked about once per isolate", async () => {
    const unknownKey = generateSecret("api_key");
    const first = await counted(testAuthRequest(unknownKey));
    await expectError(first.response, 401, "invalid_token");
    expect(first.counts.d1).toBeGreaterThan(0);
    const again = await counted(testAuthRequest(unknownKey));
    await expectError(again.response, 401, "invalid_token");
    expect(again.counts.d1, "the negative cache answers").toBe(0);
  });
});

describe("the backfill of credentials made before the read model", () => {
  it("a credential with no entry works through D1, and once the cron has run, through its entry alone", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    // As if made before the read model existed: no entry, and the backfill not yet done.
    await env.REVOCATIONS.delete(entryKey.client(client.client_id));
    await env.REVOCATIONS.delete("backfill:edge-entries");
    const before = await counted(tokenRequest(client.client_id, client.client_secret));
    expect(before.response.status).toBe(200);
    expect(before.counts.d1).toBeGreaterThan(0);

    await env.REVOCATIONS.delete(entryKey.client(client.client_id)); // undo the self-heal, if any
    const ctx = createExecutionContext();
    await worker.scheduled!({ scheduledTime: Date.now(), cron: "*/15 * * * *", noRetry() {} } as ScheduledController, env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await env.REVOCATIONS.get("backfill:edge-entries", "json")).toMatchObject({ done: true });

    const after = await counted(tokenRequest(client.client_id, client.client_secret));
    expect(after.response.status).toBe(200);
    expect(after.counts.d1).toBe(0);
  });
});

describe("custom claims in the edge read path (contract \"Custom claims\")", () => {
  const FIVE = { tenant: "organization.external_id", plan: "organization.metadata.plan", region: "account.metadata.region", env: "credential.metadata.env", team: "account.name" };

  async function mappedCredentials() {
    const org = await json(await call("/admin/v1/organizations", { method: "POST", body: { name: "Acme", external_id: `cus_${crypto.randomUUID()}`, metadata: { plan: "gold" } } }));
    const account = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: "billing sync", type: "service", organization_id: org.id, metadata: { region: "eu" } } }));
    const made = async (type: "oauth_client" | "api_key") =>
      json(await call("/admin/v1/credentials", { method: "POST", body: { name: `${type} prod`, type, account_id: account.id, metadata: { env: "prod" } } }));
    return { org, client: await made("oauth_client"), key: await made("api_key") };
  }

  it("a token and an API key for an API with five mapped claims: one KV read, no D1, the five claims", async () => {
    expect((await call("/admin/v1/apis/api_default", { method: "PATCH", body: { token_claims: FIVE } })).status).toBe(200);
    const { org, client, key } = await mappedCredentials();
    const expected = { tenant: org.external_id, plan: "gold", region: "eu", env: "prod", team: "billing sync" };
    await call("/.well-known/jwks.json");
    const token = await counted(tokenRequest(client.client_id, client.client_secret));
    expect(token.response.status).toBe(200);
    expect(token.counts).toEqual({ d1: 0, kvReads: 1, kvWrites: 0 });
    const payload = JSON.parse(atob((await json(token.response)).access_token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
    expect(payload).toMatchObject(expected);
    const check = await counted(testAuthRequest(key.api_key));
    expect(check.counts).toEqual({ d1: 0, kvReads: 1, kvWrites: 0 });
    expect((await json(check.response)).claims).toEqual(expected);
  });

  it("an entry written before custom claims costs one D1 read for a mapping that needs names or metadata, then none", async () => {
    expect((await call("/admin/v1/apis/api_default", { method: "PATCH", body: { token_claims: FIVE } })).status).toBe(200);
    const { key } = await mappedCredentials();
    const name = await entryKey.key(key.api_key);
    const { claim_sources: _, ...old } = (await env.REVOCATIONS.get<Record<string, unknown>>(name, "json"))!;
    await env.REVOCATIONS.put(name, JSON.stringify(old));
    const first = await counted(testAuthRequest(key.api_key));
    expect((await json(first.response)).claims.plan).toBe("gold");
    expect(first.counts.d1).toBeGreaterThan(0);
    const healed = await counted(testAuthRequest(key.api_key));
    expect((await json(healed.response)).claims.plan).toBe("gold");
    expect(healed.counts.d1).toBe(0);
  });
});
