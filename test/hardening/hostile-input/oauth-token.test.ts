import { exportJWK, generateKeyPair, type JWK } from "jose";
import { generateSecret } from "../../../src/services/secrets";
import { encodeJson } from "../../support/forge";
import { ADMIN_TOKEN, BASE, createAccount, uniqueName } from "../../support/http";
import { bytesToBase64url } from "../../support/oauth";
import {
  bytes,
  type Case,
  describeHostileInput,
  enc,
  freshId,
  H,
  junk,
  KIB,
  oauthForm,
  oauthNonForms,
  plainWrongMethods,
  RLO,
  send,
  type Spec,
  SQL_DROP,
  SQL_OR,
  TRAVERSAL,
  utf16,
  utf8,
} from "./runner";

/**
 * Hostile input to POST /oauth/token: its form, client authentication (client_secret_basic,
 * client_secret_post, private_key_jwt assertions) and DPoP proofs.
 */

const wrongMethods: Case[] = plainWrongMethods([
  ["GET", "/oauth/token", ["POST"]],
  ["PUT", "/oauth/token", ["POST"]],
  ["DELETE", "/oauth/token", ["POST"]],
  ["OPTIONS", "/oauth/token", ["POST"]],
]);

const contentTypes: Case[] = [
  // The OAuth endpoints take forms only: anything else is 400 invalid_request (RFC 6749 §3.2).
  ...oauthNonForms([
    ["/oauth/token", "a JSON body", [H.json], '{"grant_type":"client_credentials"}'],
    ["/oauth/token", "text/plain", [H.type("text/plain")], "grant_type=client_credentials"],
    ["/oauth/token", "multipart", [H.type("multipart/form-data; boundary=z")], '--z\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--z--\r\n'],
    ["/oauth/token", "a look-alike type", [H.type("application/x-www-form-urlencodedx")], "grant_type=client_credentials"],
    ["/oauth/token", "the form type twice", [H.form, H.form], "grant_type=client_credentials"],
  ]),
  {
    name: "POST /oauth/token with a body and no Content-Type → 400",
    send: { method: "POST", path: "/oauth/token", body: utf8("grant_type=client_credentials") },
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["an invalid UTF-8 byte", bytes("grant_type=client_credentials&scope=", [0xff])],
      ["a bad percent-escape", "grant_type=client_credentials&scope=%zz"],
      ["a truncated percent-escape", "grant_type=client_credentials&scope=%E0%A4%A"],
      ["a percent-encoded invalid UTF-8 byte", "grant_type=client_credentials&scope=%FF"],
      ["a percent-encoded lone surrogate", "grant_type=client_credentials&scope=%ED%A0%80"],
      ["UTF-16", utf16("grant_type=client_credentials")],
      ["an empty body", ""],
    ] as const
  ).map(([label, body]): Case => ({
    name: `POST /oauth/token, form with ${label} → 400`,
    send: { method: "POST", path: "/oauth/token", headers: [H.form], body },
    status: 400,
    error: "invalid_request",
  })),
];

const sizes: Case[] = [
  {
    name: "POST /oauth/token, 8 KiB + 1 → 413",
    send: oauthForm("/oauth/token", `grant_type=client_credentials&scope=${"a".repeat(8 * KIB + 1 - 36)}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/token, exactly 8 KiB → read (then 401 invalid_client: no client auth)",
    send: oauthForm("/oauth/token", `grant_type=client_credentials&scope=${"a".repeat(8 * KIB - 36)}`),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, truncated grant_type → 400 unsupported_grant_type",
    send: oauthForm("/oauth/token", "grant_type=client_cred"),
    status: 400,
    error: "unsupported_grant_type",
  },
  {
    name: "POST /oauth/token, truncated after client_id= → 401 invalid_client without a challenge",
    send: oauthForm("/oauth/token", "grant_type=client_credentials&client_id=kmc_"),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, a truncated client_id and client_secret (post) → 401 invalid_client",
    send: () => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${freshId().slice(0, -3)}&client_secret=${generateSecret("client_secret").slice(0, 20)}`),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, a real client with its secret truncated by one (Basic) → 401 invalid_client",
    send: (fx) => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(fx.victimClient.client_id, fx.victimClient.client_secret.slice(0, -1))]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
];

