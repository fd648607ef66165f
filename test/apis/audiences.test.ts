import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import worker, { Verifier } from "../../src/index";
import { altered, auditEventsFor, BASE, call, createAccount, createCredential, expectError, json } from "../support/http";
import { basic, introspect, rawForm, testAuth } from "../support/oauth";

/**
 * APIs and audiences (contract "APIs and audiences", RFC 8707): a token is for exactly one API,
 * its `aud` that API's identifier; a credential reaches APIs other than the default one through
 * grants; deleting an API is a revocation.
 */

let counter = 0;
const identifier = (label = "api") => `https://${label}-${Date.now().toString(36)}-${++counter}.example.com`;

async function createApi(scopes: string[], id = identifier()) {
  const response = await call("/admin/v1/apis", { method: "POST", body: { name: `API ${id}`, identifier: id, scopes } });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

async function clientWith(grants: { api: string; scopes: string[] }[], scopes: string[] = [], type: "oauth_client" | "api_key" = "oauth_client") {
  const account = await createAccount();
  const response = await call("/admin/v1/credentials", { method: "POST", body: { name: "grantee", type, account_id: account.id, scopes, grants } });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

function tokenRequest(client: { client_id: string; client_secret: string }, params: Record<string, string | string[]> = {}) {
  const body = new URLSearchParams({ grant_type: "client_credentials" });
  for (const [name, value] of Object.entries(params)) for (const each of [value].flat()) body.append(name, each);
  return rawForm("/oauth/token", body.toString(), { authorization: basic(client.client_id, client.client_secret) });
}

async function tokenFor(client: { client_id: string; client_secret: string }, params: Record<string, string> = {}) {
  const response = await tokenRequest(client, params);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await json(response)).access_token as string;
}

const testAuthFor = (bearer: string, audience?: string) =>
  call(`/v1/test-auth${audience === undefined ? "" : `?audience=${encodeURIComponent(audience)}`}`, { token: bearer });

const rpc = () => new Verifier(createExecutionContext(), env);

describe("isolation between APIs", () => {
  it("a token for A carries aud A, passes at A and fails at B, through test-auth and the RPC; introspection answers aud A", async () => {
    const a = await createApi(["events:read", "events:write"]);
    const b = await createApi(["events:read"]);
    const client = await clientWith([
      { api: a.identifier, scopes: ["events:read"] },
      { api: b.identifier, scopes: ["events:read"] },
    ]);
    const token = await tokenFor(client, { resource: a.identifier });
    expect(decodeJwt(token)).toMatchObject({ aud: a.identifier, scope: "events:read" });

    const atA = await testAuthFor(token, a.identifier);
    expect(atA.status).toBe(200);
    expect(await json(atA)).toMatchObject({ aud: a.identifier, scopes: ["events:read"], grants: [{ api: a.identifier, scopes: ["events:read"] }] });
    await expectError(await testAuthFor(token, b.identifier), 401, "invalid_token");
    await expectError(await testAuthFor(token, BASE), 401, "invalid_token");
    expect((await testAuthFor(token)).status).toBe(200); // no audience asked: any API's token

    expect(await rpc().verify(token, { audience: a.identifier })).toMatchObject({ valid: true, aud: a.identifier });
    expect(await rpc().verify(token, { audience: b.identifier })).toEqual({ valid: false, code: "wrong_audience" });

    const observer = await createCredential((await createAccount()).id, "oauth_client");
    expect(await json(await introspect(observer, token))).toMatchObject({ active: true, aud: a.identifier });
  });

  it("an API key passes ?audience= only for an API it has a grant on (the default API always)", async () => {
    const a = await createApi(["read"]);
    const b = await createApi(["read"]);
    const key = await clientWith([{ api: a.identifier, scopes: ["read"] }], ["own"], "api_key");
    const atA = await testAuthFor(key.api_key, a.identifier);
    expect(atA.status).toBe(200);
    expect(await json(atA)).toMatchObject({
      aud: a.identifier,
      scopes: ["own"],
      grants: [
        { api: BASE, scopes: ["own"] },
        { api: a.identifier, scopes: ["read"] },
      ],
    });
    await expectError(await testAuthFor(key.api_key, b.identifier), 401, "invalid_token");
    expect((await testAuthFor(key.api_key, BASE)).status).toBe(200);
    expect(await rpc().verify(key.api_key, { audience: b.identifier })).toEqual({ valid: false, code: "wrong_audience" });
    expect(await rpc().verify(key.api_key, { audience: a.identifier })).toMatchObject({ valid: true, aud: a.identifier });
  });

  it("an admin scope granted on another API opens nothing of Keymint's", async () => {
    const a = await createApi(["admin"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["admin"] }]);
    const token = await tokenFor(client, { resource: a.identifier, scope: "admin" });
    await expectError(await call("/admin/v1/accounts", { token }), 401, "unauthorized");
  });
});

