import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWTPayload } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { activeSigner, resetSigningKeyCache } from "../../src/services/signing-keys";
import { ISSUER, encodeJson, hmacSign, ourClaims } from "../support/forge";
import { call, createAccount, createCredential, dumpAllTables, json } from "../support/http";
import { basic, bytesToBase64url, base64urlToBytes, fetchJwks, introspect, storedSigningKey, testAuth, tokenFor, tokenRequest } from "../support/oauth";
import type { SigningKeyRow } from "../../src/storage/signing-keys";

/** ES256 signing keys: first use, rotation by the cron, storage at rest, and forgeries. */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type KeyRow = SigningKeyRow;

async function keyRows(): Promise<KeyRow[]> {
  return (await env.DB.prepare("SELECT * FROM signing_keys ORDER BY generation").all<KeyRow>()).results;
}

async function runCron(atMs: number) {
  const controller = createScheduledController({ scheduledTime: new Date(atMs), cron: "*/15 * * * *" });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

async function jwksKids(): Promise<string[]> {
  return (await fetchJwks()).keys.map((key) => key.kid as string);
}

async function newClient(scopes = ["read"]) {
  const account = await createAccount();
  return createCredential(account.id, "oauth_client", scopes);
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

type SigningKeysModule = typeof import("../../src/services/signing-keys");

/**
 * A separate instance of the signing-key service, with module state (cache, in-flight load,
 * imported keys) of its own, as a new isolate has: Vite loads a module once per URL.
 */
function freshSigningKeysModule(isolate: string): Promise<SigningKeysModule> {
  const url = `../../src/services/signing-keys.ts?isolate=${encodeURIComponent(isolate)}`;
  return import(/* @vite-ignore */ url) as Promise<SigningKeysModule>;
}

/**
 * The real D1, except that a batch inserting into signing_keys first reports the kid it
 * inserts and waits for `arrive` to settle. Everything else passes straight through.
 */
function holdFirstKeyInserts(db: D1Database, arrive: (kid: string) => Promise<void>): D1Database {
  const inserted = new WeakMap<D1PreparedStatement, string>();
  const prepare = (sql: string) => {
    const statement = db.prepare(sql);
    if (!/^INSERT INTO signing_keys\b/i.test(sql)) return statement;
    return new Proxy(statement, {
      get(target, property) {
        if (property === "bind") {
          return (...values: unknown[]) => {
            const bound = target.bind(...values);
            inserted.set(bound, String(values[0]));
            return bound;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  const batch = async (statements: D1PreparedStatement[]) => {
    const kids = statements.map((statement) => inserted.get(statement)).filter((kid) => kid !== undefined);
    for (const kid of kids) await arrive(kid);
    return db.batch(statements);
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === "prepare") return prepare;
      if (property === "batch") return batch;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

beforeEach(async () => {
  // A fresh deployment: no keys in D1, and none in their edge copy in KV.
  await env.DB.prepare("DELETE FROM signing_keys").run();
  await env.REVOCATIONS.delete("signing-keys");
  resetSigningKeyCache();
});

afterEach(() => {
  vi.useRealTimers();
  resetSigningKeyCache();
});

describe("the first key", () => {
  it("is made on first use, active at once, and published in the JWKS", async () => {
    expect(await keyRows()).toHaveLength(0);
    const client = await newClient();
    const before = Math.floor(Date.now() / 1000);
    const token = await tokenFor(client);
    const rows = await keyRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.generation).toBe(1);
    expect(rows[0]!.activates_at).toBeGreaterThanOrEqual(before);
    expect(rows[0]!.activates_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(kidOf(token)).toBe(rows[0]!.kid);
    const jwks = await fetchJwks();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", kid: rows[0]!.kid, alg: "ES256", use: "sig" });
    // The kid is the RFC 7638 thumbprint of the public key.
    expect(await calculateJwkThumbprint(jwks.keys[0] as any)).toBe(rows[0]!.kid);
    expect((await testAuth(token)).status).toBe(200);
  });

  it("is made by a JWKS request too, and then used to sign", async () => {
    const kids = await jwksKids();
    expect(kids).toHaveLength(1);
    expect((await keyRows()).map((row) => row.kid)).toEqual(kids);
    expect(kidOf(await tokenFor(await newClient()))).toBe(kids[0]);
  });

  it("is created exactly once when requests race for it", async () => {
    const client = await newClient();
    // The Worker's fetch called directly, so that the requests truly interleave in this isolate.
    const ctx = createExecutionContext();
    const send = (request: Request) => worker.fetch(request, env, ctx);
    const responses = await Promise.all([
      ...Array.from({ length: 6 }, () =>
        send(
          new Request("http://localhost:8787/oauth/token", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.client_id, client.client_secret) },
            body: "grant_type=client_credentials",
          }),
        ),
      ),
      send(new Request("http://localhost:8787/.well-known/jwks.json")),
      send(new Request("http://localhost:8787/.well-known/jwks.json")),
    ]);
    await waitOnExecutionContext(ctx);
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    const rows = await keyRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.generation).toBe(1);
    const tokens = await Promise.all(responses.slice(0, 6).map(async (response) => (await json(response)).access_token as string));
    for (const token of tokens) {
      expect(kidOf(token)).toBe(rows[0]!.kid);
      expect((await testAuth(token)).status).toBe(200);
    }
    for (const response of responses.slice(6)) {
      expect((await json(response)).keys.map((key: any) => key.kid)).toEqual([rows[0]!.kid]);
    }
    // A fresh isolate agrees.
    resetSigningKeyCache();
    expect(kidOf(await tokenFor(client))).toBe(rows[0]!.kid);
    expect(await keyRows()).toHaveLength(1);
  });

  it("is created exactly once when fresh isolates race for it", async () => {
    const client = await newClient();
    // Three isolates, each with its own key cache and in-flight load (the module state of
    // src/services/signing-keys.ts; each import under its own URL is a separate instance).
    // Their D1 is the real one, held at the insert until all three have got there: each has
    // read an empty table and made its own generation-1 key, and the UNIQUE generation decides.
    const isolates = await Promise.all(["a", "b", "c"].map(freshSigningKeysModule));
    expect(new Set([...isolates.map((isolate) => isolate.activeSigner), activeSigner]).size).toBe(4); // four separate instances
    const attempts: string[] = [];
    const allThere = Promise.withResolvers<void>();
    const isolateEnv = (): Env => ({
      ...env,
      DB: holdFirstKeyInserts(env.DB, (kid) => {
        attempts.push(kid);
        if (attempts.length === isolates.length) allThere.resolve();
        return allThere.promise;
      }),
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${attempts.length} of ${isolates.length} isolates tried to insert a key`)), 5_000);
    });
    const signers = await Promise.race([Promise.all(isolates.map((isolate) => isolate.activeSigner(isolateEnv()))), timeout]).finally(() => clearTimeout(timer));

    const rows = await keyRows();
    expect(rows.map((row) => row.generation)).toEqual([1]);
    const kid = rows[0]!.kid;
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts).size).toBe(3); // three different keys raced
    expect(attempts).toContain(kid);
    // Every isolate signs with the winner, not with the key it made itself.
    expect(signers.map((signer) => signer.kid)).toEqual([kid, kid, kid]);
    for (const signer of signers) {
      const token = await ourClaims(client).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: signer.kid }).sign(signer.key);
      expect((await testAuth(token)).status).toBe(200);
    }
    // The Worker's own isolate agrees: it signs with that key and publishes it alone.
    const token = await tokenFor(client);
    expect(kidOf(token)).toBe(kid);
    expect((await testAuth(token)).status).toBe(200);
    expect(await jwksKids()).toEqual([kid]);
    expect((await keyRows()).map((row) => row.kid)).toEqual([kid]);
  });

  it("is created once when a fresh isolate and the cron race for it", async () => {
    const client = await newClient();
    const [response] = await Promise.all([tokenRequest(client), runCron(Date.now())]);
    expect(response.status).toBe(200);
    const rows = await keyRows();
    expect(rows.map((row) => row.generation)).toEqual([1]);
    const token = (await json(response)).access_token;
    expect(kidOf(token)).toBe(rows[0]!.kid);
    expect((await testAuth(token)).status).toBe(200);
  });
});

describe("rotation through the scheduled handler", () => {
  it("publishes the next key an hour before it signs, switches, keeps the old key an hour, then removes it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    vi.setSystemTime(t0);
    const client = await newClient();
    const first = await tokenFor(client);
    const kid1 = kidOf(first)!;
    expect((await keyRows()).map((row) => row.kid)).toEqual([kid1]);

    // Early crons change nothing.
    for (const at of [t0 + 15 * 60_000, t0 + DAY, t0 + 30 * DAY - 2 * HOUR]) {
      vi.setSystemTime(at);
      await runCron(at);
      expect((await keyRows()).map((row) => row.kid)).toEqual([kid1]);
      expect(await jwksKids()).toEqual([kid1]);
    }

    // Within the last hour of the key's 30 days: the next key appears, not yet signing.
    const published = t0 + 30 * DAY - HOUR + 15 * 60_000;
    vi.setSystemTime(published);
    await runCron(published);
    const rows = await keyRows();
    expect(rows.map((row) => row.generation)).toEqual([1, 2]);
    const next = rows[1]!;
    const kid2 = next.kid;
    expect(kid2).not.toBe(kid1);
    expect(next.created_at).toBe(published / 1000);
    expect(next.activates_at - next.created_at).toBeGreaterThanOrEqual(3600);
    expect(next.activates_at).toBeGreaterThanOrEqual(t0 / 1000 + 30 * 86_400);
    expect((await jwksKids()).sort()).toEqual([kid1, kid2].sort());
    expect(kidOf(await tokenFor(client))).toBe(kid1);
    // A fresh isolate, too, keeps signing with the active key and publishes both.
    resetSigningKeyCache();
    expect(kidOf(await tokenFor(client))).toBe(kid1);
    expect((await jwksKids()).sort()).toEqual([kid1, kid2].sort());
    // Another cron run before the switch makes no third key.
    await runCron(published + 15 * 60_000);
    expect((await keyRows()).map((row) => row.kid)).toEqual([kid1, kid2]);

    // The last second of the old key.
    const switchAt = next.activates_at * 1000;
    vi.setSystemTime(switchAt - 1_000);
    const lastOld = await tokenFor(client);
    expect(kidOf(lastOld)).toBe(kid1);

    // The switch: new tokens carry the new kid; the old key's last token still verifies.
    vi.setSystemTime(switchAt);
    const firstNew = await tokenFor(client);
    expect(kidOf(firstNew)).toBe(kid2);
    const jwks = createLocalJWKSet((await fetchJwks()) as any);
    for (const token of [lastOld, firstNew]) {
      await jwtVerify(token, jwks, { issuer: ISSUER, audience: ISSUER, typ: "at+jwt", algorithms: ["ES256"] });
      expect((await testAuth(token)).status).toBe(200);
      expect((await json(await introspect(client, token))).active).toBe(true);
    }
    // A fresh isolate verifies the old key's token and signs with the new key.
    resetSigningKeyCache();
    expect((await testAuth(lastOld)).status).toBe(200);
    expect(kidOf(await tokenFor(client))).toBe(kid2);

    // The old key stays published until an hour after the switch (its last token was minted just before).
    const oldKey = await storedSigningKey(kid1);
    vi.setSystemTime(switchAt + HOUR - 1_000);
    await runCron(switchAt + HOUR - 1_000);
    expect((await keyRows()).map((row) => row.kid)).toEqual([kid1, kid2]);
    expect((await jwksKids()).sort()).toEqual([kid1, kid2].sort());

    vi.setSystemTime(switchAt + HOUR);
    await runCron(switchAt + HOUR);
    expect((await keyRows()).map((row) => row.kid)).toEqual([kid2]);
    expect(await jwksKids()).toEqual([kid2]);
    expect(kidOf(await tokenFor(client))).toBe(kid2);

    // A token signed now with the removed key, otherwise perfect, is refused.
    const late = await ourClaims(client).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: kid1 }).sign(oldKey.privateKey);
    expect((await testAuth(late)).status).toBe(401);
    expect((await json(await introspect(client, late))).active).toBe(false);
    resetSigningKeyCache();
    expect((await testAuth(late)).status).toBe(401);
  });
});

describe("private keys at rest", () => {
  it("are never plaintext in D1 nor in the JWKS", async () => {
    await tokenFor(await newClient());
    const [row] = await keyRows();
    expect(row).toBeDefined();
    const { pkcs8, privateKey, publicJwk } = await storedSigningKey(row!.kid);

    // The column is not a JWK, not PEM, and its bytes are not an importable PKCS#8 key.
    expect(() => JSON.parse(row!.encrypted_private_key)).toThrow();
    expect(row!.encrypted_private_key).not.toMatch(/PRIVATE KEY|"d"/);
    const stored = base64urlToBytes(row!.encrypted_private_key);
    await expect(crypto.subtle.importKey("pkcs8", stored, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])).rejects.toThrow();
    expect(stored.byteLength).toBeGreaterThan(pkcs8.byteLength); // iv and tag around the ciphertext

    // Neither the private scalar nor the PKCS#8 bytes appear anywhere in D1, in any encoding.
    const d = (await exportJWK(privateKey)).d!;
    const pkcs8Base64 = btoa(String.fromCharCode(...pkcs8));
    const pkcs8Hex = [...pkcs8].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    const everything = JSON.stringify(await dumpAllTables());
    for (const needle of [d, pkcs8Base64, bytesToBase64url(pkcs8), pkcs8Hex, pkcs8Hex.toUpperCase()]) {
      expect(everything).not.toContain(needle);
    }
    expect(JSON.parse(row!.public_jwk)).not.toHaveProperty("d");
    expect(publicJwk).not.toHaveProperty("d");

    const jwks = await fetchJwks();
    for (const key of jwks.keys) {
      expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
    }
    expect(JSON.stringify(jwks)).not.toContain(d);
  });
});

// ---- forgeries ----------------------------------------------------------------------------

describe("forged tokens fail at test-auth and introspection", () => {
  it("accepts a token signed with our real key and our claims (the control for the cases below)", async () => {
    const client = await newClient();
    const genuine = await tokenFor(client);
    const ours = await storedSigningKey(kidOf(genuine));
    const made = await ourClaims(client).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: ours.kid }).sign(ours.privateKey);
    expect((await testAuth(made)).status).toBe(200);
    expect((await json(await introspect(client, made))).active).toBe(true);
  });

  it("rejects every forgery", async () => {
    const client = await newClient();
    const genuine = await tokenFor(client);
    const [genuineHeader, genuinePayload, genuineSignature] = genuine.split(".") as [string, string, string];
    const kid = kidOf(genuine)!;
    const claims = decodeJwt(genuine);
    const ours = await storedSigningKey(kid);
    const now = Math.floor(Date.now() / 1000);
    const foreign = await generateKeyPair("ES256", { extractable: true });
    const foreignJwk = await exportJWK(foreign.publicKey);

    const publicJwk = (await fetchJwks()).keys.find((key) => key.kid === kid)!;
    const publicKey = (await crypto.subtle.importKey("jwk", publicJwk as unknown as JsonWebKey, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"])) as CryptoKey;
    const raw = new Uint8Array((await crypto.subtle.exportKey("raw", publicKey)) as ArrayBuffer);
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", publicKey)) as ArrayBuffer);
    const pem = `-----BEGIN PUBLIC KEY-----\n${btoa(String.fromCharCode(...spki)).replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`;

    const hs256 = async (secret: Uint8Array) => {
      const input = `${encodeJson({ alg: "HS256", typ: "at+jwt", kid })}.${genuinePayload}`;
      return `${input}.${await hmacSign(secret, input)}`;
    };
    const signOurs = (overrides: JWTPayload, header: Record<string, unknown> = {}) =>
      ourClaims(client, overrides)
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid, ...header })
        .sign(ours.privateKey);
    const encoder = new TextEncoder();

    const forgeries: Record<string, string> = {
      "alg none, no signature": `${encodeJson({ alg: "none", typ: "at+jwt", kid })}.${genuinePayload}.`,
      "alg none, the genuine signature": `${encodeJson({ alg: "none", typ: "at+jwt", kid })}.${genuinePayload}.${genuineSignature}`,
      "alg None": `${encodeJson({ alg: "None", typ: "at+jwt" })}.${genuinePayload}.`,
      "HS256 keyed with the public JWK JSON": await hs256(encoder.encode(JSON.stringify(publicJwk))),
      "HS256 keyed with the raw public point": await hs256(raw),
      "HS256 keyed with the SPKI bytes": await hs256(spki),
      "HS256 keyed with the PEM": await hs256(encoder.encode(pem)),
      "HS256 keyed with x": await hs256(encoder.encode(publicJwk.x as string)),
      "a foreign ES256 key claiming our kid": await ourClaims(client).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).sign(foreign.privateKey),
      "a foreign ES256 key, no kid": await ourClaims(client).setProtectedHeader({ alg: "ES256", typ: "at+jwt" }).sign(foreign.privateKey),
      "a foreign key embedded as jwk, our kid": await ourClaims(client)
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid, jwk: foreignJwk })
        .sign(foreign.privateKey),
      "a foreign key embedded as jwk, no kid": await ourClaims(client).setProtectedHeader({ alg: "ES256", typ: "at+jwt", jwk: foreignJwk }).sign(foreign.privateKey),
      "a foreign key by jku": await ourClaims(client)
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "foreign", jku: "https://attacker.example/jwks.json" })
        .sign(foreign.privateKey),
      "tampered payload (scope admin)": `${genuineHeader}.${encodeJson({ ...claims, scope: "read admin" })}.${genuineSignature}`,
      "tampered payload (another account)": `${genuineHeader}.${encodeJson({ ...claims, sub: "acct_someoneelse" })}.${genuineSignature}`,
      "tampered header (kid removed)": `${encodeJson({ alg: "ES256", typ: "at+jwt" })}.${genuinePayload}.${genuineSignature}`,
      "signature stripped": `${genuineHeader}.${genuinePayload}.`,
      "signature part missing": `${genuineHeader}.${genuinePayload}`,
      "signature truncated": `${genuineHeader}.${genuinePayload}.${genuineSignature.slice(0, 43)}`,
      "signature of another token": `${genuineHeader}.${genuinePayload}.${(await tokenFor(client)).split(".")[2]}`,
      // Signed with our real key, so only the claim checks can catch these:
      "wrong iss": await signOurs({ iss: "https://attacker.example" }),
      "iss with a trailing slash": await signOurs({ iss: `${ISSUER}/` }),
      "no iss": await signOurs({ iss: undefined }),
      "wrong aud": await signOurs({ aud: "https://api.other.example" }),
      "no aud": await signOurs({ aud: undefined }),
      "typ JWT": await signOurs({}, { typ: "JWT" }),
      "no typ": await ourClaims(client).setProtectedHeader({ alg: "ES256", kid }).sign(ours.privateKey),
      expired: await signOurs({ iat: now - 200, exp: now - 140 }),
      "nbf in the future": await signOurs({ nbf: now + 600 }),
      "iat in the future": await signOurs({ iat: now + 600, exp: now + 660 }),
      "lives longer than 60 s": await signOurs({ exp: now + 3_600 }),
      "no exp": await signOurs({ exp: undefined }),
      "no jti": await signOurs({ jti: undefined }),
      "no cid": await signOurs({ cid: undefined }),
      "a kid we never published": await signOurs({}, { kid: "not-a-kid-of-ours" }),
    };

    const accepted: string[] = [];
    for (const [label, token] of Object.entries(forgeries)) {
      const response = await testAuth(token);
      const introspection = await json(await introspect(client, token));
      if (response.status !== 401 || introspection.active !== false) accepted.push(`${label}: test-auth ${response.status}, active ${introspection.active}`);
      else expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    expect(accepted).toEqual([]);
    // The genuine token is fine all along.
    expect((await testAuth(genuine)).status).toBe(200);
  });
});
