import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type JWK, SignJWT, base64url, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import worker, { Verifier } from "../../src/index";
import { BASE, call, createAccount, expectError, json } from "../support/http";
import { introspect } from "../support/oauth";

/** private_key_jwt client authentication (RFC 7523) and DPoP (RFC 9449), through HTTP. */

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TOKEN_URL = `${BASE}/oauth/token`;
const TEST_AUTH_URL = `${BASE}/v1/test-auth`;

async function send(request: Request, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function keyPair(alg: "ES256" | "EdDSA" | "RS256" = "ES256", kid = crypto.randomUUID()) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid } as JWK & { kid: string };
  return { privateKey, jwk, kid, alg };
}

type Pair = Awaited<ReturnType<typeof keyPair>>;

async function pkjwtClient(keys: Pair[], extra: Record<string, unknown> = {}) {
  const account = await createAccount();
  const response = await call("/admin/v1/credentials", {
    method: "POST",
    body: { name: "signer", type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: keys.map((key) => key.jwk) }, ...extra },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

interface AssertionOptions {
  aud?: string | string[];
  exp?: number;
  jti?: string | null;
  header?: Record<string, unknown>;
}

async function assertion(clientId: string, key: Pair, options: AssertionOptions = {}) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(options.jti === null ? {} : { jti: options.jti ?? crypto.randomUUID() }) })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...options.header })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(options.aud ?? BASE)
    .setIssuedAt(now)
    .setExpirationTime(options.exp ?? now + 60);
  return jwt.sign(key.privateKey);
}

function tokenRequest(params: Record<string, string>, headers: Record<string, string> = {}) {
  return new Request(TOKEN_URL, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ grant_type: "client_credentials", ...params }).toString(),
  });
}

const withAssertion = (clientAssertion: string, headers: Record<string, string> = {}) =>
  tokenRequest({ client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }, headers);

async function proof(key: Pair, htm: string, htu: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  return new SignJWT({ htm, htu, jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: key.alg, typ: "dpop+jwt", jwk: { kty: key.jwk.kty, crv: key.jwk.crv, x: key.jwk.x, y: key.jwk.y, n: key.jwk.n, e: key.jwk.e } as JWK, ...header })
    .setIssuedAt(typeof claims.iat === "number" ? claims.iat : Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}

const ath = async (token: string) => base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));