describe("the grant ceiling", () => {
  it("a client with events:read on A gets invalid_scope for events:write on A and invalid_target for B", async () => {
    const a = await createApi(["events:read", "events:write"]);
    const b = await createApi(["events:read"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["events:read"] }]);
    await expectError(await tokenRequest(client, { resource: a.identifier, scope: "events:write" }), 400, "invalid_scope");
    await expectError(await tokenRequest(client, { resource: b.identifier }), 400, "invalid_target");
    await expectError(await tokenRequest(client, { resource: identifier("unknown") }), 400, "invalid_target");
    await expectError(await tokenRequest(client, { resource: [a.identifier, a.identifier] }), 400, "invalid_target");
    await expectError(await tokenRequest(client, { resource: "not a uri" }), 400, "invalid_target");
    await expectError(await tokenRequest(client, { resource: `${a.identifier}#frag` }), 400, "invalid_target");
    // No scope asked: all of the grant; the default API: the credential's own scopes.
    expect(decodeJwt(await tokenFor(client, { resource: a.identifier }))).toMatchObject({ scope: "events:read", aud: a.identifier });
    expect(decodeJwt(await tokenFor(client))).toMatchObject({ scope: "", aud: BASE });
  });

  it("a wrong secret with a resource is still 401 invalid_client, not a hint about the API", async () => {
    const a = await createApi(["r"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["r"] }]);
    await expectError(await tokenRequest({ ...client, client_secret: altered(client.client_secret) }, { resource: a.identifier }), 401, "invalid_client");
  });
});

describe("changing and deleting an API", () => {
  it("a scope removed from an API is removed from every grant: tokens minted after no longer carry it", async () => {
    const a = await createApi(["r", "w"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["r", "w"] }]);
    const before = await tokenFor(client, { resource: a.identifier, scope: "w" });
    const patched = await call(`/admin/v1/apis/${a.id}`, { method: "PATCH", body: { scopes: ["r"] } });
    expect(patched.status).toBe(200);
    expect((await json(patched)).scopes).toEqual(["r"]);
    await expectError(await tokenRequest(client, { resource: a.identifier, scope: "w" }), 400, "invalid_scope");
    expect(decodeJwt(await tokenFor(client, { resource: a.identifier }))).toMatchObject({ scope: "r" });
    expect((await json(await call(`/admin/v1/credentials/${client.id}`))).grants).toEqual([{ api: a.identifier, scopes: ["r"] }]);
    // Adding it back to the API does not give it back to the grant.
    expect((await call(`/admin/v1/apis/${a.id}`, { method: "PATCH", body: { scopes: ["r", "w"] } })).status).toBe(200);
    await expectError(await tokenRequest(client, { resource: a.identifier, scope: "w" }), 400, "invalid_scope");
    // A token minted before the change lives out its minute (a scope change is not a revocation).
    expect((await testAuthFor(before)).status).toBe(200);
    const actions = (await auditEventsFor(a.id)).map((event: { action: string }) => event.action);
    expect(actions).toEqual(["api.update", "api.update", "api.create"]);
  });

  it("deleting an API revokes its tokens on every path, stops new ones, and re-creating the identifier revives nothing", async () => {
    const a = await createApi(["r"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["r"] }]);
    const token = await tokenFor(client, { resource: a.identifier });
    const observer = await createCredential((await createAccount()).id, "oauth_client");
    expect((await call(`/admin/v1/apis/${a.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/apis/${a.id}`, { method: "DELETE" })).status).toBe(404);
    await expectError(await testAuthFor(token), 401, "invalid_token");
    expect(await json(await introspect(observer, token))).toEqual({ active: false });
    expect(await rpc().verify(token)).toEqual({ valid: false, code: "revoked" });
    await expectError(await tokenRequest(client, { resource: a.identifier }), 400, "invalid_target");
    expect((await json(await call(`/admin/v1/credentials/${client.id}`))).grants).toEqual([]);

    const again = await createApi(["r"], a.identifier);
    expect(again.id).not.toBe(a.id);
    await expectError(await testAuthFor(token), 401, "invalid_token");
    await expectError(await tokenRequest(client, { resource: a.identifier }), 400, "invalid_target"); // the grant went with the API
    expect((await auditEventsFor(a.id)).map((event: { action: string }) => event.action)).toEqual(["api.delete", "api.create"]);
  });
});

describe("the default API and backward compatibility", () => {
  it("is always listed, has the default audience and any scope, and cannot lose its scopes or be deleted", async () => {
    const list = await json(await call("/admin/v1/apis?limit=100"));
    const def = list.data.find((api: { id: string }) => api.id === "api_default");
    expect(def).toMatchObject({ id: "api_default", identifier: BASE, scopes: null });
    await expectError(await call("/admin/v1/apis/api_default", { method: "PATCH", body: { scopes: ["x"] } }), 400, "invalid_request");
    await expectError(await call("/admin/v1/apis/api_default", { method: "DELETE" }), 400, "invalid_request");
    expect((await call("/admin/v1/apis/api_default")).status).toBe(200);
  });

  it("a credential made with only scopes behaves as before: default aud, its scopes, no grants", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["a", "b"]);
    expect(client.grants).toEqual([]);
    const token = await tokenFor(client);
    expect(decodeJwt(token)).toMatchObject({ aud: BASE, scope: "a b" });
    expect(decodeJwt(await tokenFor(client, { resource: BASE }))).toMatchObject({ aud: BASE, scope: "a b" });
    expect(await json(await testAuth(token))).toMatchObject({ aud: BASE, scopes: ["a", "b"] });
  });
});