const duplicates: Case[] = [
  ...(
    [
      ["grant_type", "grant_type=client_credentials&grant_type=client_credentials"],
      ["grant_type, the second empty", "grant_type=client_credentials&grant_type="],
      ["scope", "grant_type=client_credentials&scope=read&scope=admin"],
    ] as const
  ).map(
    ([label, body]): Case => ({
      name: `POST /oauth/token with ${label} repeated (real client, Basic) → 400`,
      send: (fx) => oauthForm("/oauth/token", body, [H.basic(fx.client.client_id, fx.client.client_secret)]),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "POST /oauth/token with client_id repeated (post) → 400",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.client.client_id}&client_id=${freshId()}&client_secret=${fx.client.client_secret}`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token with client_secret repeated, the real one first → 400, secret not echoed",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.client.client_id}&client_secret=${fx.client.client_secret}&client_secret=${fx.client.client_secret}`),
    status: 400,
    error: "invalid_request",
  },
];

const controls: Case[] = [
  {
    name: "POST /oauth/token, grant_type with a NUL → 400 unsupported_grant_type",
    send: oauthForm("/oauth/token", "grant_type=client_credentials%00"),
    status: 400,
    error: "unsupported_grant_type",
  },
  {
    name: "POST /oauth/token, scope with a NUL (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", "grant_type=client_credentials&scope=read%00", [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/token, scope with U+202E (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&scope=${enc(`${RLO}read`)}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/token, client_id with a NUL (post) → 401 invalid_client without a challenge",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${enc(junk(`${fx.client.client_id}\u0000`))}&client_secret=${fx.client.client_secret}`),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, client_secret with U+202E (Basic) → 401 invalid_client",
    send: () => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(freshId(), `${RLO}${generateSecret("client_secret")}`)]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
];

const injection: Case[] = [
  {
    name: "POST /oauth/token, client_id = SQL OR (post) → 401 invalid_client",
    send: () => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${enc(junk(SQL_OR))}&client_secret=${enc(SQL_DROP)}`),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  },
  {
    name: "POST /oauth/token, Basic with traversal as client_id → 401 invalid_client",
    send: () => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(junk(TRAVERSAL), SQL_OR)]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, scope = SQL OR (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&scope=${enc(SQL_OR)}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
  {
    name: "POST /oauth/token, scope = SQL DROP (real client) → 400 invalid_scope",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&scope=${enc(SQL_DROP)}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_scope",
    authenticates: true,
  },
];

const headerOddities: Case[] = [
  // client_secret_basic.
  ...(
    [
      ["Basic without credentials", () => H.auth("Basic")],
      ["Basic with bad base64", () => H.auth("Basic !!!not-base64!!!")],
      ["Basic with base64 of an odd length", () => H.auth("Basic a2")],
      ["Basic without a colon", () => H.rawBasic(freshId())],
      ["Basic with bad percent-encoding in the id", () => H.rawBasic(`kmc_%zz${freshId().slice(4)}:x`)],
      ["Basic with bad percent-encoding in the secret", () => H.rawBasic(`${freshId()}:%E0%A4%A`)],
      ["Basic with invalid UTF-8", () => H.auth(`Basic ${btoa(String.fromCharCode(0x6b, 0xff, 0x3a, 0xfe))}`)],
      ["an empty Authorization", () => H.auth("")],
      ["Bearer with the admin token", () => H.bearer(ADMIN_TOKEN)],
      ["Digest", () => H.auth(`Digest username="${freshId()}", response="x"`)],
      ["Basic with two spaces inside the value", () => H.auth(`Basic ${btoa(`${freshId()}:x`)} extra`)],
      ["a 5000-character Basic value", () => H.auth(`Basic ${"A".repeat(5000)}`)],
    ] as const
  ).map(
    ([label, header]): Case => ({
      name: `POST /oauth/token, ${label} → 401 invalid_client with a Basic challenge`,
      send: () => oauthForm("/oauth/token", "grant_type=client_credentials", [header()]),
      status: 401,
      error: "invalid_client",
      challenge: "Basic",
    }),
  ),
  {
    name: "POST /oauth/token, Authorization repeated (the real client's Basic twice) → 401 invalid_client",
    send: (fx) => {
      const header = H.basic(fx.client.client_id, fx.client.client_secret);
      return oauthForm("/oauth/token", "grant_type=client_credentials", [header, header]);
    },
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, Basic with a fresh id and the real API key as secret → 401, key not echoed",
    send: (fx) => oauthForm("/oauth/token", "grant_type=client_credentials", [H.basic(freshId(), fx.key.api_key)]),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/token, Basic and client_secret in the body at once → 400 invalid_request",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_secret=${fx.client.client_secret}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token, an empty Authorization and client_secret in the body → 400 invalid_request",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.client.client_id}&client_secret=${fx.client.client_secret}`, [H.auth("")]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token, Basic naming another client_id in the body → 400 invalid_request",
    send: (fx) => oauthForm("/oauth/token", `grant_type=client_credentials&client_id=${fx.victimClient.client_id}`, [H.basic(fx.client.client_id, fx.client.client_secret)]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/token?client_id=…&client_secret=… (query, not body) → 401, secret not echoed",
    send: (fx) => oauthForm(`/oauth/token?client_id=${fx.client.client_id}&client_secret=${fx.client.client_secret}`, "grant_type=client_credentials"),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
];

// ---- private_key_jwt assertions and DPoP proofs --------------------------------------------

/** A private_key_jwt client and a key of its own, made on first use. */
let signer: Promise<{ clientId: string; privateKey: CryptoKey; jwk: JWK & { kid: string }; foreign: CryptoKey }> | undefined;
function pkjwt() {
  signer ??= (async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const foreign = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "hostile-key" } as JWK & { kid: string };
    const account = await createAccount();
    const response = await send(
      new Request(`${BASE}/admin/v1/credentials`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ name: uniqueName("signer"), type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } }),
      }),
    );
    const created = (await response.json()) as { client_id: string };
    return { clientId: created.client_id, privateKey: pair.privateKey as CryptoKey, jwk, foreign: foreign.privateKey as CryptoKey };
  })();
  return signer;
}

