import { env } from "cloudflare:workers";
import { MAX_CREDENTIALS_PER_ACCOUNT } from "../../src/config";
import { beforeAll, describe, expect, it } from "vitest";
import {
  auditEventsFor,
  call,
  createAccount,
  createCredential,
  dumpAllTables,
  expectActions,
  expectError,
  expectRejected,
  json,
  sha256Hex,
  snapshot,
  uniqueName,
  walkPages,
} from "../support/http";

/** Management API, credentials: create, get, list, patch, delete, roll, and the shown-once rule. */

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const API_KEY = /^km_live_[0-9A-Za-z]{49}$/;
const CLIENT_ID = /^kmc_[0-9A-Za-z]{28}$/;
const CLIENT_SECRET = /^kms_[0-9A-Za-z]{49}$/;
const BASE_KEYS = ["account_id", "allowed_ips", "created_at", "dpop_bound_access_tokens", "expires_at", "grants", "hint", "id", "last_used_at", "leak_url", "leaked_at", "metadata", "name", "previous_secret_expires_at", "previous_secret_last_used_at", "scopes", "type"];
const UNKNOWN_CREDENTIAL = "cred_0000000000000000000000";

/** The exact keys of a credential: client_id for oauth_client only, plus the secret when shown. */
function keysOf(type: "oauth_client" | "api_key", withSecret: boolean): string[] {
  const keys = [...BASE_KEYS];
  if (type === "oauth_client") keys.push("client_id", "token_endpoint_auth_method");
  if (withSecret) keys.push(type === "oauth_client" ? "client_secret" : "api_key");
  return keys.sort();
}

function secretOf(credential: any): string {
  return credential.type === "oauth_client" ? credential.client_secret : credential.api_key;
}

/** The credential as get/list show it: the create response without its secret. */
function withoutSecret(credential: any) {
  const { client_secret: _s, api_key: _k, ...rest } = credential;
  return rest;
}

function create(body: unknown) {
  return call("/admin/v1/credentials", { method: "POST", body });
}

function patch(id: string, body: unknown) {
  return call(`/admin/v1/credentials/${id}`, { method: "PATCH", body });
}

function roll(id: string, body?: unknown) {
  return call(`/admin/v1/credentials/${id}/roll`, { method: "POST", body });
}

async function storedCredential(id: string) {
  return env.DB.prepare("SELECT * FROM credentials WHERE id = ?").bind(id).first<Record<string, any>>();
}

let account: { id: string };
beforeAll(async () => {
  account = await createAccount();
});

