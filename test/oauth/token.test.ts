import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { call, createAccount, createCredential, expectError, json, snapshot } from "../support/http";
import { basic, eventually, fetchJwks, form, rawForm, testAuth, tokenRequest } from "../support/oauth";

const ISSUER = "http://localhost:8787";

async function newClient(scopes: string[] = ["read", "write"]) {
  const account = await createAccount();
  const client = await createCredential(account.id, "oauth_client", scopes);
  return { account, client };
}

/** Sends a request that must fail with this status and code and leave every stored row alone. */
async function rejected(send: () => Promise<Response>, status: number, code: string): Promise<Response> {
  const before = await snapshot();
  const response = await send();
  await expectError(response.clone(), status, code);
  expect(await snapshot()).toBe(before);
  return response;
}

describe("client credentials grant: success", () => {
  it("answers with client_secret_basic: body, no-store headers, ES256 at+jwt header and RFC 9068 claims", async () => {
    const { account, client } = await newClient(["read", "write"]);
    const before = Math.floor(Date.now() / 1000);
    const response = await tokenRequest(client);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await json(response);
    expect(Object.keys(body).sort()).toEqual(["access_token", "expires_in", "scope", "token_type"]);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 60, scope: "read write" });

    const header = decodeProtectedHeader(body.access_token);
    expect(header).toEqual({ alg: "ES256", typ: "at+jwt", kid: expect.any(String) });
    const jwks = await fetchJwks();
    expect(jwks.keys.map((key) => key.kid)).toContain(header.kid);

    const claims = decodeJwt(body.access_token);
    expect(claims).toEqual({
      iss: ISSUER,
      sub: account.id,
      org_id: "org_default",
      aud: ISSUER,
      client_id: client.client_id,
      cid: client.id,
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
      scope: "read write",
    });
    expect(claims.exp).toBe(claims.iat! + 60);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(claims.jti!.length).toBeGreaterThanOrEqual(16);

    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks as any), {
      issuer: ISSUER,
      audience: ISSUER,
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(header.kid);
    expect(payload.sub).toBe(account.id);
  });

  it("gives every token its own jti", async () => {
    const { client } = await newClient();
    const first = decodeJwt((await json(await tokenRequest(client))).access_token);
    const second = decodeJwt((await json(await tokenRequest(client))).access_token);
    expect(first.jti).not.toBe(second.jti);
  });

  it("decodes form-encoded id and secret in Basic (RFC 6749 §2.3.1)", async () => {
    const { client } = await newClient();
    // '_' percent-encoded: a server that skips the form-decoding step sees an unknown client.
    const encode = (value: string) => value.replaceAll("_", "%5F");
    const credentials = btoa(`${encode(client.client_id)}:${encode(client.client_secret)}`);
    expect(credentials).not.toBe(btoa(`${client.client_id}:${client.client_secret}`));
    const response = await form("/oauth/token", { grant_type: "client_credentials" }, { authorization: `Basic ${credentials}` });
    expect(response.status).toBe(200);
    expect(decodeJwt((await json(response)).access_token).cid).toBe(client.id);
  });

  it("accepts the Basic scheme name in any case", async () => {
    const { client } = await newClient();
    const header = basic(client.client_id, client.client_secret).replace(/^Basic/, "bAsIc");
    const response = await form("/oauth/token", { grant_type: "client_credentials" }, { authorization: header });
    expect(response.status).toBe(200);
  });

  it("answers with client_secret_post", async () => {
    const { account, client } = await newClient(["read"]);
    const response = await form("/oauth/token", {
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_secret: client.client_secret,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
    const body = await json(response);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 60, scope: "read" });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({ sub: account.id, client_id: client.client_id, cid: client.id, scope: "read" });
    expect((await testAuth(body.access_token)).status).toBe(200);
  });

  it("sets the credential's last_used_at (deferred write)", async () => {
    const { client } = await newClient();
    const read = async () => json(await call(`/admin/v1/credentials/${client.id}`));
    expect((await read()).last_used_at).toBeNull();
    const before = Date.now();
    expect((await tokenRequest(client)).status).toBe(200);
    const credential = await eventually(read, (value) => value.last_used_at !== null);
    const at = Date.parse(credential.last_used_at);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });
});