/** An assertion for the signer, ES256 unless `header`/`claims` say otherwise; `key` signs it. */
async function assertionFor(overrides: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: "own" | "foreign" } = {}) {
  const s = await pkjwt();
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "ES256", kid: s.jwk.kid, ...overrides.header };
  const claims = { iss: s.clientId, sub: s.clientId, aud: BASE, iat: now, exp: now + 60, jti: crypto.randomUUID(), ...overrides.claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[name];
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  if (header.alg === "none") return `${input}.`;
  const key = overrides.key === "foreign" ? s.foreign : s.privateKey;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(input));
  return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
}

const assertionForm = (assertion: string) =>
  new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString();

const tokenWithAssertion = async (assertion: string): Promise<Spec> => ({ method: "POST", path: "/oauth/token", headers: [H.form], body: assertionForm(assertion) });

/** A DPoP proof by a fresh key (or with `header.jwk` replaced), for the token endpoint unless told. */
async function dpopProof(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  const now = Math.floor(Date.now() / 1000);
  const input = `${encodeJson({ alg: "ES256", typ: "dpop+jwt", jwk, ...header })}.${encodeJson({ htm: "POST", htu: `${BASE}/oauth/token`, iat: now, jti: crypto.randomUUID(), ...claims })}`;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey as CryptoKey, new TextEncoder().encode(input));
  return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
}