describe("POST /admin/v1/credentials", () => {
  it("creates an oauth_client: 201, client_id and client_secret in their formats, hint, stored, audited", async () => {
    const name = uniqueName("client");
    const response = await create({ name, type: "oauth_client", account_id: account.id, scopes: ["events:write", "admin"] });
    expect(response.status).toBe(201);
    const credential = await json(response);
    expect(Object.keys(credential).sort()).toEqual(keysOf("oauth_client", true));
    expect(credential).toMatchObject({
      name,
      type: "oauth_client",
      account_id: account.id,
      scopes: ["events:write", "admin"],
      last_used_at: null,
      previous_secret_expires_at: null,
      previous_secret_last_used_at: null,
    });
    expect(credential.id.length).toBeGreaterThan(0);
    expect(credential.client_id).toMatch(CLIENT_ID);
    expect(credential.client_secret).toMatch(CLIENT_SECRET);
    expect(credential.hint).toBe(credential.client_secret.slice(-4));
    expect(credential.created_at).toMatch(RFC3339_UTC);
    expect(Math.abs(Date.parse(credential.created_at) - Date.now())).toBeLessThan(60_000);

    const row = await storedCredential(credential.id);
    expect(row).toMatchObject({ account_id: account.id, name, type: "oauth_client", client_id: credential.client_id, hint: credential.hint });
    expect(JSON.parse(row!.scopes)).toEqual(["events:write", "admin"]);
    expectActions(await auditEventsFor(credential.id), ["credential.create"]);
  });

  it("creates an api_key: 201, api_key in its format, no client_id, hint", async () => {
    const name = uniqueName("key");
    const response = await create({ name, type: "api_key", account_id: account.id, scopes: ["read"] });
    expect(response.status).toBe(201);
    const credential = await json(response);
    expect(Object.keys(credential).sort()).toEqual(keysOf("api_key", true));
    expect(credential).toMatchObject({ name, type: "api_key", account_id: account.id, scopes: ["read"], last_used_at: null, previous_secret_expires_at: null });
    expect(credential.api_key).toMatch(API_KEY);
    expect(credential.hint).toBe(credential.api_key.slice(-4));
    expect((await storedCredential(credential.id))!.client_id).toBeNull();
    expectActions(await auditEventsFor(credential.id), ["credential.create"]);
  });

  it("defaults scopes to [] and accepts [] explicitly", async () => {
    const omitted = await json(await create({ name: uniqueName(), type: "api_key", account_id: account.id }));
    expect(omitted.scopes).toEqual([]);
    const empty = await json(await create({ name: uniqueName(), type: "oauth_client", account_id: account.id, scopes: [] }));
    expect(empty.scopes).toEqual([]);
  });

  it("accepts 32 scopes, 64-character scopes and every scope-token character, in the order given", async () => {
    const scopes = Array.from({ length: 30 }, (_, i) => `scope:${i}`);
    scopes.push("x".repeat(64), "!#$%&'()*+,-./:;<=>?@[]^_`{|}~AZaz09");
    const response = await create({ name: uniqueName(), type: "oauth_client", account_id: account.id, scopes });
    expect(response.status).toBe(201);
    const credential = await json(response);
    expect(credential.scopes).toEqual(scopes);
    expect((await json(await call(`/admin/v1/credentials/${credential.id}`))).scopes).toEqual(scopes);
  });

  it("accepts a name of 100 emoji and keeps it exactly", async () => {
    const name = "🔑".repeat(100);
    const response = await create({ name, type: "api_key", account_id: account.id });
    expect(response.status).toBe(201);
    const credential = await json(response);
    expect(credential.name).toBe(name);
    expect((await storedCredential(credential.id))!.name).toBe(name);
  });

  it("refuses a credential for a deactivated account with 400, and stores nothing", async () => {
    const deactivated = await createAccount();
    await call(`/admin/v1/accounts/${deactivated.id}/deactivate`, { method: "POST" });
    await expectRejected(() => create({ name: uniqueName(), type: "api_key", account_id: deactivated.id }), 400, "invalid_request");
    await call(`/admin/v1/accounts/${deactivated.id}/activate`, { method: "POST" });
    expect((await create({ name: uniqueName(), type: "api_key", account_id: deactivated.id })).status).toBe(201);
  });

  it("refuses more than MAX_CREDENTIALS_PER_ACCOUNT credentials on one account", async () => {
    const crowded = await createAccount();
    // Filled straight in D1 (a fan-out over the account's credentials must fit one invocation).
    const statements = Array.from({ length: MAX_CREDENTIALS_PER_ACCOUNT }, (_, i) =>
      env.DB.prepare(
        "INSERT INTO credentials (id, account_id, name, type, client_id, secret_hash, hint, scopes, created_at, updated_at) VALUES (?, ?, ?, 'api_key', NULL, ?, 'abcd', '[]', ?, ?)",
      ).bind(`cred_fill${String(i).padStart(17, "0")}`, crowded.id, `fill ${i}`, crypto.randomUUID().replaceAll("-", "").padEnd(64, "0"), new Date().toISOString(), new Date().toISOString()),
    );
    await env.DB.batch(statements);
    await expectRejected(() => create({ name: uniqueName(), type: "api_key", account_id: crowded.id }), 400, "invalid_request");
  });

  it("never gives two credentials the same id, client_id or secret (20 creations)", async () => {
    const created = [];
    for (let i = 0; i < 20; i++) {
      created.push(await createCredential(account.id, i % 2 ? "api_key" : "oauth_client"));
    }
    const distinct = (values: string[]) => new Set(values).size;
    expect(distinct(created.map((c) => c.id))).toBe(20);
    expect(distinct(created.map(secretOf))).toBe(20);
    expect(distinct(created.filter((c) => c.client_id).map((c) => c.client_id))).toBe(10);
    const rows = await Promise.all(created.map((c) => storedCredential(c.id)));
    expect(distinct(rows.map((row) => row!.secret_hash))).toBe(20);
  });

  it("answers 404 not_found to an unknown account_id and stores nothing", async () => {
    await expectRejected(
      () => create({ name: uniqueName(), type: "api_key", account_id: "acct_0000000000000000000000" }),
      404,
      "not_found",
    );
  });

  it("answers 404 not_found to a deleted account's id", async () => {
    const gone = await createAccount();
    expect((await call(`/admin/v1/accounts/${gone.id}`, { method: "DELETE" })).status).toBe(204);
    await expectRejected(() => create({ name: uniqueName(), type: "oauth_client", account_id: gone.id }), 404, "not_found");
  });

  const valid = () => ({ name: "valid name", type: "oauth_client", account_id: account.id });
  const rejected: [string, () => unknown][] = [
    ["a type that is neither oauth_client nor api_key", () => ({ ...valid(), type: "password" })],
    ["a type in another case", () => ({ ...valid(), type: "API_KEY" })],
    ["a missing type", () => ({ name: "x", account_id: account.id })],
    ["a missing name", () => ({ type: "api_key", account_id: account.id })],
    ["a missing account_id", () => ({ name: "x", type: "api_key" })],
    ["an account_id that is a number", () => ({ ...valid(), account_id: 7 })],
    ["an empty object", () => ({})],
    ["an empty name", () => ({ ...valid(), name: "" })],
    ["a blank name", () => ({ ...valid(), name: " \u00A0 " })],
    ["a name of 101 characters", () => ({ ...valid(), name: "n".repeat(101) })],
    ["a name of 101 emoji", () => ({ ...valid(), name: "🔑".repeat(101) })],
    ["a name with a newline", () => ({ ...valid(), name: "a\nb" })],
    ["a name with NUL", () => ({ ...valid(), name: "\u0000" })],
    ["a name with the RTL override U+202E", () => ({ ...valid(), name: "key\u202Etxt.exe" })],
    ["an unknown field", () => ({ ...valid(), expires: "2030-01-01T00:00:00Z" })],
    ["a client_secret chosen by the client", () => ({ ...valid(), client_secret: "kms_chosen" })],
    ["a client_id chosen by the client", () => ({ ...valid(), client_id: "kmc_chosen" })],
    ["33 scopes", () => ({ ...valid(), scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) })],
    ["a 65-character scope", () => ({ ...valid(), scopes: ["x".repeat(65)] })],
    ["an empty scope", () => ({ ...valid(), scopes: [""] })],
    ["a scope with a space", () => ({ ...valid(), scopes: ["read write"] })],
    ['a scope with "', () => ({ ...valid(), scopes: ['read"'] })],
    ["a scope with \\", () => ({ ...valid(), scopes: ["read\\write"] })],
    ["a scope with a non-ASCII character", () => ({ ...valid(), scopes: ["lésen"] })],
    ["a scope with a control character", () => ({ ...valid(), scopes: ["read\u0007"] })],
    ["repeated scopes", () => ({ ...valid(), scopes: ["read", "write", "read"] })],
    ["scopes as a string", () => ({ ...valid(), scopes: "read write" })],
    ["scopes as null", () => ({ ...valid(), scopes: null })],
    ["a scope that is a number", () => ({ ...valid(), scopes: [1] })],
    ["an array where the object belongs", () => [valid()]],
  ];
  for (const [label, body] of rejected) {
    it(`rejects ${label}: 400 invalid_request, nothing stored`, async () => {
      await expectRejected(() => create(body()), 400, "invalid_request");
    });
  }

  it("trims the name", async () => {
    const name = uniqueName("trimmed");
    const response = await create({ ...valid(), name: `  ${name}\n` });
    expect(response.status).toBe(201);
    const credential = await json(response);
    expect(credential.name).toBe(name);
    expect((await json(await call(`/admin/v1/credentials/${credential.id}`))).name).toBe(name);
  });

  it("rejects a JSON string where the object belongs", async () => {
    await expectRejected(
      () => call("/admin/v1/credentials", { method: "POST", body: '"api_key"', headers: { "content-type": "application/json" } }),
      400,
      "invalid_request",
    );
  });
});

