import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { call, createAccount, createCredential, expectError, json } from "../support/http";
import { basic, bytesToBase64url, form, introspect, revoke, testAuth, tokenFor } from "../support/oauth";

/** RFC 7662 introspection and RFC 7009 revocation. */

async function setup(scopes = ["read", "write"]) {
  const account = await createAccount();
  const client = await createCredential(account.id, "oauth_client", scopes);
  return { account, client };
}

async function expectInactive(response: Response) {
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(await json(response)).toEqual({ active: false });
}

describe("introspection", () => {
  it("reports an active token with its claims", async () => {
    const { account, client } = await setup();
    const token = await tokenFor(client, "read");
    const claims = decodeJwt(token);
    const response = await introspect(client, token);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await json(response)).toMatchObject({
      active: true,
      scope: "read",
      client_id: client.client_id,
      sub: account.id,
      aud: "http://localhost:8787",
      iss: "http://localhost:8787",
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
      token_type: "Bearer",
    });
  });

  it("lets any active client introspect, with Basic or post authentication", async () => {
    const { client } = await setup();
    const { client: other } = await setup([]);
    const token = await tokenFor(client);
    expect((await json(await introspect(other, token))).active).toBe(true);
    const viaPost = await form("/oauth/introspect", { token, client_id: other.client_id, client_secret: other.client_secret });
    expect((await json(viaPost)).active).toBe(true);
  });

  it("reports junk, an API key, a client secret, forged and revoked tokens as inactive", async () => {
    const { account, client } = await setup();
    const key = await createCredential(account.id, "api_key", ["read"]);
    const token = await tokenFor(client);
    const [header, payload] = token.split(".");
    const forgedPayload = bytesToBase64url(new TextEncoder().encode(JSON.stringify({ ...decodeJwt(token), scope: "admin" })));
    for (const value of ["junk", "a.b.c", key.api_key, client.client_secret, `${header}.${forgedPayload}.${token.split(".")[2]}`, `${header}.${payload}.`]) {
      await expectInactive(await introspect(client, value));
    }
    expect((await revoke(client, token)).status).toBe(200);
    await expectInactive(await introspect(client, token));
  });

  it("requires the caller to authenticate: 401 invalid_client", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    await expectError(await form("/oauth/introspect", { token }), 401, "invalid_client");
    await expectError(await form("/oauth/introspect", { token }, { authorization: `Bearer ${token}` }), 401, "invalid_client");
    const { client: other } = await setup();
    const wrongSecret = await form("/oauth/introspect", { token }, { authorization: basic(client.client_id, other.client_secret) });
    expect(wrongSecret.headers.get("www-authenticate")).toMatch(/^Basic\b/);
    await expectError(wrongSecret, 401, "invalid_client");
    const wrongPost = await form("/oauth/introspect", { token, client_id: client.client_id, client_secret: other.client_secret });
    expect(wrongPost.headers.get("www-authenticate")).toBeNull();
    await expectError(wrongPost, 401, "invalid_client");
  });

  it("requires the token parameter: 400 invalid_request", async () => {
    const { client } = await setup();
    await expectError(await form("/oauth/introspect", {}, { authorization: basic(client.client_id, client.client_secret) }), 400, "invalid_request");
    await expectError(await form("/oauth/introspect", { token: "" }, { authorization: basic(client.client_id, client.client_secret) }), 400, "invalid_request");
  });

  it("refuses a body that is not form-encoded: 400 invalid_request", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    const response = await call("/oauth/introspect", {
      method: "POST",
      token: null,
      body: { token },
      headers: { authorization: basic(client.client_id, client.client_secret) },
    });
    await expectError(response, 400, "invalid_request");
  });
});

describe("revocation", () => {
  it("revokes a token: test-auth and introspection reject it at once, other tokens live on", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    const sibling = await tokenFor(client);
    expect((await testAuth(token)).status).toBe(200);

    const response = await revoke(client, token);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");

    expect((await testAuth(token)).status).toBe(401);
    await expectInactive(await introspect(client, token));
    // Only that token: the client and its other tokens still work.
    expect((await testAuth(sibling)).status).toBe(200);
    expect((await json(await introspect(client, sibling))).active).toBe(true);
    expect((await testAuth(await tokenFor(client))).status).toBe(200);
  });

  it("accepts client_secret_post", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    const response = await form("/oauth/revoke", { token, client_id: client.client_id, client_secret: client.client_secret, token_type_hint: "access_token" });
    expect(response.status).toBe(200);
    expect((await testAuth(token)).status).toBe(401);
  });

  it("answers 200 for an unknown, junk or already revoked token", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    expect((await revoke(client, "junk")).status).toBe(200);
    expect((await revoke(client, `${token.slice(0, -4)}AAAA`)).status).toBe(200);
    expect((await revoke(client, token)).status).toBe(200);
    expect((await revoke(client, token)).status).toBe(200);
    expect((await testAuth(token)).status).toBe(401);
  });

  it("refuses another client's token with 400 unauthorized_client; the token stays valid", async () => {
    const { client } = await setup();
    // Same account, different client: still not the token's client.
    const sibling = await createCredential(client.account_id, "oauth_client", ["read"]);
    const { client: stranger } = await setup();
    const token = await tokenFor(client);
    await expectError(await revoke(sibling, token), 400, "unauthorized_client");
    await expectError(await revoke(stranger, token), 400, "unauthorized_client");
    expect((await testAuth(token)).status).toBe(200);
    expect((await json(await introspect(client, token))).active).toBe(true);
    const listed = await env.REVOCATIONS.get(`revoked:token:${decodeJwt(token).jti}`);
    expect(listed).toBeNull();
  });

  it("requires the caller to authenticate and the token parameter", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    await expectError(await form("/oauth/revoke", { token }), 401, "invalid_client");
    const { client: other } = await setup();
    await expectError(await form("/oauth/revoke", { token }, { authorization: basic(client.client_id, other.client_secret) }), 401, "invalid_client");
    await expectError(await form("/oauth/revoke", {}, { authorization: basic(client.client_id, client.client_secret) }), 400, "invalid_request");
    expect((await testAuth(token)).status).toBe(200);
  });

  it("stores the revocation marker for longer than the token can live (TTL ≥ 70 s)", async () => {
    const { client } = await setup();
    const token = await tokenFor(client);
    const { jti, exp } = decodeJwt(token);
    const before = Math.floor(Date.now() / 1000);
    expect((await revoke(client, token)).status).toBe(200);

    const key = `revoked:token:${jti}`;
    const { value } = await env.REVOCATIONS.getWithMetadata(key);
    expect(value).not.toBeNull();
    const listed = await env.REVOCATIONS.list({ prefix: key });
    expect(listed.keys).toHaveLength(1);
    const expiration = listed.keys[0]!.expiration;
    expect(expiration).toBeTypeOf("number");
    expect(expiration!).toBeGreaterThanOrEqual(before + 70);
    // It outlives the token's exp plus the verifier's clock-skew allowance.
    expect(expiration!).toBeGreaterThanOrEqual(exp! + 10);
  });
});
