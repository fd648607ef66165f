import { describe, expect, it } from "vitest";
import { call, createAccount, createCredential, expectError, json, sha256Hex, snapshot } from "../support/http";

/** Errors: the {error, error_description} shape everywhere, 404 vs 405, no 5xx and no secret in any error. */

const STATUS_OF: Record<string, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
};

/** The body is exactly {error, error_description}, JSON, with the status its code belongs to. */
async function expectErrorShape(response: Response, code: string) {
  expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
  const text = await response.text();
  const body = JSON.parse(text);
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  expect(body.error).toBe(code);
  expect(response.status).toBe(STATUS_OF[code]);
  expect(typeof body.error_description).toBe("string");
  expect(body.error_description.trim().length).toBeGreaterThan(0);
  return { body, text };
}

const someCredential = "cred_0000000000000000000000";

describe("unknown routes", () => {
  const unknown: [string, string, string | null][] = [
    ["GET", "/nope", null],
    ["POST", "/nope", null],
    ["GET", "/admin/v2/accounts", null],
    ["GET", "/admin/v1/nope", "admin"],
    ["GET", "/admin/v1/accounts/x/y/z", "admin"],
    ["POST", "/admin/v1/credentials/x/rotate", "admin"],
    ["GET", "/admin/v1/audit-events/evt_0000000000000000", "admin"],
    ["GET", "/ADMIN/V1/ACCOUNTS", null],
  ];
  for (const [method, path, auth] of unknown) {
    it(`${method} ${path} answers 404 not_found in the error shape`, async () => {
      const response = await call(path, { method, ...(auth ? {} : { token: null }) });
      await expectErrorShape(response, "not_found");
    });
  }
});

describe("known path, wrong method: 405 method_not_allowed with Allow", () => {
  const cases: [string, string, string[]][] = [
    ["PUT", "/admin/v1/accounts", ["GET", "POST"]],
    ["DELETE", "/admin/v1/accounts", ["GET", "POST"]],
    ["PUT", "/admin/v1/accounts/acct_0000000000000000000000", ["GET", "PATCH", "DELETE"]],
    ["POST", "/admin/v1/accounts/acct_0000000000000000000000", ["GET", "PATCH", "DELETE"]],
    ["GET", "/admin/v1/accounts/acct_0000000000000000000000/deactivate", ["POST"]],
    ["DELETE", "/admin/v1/accounts/acct_0000000000000000000000/activate", ["POST"]],
    ["PUT", "/admin/v1/credentials", ["GET", "POST"]],
    ["PUT", `/admin/v1/credentials/${someCredential}`, ["GET", "PATCH", "DELETE"]],
    ["POST", `/admin/v1/credentials/${someCredential}`, ["GET", "PATCH", "DELETE"]],
    ["GET", `/admin/v1/credentials/${someCredential}/roll`, ["POST"]],
    ["POST", "/admin/v1/audit-events", ["GET"]],
  ];
  for (const [method, path, allowed] of cases) {
    it(`${method} ${path} → 405, Allow lists ${allowed.join(", ")} and not ${method}, nothing changes`, async () => {
      const before = await snapshot();
      const response = await call(path, { method, body: method === "GET" || method === "DELETE" ? undefined : { name: "x", type: "service" } });
      await expectErrorShape(response, "method_not_allowed");
      const allow = (response.headers.get("allow") ?? "").split(",").map((m) => m.trim()).filter(Boolean);
      for (const m of allowed) expect(allow).toContain(m);
      expect(allow).not.toContain(method);
      expect(await snapshot()).toBe(before);
    });
  }

  it("PUT /admin/v1/accounts: every method in Allow is really served there", async () => {
    const response = await call("/admin/v1/accounts", { method: "PUT", body: { name: "x", type: "service" } });
    expect(response.status).toBe(405);
    const allow = (response.headers.get("allow") ?? "").split(",").map((m) => m.trim());
    for (const method of allow) {
      const served = await call("/admin/v1/accounts", { method, body: method === "POST" ? { name: "allowed", type: "service" } : undefined });
      expect(served.status, method).not.toBe(405);
      expect(served.status, method).toBeLessThan(300);
    }
  });

  it("still asks for credentials first: 401 without a token", async () => {
    await expectErrorShape(await call("/admin/v1/accounts", { method: "PUT", token: null }), "unauthorized");
  });
});

