import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { ADMIN_TOKEN } from "../../support/http";
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
  enc,
  type Fixtures,
  H,
  type Header,
  hostileIds,
  KIB,
  SQL_DROP,
  SQL_OR,
  TRAVERSAL,
  utf16,
  utf8,
} from "./runner";

/** Hostile input to /admin/v1/accounts and /admin/v1/accounts/{id}[/deactivate|/activate]. */

const wrongMethods: Case[] = adminWrongMethods([
  ["PUT", "/admin/v1/accounts", ["GET", "HEAD", "POST"]],
  ["DELETE", "/admin/v1/accounts", ["GET", "HEAD", "POST"]],
  ["PUT", `/admin/v1/accounts/${ACCT}`, ["DELETE", "GET", "HEAD", "PATCH"]],
  ["POST", `/admin/v1/accounts/${ACCT}`, ["DELETE", "GET", "HEAD", "PATCH"]],
  ["GET", `/admin/v1/accounts/${ACCT}/deactivate`, ["POST"]],
  ["PUT", `/admin/v1/accounts/${ACCT}/activate`, ["POST"]],
]);

const accountBody = JSON.stringify({ name: "content type test", type: "service" });
const contentTypes: Case[] = [
  ...adminUnsupportedTypes([
    ["text/plain", "POST", "/admin/v1/accounts", accountBody],
    ["application/x-www-form-urlencoded", "POST", "/admin/v1/accounts", "name=x&type=service"],
    ["multipart/form-data; boundary=x", "POST", "/admin/v1/accounts", `--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--x--\r\n`],
    ["application/jsonx", "POST", "/admin/v1/accounts", accountBody],
    ["application/json-patch+json", "POST", "/admin/v1/accounts", accountBody],
    ["text/json", "POST", "/admin/v1/accounts", accountBody],
    ["application/xml", "POST", "/admin/v1/accounts", "<account><name>x</name></account>"],
    ["json", "POST", "/admin/v1/accounts", accountBody],
    ["text/plain", "POST", `/admin/v1/accounts/${ACCT}/deactivate`, "please"],
  ]),
  {
    name: "POST /admin/v1/accounts with a body and no Content-Type → 415",
    send: adminRaw("POST", "/admin/v1/accounts", [], utf8(accountBody)),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "POST /admin/v1/accounts with Content-Type: application/json twice → 415",
    send: adminRaw("POST", "/admin/v1/accounts", [H.json, H.json], accountBody),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "POST /admin/v1/accounts as UTF-16 JSON → 400",
    send: adminRaw("POST", "/admin/v1/accounts", [H.type("application/json; charset=utf-16le")], utf16(accountBody)),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts with invalid UTF-8 bytes in the name → 400, not U+FFFD stored",
    send: adminRaw("POST", "/admin/v1/accounts", [H.json], bytes('{"name":"a', [0xff, 0xfe], '","type":"service"}')),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts with a UTF-8 encoded surrogate (CESU) → 400",
    send: adminRaw("POST", "/admin/v1/accounts", [H.json], bytes('{"name":"', [0xed, 0xa0, 0x80], '","type":"user"}')),
    status: 400,
    error: "invalid_request",
  },
  ...(
    [
      ["truncated JSON", '{"name": "trunc", "ty'],
      ["JSON null", "null"],
      ["a JSON array", '[{"name":"x","type":"service"}]'],
      ["a JSON string", '"name=x"'],
      ["trailing garbage", `${accountBody}xyz`],
      ["an empty body", ""],
      ["__proto__ smuggled in", '{"name":"x","type":"service","__proto__":{"admin":true}}'],
      ["constructor smuggled in", '{"name":"x","type":"service","constructor":{"prototype":{"admin":true}}}'],
      ["a lone surrogate escape in the name", '{"name":"\\ud800","type":"service"}'],
      ["NaN", '{"name":NaN,"type":"service"}'],
      ["single quotes", "{'name':'x','type':'service'}"],
    ] as const
  ).map(([label, body]): Case => ({
    name: `POST /admin/v1/accounts with ${label} → 400`,
    send: adminJson("POST", "/admin/v1/accounts", body),
    status: 400,
    error: "invalid_request",
  })),
];

