import { expect } from "vitest";
import { CONTROL, FORGERIES, signedByUs } from "./forgeries";
import {
  ACCT,
  adminCall,
  adminGet,
  adminJson,
  adminListQueries,
  adminRaw,
  adminRefusedQueries,
  adminUnsupportedTypes,
  adminWrongMethods,
  badNames,
  bytes,
  type Case,
  describeHostileInput,
  emptyList,
  enc,
  H,
  type Header,
  hostileIds,
  ID,
  KIB,
  mint,
  RLO,
  SQL_DROP,
  SQL_OR,
  TRAVERSAL,
} from "./runner";

/**
 * Hostile input to /admin/v1/credentials and /admin/v1/credentials/{id}[/roll]: create, list,
 * read, PATCH, DELETE and roll, including admin access tokens that are forged or lack scope admin.
 */

const wrongMethods: Case[] = adminWrongMethods([
  ["PUT", "/admin/v1/credentials", ["GET", "HEAD", "POST"]],
  ["POST", `/admin/v1/credentials/${ID}`, ["DELETE", "GET", "HEAD", "PATCH"]],
  ["PUT", `/admin/v1/credentials/${ID}`, ["DELETE", "GET", "HEAD", "PATCH"]],
  ["GET", `/admin/v1/credentials/${ID}/roll`, ["POST"]],
]);

