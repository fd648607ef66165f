import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  auditEventsFor,
  call,
  createAccount,
  createCredential,
  expectActions,
  expectError,
  expectRejected,
  json,
  snapshot,
  uniqueName,
} from "../support/http";

/** Management API, accounts: every route's success path, its validation and its 404s. */

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const ACCOUNT_KEYS = ["created_at", "id", "metadata", "name", "organization_id", "status", "type"];
const UNKNOWN_ACCOUNT = "acct_0000000000000000000000";

function expectAccount(account: any, expected: { name: string; type: string; status: string }) {
  expect(Object.keys(account).sort()).toEqual(ACCOUNT_KEYS);
  expect(account).toMatchObject(expected);
  expect(typeof account.id).toBe("string");
  expect(account.id.length).toBeGreaterThan(0);
  expect(account.created_at).toMatch(RFC3339_UTC);
  expect(Math.abs(Date.parse(account.created_at) - Date.now())).toBeLessThan(60_000);
}

function post(path: string, body?: unknown, headers: Record<string, string> = {}) {
  return call(path, { method: "POST", body, headers });
}

async function storedAccount(id: string) {
  return env.DB.prepare("SELECT * FROM accounts WHERE id = ?").bind(id).first<Record<string, unknown>>();
}

describe("POST /admin/v1/accounts", () => {
  for (const type of ["service", "user"] as const) {
    it(`creates a ${type} account: 201, the account, stored, audited`, async () => {
      const name = uniqueName(`${type} account`);
      const response = await post("/admin/v1/accounts", { name, type });
      expect(response.status).toBe(201);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const account = await json(response);
      expectAccount(account, { name, type, status: "active" });

      expect(await storedAccount(account.id)).toMatchObject({ id: account.id, name, type, status: "active", created_at: account.created_at });
      expectActions(await auditEventsFor(account.id), ["account.create"]);
    });
  }

  it("gives every account its own id", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10; i++) ids.add((await createAccount()).id);
    expect(ids.size).toBe(10);
  });

  const accepted: [string, string][] = [
    ["100 ASCII characters", "a".repeat(100)],
    ["100 emoji (100 code points, 200 UTF-16 units)", "😀".repeat(100)],
    ["99 ASCII characters and an emoji (101 UTF-16 units)", `${"a".repeat(99)}🦊`],
    ["a single character", "x"],
    ["other scripts and combining marks", "Zahlungsdienst für Käufe, 請求, e\u0301te"],
  ];
  for (const [label, name] of accepted) {
    it(`accepts a name of ${label} and keeps it exactly`, async () => {
      const response = await post("/admin/v1/accounts", { name, type: "service" });
      expect(response.status).toBe(201);
      const account = await json(response);
      expect(account.name).toBe(name);
      expect((await storedAccount(account.id))!.name).toBe(name);
      expect((await json(await call(`/admin/v1/accounts/${account.id}`))).name).toBe(name);
    });
  }

  it("trims the name: stored and answered without the white space around it", async () => {
    const name = uniqueName("trimmed");
    const response = await post("/admin/v1/accounts", { name: ` \t${name}\u3000 `, type: "service" });
    expect(response.status).toBe(201);
    const account = await json(response);
    expect(account.name).toBe(name);
    expect((await storedAccount(account.id))!.name).toBe(name);
  });

  it("counts the 100 characters after trimming", async () => {
    const name = "a".repeat(100);
    const response = await post("/admin/v1/accounts", { name: `  ${name}  `, type: "service" });
    expect(response.status).toBe(201);
    expect((await json(response)).name).toBe(name);
  });

  const rejected: [string, unknown][] = [
    ["a type that is neither service nor user", { name: "x", type: "admin" }],
    ["a type in another case", { name: "x", type: "Service" }],
    ["a null type", { name: "x", type: null }],
    ["a missing type", { name: "x" }],
    ["a missing name", { type: "service" }],
    ["an empty object", {}],
    ["an empty name", { name: "", type: "service" }],
    ["a blank name (spaces)", { name: "   ", type: "service" }],
    ["a blank name (no-break and ideographic spaces)", { name: "\u00A0\u3000\u2003", type: "service" }],
    ["a name of 101 characters inside spaces", { name: ` ${"a".repeat(101)} `, type: "service" }],
    ["a name of 101 characters", { name: "a".repeat(101), type: "service" }],
    ["a name of 101 emoji code points", { name: "😀".repeat(101), type: "service" }],
    ["a name that is a number", { name: 42, type: "service" }],
    ["a null name", { name: null, type: "service" }],
    ["a name with NUL", { name: "a\u0000b", type: "service" }],
    ["a name with a newline", { name: "a\nb", type: "service" }],
    ["a name with a tab", { name: "a\tb", type: "service" }],
    ["a name with DEL", { name: "a\u007fb", type: "service" }],
    ["a name with a C1 control (NEL)", { name: "a\u0085b", type: "service" }],
    ["a name with the RTL override U+202E", { name: "invoice\u202Egpj.exe", type: "service" }],
    ["a name with a bidi isolate U+2067", { name: "a\u2067b", type: "service" }],
    ["a name with a lone surrogate", { name: "a\ud800b", type: "service" }],
    ["an unknown field", { name: "x", type: "service", status: "deactivated" }],
    ["an id chosen by the client", { name: "x", type: "service", id: "acct_chosenbytheclient0000" }],
    ["an array where the object belongs", [{ name: "x", type: "service" }]],
  ];
  for (const [label, body] of rejected) {
    it(`rejects ${label}: 400 invalid_request, nothing stored`, async () => {
      await expectRejected(() => post("/admin/v1/accounts", body), 400, "invalid_request");
    });
  }

  const rawRejected: [string, string][] = [
    ["a JSON string where the object belongs", '"name=x&type=service"'],
    ["a JSON null body", "null"],
    ["a JSON number body", "42"],
    ["a JSON true body", "true"],
    ["a __proto__ field", '{"name":"x","type":"service","__proto__":{"status":"deactivated"}}'],
    ["an empty body", ""],
  ];
  for (const [label, body] of rawRejected) {
    it(`rejects ${label}: 400 invalid_request, nothing stored`, async () => {
      await expectRejected(
        () => post("/admin/v1/accounts", body, { "content-type": "application/json" }),
        400,
        "invalid_request",
      );
    });
  }

  it("rejects a query parameter on create", async () => {
    await expectRejected(() => post("/admin/v1/accounts?type=user", { name: "x", type: "service" }), 400, "invalid_request");
  });
});