describe("private_key_jwt clients", () => {
  it("are created with public keys and no secret, get tokens with an assertion, and cannot be rolled", async () => {
    const key = await keyPair();
    const client = await pkjwtClient([key]);
    expect(client).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.jwk] } });
    expect(client.client_secret).toBeUndefined();
    const response = await send(withAssertion(await assertion(client.client_id, key)));
    expect(response.status, await response.clone().text()).toBe(200);
    const body = await json(response);
    expect(decodeJwt(body.access_token)).toMatchObject({ client_id: client.client_id, cid: client.id });
    // The token endpoint URL is accepted as aud too, as is an array of only accepted values.
    expect((await send(withAssertion(await assertion(client.client_id, key, { aud: TOKEN_URL })))).status).toBe(200);
    expect((await send(withAssertion(await assertion(client.client_id, key, { aud: [BASE, TOKEN_URL] })))).status).toBe(200);
    await expectError(await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: {} }), 400, "invalid_request");
  });

  it("works at introspection and revocation too, and for Ed25519 and RSA keys", async () => {
    const ed = await keyPair("EdDSA");
    const rsa = await keyPair("RS256");
    const client = await pkjwtClient([ed, rsa]);
    const token = (await json(await send(withAssertion(await assertion(client.client_id, ed))))).access_token;
    const form = (path: string, assertionValue: string) =>
      send(new Request(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token, client_assertion_type: ASSERTION_TYPE, client_assertion: assertionValue }).toString() }));
    const introspected = await form("/oauth/introspect", await assertion(client.client_id, rsa));
    expect(await json(introspected)).toMatchObject({ active: true, client_id: client.client_id });
    expect((await form("/oauth/revoke", await assertion(client.client_id, ed))).status).toBe(200);
    await expectError(await call("/v1/test-auth", { token }), 401, "invalid_token");
  });

  it("refuses hostile assertions: alg none, HS256 with the public key, a foreign key, an embedded jwk/jku/x5u, wrong aud, exp 6 minutes ahead, no jti", async () => {
    const key = await keyPair();
    const foreign = await keyPair("ES256", key.kid);
    const client = await pkjwtClient([key]);
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(value)));
    const claims = { iss: client.client_id, sub: client.client_id, aud: BASE, exp: now + 60, iat: now, jti: crypto.randomUUID() };
    const unsigned = `${encode({ alg: "none", kid: key.kid })}.${encode(claims)}.`;
    const hmacKey = await crypto.subtle.importKey("raw", new TextEncoder().encode(JSON.stringify(key.jwk)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const hsInput = `${encode({ alg: "HS256", kid: key.kid })}.${encode(claims)}`;
    const hs256 = `${hsInput}.${base64url.encode(new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(hsInput))))}`;
    const cases: [string, string][] = [
      ["alg none", unsigned],
      ["HS256 keyed with the public key", hs256],
      ["a foreign key under the known kid", await assertion(client.client_id, foreign)],
      ["an embedded jwk", await assertion(client.client_id, key, { header: { jwk: key.jwk } })],
      ["a jku", await assertion(client.client_id, key, { header: { jku: "https://evil.example/jwks" } })],
      ["an x5u", await assertion(client.client_id, key, { header: { x5u: "https://evil.example/cert" } })],
      ["a wrong aud", await assertion(client.client_id, key, { aud: "https://elsewhere.example" })],
      ["an aud array with another value", await assertion(client.client_id, key, { aud: [BASE, "https://elsewhere.example"] })],
      ["exp 6 minutes ahead", await assertion(client.client_id, key, { exp: now + 360 })],
      ["no jti", await assertion(client.client_id, key, { jti: null })],
    ];
    for (const [label, value] of cases) {
      const response = await send(withAssertion(value));
      expect(response.status, label).toBe(401);
      expect((await response.json<{ error: string }>()).error, label).toBe("invalid_client");
    }
  });

  it("accepts an assertion once: a replay fails, and of two sent in parallel exactly one wins", async () => {
    const key = await keyPair();
    const client = await pkjwtClient([key]);
    const once = await assertion(client.client_id, key);
    expect((await send(withAssertion(once))).status).toBe(200);
    await expectError(await send(withAssertion(once)), 401, "invalid_client");
    const twice = await assertion(client.client_id, key);
    const statuses = (await Promise.all([send(withAssertion(twice)), send(withAssertion(twice))])).map((response) => response.status).sort();
    expect(statuses).toEqual([200, 401]);
  });

  it("stops a key removed from jwks at once (audited), refuses a secret for such a client, and stops when deleted", async () => {
    const first = await keyPair();
    const second = await keyPair();
    const client = await pkjwtClient([first, second]);
    const patched = await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { jwks: { keys: [second.jwk] } } });
    expect(patched.status).toBe(200);
    await expectError(await send(withAssertion(await assertion(client.client_id, first))), 401, "invalid_client");
    expect((await send(withAssertion(await assertion(client.client_id, second)))).status).toBe(200);
    const events = await json(await call(`/admin/v1/audit-events?target_id=${client.id}`));
    expect(events.data.map((event: { action: string }) => event.action)).toContain("credential.jwks_changed");
    const secretTry = await send(tokenRequest({ client_id: client.client_id, client_secret: `kms_${"A".repeat(43)}AAAAAA` }));
    expect(secretTry.status).toBe(401);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await send(withAssertion(await assertion(client.client_id, second))), 401, "invalid_client");
  });

  it("refuses a jwks with a private key, an RSA key of 1024 bits, duplicate kids, or more than 5 keys", async () => {
    const account = await createAccount();
    const key = await keyPair();
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: "private" };
    // jose refuses to make a 1024-bit key, so WebCrypto makes it.
    const small = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const { n, e } = (await crypto.subtle.exportKey("jwk", small.publicKey)) as JsonWebKey;
    const smallJwk = { kty: "RSA", n, e, kid: "small" };
    const more = await Promise.all(Array.from({ length: 6 }, () => keyPair()));
    for (const keys of [[privateJwk], [smallJwk], [key.jwk, key.jwk], more.map((k) => k.jwk), []]) {
      const response = await call("/admin/v1/credentials", {
        method: "POST",
        body: { name: "bad keys", type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys } },
      });
      await expectError(response, 400, "invalid_request");
    }
    await expectError(await call("/admin/v1/credentials", { method: "POST", body: { name: "no keys", type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt" } }), 400, "invalid_request");
  });

  it("fails closed with 503 when the jti store is unreachable", async () => {
    const key = await keyPair();
    const client = await pkjwtClient([key]);
    const broken = { ...env, JTI_STORE: { idFromName: () => ({}), get: () => ({ claim: () => Promise.reject(new Error("down")) }) } } as unknown as Env;
    const response = await send(withAssertion(await assertion(client.client_id, key)), broken);
    expect(response.status).toBe(503);
    expect((await response.json<{ error: string }>()).error).toBe("temporarily_unavailable");
  });
});