describe("GET /admin/v1/credentials/{id} and GET /admin/v1/credentials", () => {
  it("returns each credential as created, without its secret", async () => {
    for (const type of ["oauth_client", "api_key"] as const) {
      const created = await createCredential(account.id, type, ["read"]);
      const response = await call(`/admin/v1/credentials/${created.id}`);
      expect(response.status).toBe(200);
      const credential = await json(response);
      expect(Object.keys(credential).sort()).toEqual(keysOf(type, false));
      expect(credential).toEqual(withoutSecret(created));
    }
  });

  it("lists credentials in the same shape, without secrets", async () => {
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    const listed = (await walkPages(`/admin/v1/credentials?account_id=${account.id}&limit=100`)).flatMap((page) => page.data);
    expect(listed.find((c: any) => c.id === client.id)).toEqual(withoutSecret(client));
    expect(listed.find((c: any) => c.id === key.id)).toEqual(withoutSecret(key));
    for (const credential of listed) expect(Object.keys(credential).sort()).toEqual(keysOf(credential.type, false));
  });

  it("answers 404 not_found to an unknown id, and to an account's id", async () => {
    await expectError(await call(`/admin/v1/credentials/${UNKNOWN_CREDENTIAL}`), 404, "not_found");
    await expectError(await call(`/admin/v1/credentials/${account.id}`), 404, "not_found");
  });

  it("does not find a credential by its client_id", async () => {
    const client = await createCredential(account.id, "oauth_client");
    await expectError(await call(`/admin/v1/credentials/${client.client_id}`), 404, "not_found");
  });
});