describe("GET /admin/v1/accounts/{id}", () => {
  it("returns the account exactly as created", async () => {
    const created = await createAccount("user");
    const response = await call(`/admin/v1/accounts/${created.id}`);
    expect(response.status).toBe(200);
    const account = await json(response);
    expectAccount(account, { name: created.name, type: "user", status: "active" });
    expect(account).toEqual(created);
  });

  it("answers 404 not_found to an unknown id", async () => {
    await expectError(await call(`/admin/v1/accounts/${UNKNOWN_ACCOUNT}`), 404, "not_found");
  });

  it("answers 404 to an id in another case and to a credential's id", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    const swapped = account.id.slice(0, 5) + [...account.id.slice(5)].map((ch: string) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase())).join("");
    if (swapped !== account.id) await expectError(await call(`/admin/v1/accounts/${swapped}`), 404, "not_found");
    await expectError(await call(`/admin/v1/accounts/${credential.id}`), 404, "not_found");
  });

  it("does not write anything", async () => {
    const account = await createAccount();
    const before = await snapshot();
    expect((await call(`/admin/v1/accounts/${account.id}`)).status).toBe(200);
    expect(await snapshot()).toBe(before);
  });
});

describe("GET /admin/v1/accounts", () => {
  it("lists accounts as {data, next_cursor}, each in the account shape", async () => {
    const created = await createAccount();
    const response = await call("/admin/v1/accounts?limit=100");
    expect(response.status).toBe(200);
    const page = await json(response);
    expect(Object.keys(page).sort()).toEqual(["data", "next_cursor"]);
    expect(Array.isArray(page.data)).toBe(true);
    for (const account of page.data) expect(Object.keys(account).sort()).toEqual(ACCOUNT_KEYS);
    expect(page.data.find((account: any) => account.id === created.id)).toEqual(created);
  });
});