const contentTypes: Case[] = [
  ...adminUnsupportedTypes([
    ["text/plain", "POST", "/admin/v1/credentials", JSON.stringify({ name: "x", type: "api_key", account_id: ACCT })],
    ["text/plain", "PATCH", `/admin/v1/credentials/${ID}`, '{"name":"x"}'],
    ["multipart/form-data; boundary=y", "POST", `/admin/v1/credentials/${ID}/roll`, "--y--\r\n"],
  ]),
  {
    name: "PATCH a real credential, form-encoded with a real secret in it → 415, nothing echoed",
    send: (fx) => adminRaw("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, [H.form], `name=${enc(fx.victimClient.client_secret)}`),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "PATCH a real credential with an overlong UTF-8 encoding of '<' → 400",
    send: (fx) => adminRaw("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, [H.json], bytes('{"name":"', [0xc0, 0xbc], 'script"}')),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["expires_in -1", '{"expires_in":-1}'],
      ["expires_in 604801", '{"expires_in":604801}'],
      ["expires_in 1.5", '{"expires_in":1.5}'],
      ['expires_in "0"', '{"expires_in":"0"}'],
      ["expires_in 1e400", '{"expires_in":1e400}'],
    ] as const
  ).map(([label, body]): Case => ({
    name: `roll a real credential with ${label} → 400, secret unchanged`,
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll`, body),
    status: 400,
    error: "invalid_request",
  })),
];

const sizes: Case[] = [
  {
    name: "PATCH a real credential, 70 KiB → 413",
    send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, { name: "y".repeat(70 * KIB) }),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /admin/v1/credentials, 1 MiB of scopes → 413",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "x", type: "api_key", account_id: fx.account.id, scopes: Array(40_000).fill("a".repeat(20)) }),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "roll a real credential with a 70 KiB body → 413",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll`, `{"expires_in":0${" ".repeat(70 * KIB)}}`),
    status: 413,
    error: "payload_too_large",
  },
];

const duplicates: Case[] = [
  ...adminRefusedQueries(["/admin/v1/credentials?type=api_key&type=oauth_client", `/admin/v1/credentials?account_id=${ACCT}&account_id=${ACCT}`]),
  {
    name: "DELETE a real credential with ?force=1 → 400 and it still exists",
    send: (fx) => adminCall("DELETE", `/admin/v1/credentials/${fx.victimClient.id}?force=1`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "roll a real credential with ?expires_in=0 in the query → 400",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll?expires_in=0`, { expires_in: 0 }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "PATCH a real credential with ?name=x in the query → 400",
    send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}?name=x`, { name: "y" }),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["repeated", ["k1", "k2"]],
      ["with spaces (SQL)", [SQL_OR]],
      ["of 256 characters", ["i".repeat(256)]],
      ["empty", [""]],
    ] as const
  ).map(
    ([label, values]): Case => ({
      name: `POST /admin/v1/credentials with an Idempotency-Key ${label} → 400`,
      send: (fx) =>
        adminJson(
          "POST",
          "/admin/v1/credentials",
          { name: "idem", type: "api_key", account_id: fx.account.id },
          values.map((value): Header => ["idempotency-key", value]),
        ),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "roll a real credential with the real API key as Idempotency-Key and a bad body → 400, not echoed",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.victimClient.id}/roll`, { expires_in: -5 }, [["idempotency-key", fx.key.api_key]]),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials with a JSON key repeated → last one must still validate: 400 on the bad one",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", `{"name":"ok","type":"api_key","account_id":"${fx.account.id}","scopes":[],"scopes":["\\u0000"]}`),
    status: 400,
    error: "invalid_request",
  },
];

const controls: Case[] = [
  ...badNames.slice(0, 4).map(
    ([label, name]): Case => ({
      name: `PATCH a real credential, name with ${label} → 400`,
      send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, { name }),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "POST /admin/v1/credentials, name with NUL → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k\u0000ey", type: "api_key", account_id: fx.account.id }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, scope with NUL → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: fx.account.id, scopes: ["read\u0000"] }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, scope with U+202E → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: fx.account.id, scopes: [`${RLO}nimda`] }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, account_id with NUL → 404",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: `${fx.account.id}\u0000` }),
    status: 404,
    error: "not_found",
  },
  {
    name: "PATCH a real credential, scopes with a client secret in them → 400, not echoed",
    send: (fx) => adminJson("PATCH", `/admin/v1/credentials/${fx.victimClient.id}`, { scopes: [`${fx.client.client_secret} ${RLO}`] }),
    status: 400,
    error: "invalid_request",
  },
  { name: "GET /admin/v1/credentials?type=api_key%00 → 400", send: adminGet("/admin/v1/credentials?type=api_key%00"), status: 400, error: "invalid_request" },
  {
    name: "GET /admin/v1/credentials?account_id=%00 → 200, nothing",
    send: adminGet("/admin/v1/credentials?account_id=%00"),
    status: 200,
    check: emptyList,
  },
  { name: "GET /admin/v1/credentials/%E2%80%AE → 404", send: adminGet("/admin/v1/credentials/%E2%80%AE"), status: 404, error: "not_found" },
];

const injection: Case[] = [
  ...hostileIds.map(
    ([label, id]): Case => ({ name: `GET /admin/v1/credentials/{${label}} → 404`, send: adminGet(`/admin/v1/credentials/${id}`), status: 404, error: "not_found" }),
  ),
  ...(
    [
      ["DELETE", `/admin/v1/credentials/${enc(SQL_DROP)}`],
      ["DELETE", `/admin/v1/credentials/%2e%2e%2f%2e%2e%2fetc%2fpasswd`],
    ] as const
  ).map(([method, path]): Case => ({ name: `${method} ${path} → 404`, send: adminCall(method, path), status: 404, error: "not_found" })),
  {
    name: `PATCH /admin/v1/credentials/{SQL OR} with a valid body → 404`,
    send: adminJson("PATCH", `/admin/v1/credentials/${enc(SQL_OR)}`, { name: "renamed" }),
    status: 404,
    error: "not_found",
  },
  {
    name: `roll /admin/v1/credentials/{SQL DROP} → 404`,
    send: adminJson("POST", `/admin/v1/credentials/${enc(SQL_DROP)}/roll`, { expires_in: 0 }),
    status: 404,
    error: "not_found",
  },
  {
    name: "roll /admin/v1/credentials/{a real secret} → 404, secret not echoed",
    send: (fx) => adminJson("POST", `/admin/v1/credentials/${fx.key.api_key}/roll`, { expires_in: 0 }),
    status: 404,
    error: "not_found",
  },
  {
    name: "POST /admin/v1/credentials, account_id = SQL OR → 404",
    send: adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: SQL_OR }),
    status: 404,
    error: "not_found",
  },
  {
    name: "POST /admin/v1/credentials, account_id = traversal → 404",
    send: adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: TRAVERSAL }),
    status: 404,
    error: "not_found",
  },
  {
    name: "POST /admin/v1/credentials, type = SQL DROP → 400",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: SQL_DROP, account_id: fx.account.id }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/credentials, scopes = [SQL DROP] → 400 (not a scope-token)",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: "k", type: "api_key", account_id: fx.account.id, scopes: [SQL_DROP] }),
    status: 400,
    error: "invalid_request",
  },
  ...adminListQueries([
    [`/admin/v1/credentials?account_id=${enc(SQL_OR)}`, 200],
    [`/admin/v1/credentials?account_id=${enc(TRAVERSAL)}`, 200],
    [`/admin/v1/credentials?type=${enc(SQL_OR)}`, 400],
    [`/admin/v1/credentials?cursor=${enc(TRAVERSAL)}`, 400],
  ]),
  // Accepted, stored literally.
  {
    name: "POST /admin/v1/credentials with scope ../../etc/passwd (a valid scope-token) → 201, literal",
    send: (fx) => adminJson("POST", "/admin/v1/credentials", { name: SQL_OR, type: "api_key", account_id: fx.account.id, scopes: [TRAVERSAL, "'OR'1'='1"] }),
    status: 201,
    changes: true,
    check: (_, text) => {
      const credential = JSON.parse(text);
      expect(credential.name).toBe(SQL_OR);
      expect(credential.scopes).toEqual([TRAVERSAL, "'OR'1'='1"]);
    },
  },
];

const headerOddities: Case[] = [
  {
    name: "DELETE a real credential with a genuine token lacking the admin scope → 403 forbidden",
    send: async (fx) => ({ method: "DELETE", path: `/admin/v1/credentials/${fx.victimClient.id}`, headers: [H.bearer(await mint())] }),
    status: 403,
    error: "forbidden",
  },
];

const forged: Case[] = [
  // The control for the forged admin tokens below: an admin route accepts our own token with scope admin.
  {
    name: `GET /admin/v1/accounts, ${CONTROL} with scope admin → 200`,
    send: async (fx) => ({ path: "/admin/v1/accounts?limit=1", headers: [H.bearer(await signedByUs(fx, { scope: "read admin" }))] }),
    status: 200,
  },
  ...["alg none, no signature", "HS256 keyed with the public JWK", "a foreign key claiming our kid", "an embedded jwk header (foreign key, our kid)", "a tampered payload on a genuine signature"].map(
    (label): Case => ({
      name: `DELETE a real credential as admin, forged: ${label} (scope admin) → 401 unauthorized`,
      send: async (fx) => ({
        method: "DELETE",
        path: `/admin/v1/credentials/${fx.victimClient.id}`,
        headers: [H.bearer(await FORGERIES[label]!(fx, { scope: "read admin" }))],
      }),
      status: 401,
      error: "unauthorized",
    }),
  ),
];

const clientKeys: Case[] = (
  [
    ["a private key", { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI", kid: "k" }],
    ["an RSA key of 1024 bits", { kty: "RSA", e: "AQAB", n: `w${"A".repeat(170)}`, kid: "k" }],
    ["two keys with the same kid", { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "same" }, true],
  ] as [string, Record<string, unknown>, boolean?][]
).map(([label, key, twice]): Case => ({
  name: `POST /admin/v1/credentials, private_key_jwt with a jwks holding ${label}`,
  send: (fx) => ({
    method: "POST",
    path: "/admin/v1/credentials",
    headers: [H.admin, H.json],
    body: JSON.stringify({ name: "keys", type: "oauth_client", account_id: fx.account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: twice ? [key, key] : [key] } }),
  }),
  status: 400,
  error: "invalid_request",
}));

describeHostileInput("admin credentials", [
  ["wrong methods", wrongMethods],
  ["content types and encodings", contentTypes],
  ["truncated and oversized bodies", sizes],
  ["repeated parameters", duplicates],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
  ["Authorization header oddities", headerOddities],
  ["forged access tokens", forged],
  ["private_key_jwt client keys", clientKeys],
]);