const sizes: Case[] = [
  {
    name: "POST /admin/v1/accounts, 64 KiB + 1 → 413",
    send: adminJson("POST", "/admin/v1/accounts", "x".repeat(64 * KIB + 1)),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /admin/v1/accounts, exactly 64 KiB (not JSON) → 400, the limit is not off by one",
    send: adminJson("POST", "/admin/v1/accounts", "x".repeat(64 * KIB)),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, 70 KiB without credentials → 413 before anything is read",
    send: { method: "POST", path: "/admin/v1/accounts", headers: [H.json], body: JSON.stringify({ name: "x".repeat(70 * KIB), type: "service" }) },
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /admin/v1/accounts, 70 KiB streamed without Content-Length → 413",
    send: () => {
      const chunk = utf8("x".repeat(KIB));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 70) controller.enqueue(chunk);
          else controller.close();
        },
      });
      return adminRaw("POST", "/admin/v1/accounts", [H.json], stream);
    },
    status: 413,
    error: "payload_too_large",
  },
];

const duplicates: Case[] = [
  ...adminRefusedQueries([
    "/admin/v1/accounts?limit=1&limit=2",
    "/admin/v1/accounts?limit=5&limit=5",
    "/admin/v1/accounts?LIMIT=1",
    "/admin/v1/accounts?limit[]=1",
    `/admin/v1/accounts/${ACCT}?expand=credentials`,
  ]),
  {
    name: "DELETE a real account with ?cascade=true&cascade=false → 400 and it still exists",
    send: (fx) => adminCall("DELETE", `/admin/v1/accounts/${fx.victimAccount.id}?cascade=true&cascade=false`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "deactivate a real account with ?dry_run=1 → 400 and it stays active",
    send: (fx) => adminCall("POST", `/admin/v1/accounts/${fx.victimAccount.id}/deactivate?dry_run=1`),
    status: 400,
    error: "invalid_request",
  },
];

const controls: Case[] = [
  ...badNames.map(
    ([label, name]): Case => ({
      name: `POST /admin/v1/accounts, name with ${label} → 400`,
      send: adminJson("POST", "/admin/v1/accounts", { name, type: "service" }),
      status: 400,
      error: "invalid_request",
    }),
  ),
  {
    name: "POST /admin/v1/accounts, the real API key + NUL as the name → 400, key not echoed",
    send: (fx) => adminJson("POST", "/admin/v1/accounts", { name: `${fx.key.api_key}\u0000`, type: "service" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, type with a NUL → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "x", type: "service\u0000" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, an empty name → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "", type: "service" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts, 101 code points → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "😀".repeat(101), type: "service" }),
    status: 400,
    error: "invalid_request",
  },
  { name: "GET /admin/v1/accounts?limit=1%00 → 400", send: adminGet("/admin/v1/accounts?limit=1%00"), status: 400, error: "invalid_request" },
  { name: "GET /admin/v1/accounts?cursor=%00 → 400", send: adminGet("/admin/v1/accounts?cursor=%00"), status: 400, error: "invalid_request" },
  { name: "GET /admin/v1/accounts?limit=%E2%80%AE5 → 400", send: adminGet("/admin/v1/accounts?limit=%E2%80%AE5"), status: 400, error: "invalid_request" },
  { name: "GET /admin/v1/accounts/%00 → 404", send: adminGet("/admin/v1/accounts/%00"), status: 404, error: "not_found" },
  { name: "DELETE /admin/v1/accounts/acct%00 → 404", send: adminCall("DELETE", "/admin/v1/accounts/acct%00"), status: 404, error: "not_found" },
];

const injection: Case[] = [
  ...hostileIds.map(([label, id]): Case => ({ name: `GET /admin/v1/accounts/{${label}} → 404`, send: adminGet(`/admin/v1/accounts/${id}`), status: 404, error: "not_found" })),
  ...(
    [
      ["DELETE", `/admin/v1/accounts/${enc(SQL_OR)}`],
      ["POST", `/admin/v1/accounts/${enc(SQL_OR)}/deactivate`],
      ["POST", `/admin/v1/accounts/${enc(TRAVERSAL)}/activate`],
    ] as const
  ).map(([method, path]): Case => ({ name: `${method} ${path} → 404`, send: adminCall(method, path), status: 404, error: "not_found" })),
  ...adminListQueries([
    [`/admin/v1/accounts?cursor=${enc(SQL_OR)}`, 400],
    [`/admin/v1/accounts?limit=${enc("1 OR 1=1")}`, 400],
    [`/admin/v1/accounts?limit=0`, 400],
    [`/admin/v1/accounts?limit=101`, 400],
    [`/admin/v1/accounts?limit=-1`, 400],
    [`/admin/v1/accounts?limit=1e2`, 400],
    [`/admin/v1/accounts?${enc(SQL_DROP)}=1`, 400],
  ]),
  // Accepted, stored literally, and every table is still there afterwards.
  {
    name: "POST /admin/v1/accounts named with SQL DROP → 201, stored as text",
    send: adminJson("POST", "/admin/v1/accounts", { name: SQL_DROP, type: "user" }),
    status: 201,
    changes: true,
    check: async (_, text) => {
      const account = JSON.parse(text);
      expect(account.name).toBe(SQL_DROP);
      const row = await env.DB.prepare("SELECT name FROM accounts WHERE id = ?").bind(account.id).first<{ name: string }>();
      expect(row?.name).toBe(SQL_DROP);
      expect((await env.DB.prepare("SELECT count(*) AS n FROM credentials").first<{ n: number }>())!.n).toBeGreaterThan(0);
    },
  },
  {
    name: "POST /admin/v1/accounts, 100 astral code points and a BOM → 201",
    send: adminJson("POST", "/admin/v1/accounts", `\uFEFF${JSON.stringify({ name: "😀".repeat(100), type: "service" })}`),
    status: 201,
    changes: true,
    check: (_, text) => expect(JSON.parse(text).name).toBe("😀".repeat(100)),
  },
];

const headerOddities: Case[] = (
  [
    ["an empty Authorization", () => [H.auth("")]],
    ["Bearer without a token", () => [H.auth("Bearer")]],
    ["the admin token twice (repeated header)", () => [H.admin, H.admin]],
    ["Bearer with the admin token, then Basic (repeated header)", () => [H.admin, H.rawBasic("a:b")]],
    ["Basic with the admin token as password", () => [H.rawBasic(`admin:${ADMIN_TOKEN}`)]],
    ["Bearer with the API key", (fx) => [H.bearer(fx.key.api_key)]],
    ["Bearer with a client secret", (fx) => [H.bearer(fx.client.client_secret)]],
    ["Bearer with the admin token plus one character", () => [H.bearer(`${ADMIN_TOKEN}x`)]],
    ["Bearer with the admin token less one character", () => [H.bearer(ADMIN_TOKEN.slice(0, -1))]],
    ["the admin token as a cookie", () => [["cookie", `km_session=${ADMIN_TOKEN}`]]],
    ["a garbage Cf-Access-Jwt-Assertion (Access off)", () => [["cf-access-jwt-assertion", "a.b.c"]]],
  ] satisfies [string, (fx: Fixtures) => Header[]][]
).map(
  ([label, headers]): Case => ({
    name: `POST /admin/v1/accounts, ${label} → 401 unauthorized`,
    send: (fx) => ({ method: "POST", path: "/admin/v1/accounts", headers: [...headers(fx), H.json], body: accountBody }),
    status: 401,
    error: "unauthorized",
  }),
);

describeHostileInput("admin accounts", [
  ["wrong methods", wrongMethods],
  ["content types and encodings", contentTypes],
  ["truncated and oversized bodies", sizes],
  ["repeated parameters", duplicates],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
  ["Authorization header oddities", headerOddities],
]);