describe("POST /admin/v1/accounts/{id}/deactivate and /activate", () => {
  it("deactivates: 200, status deactivated, nothing else changes, one audit event", async () => {
    const account = await createAccount();
    const response = await post(`/admin/v1/accounts/${account.id}/deactivate`);
    expect(response.status).toBe(200);
    const body = await json(response);
    expectAccount(body, { name: account.name, type: account.type, status: "deactivated" });
    expect(body).toEqual({ ...account, status: "deactivated" });
    expect(await json(await call(`/admin/v1/accounts/${account.id}`))).toEqual(body);
    expect((await storedAccount(account.id))!.status).toBe("deactivated");
    expectActions(await auditEventsFor(account.id), ["account.deactivate", "account.create"]);
  });

  it("deactivating a deactivated account answers 200, unchanged, with no new audit event", async () => {
    const account = await createAccount();
    const first = await json(await post(`/admin/v1/accounts/${account.id}/deactivate`));
    const before = await snapshot();
    const response = await post(`/admin/v1/accounts/${account.id}/deactivate`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(first);
    expect(await snapshot()).toBe(before);
    expectActions(await auditEventsFor(account.id), ["account.deactivate", "account.create"]);
  });

  it("activates a deactivated account: 200, status active, one audit event", async () => {
    const account = await createAccount();
    await post(`/admin/v1/accounts/${account.id}/deactivate`);
    const response = await post(`/admin/v1/accounts/${account.id}/activate`);
    expect(response.status).toBe(200);
    const body = await json(response);
    expectAccount(body, { name: account.name, type: account.type, status: "active" });
    expect(body).toEqual(account);
    expect(await json(await call(`/admin/v1/accounts/${account.id}`))).toEqual(account);
    expect((await storedAccount(account.id))!.status).toBe("active");
    expectActions(await auditEventsFor(account.id), [
      "account.activate",
      "account.deactivate",
      "account.create",
    ]);
  });

  it("activating an active account answers 200, unchanged, with no new audit event", async () => {
    const account = await createAccount();
    const before = await snapshot();
    const response = await post(`/admin/v1/accounts/${account.id}/activate`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(account);
    expect(await snapshot()).toBe(before);
    expectActions(await auditEventsFor(account.id), ["account.create"]);
  });

  it("activating twice after a deactivation records one activation", async () => {
    const account = await createAccount();
    await post(`/admin/v1/accounts/${account.id}/deactivate`);
    expect((await post(`/admin/v1/accounts/${account.id}/activate`)).status).toBe(200);
    expect((await post(`/admin/v1/accounts/${account.id}/activate`)).status).toBe(200);
    const actions = (await auditEventsFor(account.id)).map((event) => event.action);
    expect(actions.filter((action) => action === "account.activate")).toHaveLength(1);
  });

  it("keeps the account's credentials while deactivated", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    await post(`/admin/v1/accounts/${account.id}/deactivate`);
    expect((await call(`/admin/v1/credentials/${credential.id}`)).status).toBe(200);
  });

  for (const action of ["deactivate", "activate"]) {
    it(`${action} of an unknown id answers 404 not_found and changes nothing`, async () => {
      await expectRejected(() => post(`/admin/v1/accounts/${UNKNOWN_ACCOUNT}/${action}`), 404, "not_found");
    });
  }
});

describe("DELETE /admin/v1/accounts/{id}", () => {
  it("deletes an account without credentials: 204 with no body, then 404 everywhere", async () => {
    const account = await createAccount();
    const response = await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(await storedAccount(account.id)).toBeNull();

    await expectError(await call(`/admin/v1/accounts/${account.id}`), 404, "not_found");
    await expectRejected(() => post(`/admin/v1/accounts/${account.id}/deactivate`), 404, "not_found");
    await expectRejected(() => post(`/admin/v1/accounts/${account.id}/activate`), 404, "not_found");
    const list = await json(await call("/admin/v1/accounts?limit=100"));
    expect(list.data.map((row: any) => row.id)).not.toContain(account.id);
    expectActions(await auditEventsFor(account.id), ["account.delete", "account.create"]);
  });

  it("answers a second DELETE with 404 not_found and records nothing more", async () => {
    const account = await createAccount();
    expect((await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" })).status).toBe(204);
    await expectRejected(() => call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" }), 404, "not_found");
    expect((await auditEventsFor(account.id)).filter((event) => event.action === "account.delete")).toHaveLength(1);
  });

  it("answers 404 not_found to an unknown id and changes nothing", async () => {
    await expectRejected(() => call(`/admin/v1/accounts/${UNKNOWN_ACCOUNT}`, { method: "DELETE" }), 404, "not_found");
  });

  it("deletes the account's credentials with it, one audit event each, and leaves other accounts alone", async () => {
    const account = await createAccount();
    const other = await createAccount();
    const credentials = [
      await createCredential(account.id, "oauth_client", ["read"]),
      await createCredential(account.id, "api_key"),
      await createCredential(account.id, "oauth_client"),
    ];
    const kept = await createCredential(other.id, "api_key");
    const keptRow = await env.DB.prepare("SELECT * FROM credentials WHERE id = ?").bind(kept.id).first();

    const response = await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE", headers: { "cf-connecting-ip": "198.51.100.23" } });
    expect(response.status).toBe(204);

    for (const credential of credentials) {
      await expectError(await call(`/admin/v1/credentials/${credential.id}`), 404, "not_found");
      const events = await auditEventsFor(credential.id);
      expectActions(events, ["credential.delete", "credential.create"]);
      expect(events.find((event) => event.action === "credential.delete")).toMatchObject({ actor: "admin_token", target_type: "credential", target_id: credential.id, ip: "198.51.100.23" });
    }
    const accountEvents = await auditEventsFor(account.id);
    expectActions(accountEvents, ["account.delete", "account.create"]);
    expect(accountEvents.find((event) => event.action === "account.delete")).toMatchObject({ actor: "admin_token", target_type: "account", target_id: account.id, ip: "198.51.100.23" });

    const remaining = await env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE account_id = ?").bind(account.id).first<{ n: number }>();
    expect(remaining!.n).toBe(0);
    const listed = await json(await call(`/admin/v1/credentials?account_id=${account.id}`));
    expect(listed).toEqual({ data: [], next_cursor: null });

    expect(await env.DB.prepare("SELECT * FROM credentials WHERE id = ?").bind(kept.id).first()).toEqual(keptRow);
    expect(await json(await call(`/admin/v1/accounts/${other.id}`))).toEqual(other);
  });

  it("deletes a deactivated account", async () => {
    const account = await createAccount();
    await post(`/admin/v1/accounts/${account.id}/deactivate`);
    expect((await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await call(`/admin/v1/accounts/${account.id}`), 404, "not_found");
  });
});