describe("PATCH /admin/v1/credentials/{id}", () => {
  it("renames: 200, the credential without secret, scopes kept, stored, audited", async () => {
    const created = await createCredential(account.id, "oauth_client", ["read", "write"]);
    const name = uniqueName("renamed");
    const response = await patch(created.id, { name });
    expect(response.status).toBe(200);
    const credential = await json(response);
    expect(Object.keys(credential).sort()).toEqual(keysOf("oauth_client", false));
    expect(credential).toEqual({ ...withoutSecret(created), name });
    expect(await json(await call(`/admin/v1/credentials/${created.id}`))).toEqual(credential);
    expect((await storedCredential(created.id))!.name).toBe(name);
    expectActions(await auditEventsFor(created.id), ["credential.update", "credential.create"]);
  });

  it("changes scopes only, name kept", async () => {
    const created = await createCredential(account.id, "api_key", ["read"]);
    const response = await patch(created.id, { scopes: ["write", "admin"] });
    expect(response.status).toBe(200);
    const credential = await json(response);
    expect(Object.keys(credential).sort()).toEqual(keysOf("api_key", false));
    expect(credential).toEqual({ ...withoutSecret(created), scopes: ["write", "admin"] });
    expect(JSON.parse((await storedCredential(created.id))!.scopes)).toEqual(["write", "admin"]);
  });

  it("changes name and scopes together, and [] clears the scopes", async () => {
    const created = await createCredential(account.id, "oauth_client", ["read"]);
    const name = uniqueName("both");
    const credential = await json(await patch(created.id, { name, scopes: [] }));
    expect(credential).toEqual({ ...withoutSecret(created), name, scopes: [] });
    expect(await json(await call(`/admin/v1/credentials/${created.id}`))).toEqual(credential);
  });

  it("keeps the secret: hint, client_id and stored hash do not change", async () => {
    const created = await createCredential(account.id, "oauth_client", ["read"]);
    const before = await storedCredential(created.id);
    await patch(created.id, { name: uniqueName(), scopes: ["other"] });
    const after = await storedCredential(created.id);
    expect(after!.secret_hash).toBe(before!.secret_hash);
    expect(after!.client_id).toBe(created.client_id);
    expect(after!.hint).toBe(created.hint);
  });

  it("treats an empty body {} as no change: 200, the credential unchanged, no write, no audit event", async () => {
    const created = await createCredential(account.id, "api_key", ["read"]);
    const before = await snapshot();
    const response = await patch(created.id, {});
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(withoutSecret(created));
    expect(await snapshot()).toBe(before);
    expectActions(await auditEventsFor(created.id), ["credential.create"]);
  });

  it("treats no body at all as no change: 200, the credential unchanged, no write", async () => {
    const created = await createCredential(account.id, "api_key", ["read"]);
    const before = await snapshot();
    const response = await call(`/admin/v1/credentials/${created.id}`, { method: "PATCH" });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(withoutSecret(created));
    expect(await snapshot()).toBe(before);
  });

  it("trims a new name", async () => {
    const created = await createCredential(account.id, "oauth_client", ["read"]);
    const name = uniqueName("renamed");
    expect((await json(await patch(created.id, { name: ` ${name} ` }))).name).toBe(name);
    expect((await json(await call(`/admin/v1/credentials/${created.id}`))).name).toBe(name);
  });

  it("answers 404 not_found to an unknown id, with or without changes, and changes nothing", async () => {
    await expectRejected(() => patch(UNKNOWN_CREDENTIAL, { name: "x" }), 404, "not_found");
    await expectRejected(() => patch(UNKNOWN_CREDENTIAL, { scopes: [] }), 404, "not_found");
    await expectRejected(() => patch(UNKNOWN_CREDENTIAL, {}), 404, "not_found");
  });

  const rejected: [string, unknown][] = [
    ["an empty name", { name: "" }],
    ["a blank name", { name: "    " }],
    ["a null name", { name: null }],
    ["a name of 101 characters", { name: "n".repeat(101) }],
    ["a name with U+202E", { name: "a\u202Eb" }],
    ["a name with a control character", { name: "a\rb" }],
    ["33 scopes", { scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) }],
    ["a 65-character scope", { scopes: ["y".repeat(65)] }],
    ["a scope with a space", { scopes: ["a b"] }],
    ["repeated scopes", { scopes: ["a", "a"] }],
    ["null scopes", { scopes: null }],
    ["a type change", { type: "api_key" }],
    ["a move to another account", { account_id: "acct_0000000000000000000000" }],
    ["a new secret", { client_secret: "kms_chosen" }],
    ["an array where the object belongs", [{ name: "x" }]],
  ];
  for (const [label, body] of rejected) {
    it(`rejects ${label}: 400 invalid_request, nothing changed`, async () => {
      const created = await createCredential(account.id, "oauth_client", ["read"]);
      await expectRejected(() => patch(created.id, body), 400, "invalid_request");
      expect(await json(await call(`/admin/v1/credentials/${created.id}`))).toEqual(withoutSecret(created));
    });
  }
});