describe("hostile input", () => {
  const bad = async (body: unknown, status = 400, code = "invalid_request") => expectError(await call("/admin/v1/apis", { method: "POST", body }), status, code);

  it("refuses identifiers that are not absolute https URIs, have fragments or are too long; duplicates are 409", async () => {
    for (const id of ["billing", "/relative", "http://billing.example.com", "ftp://x.example.com", "https://x.example.com/#frag", `https://x.example.com/${"a".repeat(2000)}`, "https://user:pw@x.example.com", " https://x.example.com"]) {
      await bad({ name: "x", identifier: id, scopes: [] });
    }
    for (const id of ["http://localhost:9000/api", "http://127.0.0.1/api", "urn:ietf:x"].slice(0, 2)) {
      expect((await call("/admin/v1/apis", { method: "POST", body: { name: "local", identifier: `${id}-${++counter}`, scopes: [] } })).status).toBe(201);
    }
    const a = await createApi([]);
    await bad({ name: "again", identifier: a.identifier, scopes: [] }, 409, "conflict");
    await bad({ name: "default", identifier: BASE, scopes: [] }, 409, "conflict");
    await bad({ name: "x", identifier: identifier(), scopes: ["bad scope"] });
    await bad({ name: "x", identifier: identifier(), scopes: ["a", "a"] });
  });

  it("refuses grants on unknown APIs, the default API, one API twice, 33 grants, undeclared or malformed scopes", async () => {
    const a = await createApi(["r"]);
    const account = await createAccount();
    const create = (grants: unknown) => call("/admin/v1/credentials", { method: "POST", body: { name: "x", type: "oauth_client", account_id: account.id, grants } });
    await expectError(await create([{ api: identifier("nobody"), scopes: [] }]), 400, "invalid_request");
    await expectError(await create([{ api: BASE, scopes: [] }]), 400, "invalid_request");
    await expectError(await create([{ api: a.identifier, scopes: ["r"] }, { api: a.identifier, scopes: [] }]), 400, "invalid_request");
    await expectError(await create(Array.from({ length: 33 }, (_, i) => ({ api: `https://g${i}.example.com`, scopes: [] }))), 400, "invalid_request");
    await expectError(await create([{ api: a.identifier, scopes: ["w"] }]), 400, "invalid_request");
    await expectError(await create([{ api: a.identifier, scopes: ["bad scope"] }]), 400, "invalid_request");
    expect((await json(await call(`/admin/v1/credentials?account_id=${account.id}`))).data).toEqual([]);
  });

  it("PATCH replaces grants; an invalid PATCH changes nothing", async () => {
    const a = await createApi(["r", "w"]);
    const b = await createApi(["x"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["r"] }]);
    await expectError(await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { grants: [{ api: b.identifier, scopes: ["nope"] }] } }), 400, "invalid_request");
    expect((await json(await call(`/admin/v1/credentials/${client.id}`))).grants).toEqual([{ api: a.identifier, scopes: ["r"] }]);
    const patched = await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { grants: [{ api: b.identifier, scopes: ["x"] }] } });
    expect((await json(patched)).grants).toEqual([{ api: b.identifier, scopes: ["x"] }]);
    await expectError(await tokenRequest(client, { resource: a.identifier }), 400, "invalid_target");
    expect(decodeJwt(await tokenFor(client, { resource: b.identifier }))).toMatchObject({ aud: b.identifier, scope: "x" });
  });
});

describe("the token path with a resource", () => {
  it("reads the credential's and the API's entries in one bulk KV read, and nothing from D1", async () => {
    const a = await createApi(["r"]);
    const client = await clientWith([{ api: a.identifier, scopes: ["r"] }]);
    await tokenFor(client); // this isolate has its signing keys
    let d1 = 0;
    let kvReads = 0;
    const kv = env.REVOCATIONS;
    const db = env.DB;
    const bindings = {
      ...env,
      DB: { prepare: (sql: string) => (d1++, db.prepare(sql)), batch: (s: D1PreparedStatement[]) => (d1++, db.batch(s)), withSession: () => (d1++, db.withSession()) },
      REVOCATIONS: { get: (...args: unknown[]) => (kvReads++, (kv.get as (...a: unknown[]) => unknown).apply(kv, args)), put: kv.put.bind(kv), delete: kv.delete.bind(kv) },
    } as unknown as Env;
    const ctx = createExecutionContext();
    const body = new URLSearchParams({ grant_type: "client_credentials", resource: a.identifier }).toString();
    const response = await worker.fetch(
      new Request(`${BASE}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.client_id, client.client_secret) }, body }) as Request<unknown, IncomingRequestCfProperties>,
      bindings,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    expect({ d1, kvReads }).toEqual({ d1: 0, kvReads: 1 });
  });
});