describe("client credentials grant: scope", () => {
  it("grants every scope of the credential when none is asked for", async () => {
    const { client } = await newClient(["a", "b", "c"]);
    const body = await json(await tokenRequest(client));
    expect(body.scope).toBe("a b c");
    expect(decodeJwt(body.access_token).scope).toBe("a b c");
  });

  it("grants a requested subset, and only that", async () => {
    const { client } = await newClient(["a", "b", "c"]);
    const body = await json(await tokenRequest(client, { scope: "c a" }));
    expect(body.scope.split(" ").sort()).toEqual(["a", "c"]);
    expect(decodeJwt(body.access_token).scope).toBe(body.scope);
    const check = await json(await testAuth(body.access_token));
    expect(check.scopes.sort()).toEqual(["a", "c"]);
  });

  it("refuses a scope outside the credential's with 400 invalid_scope", async () => {
    const { client } = await newClient(["a", "b"]);
    await expectError(await tokenRequest(client, { scope: "a admin" }), 400, "invalid_scope");
    await expectError(await tokenRequest(client, { scope: "admin" }), 400, "invalid_scope");
  });

  it("uses the credential's scopes at mint time: a PATCH applies to tokens minted after it", async () => {
    const { client } = await newClient(["a", "b"]);
    const before = (await json(await tokenRequest(client))).access_token;
    const patched = await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { scopes: ["c"] } });
    expect(patched.status).toBe(200);
    const after = await json(await tokenRequest(client));
    expect(after.scope).toBe("c");
    await expectError(await tokenRequest(client, { scope: "a" }), 400, "invalid_scope");
    expect((await json(await testAuth(after.access_token))).scopes).toEqual(["c"]);
    expect((await json(await testAuth(before))).scopes).toEqual(["a", "b"]);
  });

  it("refuses any scope for a credential that has none", async () => {
    const { client } = await newClient([]);
    await expectError(await tokenRequest(client, { scope: "a" }), 400, "invalid_scope");
    const body = await json(await tokenRequest(client));
    expect(body.scope).toBe("");
  });
});

