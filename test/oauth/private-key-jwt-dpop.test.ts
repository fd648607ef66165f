import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type JWK, SignJWT, base64url, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, importJWK } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CLOCK_SKEW_SECONDS } from "../../src/config";
import worker, { Verifier } from "../../src/index";
import { BASE, call, createAccount, expectError, json } from "../support/http";
import { introspect } from "../support/oauth";

/** private_key_jwt client authentication (RFC 7523) and DPoP (RFC 9449), through HTTP. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
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
  iat?: number;
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
    .setIssuedAt(options.iat ?? now)
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

/** A public JWK that is well-shaped but that WebCrypto cannot use. */
async function unusable(kind: "off-curve" | "short" | "exponent 1", kid = `bad-${kind}`) {
  if (kind === "exponent 1") {
    const { jwk } = await keyPair("RS256");
    return { kty: "RSA", n: jwk.n, e: "AQ", kid };
  }
  const { jwk } = await keyPair("ES256");
  const y = base64url.decode(jwk.y!);
  y[31]! ^= 1; // almost surely no longer on P-256
  return kind === "off-curve" ? { kty: "EC", crv: "P-256", x: jwk.x, y: base64url.encode(y), kid } : { kty: "EC", crv: "P-256", x: base64url.encode(base64url.decode(jwk.x!).slice(1)), y: jwk.y, kid };
}

/** The JtiStore object of a scope, and what its storage holds: its tables' rows and its alarm. */
function jtiObject(scope: string) {
  const stub = env.JTI_STORE.get(env.JTI_STORE.idFromName(scope));
  const storage = () =>
    runInDurableObject(stub, async (_instance, state) => {
      const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").toArray().map((row) => row.name);
      const rows = tables.includes("used") ? state.storage.sql.exec<{ jti: string; expires_at: number }>("SELECT jti, expires_at FROM used").toArray() : [];
      return { tables, rows, alarm: await state.storage.getAlarm() };
    });
  return { stub, storage };
}

/**
 * Waits until `at` (ms) has passed and the object's alarm has run: workerd runs it on time by
 * itself; runDurableObjectAlarm runs it now if it has not yet (and answers false if it has).
 */
