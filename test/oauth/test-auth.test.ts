import { afterEach, describe, expect, it, vi } from "vitest";
import { BASE, call, createAccount, createCredential, json } from "../support/http";
import { testAuth, tokenFor } from "../support/oauth";

/** GET /v1/test-auth: an API key or an access token, nothing else. */

async function setup() {
  const account = await createAccount();
  const client = await createCredential(account.id, "oauth_client", ["read", "write"]);
  const key = await createCredential(account.id, "api_key", ["events:write"]);
  return { account, client, key };
}

/** A 401 invalid_token with the RFC 6750 challenge; the response must not echo `secret`. */
async function expectInvalidToken(response: Response, secret?: string) {
  expect(response.status).toBe(401);
  const challenge = response.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer\b/);
  expect(challenge).toContain('error="invalid_token"');
  const text = await response.text();
  expect(JSON.parse(text)).toEqual({ error: "invalid_token", error_description: expect.any(String) });
  if (secret) expect(text).not.toContain(secret);
}

/** The same value with one character changed to another of the same alphabet. */
function oneCharChanged(value: string, index: number): string {
  const ch = value[index]!;
  const replacement = ch === "A" ? "B" : "A";
  return value.slice(0, index) + replacement + value.slice(index + 1);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("test-auth accepts", () => {
  it("an API key", async () => {
    const { account, key } = await setup();
    const response = await testAuth(key.api_key);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await json(response)).toEqual({
      ok: true,
      account_id: account.id,
      organization_id: "org_default",
      credential_id: key.id,
      credential_type: "api_key",
      scopes: ["events:write"],
      aud: BASE,
      grants: [{ api: BASE, scopes: ["events:write"] }],
      claims: {},
    });
  });

  it("an access token, with the token's scopes", async () => {
    const { account, client } = await setup();
    const response = await testAuth(await tokenFor(client, "read"));
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      ok: true,
      account_id: account.id,
      organization_id: "org_default",
      credential_id: client.id,
      credential_type: "oauth_client",
      scopes: ["read"],
      aud: BASE,
      grants: [{ api: BASE, scopes: ["read"] }],
      claims: {},
    });
  });

  it("the scheme name in any case", async () => {
    const { key, client } = await setup();
    const token = await tokenFor(client);
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      expect((await call("/v1/test-auth", { token: null, headers: { authorization: `${scheme} ${key.api_key}` } })).status).toBe(200);
      expect((await call("/v1/test-auth", { token: null, headers: { authorization: `${scheme} ${token}` } })).status).toBe(200);
    }
  });

  it("a token until it expires, then never", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Math.floor(Date.now() / 1000) * 1000;
    vi.setSystemTime(start);
    const { client } = await setup();
    const token = await tokenFor(client);
    vi.setSystemTime(start + 59_000);
    expect((await testAuth(token)).status).toBe(200);
    // Past exp plus any clock-skew allowance: rejected.
    vi.setSystemTime(start + 71_000);
    await expectInvalidToken(await testAuth(token));
    vi.setSystemTime(start + 3_600_000);
    await expectInvalidToken(await testAuth(token));
  });
});

describe("test-auth rejects with 401 invalid_token", () => {
  it("a missing Authorization header", async () => {
    await expectInvalidToken(await call("/v1/test-auth", { token: null }));
  });

  it("junk, empty and other schemes", async () => {
    const { key } = await setup();
    const headers = [
      "Bearer junk",
      "Bearer ",
      "Bearer",
      "Bearer a.b.c",
      "Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
      `Basic ${btoa(`x:${key.api_key}`)}`,
      key.api_key,
      `Token ${key.api_key}`,
      `Bearer ${key.api_key} extra`,
      `Bearer ${"x".repeat(10_000)}`,
    ];
    for (const authorization of headers) {
      await expectInvalidToken(await call("/v1/test-auth", { token: null, headers: { authorization } }), key.api_key);
    }
  });

  it("a client secret and a client_id", async () => {
    const { client } = await setup();
    await expectInvalidToken(await testAuth(client.client_secret), client.client_secret);
    await expectInvalidToken(await testAuth(client.client_id));
  });

  it("a truncated, extended or one-character-changed API key", async () => {
    const { key } = await setup();
    const apiKey: string = key.api_key;
    const variants = [
      apiKey.slice(0, -1),
      apiKey.slice(0, 20),
      `${apiKey}A`,
      oneCharChanged(apiKey, 10),
      oneCharChanged(apiKey, apiKey.length - 1),
      apiKey.toUpperCase() === apiKey ? apiKey.toLowerCase() : apiKey.toUpperCase(),
      apiKey.replace("km_live_", "km_test_"),
    ];
    for (const variant of variants) {
      expect(variant).not.toBe(apiKey);
      await expectInvalidToken(await testAuth(variant), apiKey);
    }
    expect((await testAuth(apiKey)).status).toBe(200);
  });

  it("a truncated or altered access token", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    const [header, payload, signature] = token.split(".");
    for (const variant of [token.slice(0, -2), `${header}.${payload}`, `${header}.${payload}.`, oneCharChanged(token, token.length - 5), `${token}.x`]) {
      await expectInvalidToken(await testAuth(variant));
    }
    expect(signature!.length).toBeGreaterThan(0);
  });

  it("an API key of a deleted credential", async () => {
    const { key } = await setup();
    expect((await call(`/admin/v1/credentials/${key.id}`, { method: "DELETE" })).status).toBe(204);
    await expectInvalidToken(await testAuth(key.api_key), key.api_key);
  });

  it("the admin token", async () => {
    await expectInvalidToken(await call("/v1/test-auth"));
  });
});
