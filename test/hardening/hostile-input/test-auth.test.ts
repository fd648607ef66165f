import { expect } from "vitest";
import { CONTROL, FORGERIES, rawSigned, signedByUs } from "./forgeries";
import { type Case, describeHostileInput, type Fixtures, H, type Header, plainWrongMethods, RLO, testAuth, TRAVERSAL } from "./runner";

/**
 * Hostile input to GET /v1/test-auth: API keys and access tokens that are broken, misplaced or
 * forged, each refused with 401 invalid_token and an RFC 6750 Bearer challenge.
 */

const wrongMethods: Case[] = plainWrongMethods([
  ["POST", "/v1/test-auth", ["GET", "HEAD"]],
  ["DELETE", "/v1/test-auth", ["GET", "HEAD"]],
]);

const sizes: Case[] = [
  {
    name: "GET /v1/test-auth with the real API key truncated by one → 401 invalid_token",
    send: (fx) => testAuth(H.bearer(fx.key.api_key.slice(0, -1))),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
];

const controls: Case[] = [
  {
    name: "GET /v1/test-auth, U+202E (sent as UTF-8 bytes) inside an API key → 401",
    send: (fx) => testAuth(H.bearer(`km_live_${RLO}${fx.key.api_key.slice(9)}`)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth, a tab inside the bearer value → 401",
    send: (fx) => testAuth(H.auth(`Bearer ${fx.key.api_key.slice(0, 20)}\t${fx.key.api_key.slice(20)}`)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
];

const injection: Case[] = [
  {
    name: "GET /v1/test-auth, Bearer km_live_ + SQL → 401",
    send: testAuth(H.bearer("km_live_'OR'1'='1'--")),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth, Bearer with traversal → 401",
    send: testAuth(H.bearer(TRAVERSAL)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
];

const headerOddities: Case[] = [
  // RFC 6750 challenge on every refusal.
  ...(
    [
      ["no Authorization", () => []],
      ["an empty Authorization", () => [H.auth("")]],
      ["Bearer without a token", () => [H.auth("Bearer")]],
      ["Bearer followed by spaces only", () => [H.auth("Bearer    ")]],
      ["Basic with the API key", (fx) => [H.rawBasic(`${fx.key.api_key}:`)]],
      ["Bearer with the API key and a trailing word", (fx) => [H.auth(`Bearer ${fx.key.api_key} x`)]],
      ["Bearer with a client secret", (fx) => [H.bearer(fx.client.client_secret)]],
      ["Bearer with a client_id", (fx) => [H.bearer(fx.client.client_id)]],
      ["Bearer with the admin token", () => [H.admin]],
      ["Bearer with 5000 characters", () => [H.bearer("k".repeat(5000))]],
      ["Bearer with the API key's checksum changed", (fx) => [H.bearer(`${fx.key.api_key.slice(0, -1)}${fx.key.api_key.endsWith("0") ? "1" : "0"}`)]],
      ["the API key as a cookie", (fx) => [["cookie", `api_key=${fx.key.api_key}`]]],
      ["the API key, then the admin token (repeated header)", (fx) => [H.bearer(fx.key.api_key), H.admin]],
    ] satisfies [string, (fx: Fixtures) => Header[]][]
  ).map(
    ([label, headers]): Case => ({
      name: `GET /v1/test-auth, ${label} → 401 invalid_token`,
      send: (fx) => testAuth(...headers(fx)),
      status: 401,
      error: "invalid_token",
      challenge: "Bearer",
    }),
  ),
  {
    name: "GET /v1/test-auth, Authorization repeated (the API key twice) → 401 invalid_token",
    send: (fx) => testAuth(H.bearer(fx.key.api_key), H.bearer(fx.key.api_key)),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth?api_key=… (query, not header) → 401, key not echoed",
    send: (fx) => ({ path: `/v1/test-auth?api_key=${fx.key.api_key}&access_token=${fx.key.api_key}` }),
    status: 401,
    error: "invalid_token",
    challenge: "Bearer",
  },
  {
    name: "GET /v1/test-auth, BEARER (scheme in capitals) with the API key → 200",
    send: (fx) => testAuth(H.auth(`BEARER ${fx.key.api_key}`)),
    status: 200,
    changes: true,
    check: (_, text, fx) => expect(JSON.parse(text)).toMatchObject({ ok: true, credential_id: fx.key.id }),
  },
];

const forged: Case[] = [
  {
    name: `GET /v1/test-auth, ${CONTROL} → 200`,
    send: async (fx) => testAuth(H.bearer(await signedByUs(fx, {}))),
    status: 200,
  },
  {
    name: `GET /v1/test-auth, ${CONTROL}, signed by WebCrypto as the crit case is → 200`,
    send: async (fx) => testAuth(H.bearer(await rawSigned(fx, {}, {}))),
    status: 200,
  },
  ...Object.entries(FORGERIES).map(
    ([label, forge]): Case => ({
      name: `GET /v1/test-auth, forged: ${label} → 401 invalid_token`,
      send: async (fx) => testAuth(H.bearer(await forge(fx, {}))),
      status: 401,
      error: "invalid_token",
      challenge: "Bearer",
    }),
  ),
];

describeHostileInput("test-auth", [
  ["wrong methods", wrongMethods],
  ["truncated and oversized bodies", sizes],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
  ["Authorization header oddities", headerOddities],
  ["forged access tokens", forged],
]);
