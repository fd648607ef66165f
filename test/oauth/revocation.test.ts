import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { auditEventsFor, call, createAccount, createCredential, expectError, json } from "../support/http";
import { form, introspect, testAuth, tokenFor, tokenRequest } from "../support/oauth";

/** The contract's revocation guarantees, through the public endpoints. */

async function setup(scopes = ["read"]) {
  const account = await createAccount();
  const client = await createCredential(account.id, "oauth_client", scopes);
  const key = await createCredential(account.id, "api_key", scopes);
  return { account, client, key };
}

/** A client on another account, to introspect with when the subject's own clients are dead. */
async function observer() {
  const account = await createAccount();
  return createCredential(account.id, "oauth_client", []);
}

async function expectActive(introspector: any, token: string, active: boolean) {
  const response = await introspect(introspector, token);
  expect(response.status).toBe(200);
  expect((await json(response)).active).toBe(active);
}

async function expectSecretsWork(client: any, key: any, work: boolean) {
  const tokenResponse = await tokenRequest(client);
  const postResponse = await form("/oauth/token", { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret });
  const keyResponse = await testAuth(key.api_key);
  if (work) {
    expect(tokenResponse.status).toBe(200);
    expect(postResponse.status).toBe(200);
    expect(keyResponse.status).toBe(200);
  } else {
    await expectError(tokenResponse, 401, "invalid_client");
    await expectError(postResponse, 401, "invalid_client");
    await expectError(keyResponse, 401, "invalid_token");
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("deleting a credential", () => {
  it("kills its secret at the token endpoint and its tokens everywhere, at once", async () => {
    const { client } = await setup();
    const watcher = await observer();
    const token = await tokenFor(client);
    expect((await testAuth(token)).status).toBe(200);
    await expectActive(watcher, token, true);

    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);

    await expectError(await tokenRequest(client), 401, "invalid_client");
    await expectError(await testAuth(token), 401, "invalid_token");
    await expectActive(watcher, token, false);
  });

  it("kills a deleted API key and leaves the account's other credentials alone", async () => {
    const { client, key } = await setup();
    const token = await tokenFor(client);
    expect((await call(`/admin/v1/credentials/${key.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await testAuth(key.api_key), 401, "invalid_token");
    expect((await testAuth(token)).status).toBe(200);
    expect((await tokenRequest(client)).status).toBe(200);
  });
});

describe("deactivating and reactivating an account", () => {
  it("stops its secrets and tokens; activation revives the secrets but never the earlier tokens", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    // Mid-second, so that rounding the deactivation moment up matters.
    const start = Math.floor(Date.now() / 1000) * 1000 + 400;
    vi.setSystemTime(start);
    const { account, client, key } = await setup();
    const watcher = await observer();
    const before = await tokenFor(client);
    await expectSecretsWork(client, key, true);
    expect((await testAuth(before)).status).toBe(200);

    const deactivated = await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" });
    expect(deactivated.status).toBe(200);
    expect((await json(deactivated)).status).toBe("deactivated");
    await expectSecretsWork(client, key, false);
    await expectError(await testAuth(before), 401, "invalid_token");
    await expectActive(watcher, before, false);
    // Its own clients cannot even introspect.
    await expectError(await introspect(client, before), 401, "invalid_client");

    vi.setSystemTime(start + 300); // same second as the deactivation
    const activated = await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" });
    expect(activated.status).toBe(200);
    expect((await json(activated)).status).toBe("active");
    await expectSecretsWork(client, key, true);
    // Still within the deactivation second: a token minted now has an iat not after it.
    const sameSecond = await tokenFor(client);
    expect(decodeJwt(sameSecond).iat).toBe(Math.floor(start / 1000));
    await expectError(await testAuth(sameSecond), 401, "invalid_token");

    // The deactivation moment rounded up to whole seconds is S+1: a token with iat S+1 is not after it.
    vi.setSystemTime(start + 1_300);
    const nextSecond = await tokenFor(client);
    expect(decodeJwt(nextSecond).iat).toBe(Math.floor(start / 1000) + 1);
    await expectError(await testAuth(nextSecond), 401, "invalid_token");

    vi.setSystemTime(start + 2_300);
    const after = await tokenFor(client);
    expect(decodeJwt(after).iat).toBe(Math.floor(start / 1000) + 2);
    expect((await testAuth(after)).status).toBe(200);
    await expectActive(watcher, after, true);
    await expectActive(client, after, true);
    // The token from before deactivation stays dead even though it has not expired.
    expect(decodeJwt(before).exp! * 1000).toBeGreaterThan(Date.now());
    await expectError(await testAuth(before), 401, "invalid_token");
    await expectActive(watcher, before, false);
  });

  it("reactivation does not revive a credential deleted while the account was deactivated", async () => {
    const { account, client, key } = await setup();
    const survivor = await createCredential(account.id, "oauth_client", ["read"]);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/credentials/${key.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" })).status).toBe(200);
    await expectSecretsWork(client, key, false);
    expect((await tokenRequest(survivor)).status).toBe(200);
  });

  it("a second deactivate changes nothing and keeps everything stopped", async () => {
    const { account, client, key } = await setup();
    const token = await tokenFor(client);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    await expectSecretsWork(client, key, false);
    await expectError(await testAuth(token), 401, "invalid_token");
  });
});

describe("rolling a client secret", () => {
  it("without grace: the old secret and the tokens it issued fail at once; the new secret works", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Math.floor(Date.now() / 1000) * 1000 + 200;
    vi.setSystemTime(start);
    const { client } = await setup();
    const watcher = await observer();
    const token = await tokenFor(client);
    const rolled = await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 0 } });
    expect(rolled.status).toBe(200);
    const fresh = await json(rolled);
    expect(fresh.client_secret).not.toBe(client.client_secret);
    expect(fresh.client_id).toBe(client.client_id);
    await expectError(await tokenRequest(client), 401, "invalid_client");
    // A leaked secret's tokens die with it (docs/operations.md).
    await expectError(await testAuth(token), 401, "invalid_token");
    await expectActive(watcher, token, false);
    // Tokens from the new secret verify once their iat is after the roll moment rounded up.
    vi.setSystemTime(start + 2_000);
    const next = await tokenFor({ ...client, client_secret: fresh.client_secret });
    expect(decodeJwt(next).iat).toBeGreaterThan(Math.ceil(start / 1000));
    expect((await testAuth(next)).status).toBe(200);
    await expectActive(watcher, next, true);
  });

  it("with grace: the old secret works until expires_in has passed, then fails", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const { client, key } = await setup();
    const rolledClient = await json(await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 120 } }));
    const rolledKey = await json(await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 120 } }));
    vi.setSystemTime(start + 119_000);
    expect((await tokenRequest(client)).status).toBe(200);
    expect((await tokenRequest({ client_id: client.client_id, client_secret: rolledClient.client_secret })).status).toBe(200);
    expect((await testAuth(key.api_key)).status).toBe(200);
    expect((await testAuth(rolledKey.api_key)).status).toBe(200);
    vi.setSystemTime(start + 121_000);
    await expectError(await tokenRequest(client), 401, "invalid_client");
    await expectError(await testAuth(key.api_key), 401, "invalid_token");
    expect((await tokenRequest({ client_id: client.client_id, client_secret: rolledClient.client_secret })).status).toBe(200);
    expect((await testAuth(rolledKey.api_key)).status).toBe(200);
  });
});

describe("deleting an account", () => {
  it("kills every secret and token of it", async () => {
    const { account, client, key } = await setup();
    const second = await createCredential(account.id, "oauth_client", ["read"]);
    const watcher = await observer();
    const tokens = [await tokenFor(client), await tokenFor(second)];
    for (const token of tokens) expect((await testAuth(token)).status).toBe(200);

    expect((await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" })).status).toBe(204);

    await expectSecretsWork(client, key, false);
    await expectError(await tokenRequest(second), 401, "invalid_client");
    for (const token of tokens) {
      await expectError(await testAuth(token), 401, "invalid_token");
      await expectActive(watcher, token, false);
    }
  });
});

describe("admin by access token", () => {
  it("a token with scope admin is an admin; its audit actor is client:<client_id>", async () => {
    const { client } = await setup(["admin", "read"]);
    const token = await tokenFor(client, "admin");
    const list = await call("/admin/v1/accounts", { token });
    expect(list.status).toBe(200);
    expect(Array.isArray((await json(list)).data)).toBe(true);

    const created = await call("/admin/v1/accounts", { method: "POST", token, body: { name: "made by a token", type: "service" } });
    expect(created.status).toBe(201);
    const events = await auditEventsFor((await json(created)).id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: expect.stringContaining("create"), actor: `client:${client.client_id}` });
  });

  it("a valid token without scope admin: 403 forbidden", async () => {
    const { client } = await setup(["admin", "read"]);
    const token = await tokenFor(client, "read");
    expect((await testAuth(token)).status).toBe(200);
    await expectError(await call("/admin/v1/accounts", { token }), 403, "forbidden");
  });

  it("an API key with scope admin, a client secret, a revoked admin token: 401 unauthorized", async () => {
    const { client, key } = await setup(["admin"]);
    await expectError(await call("/admin/v1/accounts", { token: key.api_key }), 401, "unauthorized");
    await expectError(await call("/admin/v1/accounts", { token: client.client_secret }), 401, "unauthorized");
    const token = await tokenFor(client, "admin");
    expect((await call("/admin/v1/accounts", { token })).status).toBe(200);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await call("/admin/v1/accounts", { token }), 401, "unauthorized");
  });
});