async function afterAlarm(stub: DurableObjectStub, at: number) {
  await sleep(Math.max(0, at - Date.now()) + 50);
  await runDurableObjectAlarm(stub);
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

  describe("after exp", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    // Verification allows CLOCK_SKEW_SECONDS past `exp`, so the id must be kept at least that long.
    it("refuses a replay at exp + 1 s, exp + 5 s and exp + skew - 1 s", async () => {
      const key = await keyPair();
      const client = await pkjwtClient([key]);
      const start = Date.now();
      const exp = Math.floor(start / 1000) + 2;
      const once = await assertion(client.client_id, key, { exp });
      expect((await send(withAssertion(once))).status).toBe(200);
      vi.useFakeTimers({ toFake: ["Date"] });
      for (const after of [1, 5, CLOCK_SKEW_SECONDS - 1]) {
        vi.setSystemTime((exp + after) * 1000 + 200);
        await expectError(await send(withAssertion(once)), 401, "invalid_client");
      }
      // The same moment accepts a fresh assertion that is as late: the skew is real, only the replay is refused.
      const late = await assertion(client.client_id, key, { exp, iat: exp - 60 });
      expect((await send(withAssertion(late))).status).toBe(200);
    });
  });

  it("refuses an assertion whose iat is further ahead than the allowed clock skew", async () => {
    const key = await keyPair();
    const client = await pkjwtClient([key]);
    const now = Math.floor(Date.now() / 1000);
    const ahead = await assertion(client.client_id, key, { iat: now + CLOCK_SKEW_SECONDS + 30, exp: now + 120 });
    await expectError(await send(withAssertion(ahead)), 401, "invalid_client");
    const withinSkew = await assertion(client.client_id, key, { iat: now + CLOCK_SKEW_SECONDS - 5, exp: now + 120 });
    expect((await send(withAssertion(withinSkew))).status).toBe(200);
  });

  it("takes a key's alg, when given, as the only algorithm it verifies: an RS256 key refuses PS256", async () => {
    // One RSA key, usable with both RSA algorithms on the signing side.
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk;
    const kid = crypto.randomUUID();
    const rs256 = { privateKey: await importJWK(privateJwk, "RS256"), jwk: { ...publicJwk, kid } as Pair["jwk"], kid, alg: "RS256" as const };
    const ps256 = { ...rs256, privateKey: await importJWK(privateJwk, "PS256"), alg: "PS256" };
    const client = await pkjwtClient([{ ...rs256, jwk: { ...rs256.jwk, alg: "RS256" } } as Pair]);
    expect((await send(withAssertion(await assertion(client.client_id, rs256 as Pair)))).status).toBe(200);
    await expectError(await send(withAssertion(await assertion(client.client_id, ps256 as unknown as Pair))), 401, "invalid_client");
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

  it("refuses at registration a key WebCrypto cannot use, naming it: an EC point off its curve, short coordinates, an RSA exponent of 1", async () => {
    const account = await createAccount();
    const good = await keyPair();
    for (const kind of ["off-curve", "short", "exponent 1"] as const) {
      const bad = await unusable(kind);
      const created = await call("/admin/v1/credentials", {
        method: "POST",
        body: { name: "bad key", type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [good.jwk, bad] } },
      });
      const body = await expectError(created, 400, "invalid_request");
      expect(body.error_description, kind).toContain(bad.kid);
    }
    const client = await pkjwtClient([good]);
    const patched = await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { jwks: { keys: [good.jwk, await unusable("off-curve", "patched-in")] } } });
    expect((await expectError(patched, 400, "invalid_request")).error_description).toContain("patched-in");
    expect((await send(withAssertion(await assertion(client.client_id, good)))).status, "the client is unchanged").toBe(200);
  });

  it("treats a crypto failure with a stored key as a failed check: 401, never 503", async () => {
    const key = await keyPair();
    const client = await pkjwtClient([key]);
    // As if registered before keys were tried: the stored key is one WebCrypto cannot use.
    const offCurve = { ...(await unusable("off-curve")), kid: key.kid };
    await env.DB.prepare("UPDATE credentials SET jwks = ? WHERE id = ?").bind(JSON.stringify({ keys: [offCurve] }), client.id).run();
    await env.REVOCATIONS.delete(`credential:client_id:${client.client_id}`); // read from D1 on this miss
    await expectError(await send(withAssertion(await assertion(client.client_id, key))), 401, "invalid_client");
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

  it("treats a proof key WebCrypto cannot use as a bad proof: 400 at the token endpoint, 401 at test-auth, valid: false from the RPC", async () => {
    const client = await secretClient();
    const key = await keyPair();
    const token = (await json(await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(key, "POST", TOKEN_URL) })))).access_token as string;
    for (const kind of ["off-curve", "short", "exponent 1"] as const) {
      const jwk = await unusable(kind);
      const { kid: _kid, ...header } = jwk;
      const signer = kind === "exponent 1" ? await keyPair("RS256") : key;
      const atToken = await proof(signer, "POST", TOKEN_URL, {}, { jwk: header });
      await expectError(await send(tokenRequest({}, { ...basicAuth(client), dpop: atToken })), 400, "invalid_dpop_proof");
      const atTestAuth = await proof(signer, "GET", TEST_AUTH_URL, { ath: await ath(token) }, { jwk: header });
      const response = await send(new Request(TEST_AUTH_URL, { headers: { authorization: `DPoP ${token}`, dpop: atTestAuth } }));
      expect(response.status, kind).toBe(401);
      const rpcProof = await proof(signer, "GET", "https://api.example.com/orders", { ath: await ath(token) }, { jwk: header });
      const verdict = await new Verifier(createExecutionContext(), env).verify(token, { dpop: { proof: rpcProof, method: "GET", url: "https://api.example.com/orders" } });
      expect(verdict, kind).toMatchObject({ valid: false });
    }
  });

  describe("stored ids", () => {
    const scopeOf = async (key: Pair) => `dpop:${await calculateJwkThumbprint(key.jwk)}:POST ${TOKEN_URL}`;

    /** Fails token requests from `ip` with unknown clients until it is over its failure limit. */
    async function overLimit(ip: string) {
      for (let i = 0; i < 61; i++) {
        const junk = tokenRequest({}, { authorization: `Basic ${btoa(`kmc_${crypto.randomUUID()}:x`)}`, "cf-connecting-ip": ip });
        if ((await send(junk)).status === 429) return;
      }
      throw new Error("the IP never went over its limit");
    }

    it("from an IP over its failure limit: no Durable Object call for a client that fails, and the id is claimed once a good client authenticates", async () => {
      const client = await secretClient();
      const ip = `198.51.100.${1 + Math.floor(Math.random() * 200)}`;
      await overLimit(ip);
      let calls = 0;
      const counting = { ...env, JTI_STORE: { idFromName: (name: string) => env.JTI_STORE.idFromName(name), get: (id: DurableObjectId) => (calls++, env.JTI_STORE.get(id)) } } as unknown as Env;
      const key = await keyPair();
      const unknownClient = { authorization: `Basic ${btoa(`kmc_${crypto.randomUUID()}:x`)}`, "cf-connecting-ip": ip };
      const refused = await send(tokenRequest({}, { ...unknownClient, dpop: await proof(key, "POST", TOKEN_URL) }), counting);
      expect(refused.status).toBe(429);
      const wrongSecret = { ...basicAuth({ client_id: client.client_id, client_secret: `${client.client_secret.slice(0, -1)}x` }), "cf-connecting-ip": ip };
      expect((await send(tokenRequest({}, { ...wrongSecret, dpop: await proof(key, "POST", TOKEN_URL) }), counting)).status).toBeGreaterThanOrEqual(400);
      expect(calls, "no Durable Object call").toBe(0);
      expect((await jtiObject(await scopeOf(key)).storage()).rows).toEqual([]);
      // A request that passes every check is never refused, and its proof is single-use as always.
      const good = await proof(key, "POST", TOKEN_URL);
      const ok = await send(tokenRequest({}, { ...basicAuth(client), "cf-connecting-ip": ip, dpop: good }), counting);
      expect(ok.status, await ok.clone().text()).toBe(200);
      expect(calls).toBe(1);
      expect((await jtiObject(await scopeOf(key)).storage()).rows).toHaveLength(1);
      await expectError(await send(tokenRequest({}, { ...basicAuth(client), "cf-connecting-ip": ip, dpop: good })), 400, "invalid_dpop_proof");
    });

    it("are deleted by an alarm once their window has passed, and an object with none left holds no storage", async () => {
      const client = await secretClient();
      const key = await keyPair();
      const now = Math.floor(Date.now() / 1000);
      // iat 58 s ago: the first id's window ends in about 2 s; the second's a minute from now.
      const soon = await proof(key, "POST", TOKEN_URL, { iat: now - 58 });
      expect((await send(tokenRequest({}, { ...basicAuth(client), dpop: soon }))).status).toBe(200);
      const later = await proof(key, "POST", TOKEN_URL);
      expect((await send(tokenRequest({}, { ...basicAuth(client), dpop: later }))).status).toBe(200);
      const object = jtiObject(await scopeOf(key));
      const stored = await object.storage();
      expect(stored.rows).toHaveLength(2);
      const firstEnd = Math.min(...stored.rows.map((row) => row.expires_at));
      expect(stored.alarm, "an alarm at the earliest window's end").toBe((firstEnd + 1) * 1000);

      await afterAlarm(object.stub, (firstEnd + 1) * 1000);
      const afterFirst = await object.storage();
      expect(afterFirst.rows.map((row) => row.jti)).toEqual([decodeJwt(later).jti]);
      expect(afterFirst.alarm, "the next alarm").toBe((afterFirst.rows[0]!.expires_at + 1) * 1000);
      // The replay of the expired proof is refused by its freshness, not by a stored id.
      await expectError(await send(tokenRequest({}, { ...basicAuth(client), dpop: soon })), 400, "invalid_dpop_proof");
    });

    it("an object whose ids have all expired deletes all its storage, and takes new ids after", async () => {
      const client = await secretClient();
      const key = await keyPair();
      const once = await proof(key, "POST", TOKEN_URL, { iat: Math.floor(Date.now() / 1000) - 59 });
      expect((await send(tokenRequest({}, { ...basicAuth(client), dpop: once }))).status).toBe(200);
      const object = jtiObject(await scopeOf(key));
      const { rows, alarm } = await object.storage();
      expect(rows).toHaveLength(1);
      await afterAlarm(object.stub, alarm!);
      expect(await object.storage()).toEqual({ tables: [], rows: [], alarm: null });
      const next = await send(tokenRequest({}, { ...basicAuth(client), dpop: await proof(key, "POST", TOKEN_URL) }));
      expect(next.status, await next.clone().text()).toBe(200);
      expect((await object.storage()).rows).toHaveLength(1);
    });
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
