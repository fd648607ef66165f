import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CREDENTIAL_CACHE_TTL_MS } from "../../src/config";
import { call, createAccount, createCredential, expectError, json } from "../support/http";
import { basic, form, testAuth, tokenFor } from "../support/oauth";

/**
 * The per-isolate credential cache (src/services/credential-lookup.ts) may save D1 reads, never
 * correctness: every use re-reads the KV markers, so deletion, deactivation, rolls and edits
 * are seen at once; anything KV does not hear about is bounded by CREDENTIAL_CACHE_TTL_MS.
 */

const tokenRequest = (clientId: string, secret: string) =>
  form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(clientId, secret) });

/** Counts D1 statements the Worker prepares while `work` runs (the binding itself is real). */
async function d1Reads(work: () => Promise<unknown>): Promise<number> {
  const prepare = vi.spyOn(env.DB, "prepare");
  const session = vi.spyOn(env.DB, "withSession");
  try {
    await work();
    return prepare.mock.calls.length + session.mock.calls.length;
  } finally {
    prepare.mockRestore();
    session.mockRestore();
  }
}

afterEach(() => vi.useRealTimers());

describe("credential cache", () => {
  it("serves a repeated token request without reading D1", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["read"]);
    await tokenFor(client); // warms this isolate's cache
    expect(await d1Reads(() => tokenFor(client))).toBe(0);
    const key = await createCredential(account.id, "api_key");
    expect((await testAuth(key.api_key)).status).toBe(200);
    expect(await d1Reads(async () => expect((await testAuth(key.api_key)).status).toBe(200))).toBe(0);
  });

  it("never serves a deleted credential: its secret fails at once although cached", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    const key = await createCredential(account.id, "api_key");
    await tokenFor(client);
    expect((await testAuth(key.api_key)).status).toBe(200);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/credentials/${key.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await tokenRequest(client.client_id, client.client_secret), 401, "invalid_client");
    await expectError(await testAuth(key.api_key), 401, "invalid_token");
  });

  it("sees deactivation at once and reactivation at once", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    await tokenFor(client);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    await expectError(await tokenRequest(client.client_id, client.client_secret), 401, "invalid_client");
    expect((await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" })).status).toBe(200);
    expect((await tokenRequest(client.client_id, client.client_secret)).status).toBe(200);
  });

  it("drops a cached row after a roll: the old secret stops at once, the new one works", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    await tokenFor(client);
    const rolled = await json(await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 0 } }));
    await expectError(await tokenRequest(client.client_id, client.client_secret), 401, "invalid_client");
    expect((await tokenRequest(client.client_id, rolled.client_secret)).status).toBe(200);
  });

  it("drops a cached row after a scope change: the next token carries the new scopes", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["a", "b"]);
    await tokenFor(client);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { scopes: ["a"] } })).status).toBe(200);
    const response = await tokenRequest(client.client_id, client.client_secret);
    expect((await json(response)).scope).toBe("a");
  });

  it("bounds what KV never hears of (a change made straight in D1) by CREDENTIAL_CACHE_TTL_MS", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["a", "b"]);
    await tokenFor(client);
    // Behind the service's back: no `changed` marker is written.
    await env.DB.prepare("UPDATE credentials SET scopes = '[\"a\"]' WHERE id = ?").bind(client.id).run();
    const scopeNow = async () => (await json(await tokenRequest(client.client_id, client.client_secret))).scope;
    expect(await scopeNow()).toBe("a b");
    vi.setSystemTime(Date.now() + CREDENTIAL_CACHE_TTL_MS + 1);
    expect(await scopeNow()).toBe("a");
  });
});