describe("DELETE /admin/v1/credentials/{id}", () => {
  it("deletes: 204 with no body, then 404 on get, patch, roll and a second delete; audited once", async () => {
    const created = await createCredential(account.id, "oauth_client");
    const response = await call(`/admin/v1/credentials/${created.id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(await storedCredential(created.id)).toBeNull();

    await expectError(await call(`/admin/v1/credentials/${created.id}`), 404, "not_found");
    await expectRejected(() => patch(created.id, { name: "x" }), 404, "not_found");
    await expectRejected(() => roll(created.id, { expires_in: 0 }), 404, "not_found");
    await expectRejected(() => call(`/admin/v1/credentials/${created.id}`, { method: "DELETE" }), 404, "not_found");

    const listed = (await walkPages(`/admin/v1/credentials?account_id=${account.id}&limit=100`)).flatMap((page) => page.data);
    expect(listed.map((c: any) => c.id)).not.toContain(created.id);
    expectActions(await auditEventsFor(created.id), ["credential.delete", "credential.create"]);
    // The account stays.
    expect((await call(`/admin/v1/accounts/${account.id}`)).status).toBe(200);
  });

  it("answers 404 not_found to an unknown id and changes nothing", async () => {
    await expectRejected(() => call(`/admin/v1/credentials/${UNKNOWN_CREDENTIAL}`, { method: "DELETE" }), 404, "not_found");
  });
});

describe("POST /admin/v1/credentials/{id}/roll", () => {
  for (const type of ["oauth_client", "api_key"] as const) {
    it(`rolls an ${type}: 200, a new secret in its format, new hint, same id and client_id, audited`, async () => {
      const created = await createCredential(account.id, type, ["read"]);
      const response = await roll(created.id, { expires_in: 0 });
      expect(response.status).toBe(200);
      const rolled = await json(response);
      expect(Object.keys(rolled).sort()).toEqual(keysOf(type, true));
      const secret = secretOf(rolled);
      expect(secret).toMatch(type === "api_key" ? API_KEY : CLIENT_SECRET);
      expect(secret).not.toBe(secretOf(created));
      expect(rolled.hint).toBe(secret.slice(-4));
      expect(withoutSecret(rolled)).toEqual({ ...withoutSecret(created), hint: rolled.hint, previous_secret_expires_at: null });
      expect(await json(await call(`/admin/v1/credentials/${created.id}`))).toEqual(withoutSecret(rolled));

      const row = await storedCredential(created.id);
      expect(row!.secret_hash).toBe(await sha256Hex(secret));
      expect(row!.previous_secret_hash).toBeNull();
      expectActions(await auditEventsFor(created.id), ["credential.roll", "credential.create"]);
    });
  }

  it("with no body, the old secret ends at once", async () => {
    const created = await createCredential(account.id, "api_key");
    const response = await call(`/admin/v1/credentials/${created.id}/roll`, { method: "POST" });
    expect(response.status).toBe(200);
    const rolled = await json(response);
    expect(rolled.previous_secret_expires_at).toBeNull();
    expect((await storedCredential(created.id))!.previous_secret_hash).toBeNull();
  });

  it("with expires_in, keeps the old secret's hash until then; a second roll ends that grace at once", async () => {
    const created = await createCredential(account.id, "oauth_client");
    const first = await json(await roll(created.id, { expires_in: 3600 }));
    expect(first.previous_secret_expires_at).toMatch(RFC3339_UTC);
    expect(Math.abs(Date.parse(first.previous_secret_expires_at) - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect((await json(await call(`/admin/v1/credentials/${created.id}`))).previous_secret_expires_at).toBe(first.previous_secret_expires_at);
    let row = await storedCredential(created.id);
    expect(row!.secret_hash).toBe(await sha256Hex(first.client_secret));
    expect(row!.previous_secret_hash).toBe(await sha256Hex(created.client_secret));

    const second = await json(await roll(created.id, { expires_in: 60 }));
    row = await storedCredential(created.id);
    expect(row!.secret_hash).toBe(await sha256Hex(second.client_secret));
    expect(row!.previous_secret_hash).toBe(await sha256Hex(first.client_secret));
    // Only one previous secret is kept: the original one is gone from storage.
    expect(JSON.stringify(await dumpAllTables())).not.toContain(await sha256Hex(created.client_secret));
  });

  it("accepts the longest grace of 604800 seconds", async () => {
    const created = await createCredential(account.id, "api_key");
    expect((await roll(created.id, { expires_in: 604_800 })).status).toBe(200);
  });

  const rejected: [string, unknown][] = [
    ["a negative expires_in", { expires_in: -1 }],
    ["an expires_in over 7 days", { expires_in: 604_801 }],
    ["a fractional expires_in", { expires_in: 1.5 }],
    ["an expires_in as a string", { expires_in: "60" }],
    ["an unknown field", { expires_in: 0, keep_old: true }],
    ["an array where the object belongs", [{ expires_in: 0 }]],
  ];
  for (const [label, body] of rejected) {
    it(`rejects ${label}: 400 invalid_request, nothing changed`, async () => {
      const created = await createCredential(account.id, "api_key");
      await expectRejected(() => roll(created.id, body), 400, "invalid_request");
    });
  }

  it("answers 404 not_found to an unknown id and changes nothing", async () => {
    await expectRejected(() => roll(UNKNOWN_CREDENTIAL, { expires_in: 0 }), 404, "not_found");
  });
});

describe("a secret is shown once", () => {
  it("appears in no later response and no stored column; only its hash is stored", async () => {
    const owner = await createAccount();
    const client = await createCredential(owner.id, "oauth_client", ["read"]);
    const key = await createCredential(owner.id, "api_key", ["read"]);
    const rolledFrom = await createCredential(owner.id, "api_key");
    const rolled = await json(await roll(rolledFrom.id, { expires_in: 600 }));
    const secrets = [client.client_secret, key.api_key, rolledFrom.api_key, rolled.api_key];

    const responses: string[] = [];
    const record = async (response: Response) => {
      expect(response.status).toBeLessThan(300);
      responses.push(await response.text());
    };
    for (const credential of [client, key, rolledFrom]) {
      await record(await call(`/admin/v1/credentials/${credential.id}`));
      await record(await patch(credential.id, { name: uniqueName("after") }));
      await record(await patch(credential.id, {}));
    }
    for (const page of await walkPages("/admin/v1/credentials?limit=2")) responses.push(JSON.stringify(page));
    for (const page of await walkPages(`/admin/v1/credentials?account_id=${owner.id}&type=api_key&limit=1`)) responses.push(JSON.stringify(page));
    for (const page of await walkPages("/admin/v1/audit-events?limit=100")) responses.push(JSON.stringify(page));
    await record(await call(`/admin/v1/accounts/${owner.id}`));
    // A later roll shows only the new secret, never an earlier one.
    const rolledAgain = await json(await roll(rolledFrom.id, { expires_in: 0 }));
    responses.push(JSON.stringify(withoutSecret(rolledAgain)));

    const stored = JSON.stringify(await dumpAllTables());
    for (const secret of secrets) {
      const digest = await sha256Hex(secret);
      for (const text of responses) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(digest);
      }
      expect(stored).not.toContain(secret);
      // The body (without prefix and checksum) is not stored either.
      expect(stored).not.toContain(secret.slice(secret.indexOf("_", 3) + 1, -6));
    }

    // What is stored of a live secret is its SHA-256 digest, in the credential's hash column only.
    for (const [credential, secret] of [
      [client, client.client_secret],
      [key, key.api_key],
      [rolledFrom, rolledAgain.api_key],
    ] as const) {
      const digest = await sha256Hex(secret);
      const row = await storedCredential(credential.id);
      expect(row!.secret_hash).toBe(digest);
      const dump = await dumpAllTables();
      dump.credentials = dump.credentials!.map((r) => (r.id === credential.id ? { ...r, secret_hash: null } : r));
      expect(JSON.stringify(dump)).not.toContain(digest);
    }
  });
});