let replayedAssertion: string | undefined;
let replayedProof: string | undefined;

// Each replay row follows its control: they run in this order.
const clientKeys: Case[] = [
  ...(
    [
      ["alg none", { header: { alg: "none" } }],
      ["HS256 (a key that could be the public one)", { header: { alg: "HS256" } }],
      ["a foreign key under the registered kid", { key: "foreign" }],
      ["an embedded jwk", { header: { jwk: { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" } } }],
      ["a jku", { header: { jku: "https://evil.example/jwks" } }],
      ["an x5u", { header: { x5u: "https://evil.example/cert.pem" } }],
      ["a wrong aud", { claims: { aud: "https://elsewhere.example" } }],
      ["an exp 6 minutes ahead", { claims: { exp: Math.floor(Date.now() / 1000) + 360 } }],
      ["no jti", { claims: { jti: undefined } }],
    ] as [string, Parameters<typeof assertionFor>[0]][]
  ).map(([label, overrides]): Case => ({
    name: `POST /oauth/token, private_key_jwt assertion with ${label}`,
    send: async () => tokenWithAssertion(await assertionFor(overrides)),
    status: 401,
    error: "invalid_client",
    challenge: "none",
  })),
  {
    name: "POST /oauth/token, a private_key_jwt assertion (the control for the replay below)",
    send: async () => tokenWithAssertion((replayedAssertion = await assertionFor())),
    status: 200,
    authenticates: true,
  },
  {
    name: "POST /oauth/token, the same private_key_jwt assertion again",
    send: async () => tokenWithAssertion(replayedAssertion ?? (await assertionFor())),
    status: 401,
    error: "invalid_client",
  },
  ...(
    [
      ["a private key in jwk", {}, { jwk: { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", d: "AAAA" } }],
      ["a wrong htu", { htu: `${BASE}/oauth/elsewhere` }, {}],
      ["a wrong htm", { htm: "GET" }, {}],
      ["an iat 5 minutes old", { iat: Math.floor(Date.now() / 1000) - 300 }, {}],
    ] as [string, Record<string, unknown>, Record<string, unknown>][]
  ).map(([label, claims, header]): Case => ({
    name: `POST /oauth/token, DPoP proof with ${label}`,
    send: async (fx) => ({ method: "POST", path: "/oauth/token", headers: [H.form, H.basic(fx.client.client_id, fx.client.client_secret), ["dpop", await dpopProof(claims, header)]], body: "grant_type=client_credentials" }),
    status: 400,
    error: "invalid_dpop_proof",
    authenticates: true,
  })),
  {
    name: "POST /oauth/token, a DPoP proof (the control for the replay below)",
    send: async (fx) => ({ method: "POST", path: "/oauth/token", headers: [H.form, H.basic(fx.client.client_id, fx.client.client_secret), ["dpop", (replayedProof = await dpopProof())]], body: "grant_type=client_credentials" }),
    status: 200,
    authenticates: true,
  },
  {
    name: "POST /oauth/token, the same DPoP proof again",
    send: async (fx) => ({ method: "POST", path: "/oauth/token", headers: [H.form, H.basic(fx.client.client_id, fx.client.client_secret), ["dpop", replayedProof ?? (await dpopProof())]], body: "grant_type=client_credentials" }),
    status: 400,
    error: "invalid_dpop_proof",
    authenticates: true,
  },
];

describeHostileInput("OAuth token endpoint", [
  ["wrong methods", wrongMethods],
  ["content types and encodings", contentTypes],
  ["truncated and oversized bodies", sizes],
  ["repeated parameters", duplicates],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
  ["Authorization header oddities", headerOddities],
  ["private_key_jwt assertions and DPoP proofs", clientKeys],
]);