describe("every error body is exactly {error, error_description}", () => {
  const big = JSON.stringify({ name: "x".repeat(70 * 1024), type: "service" });
  const cases: [string, () => Promise<Response>, string][] = [
    ["validation failure", () => call("/admin/v1/accounts", { method: "POST", body: { name: "", type: "service" } }), "invalid_request"],
    ["unknown field", () => call("/admin/v1/accounts", { method: "POST", body: { name: "x", type: "service", extra: 1 } }), "invalid_request"],
    [
      "broken JSON",
      () => call("/admin/v1/accounts", { method: "POST", body: '{"name": "x", "type": ', headers: { "content-type": "application/json" } }),
      "invalid_request",
    ],
    ["bad limit", () => call("/admin/v1/accounts?limit=0"), "invalid_request"],
    ["bad cursor", () => call("/admin/v1/credentials?cursor=zzz"), "invalid_request"],
    ["no credentials", () => call("/admin/v1/accounts", { token: null }), "unauthorized"],
    ["wrong admin token", () => call("/admin/v1/accounts", { token: "wrong-token-0123456789abcdefghijklmnop" }), "unauthorized"],
    ["unknown account", () => call("/admin/v1/accounts/acct_0000000000000000000000"), "not_found"],
    ["unknown credential", () => call(`/admin/v1/credentials/${someCredential}`, { method: "DELETE" }), "not_found"],
    ["unknown route", () => call("/admin/v1/unknown"), "not_found"],
    ["wrong method", () => call("/admin/v1/audit-events", { method: "DELETE" }), "method_not_allowed"],
    ["body over 64 KiB", () => call("/admin/v1/accounts", { method: "POST", body: big, headers: { "content-type": "application/json" } }), "payload_too_large"],
    [
      "form body",
      () => call("/admin/v1/accounts", { method: "POST", body: "name=x&type=service", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      "unsupported_media_type",
    ],
  ];
  for (const [label, send, code] of cases) {
    it(`${label}: ${STATUS_OF[code]} ${code}`, async () => {
      await expectErrorShape(await send(), code);
    });
  }
});

describe("bad input never yields a 5xx", () => {
  const deep = `{"name": ${"[".repeat(20_000)}${"]".repeat(20_000)}, "type": "service"}`;
  const cases: [string, () => Promise<Response>][] = [
    ["a 5000-character id", () => call(`/admin/v1/accounts/${"a".repeat(5000)}`)],
    ["an id with invalid percent-encoding", () => call("/admin/v1/credentials/%E0%A4%A")],
    ["an id that is percent-encoded invalid UTF-8", () => call("/admin/v1/accounts/%ED%A0%80")],
    ["an id with an encoded slash", () => call("/admin/v1/accounts/acct%2F..%2Fx")],
    ["an id that looks like SQL", () => call(`/admin/v1/accounts/${encodeURIComponent("' OR 1=1 --")}`, { method: "DELETE" })],
    ["an id with NUL", () => call("/admin/v1/credentials/cred%00x", { method: "PATCH", body: { name: "x" } })],
    ["deeply nested JSON", () => call("/admin/v1/accounts", { method: "POST", body: deep, headers: { "content-type": "application/json" } })],
    ["a name with a lone surrogate", () => call("/admin/v1/accounts", { method: "POST", body: { name: "\udfff", type: "user" } })],
    ["a 10000-character account_id", () => call("/admin/v1/credentials", { method: "POST", body: { name: "x", type: "api_key", account_id: "a".repeat(10_000) } })],
    ["a 10000-character target_id", () => call(`/admin/v1/audit-events?target_id=${"t".repeat(10_000)}`)],
    ["a 10000-character filter account_id", () => call(`/admin/v1/credentials?account_id=${"a".repeat(10_000)}`)],
    ["a huge number", () => call("/admin/v1/credentials/cred_x/roll", { method: "POST", body: '{"expires_in": 1e400}', headers: { "content-type": "application/json" } })],
    ["a JSON body with a byte-order mark", () => call("/admin/v1/accounts", { method: "POST", body: '\uFEFF{"name":"x","type":"user"}', headers: { "content-type": "application/json" } })],
    ["JSON with a bad charset", () => call("/admin/v1/accounts", { method: "POST", body: { name: "x", type: "user" }, headers: { "content-type": "application/json; charset=ebcdic" } })],
    ["many query parameters", () => call(`/admin/v1/accounts?${Array.from({ length: 200 }, (_, i) => `p${i}=${i}`).join("&")}`)],
    ["an Authorization header of 10000 characters", () => call("/admin/v1/accounts", { token: "t".repeat(10_000) })],
  ];
  for (const [label, send] of cases) {
    it(`${label}: a 4xx in the error shape, or success, never 5xx; nothing half-written`, async () => {
      const before = await snapshot();
      const response = await send();
      expect(response.status).toBeLessThan(500);
      if (response.status >= 400) {
        const body = await json(response);
        expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
        expect(await snapshot()).toBe(before);
      }
    });
  }
});

describe("no error echoes a secret", () => {
  it("a secret sent in any field, path, query or header is not in the error", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    for (const secret of [client.client_secret as string, key.api_key as string]) {
      const digest = await sha256Hex(secret);
      const sends: [string, () => Promise<Response>][] = [
        ["name with a control character", () => call("/admin/v1/accounts", { method: "POST", body: { name: `${secret}\n.`, type: "service" } })],
        ["name too long", () => call("/admin/v1/accounts", { method: "POST", body: { name: secret.repeat(3), type: "service" } })],
        ["type", () => call("/admin/v1/accounts", { method: "POST", body: { name: "x", type: secret } })],
        ["unknown field name", () => call("/admin/v1/accounts", { method: "POST", body: { name: "x", type: "service", [secret]: 1 } })],
        ["unknown field value", () => call("/admin/v1/accounts", { method: "POST", body: { name: "x", type: "service", password: secret } })],
        ["account_id", () => call("/admin/v1/credentials", { method: "POST", body: { name: "x", type: "api_key", account_id: secret } })],
        ["scope", () => call("/admin/v1/credentials", { method: "POST", body: { name: "x", type: "api_key", account_id: account.id, scopes: [`${secret} x`] } })],
        ["expires_in", () => call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: secret } })],
        ["path id", () => call(`/admin/v1/credentials/${secret}`)],
        ["path id on delete", () => call(`/admin/v1/credentials/${secret}`, { method: "DELETE" })],
        ["path id on patch", () => call(`/admin/v1/accounts/${secret}`, { method: "PATCH", body: { name: "x" } })],
        ["cursor", () => call(`/admin/v1/credentials?cursor=${secret}`)],
        ["limit", () => call(`/admin/v1/accounts?limit=${secret}`)],
        ["credential type filter", () => call(`/admin/v1/credentials?type=${secret}`)],
        ["query parameter name", () => call(`/admin/v1/accounts?${secret}=1`)],
        ["bearer token", () => call("/admin/v1/accounts", { token: secret })],
        ["basic credentials", () => call("/admin/v1/accounts", { token: null, headers: { authorization: `Basic ${btoa(`${client.client_id}:${secret}`)}` } })],
        ["broken JSON around it", () => call("/admin/v1/accounts", { method: "POST", body: `{"name": "${secret}`, headers: { "content-type": "application/json" } })],
      ];
      for (const [label, send] of sends) {
        const response = await send();
        expect(response.status, label).toBeGreaterThanOrEqual(400);
        expect(response.status, label).toBeLessThan(500);
        const text = await response.text();
        const headers = JSON.stringify([...response.headers]);
        for (const leaked of [secret, digest, secret.slice(-20)]) {
          expect(text, label).not.toContain(leaked);
          expect(headers, label).not.toContain(leaked);
        }
        expect(Object.keys(JSON.parse(text)).sort(), label).toEqual(["error", "error_description"]);
      }
    }
  });

  it("a rejected request with a secret-looking name stores nothing", async () => {
    const before = await snapshot();
    await expectError(await call("/admin/v1/accounts", { method: "POST", body: { name: "km_live_\u202E", type: "service" } }), 400, "invalid_request");
    expect(await snapshot()).toBe(before);
  });
});

describe("404 versus 405 on paths with dots", () => {
  it("a path that only resembles a dotted route is 404, the route itself with a wrong method is 405", async () => {
    await expectError(await call("/openapi1json", { method: "POST", token: null }), 404, "not_found");
    await expectError(await call("/.well-knownXjwks.json", { token: null }), 404, "not_found");
    const wrong = await call("/.well-known/jwks.json", { method: "POST", token: null });
    expect(wrong.headers.get("allow")).toBe("GET, HEAD");
    await expectError(wrong, 405, "method_not_allowed");
  });
});