describe("client credentials grant: RFC 6749 §5.2 errors", () => {
  it("missing grant_type: 400 invalid_request", async () => {
    const { client } = await newClient();
    await rejected(() => form("/oauth/token", {}, { authorization: basic(client.client_id, client.client_secret) }), 400, "invalid_request");
  });

  it("grant_type=password: 400 unsupported_grant_type", async () => {
    const { client } = await newClient();
    await rejected(
      () => form("/oauth/token", { grant_type: "password", username: "u", password: "p" }, { authorization: basic(client.client_id, client.client_secret) }),
      400,
      "unsupported_grant_type",
    );
  });

  it("a JSON body: 400 invalid_request", async () => {
    const { client } = await newClient();
    const send = () =>
      call("/oauth/token", {
        method: "POST",
        token: null,
        body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
      });
    const response = await rejected(send, 400, "invalid_request");
    expect(response.headers.get("www-authenticate")).toBeNull();
  });

  it("a repeated parameter: 400 invalid_request", async () => {
    const { client } = await newClient(["a", "b"]);
    const auth = { authorization: basic(client.client_id, client.client_secret) };
    await rejected(() => rawForm("/oauth/token", "grant_type=client_credentials&grant_type=client_credentials", auth), 400, "invalid_request");
    await rejected(() => rawForm("/oauth/token", "grant_type=client_credentials&scope=a&scope=b", auth), 400, "invalid_request");
    const post = `grant_type=client_credentials&client_id=${client.client_id}&client_secret=${client.client_secret}&client_id=${client.client_id}`;
    await rejected(() => rawForm("/oauth/token", post), 400, "invalid_request");
  });

  it("Basic and client_secret_post at once: 400 invalid_request", async () => {
    const { client } = await newClient();
    await rejected(
      () =>
        form(
          "/oauth/token",
          { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
          { authorization: basic(client.client_id, client.client_secret) },
        ),
      400,
      "invalid_request",
    );
  });

  it("Basic with the same client_id in the body (RFC 6749 §3.2.1) is fine; a different one is 400", async () => {
    const { client } = await newClient();
    const { client: other } = await newClient();
    const auth = { authorization: basic(client.client_id, client.client_secret) };
    const same = await form("/oauth/token", { grant_type: "client_credentials", client_id: client.client_id }, auth);
    expect(same.status).toBe(200);
    await rejected(() => form("/oauth/token", { grant_type: "client_credentials", client_id: other.client_id }, auth), 400, "invalid_request");
  });

  it("a wrong secret via Basic: 401 invalid_client with a Basic challenge", async () => {
    const { client: mine } = await newClient();
    const { client: other } = await newClient();
    const response = await rejected(
      () => form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(mine.client_id, other.client_secret) }),
      401,
      "invalid_client",
    );
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic\b/);
    expect(await response.clone().text()).not.toContain(other.client_secret);
  });

  it("a wrong secret via client_secret_post: 401 invalid_client without WWW-Authenticate", async () => {
    const { client: mine } = await newClient();
    const { client: other } = await newClient();
    const response = await rejected(
      () => form("/oauth/token", { grant_type: "client_credentials", client_id: mine.client_id, client_secret: other.client_secret }),
      401,
      "invalid_client",
    );
    expect(response.headers.get("www-authenticate")).toBeNull();
  });

  it("client_secret_post without the secret: 401 invalid_client", async () => {
    const { client } = await newClient();
    await rejected(() => form("/oauth/token", { grant_type: "client_credentials", client_id: client.client_id }), 401, "invalid_client");
  });

  it("no client authentication at all: 401 invalid_client", async () => {
    await rejected(() => form("/oauth/token", { grant_type: "client_credentials" }), 401, "invalid_client");
  });

  it("an unknown, a malformed, or an API key in place of the secret: 401 invalid_client", async () => {
    const { account, client } = await newClient();
    const key = await createCredential(account.id, "api_key", ["read"]);
    // Well-formed but unknown: a client_id from a deleted credential.
    const { client: gone } = await newClient();
    expect((await call(`/admin/v1/credentials/${gone.id}`, { method: "DELETE" })).status).toBe(204);

    const cases: [string, string][] = [
      [gone.client_id, gone.client_secret],
      [`kmc_${"A".repeat(28)}`, client.client_secret],
      ["not-a-client", client.client_secret],
      [client.client_id, key.api_key],
      [client.client_id, client.client_id],
      [client.client_id, client.client_secret.slice(0, -1)],
      [key.id, key.api_key],
    ];
    for (const [id, secret] of cases) {
      const viaBasic = await rejected(() => form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(id, secret) }), 401, "invalid_client");
      expect(viaBasic.headers.get("www-authenticate")).toMatch(/^Basic\b/);
      const viaPost = await rejected(() => form("/oauth/token", { grant_type: "client_credentials", client_id: id, client_secret: secret }), 401, "invalid_client");
      expect(viaPost.headers.get("www-authenticate")).toBeNull();
    }
  });

  it("bad base64 in Basic, or Basic without a colon: 401 invalid_client", async () => {
    const { client } = await newClient();
    const headers = [
      "Basic !!!not-base64!!!",
      `Basic ${btoa(`${client.client_id}:${client.client_secret}`).slice(1)}`,
      `Basic ${btoa(`${client.client_id}${client.client_secret}`)}`,
      `Basic ${btoa(client.client_secret)}`,
      "Basic",
      `Bearer ${client.client_secret}`,
    ];
    for (const authorization of headers) {
      const response = await rejected(() => form("/oauth/token", { grant_type: "client_credentials" }, { authorization }), 401, "invalid_client");
      expect(response.headers.get("www-authenticate")).toMatch(/^Basic\b/);
    }
  });

  it("other methods: 405 with Allow: POST", async () => {
    const response = await call("/oauth/token", { token: null });
    await expectError(response.clone(), 405, "method_not_allowed");
    expect(response.headers.get("allow")).toContain("POST");
  });

  it("an oversized body: 413, before any client check", async () => {
    const { client } = await newClient();
    await rejected(
      () => rawForm("/oauth/token", `grant_type=client_credentials&scope=${"a".repeat(100_000)}`, { authorization: basic(client.client_id, client.client_secret) }),
      413,
      "payload_too_large",
    );
  });

  it("never echoes the secret in an error", async () => {
    const { client } = await newClient();
    const responses = [
      await form("/oauth/token", { grant_type: "client_credentials", client_id: client.client_id, client_secret: `${client.client_secret}x` }),
      await form("/oauth/token", { grant_type: "password", client_id: client.client_id, client_secret: client.client_secret }),
      await tokenRequest(client, { scope: client.client_secret }),
    ];
    for (const response of responses) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(await response.text()).not.toContain(client.client_secret);
    }
  });
});