describe("DPoP", () => {
  async function secretClient(extra: Record<string, unknown> = {}) {
    const account = await createAccount();
    return json(await call("/admin/v1/credentials", { method: "POST", body: { name: "dpop client", type: "oauth_client", account_id: account.id, scopes: ["read"], ...extra } }));
  }
  const basicAuth = (client: { client_id: string; client_secret: string }) => ({ authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}` });

  it("binds a token to the proof's key (token_type DPoP, cnf.jkt); test-auth takes it only with a proof, never as Bearer", async () => {
    const client = await secretClient();
    const key = await keyPair();
    const response = await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(key, "POST", TOKEN_URL) }));
    expect(response.status, await response.clone().text()).toBe(200);
    const body = await json(response);
    expect(body.token_type).toBe("DPoP");
    const jkt = await calculateJwkThumbprint(key.jwk);
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt });
    const token = body.access_token as string;

    const withProof = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, "GET", TEST_AUTH_URL, { ath: await ath(token) }) } }));
    expect(withProof.status, await withProof.clone().text()).toBe(200);
    const asBearer = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `Bearer ${token}` } }));
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/^DPoP /);
    const otherKey = await keyPair();
    const wrongKey = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(otherKey, "GET", TEST_AUTH_URL, { ath: await ath(token) }) } }));
    expect(wrongKey.status).toBe(401);

    const observer = await secretClient();
    expect(await json(await introspect(observer, token))).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt } });
    const rpc = new Verifier(createExecutionContext(), env);
    expect(await rpc.verify(token)).toEqual({ valid: false, code: "invalid_dpop_proof" });
    const rpcProof = await proof(key, "GET", "https://api.example.com/orders", { ath: await ath(token) });
    expect(await rpc.verify(token, { dpop: { proof: rpcProof, method: "GET", url: "https://api.example.com/orders?page=2" } })).toMatchObject({ valid: true });
  });

  it("refuses bad proofs: a private key in jwk, wrong htu or htm, an old iat, a replayed jti, a mismatched ath, a symmetric alg", async () => {
    const client = await secretClient();
    const key = await keyPair();
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const old = Math.floor(Date.now() / 1000) - 300;
    const replayed = await proof(key, "POST", TOKEN_URL);
    expect((await send(tokenRequest({}, { ...basicAuth(client), dpop: replayed }))).status).toBe(200);
    const cases: [string, string][] = [
      ["a private key in jwk", await proof(key, "POST", TOKEN_URL, {}, { jwk: privateJwk })],
      ["a wrong htu", await proof(key, "POST", `${BASE}/elsewhere`)],
      ["a wrong htm", await proof(key, "GET", TOKEN_URL)],
      ["an iat 5 minutes old", await proof(key, "POST", TOKEN_URL, { iat: old })],
      ["a replayed jti", replayed],
      ["typ not dpop+jwt", await proof(key, "POST", TOKEN_URL, {}, { typ: "JWT" })],
    ];
    for (const [label, value] of cases) {
      const response = await send(tokenRequest({}, { ...basicAuth(client), dpop: value }));
      expect(response.status, label).toBe(400);
      expect((await response.json<{ error: string }>()).error, label).toBe("invalid_dpop_proof");
    }
    const token = (await json(await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(key, "POST", TOKEN_URL) })))).access_token;
    const mismatched = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, "GET", TEST_AUTH_URL, { ath: await ath(`${token}x`) }) } }));
    expect(mismatched.status).toBe(401);
  });

  it("a dpop_bound_access_tokens client must send a proof", async () => {
    const client = await secretClient({ dpop_bound_access_tokens: true });
    expect(client.dpop_bound_access_tokens).toBe(true);
    await expectError(await send(tokenRequest({}, basicAuth(client))), 400, "invalid_dpop_proof");
    expect((await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(await keyPair(), "POST", TOKEN_URL) }))).status).toBe(200);
  });

  it("with DPOP_NONCE_REQUIRED, a proof without the current nonce gets use_dpop_nonce and a DPoP-Nonce, and the retry with it works", async () => {
    const nonced = { ...env, DPOP_NONCE_REQUIRED: "true" } as Env;
    const client = await secretClient();
    const key = await keyPair();
    const first = await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(key, "POST", TOKEN_URL) }), nonced);
    expect(first.status).toBe(400);
    expect((await first.json<{ error: string }>()).error).toBe("use_dpop_nonce");
    const nonce = first.headers.get("dpop-nonce");
    expect(nonce).toBeTruthy();
    const retry = await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(key, "POST", TOKEN_URL, { nonce }) }), nonced);
    expect(retry.status, await retry.clone().text()).toBe(200);
    const token = (await json(retry)).access_token as string;
    const challenge = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, "GET", TEST_AUTH_URL, { ath: await ath(token) }) } }), nonced);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get("www-authenticate")).toContain('error="use_dpop_nonce"');
    const nonce2 = challenge.headers.get("dpop-nonce")!;
    const ok = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, "GET", TEST_AUTH_URL, { ath: await ath(token), nonce: nonce2 }) } }), nonced);
    expect(ok.status).toBe(200);
  });

  it("works with a private_key_jwt client too", async () => {
    const signing = await keyPair();
    const client = await pkjwtClient([signing], { dpop_bound_access_tokens: true });
    const dpopKey = await keyPair();
    const response = await send(withAssertion(await assertion(client.client_id, signing), { dpop: await proof(dpopKey, "POST", TOKEN_URL) }));
    expect(response.status, await response.clone().text()).toBe(200);
    expect((await json(response)).token_type).toBe("DPoP");
  });
});
