import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  BASE,
  auditEventsFor,
  call,
  createAccount,
  createCredential,
  expectError,
  json,
  snapshot,
  walkPages,
} from "../support/http";
import { accountIn, createOrg, unique } from "../support/organizations";

/**
 * Organizations (contract "Organizations (tenants)", first part): the organization resource
 * under /admin/v1/organizations, its validation, accounts belonging to one, the
 * `?organization_id=` filters and `organization_id` on every audit event.
 */

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const ORG_KEYS = ["created_at", "external_id", "grants", "id", "metadata", "name", "status", "updated_at"];
const UNKNOWN_ORG = "org_0000000000000000000000";
const DEFAULT_ORG = "org_default";

/** A value no other test uses (the D1 database is shared by every test in this file). */

const post = (path: string, body?: unknown) => call(path, { method: "POST", body });
const patch = (path: string, body?: unknown) => call(path, { method: "PATCH", body });
const del = (path: string) => call(path, { method: "DELETE" });

async function createApi(scopes: string[]) {
  const identifier = `https://org-api-${crypto.randomUUID()}.example.com`;
  const response = await post("/admin/v1/apis", { name: unique("api"), identifier, scopes });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

/**
 * snapshot() (accounts, credentials, audit events) plus every table that holds organizations or
 * grants, whatever the migration named them: for "a rejected request changed no row".
 */
async function state(): Promise<string> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE '%org%' OR name IN ('apis', 'grants')) ORDER BY name",
  ).all<{ name: string }>();
  const rows = tables.results.length ? await env.DB.batch(tables.results.map((t) => env.DB.prepare(`SELECT * FROM "${t.name}" ORDER BY 1`))) : [];
  return (await snapshot()) + JSON.stringify(tables.results.map((t, i) => [t.name, rows[i]!.results]));
}

/** The request must fail with this status and code, in the contract's error shape, and change no stored row. */
async function expectRejected(send: () => Promise<Response>, status: number, code: string) {
  const before = await state();
  const body = await expectError(await send(), status, code);
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  expect(await state(), `a rejected request (${status} ${code}) changed stored rows`).toBe(before);
  return body;
}

function expectOrganization(org: any, expected: Record<string, unknown> = {}) {
  expect(Object.keys(org).sort()).toEqual(ORG_KEYS);
  expect(org.id).toMatch(/^org_[0-9A-Za-z_]+$/);
  expect(org.created_at).toMatch(RFC3339_UTC);
  expect(org.updated_at).toMatch(RFC3339_UTC);
  expect(org.updated_at >= org.created_at).toBe(true);
  expect(org).toMatchObject(expected);
}

/** Grants compared without regard to order. */
const sortedGrants = (grants: { api: string; scopes: string[] }[] | null) =>
  grants === null ? null : [...grants].map((g) => ({ api: g.api, scopes: [...g.scopes].sort() })).sort((a, b) => (a.api < b.api ? -1 : 1));

async function listAll(path: string): Promise<any[]> {
  return (await walkPages(path)).flatMap((page) => page.data);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every visible ASCII character (0x21–0x7E): `?`, `&`, `#`, `%` and `+` included. */
const VISIBLE_ASCII = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join("");

describe("POST /admin/v1/organizations", () => {
  it("creates an organization from a name alone: 201, external_id, metadata and grants null, status active", async () => {
    const name = unique();
    const response = await post("/admin/v1/organizations", { name });
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const org = await json(response);
    expectOrganization(org, { name, external_id: null, status: "active", metadata: null, grants: null });
    expect(org.id).not.toBe(DEFAULT_ORG);
    expect(Math.abs(Date.parse(org.created_at) - Date.now())).toBeLessThan(60_000);
    expect(await json(await call(`/admin/v1/organizations/${org.id}`))).toEqual(org);
  });

  it("records one audit event organization.create, target_type organization, carrying the organization's own id", async () => {
    const org = await createOrg();
    const events = await auditEventsFor(org.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: "organization.create",
      actor: "admin_token",
      channel: "api",
      target_type: "organization",
      target_id: org.id,
      target_name: org.name,
      organization_id: org.id,
    });
  });

  it("keeps external_id, metadata and grants as given", async () => {
    const api = await createApi(["invoices:read", "invoices:write"]);
    const external_id = `cus_${crypto.randomUUID()}`;
    const metadata = { plan: "enterprise", seats: 25, trial: false, region_code: "eu_west" };
    const grants = [
      { api: api.identifier, scopes: ["invoices:read"] },
      { api: BASE, scopes: ["anything", "at:all"] }, // the default API, named by its identifier
    ];
    const name = unique();
    const response = await post("/admin/v1/organizations", { name, external_id, metadata, grants });
    expect(response.status, await response.clone().text()).toBe(201);
    const org = await json(response);
    expectOrganization(org, { name, external_id, status: "active", metadata });
    expect(sortedGrants(org.grants)).toEqual(sortedGrants(grants));
    const read = await json(await call(`/admin/v1/organizations/${org.id}`));
    expect(read).toEqual(org);
  });

  it("gives every organization its own id, and several may have no external_id", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await createOrg()).id);
    expect(ids.size).toBe(5);
  });

  it("trims the name", async () => {
    const name = unique();
    const org = await createOrg({ name: `  \t${name}\u3000 ` });
    expect(org.name).toBe(name);
  });

  it("accepts an external_id of exactly 255 printable ASCII characters and finds it again with ?external_id=", async () => {
    const external_id = `${crypto.randomUUID()}${VISIBLE_ASCII}`.padEnd(255, "x");
    expect(external_id).toHaveLength(255);
    const org = await createOrg({ external_id });
    expect(org.external_id).toBe(external_id);
    const page = await json(await call(`/admin/v1/organizations?external_id=${encodeURIComponent(external_id)}`));
    expect(page.data.map((row: any) => row.id)).toEqual([org.id]);
  });

  it("takes an external_id as it is, spaces included (printable ASCII, the contract), and keeps it apart from the trimmed one", async () => {
    const base = crypto.randomUUID();
    const spaced = await createOrg({ external_id: ` ${base} ` });
    expect(spaced.external_id).toBe(` ${base} `);
    const bare = await createOrg({ external_id: base });
    expect(bare.id).not.toBe(spaced.id);
    const page = await json(await call(`/admin/v1/organizations?external_id=${encodeURIComponent(` ${base} `)}`));
    expect(page.data.map((row: any) => row.id)).toEqual([spaced.id]);
  });

  it("accepts metadata at its limits: 16 members, 40-character names, 256-character strings, numbers and booleans", async () => {
    const metadata: Record<string, unknown> = { a: "x".repeat(256), [`b${"c".repeat(39)}`]: 1.5, d: true, e: -7 };
    for (let i = 0; Object.keys(metadata).length < 16; i++) metadata[`m${i}`] = i;
    expect(JSON.stringify(metadata).length).toBeLessThanOrEqual(1024);
    const org = await createOrg({ metadata });
    expect(org.metadata).toEqual(metadata);
  });

  for (const [label, metadata] of [
    ["null", null],
    ["{}", {}],
  ] as const) {
    it(`metadata ${label} on create reads back as null`, async () => {
      const org = await createOrg({ metadata });
      expect(org.metadata).toBeNull();
      expect((await json(await call(`/admin/v1/organizations/${org.id}`))).metadata).toBeNull();
    });
  }

  it("accepts 32 grants (one per API)", async () => {
    const apis = [];
    for (let i = 0; i < 32; i++) apis.push(await createApi(["read"]));
    const grants = apis.map((api) => ({ api: api.identifier, scopes: ["read"] }));
    const org = await createOrg({ grants });
    expect(sortedGrants(org.grants)).toEqual(sortedGrants(grants));
  });

  it("rejects more than 32 grants, even each on a real API with a declared scope: 400, nothing stored", async () => {
    const apis = [];
    for (let i = 0; i < 33; i++) apis.push(await createApi(["read"]));
    const grants = apis.map((api) => ({ api: api.identifier, scopes: ["read"] }));
    await expectRejected(() => post("/admin/v1/organizations", { name: unique(), grants }), 400, "invalid_request");
  });

  it("rejects grants naming an unknown API or a scope the API does not declare: 400, nothing stored", async () => {
    const api = await createApi(["read"]);
    await expectRejected(
      () => post("/admin/v1/organizations", { name: unique(), grants: [{ api: `https://unknown-${crypto.randomUUID()}.example.com`, scopes: [] }] }),
      400,
      "invalid_request",
    );
    await expectRejected(
      () => post("/admin/v1/organizations", { name: unique(), grants: [{ api: api.identifier, scopes: ["write"] }] }),
      400,
      "invalid_request",
    );
    await expectRejected(
      () => post("/admin/v1/organizations", { name: unique(), grants: [{ api: api.identifier, scopes: ["read", "write"] }] }),
      400,
      "invalid_request",
    );
    // One grant per API.
    await expectRejected(
      () => post("/admin/v1/organizations", { name: unique(), grants: [{ api: api.identifier, scopes: ["read"] }, { api: api.identifier, scopes: [] }] }),
      400,
      "invalid_request",
    );
  });

  it("rejects a taken external_id with 409 conflict, nothing stored", async () => {
    const external_id = `ext-${crypto.randomUUID()}`;
    await createOrg({ external_id });
    await expectRejected(() => post("/admin/v1/organizations", { name: unique(), external_id }), 409, "conflict");
  });

  const rejected: [string, () => unknown][] = [
    ["a missing name", () => ({})],
    ["an empty name", () => ({ name: "" })],
    ["a blank name", () => ({ name: "   " })],
    ["a blank name of no-break and ideographic spaces", () => ({ name: "\u00A0\u3000" })],
    ["a name of 101 characters", () => ({ name: "a".repeat(101) })],
    ["a name with a control character", () => ({ name: "a\u0000b" })],
    ["a name that is a number", () => ({ name: 42 })],
    ["an external_id of 256 characters", () => ({ name: unique(), external_id: "e".repeat(256) })],
    ["an empty external_id", () => ({ name: unique(), external_id: "" })],
    ["an external_id with a control character (U+0001)", () => ({ name: unique(), external_id: `ext\u0001${crypto.randomUUID()}` })],
    ["an external_id with a newline", () => ({ name: unique(), external_id: `ext\n${crypto.randomUUID()}` })],
    ["an external_id with DEL", () => ({ name: unique(), external_id: `ext\u007f${crypto.randomUUID()}` })],
    ["an external_id with a non-ASCII letter", () => ({ name: unique(), external_id: `café-${crypto.randomUUID()}` })],
    ["an external_id with an emoji", () => ({ name: unique(), external_id: `😀-${crypto.randomUUID()}` })],
    ["an external_id that is a number", () => ({ name: unique(), external_id: 42 })],
    ["metadata of 17 members", () => ({ name: unique(), metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`, i])) })],
    ["a metadata member named Bad-Name", () => ({ name: unique(), metadata: { "Bad-Name": "x" } })],
    ["a metadata member named 1abc", () => ({ name: unique(), metadata: { "1abc": "x" } })],
    ["a metadata member name in capitals", () => ({ name: unique(), metadata: { Plan: "x" } })],
    ["a metadata member name of 41 characters", () => ({ name: unique(), metadata: { [`a${"b".repeat(40)}`]: "x" } })],
    ["an empty metadata member name", () => ({ name: unique(), metadata: { "": "x" } })],
    ["a nested object in metadata", () => ({ name: unique(), metadata: { plan: { tier: "gold" } } })],
    ["an array value in metadata", () => ({ name: unique(), metadata: { tags: ["a", "b"] } })],
    ["a null value in metadata", () => ({ name: unique(), metadata: { plan: null } })],
    ["a metadata string of 257 characters", () => ({ name: unique(), metadata: { note: "x".repeat(257) } })],
    [
      "metadata over 1,024 bytes as JSON",
      () => ({ name: unique(), metadata: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, "x".repeat(250)])) }),
    ],
    [
      "metadata over 1,024 bytes as UTF-8 JSON though under 1,024 characters",
      () => ({ name: unique(), metadata: Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`k${i}`, "é".repeat(200)])) }),
    ],
    ["metadata that is an array", () => ({ name: unique(), metadata: [] })],
    ["metadata that is a string", () => ({ name: unique(), metadata: "plan=gold" })],
    ["grants that are not a list", () => ({ name: unique(), grants: { api: BASE, scopes: [] } })],
    ["a grant without scopes", () => ({ name: unique(), grants: [{ api: BASE }] })],
    ["an unknown field", () => ({ name: unique(), color: "red" })],
    ["a status chosen on create", () => ({ name: unique(), status: "deactivated" })],
    ["an id chosen by the client", () => ({ name: unique(), id: "org_chosenbytheclient00000" })],
    ["an array where the object belongs", () => [{ name: unique() }]],
  ];
  for (const [label, body] of rejected) {
    it(`rejects ${label}: 400 invalid_request, nothing stored`, async () => {
      await expectRejected(() => post("/admin/v1/organizations", body()), 400, "invalid_request");
    });
  }
});

describe("GET /admin/v1/organizations/{id}", () => {
  it("answers the organization exactly as created", async () => {
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}`, metadata: { tier: "gold" } });
    const response = await call(`/admin/v1/organizations/${org.id}`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(org);
  });

  it("answers org_default, the Default organization, active", async () => {
    const response = await call(`/admin/v1/organizations/${DEFAULT_ORG}`);
    expect(response.status).toBe(200);
    const org = await json(response);
    expect(Object.keys(org).sort()).toEqual(ORG_KEYS);
    expect(org).toMatchObject({ id: DEFAULT_ORG, name: "Default organization", status: "active" });
  });

  it("answers 404 not_found to an unknown id and to an account's id", async () => {
    await expectError(await call(`/admin/v1/organizations/${UNKNOWN_ORG}`), 404, "not_found");
    const account = await createAccount();
    await expectError(await call(`/admin/v1/organizations/${account.id}`), 404, "not_found");
  });

  it("does not write anything", async () => {
    const org = await createOrg();
    const before = await state();
    expect((await call(`/admin/v1/organizations/${org.id}`)).status).toBe(200);
    expect((await call("/admin/v1/organizations")).status).toBe(200);
    expect(await state()).toBe(before);
  });
});

describe("GET /admin/v1/organizations", () => {
  it("lists organizations as {data, next_cursor}, newest first, each in the organization shape", async () => {
    const first = await createOrg();
    const second = await createOrg();
    const response = await call("/admin/v1/organizations?limit=100");
    expect(response.status).toBe(200);
    const page = await json(response);
    expect(Object.keys(page).sort()).toEqual(["data", "next_cursor"]);
    for (const org of page.data) expect(Object.keys(org).sort()).toEqual(ORG_KEYS);
    for (let i = 0; i + 1 < page.data.length; i++) expect(page.data[i].created_at >= page.data[i + 1].created_at).toBe(true);
    const ids = page.data.map((org: any) => org.id);
    expect(page.data.find((org: any) => org.id === second.id)).toEqual(second);
    if (first.created_at < second.created_at) expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
  });

  it("always lists org_default", async () => {
    await createOrg();
    const all = await listAll("/admin/v1/organizations?limit=100");
    expect(all.filter((org) => org.id === DEFAULT_ORG)).toHaveLength(1);
  });

  it("pages with limit and cursor: every organization once, newest first, org_default included", async () => {
    for (let i = 0; i < 3; i++) await createOrg();
    const pages = await walkPages("/admin/v1/organizations?limit=2");
    const ids = pages.flatMap((page) => page.data.map((org: any) => org.id as string));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(DEFAULT_ORG);
    pages.slice(0, -1).forEach((page) => expect(page.data).toHaveLength(2));
  });

  it("filters by ?q=, the name containing it, across pages", async () => {
    const token = crypto.randomUUID();
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createOrg({ name: `Customer ${i} ${token} Ltd` }));
    await createOrg({ name: "Customer without the token" });
    const pages = await walkPages(`/admin/v1/organizations?q=${encodeURIComponent(token)}&limit=2`);
    expect(pages).toHaveLength(3);
    const listed = pages.flatMap((page) => page.data);
    expect(new Set(listed.map((org: any) => org.id))).toEqual(new Set(created.map((org) => org.id)));
    for (let i = 0; i + 1 < listed.length; i++) expect(listed[i].created_at >= listed[i + 1].created_at).toBe(true);
    // The middle of a name matches too.
    const middle = await json(await call(`/admin/v1/organizations?q=${encodeURIComponent(`3 ${token.slice(0, 8)}`)}`));
    expect(middle.data.map((org: any) => org.id)).toEqual([created[3].id]);
  });

  it("takes ?q= literally: % and _ are not wildcards", async () => {
    const token = crypto.randomUUID();
    const percent = await createOrg({ name: `${token} 100% sure` });
    await createOrg({ name: `${token} 100x sure` });
    const byPercent = await json(await call(`/admin/v1/organizations?q=${encodeURIComponent(`${token} 100%`)}`));
    expect(byPercent.data.map((org: any) => org.id)).toEqual([percent.id]);
    const byUnderscore = await json(await call(`/admin/v1/organizations?q=${encodeURIComponent(`${token} 100_`)}`));
    expect(byUnderscore.data).toEqual([]);
  });

  it("filters by ?external_id=, exactly: not a prefix, not a longer id", async () => {
    const external_id = `acme-${crypto.randomUUID()}`;
    const exact = await createOrg({ external_id });
    await createOrg({ external_id: `${external_id}-eu` });
    await createOrg({ name: `named ${external_id}` });
    const page = await json(await call(`/admin/v1/organizations?external_id=${encodeURIComponent(external_id)}`));
    expect(page).toEqual({ data: [exact], next_cursor: null });
    const prefix = await json(await call(`/admin/v1/organizations?external_id=${encodeURIComponent(external_id.slice(0, -1))}`));
    expect(prefix).toEqual({ data: [], next_cursor: null });
  });

  const badQueries: [string, string][] = [
    ["an unknown query parameter", "?name=x"],
    ["a repeated query parameter", "?limit=2&limit=3"],
    ["a repeated q", "?q=a&q=b"],
    ["limit 0", "?limit=0"],
    ["limit 101", "?limit=101"],
    ["a limit that is not a number", "?limit=ten"],
    ["a cursor that is not ours", "?cursor=not-a-cursor"],
  ];
  for (const [label, query] of badQueries) {
    it(`rejects ${label}: 400 invalid_request`, async () => {
      await expectRejected(() => call(`/admin/v1/organizations${query}`), 400, "invalid_request");
    });
  }
});

describe("PATCH /admin/v1/organizations/{id}", () => {
  it("changes name, external_id, metadata and grants; updated_at moves, created_at stays; audited", async () => {
    const api = await createApi(["read", "write"]);
    const org = await createOrg({ external_id: `old-${crypto.randomUUID()}`, metadata: { tier: "silver" } });
    await sleep(5);
    const changes = {
      name: unique("renamed"),
      external_id: `new-${crypto.randomUUID()}`,
      metadata: { tier: "gold", seats: 10 },
      grants: [{ api: api.identifier, scopes: ["read"] }],
    };
    const response = await patch(`/admin/v1/organizations/${org.id}`, changes);
    expect(response.status, await response.clone().text()).toBe(200);
    const updated = await json(response);
    expectOrganization(updated, { id: org.id, status: "active", created_at: org.created_at, ...changes, grants: updated.grants });
    expect(sortedGrants(updated.grants)).toEqual(sortedGrants(changes.grants));
    expect(updated.updated_at > org.updated_at).toBe(true);
    expect(await json(await call(`/admin/v1/organizations/${org.id}`))).toEqual(updated);

    const events = await auditEventsFor(org.id);
    expect(events).toHaveLength(2);
    const change = events.find((event) => event.action !== "organization.create");
    expect(change.action).toMatch(/^organization\./);
    expect(change).toMatchObject({ target_type: "organization", target_id: org.id, organization_id: org.id, actor: "admin_token" });
  });

  it("an empty body {} changes nothing: 200, the organization as it was, no row written, no audit event", async () => {
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}`, metadata: { tier: "gold" } });
    await sleep(5);
    const before = await state();
    const response = await patch(`/admin/v1/organizations/${org.id}`, {});
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(org);
    expect(await state()).toBe(before);
  });

  it("changes only what is named: a new name keeps external_id, metadata and grants", async () => {
    const api = await createApi(["read"]);
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}`, metadata: { tier: "gold" }, grants: [{ api: api.identifier, scopes: ["read"] }] });
    const name = unique("renamed");
    const updated = await json(await patch(`/admin/v1/organizations/${org.id}`, { name }));
    expect(updated).toMatchObject({ name, external_id: org.external_id, metadata: org.metadata });
    expect(sortedGrants(updated.grants)).toEqual(sortedGrants(org.grants));
  });

  it("replaces metadata whole", async () => {
    const org = await createOrg({ metadata: { tier: "gold", seats: 10 } });
    const updated = await json(await patch(`/admin/v1/organizations/${org.id}`, { metadata: { region: "eu" } }));
    expect(updated.metadata).toEqual({ region: "eu" });
    expect((await json(await call(`/admin/v1/organizations/${org.id}`))).metadata).toEqual({ region: "eu" });
  });

  for (const [label, metadata] of [
    ["null", null],
    ["{}", {}],
  ] as const) {
    it(`metadata ${label} clears it: reads back as null`, async () => {
      const org = await createOrg({ metadata: { tier: "gold" } });
      const response = await patch(`/admin/v1/organizations/${org.id}`, { metadata });
      expect(response.status).toBe(200);
      expect((await json(response)).metadata).toBeNull();
      expect((await json(await call(`/admin/v1/organizations/${org.id}`))).metadata).toBeNull();
    });
  }

  it("external_id null and grants null clear them", async () => {
    const api = await createApi(["read"]);
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}`, grants: [{ api: api.identifier, scopes: ["read"] }] });
    const updated = await json(await patch(`/admin/v1/organizations/${org.id}`, { external_id: null, grants: null }));
    expect(updated).toMatchObject({ external_id: null, grants: null });
    // The freed external_id can be taken by another organization.
    await createOrg({ external_id: org.external_id });
  });

  it("rejects an external_id another organization has: 409 conflict, nothing changed", async () => {
    const taken = await createOrg({ external_id: `ext-${crypto.randomUUID()}` });
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}` });
    await expectRejected(() => patch(`/admin/v1/organizations/${org.id}`, { external_id: taken.external_id }), 409, "conflict");
    await expectRejected(() => patch(`/admin/v1/organizations/${org.id}`, { name: unique(), external_id: taken.external_id }), 409, "conflict");
    expect(await json(await call(`/admin/v1/organizations/${org.id}`))).toEqual(org);
  });

  it("accepts the organization's own external_id again (no conflict with itself)", async () => {
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}` });
    const response = await patch(`/admin/v1/organizations/${org.id}`, { external_id: org.external_id });
    expect(response.status).toBe(200);
    expect((await json(response)).external_id).toBe(org.external_id);
  });

  const rejected: [string, unknown][] = [
    ["an empty name", { name: "" }],
    ["a blank name", { name: "  \t " }],
    ["a null name", { name: null }],
    ["an external_id of 256 characters", { external_id: "e".repeat(256) }],
    ["an empty external_id", { external_id: "" }],
    ["an external_id with a control character", { external_id: "ext\u0007id" }],
    ["an external_id with a non-ASCII character", { external_id: "ext-ñ" }],
    ["metadata of 17 members", { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`, true])) }],
    ["a bad metadata member name", { metadata: { "Bad-Name": 1 } }],
    ["nested metadata", { metadata: { a: { b: 1 } } }],
    ["an array in metadata", { metadata: { a: [1] } }],
    ["a 257-character metadata string", { metadata: { a: "y".repeat(257) } }],
    ["metadata over 1,024 bytes", { metadata: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, "y".repeat(250)])) }],
    ["grants on an unknown API", { grants: [{ api: "https://no-such-api.example.com", scopes: [] }] }],
    ["a status", { status: "deactivated" }],
    ["an unknown field", { color: "red" }],
    ["an id", { id: "org_other0000000000000000" }],
  ];
  for (const [label, body] of rejected) {
    it(`rejects ${label}: 400 invalid_request, nothing changed`, async () => {
      const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}`, metadata: { tier: "gold" } });
      await expectRejected(() => patch(`/admin/v1/organizations/${org.id}`, body), 400, "invalid_request");
      expect(await json(await call(`/admin/v1/organizations/${org.id}`))).toEqual(org);
    });
  }

  it("rejects a grant with a scope the API does not declare: 400, nothing changed", async () => {
    const api = await createApi(["read"]);
    const org = await createOrg();
    await expectRejected(() => patch(`/admin/v1/organizations/${org.id}`, { grants: [{ api: api.identifier, scopes: ["admin"] }] }), 400, "invalid_request");
  });

  it("answers 404 not_found to an unknown id, changing nothing", async () => {
    await expectRejected(() => patch(`/admin/v1/organizations/${UNKNOWN_ORG}`, { name: unique() }), 404, "not_found");
  });

  it("renames org_default (and renames it back)", async () => {
    const original = await json(await call(`/admin/v1/organizations/${DEFAULT_ORG}`));
    const name = unique("Platform");
    try {
      const response = await patch(`/admin/v1/organizations/${DEFAULT_ORG}`, { name });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await json(response)).toMatchObject({ id: DEFAULT_ORG, name, status: "active" });
      expect((await json(await call(`/admin/v1/organizations/${DEFAULT_ORG}`))).name).toBe(name);
    } finally {
      await patch(`/admin/v1/organizations/${DEFAULT_ORG}`, { name: original.name });
    }
    expect((await json(await call(`/admin/v1/organizations/${DEFAULT_ORG}`))).name).toBe("Default organization");
  });
});

describe("DELETE /admin/v1/organizations/{id}", () => {
  it("deletes an empty organization: 204 with no body, then 404 everywhere, audited", async () => {
    const org = await createOrg({ external_id: `ext-${crypto.randomUUID()}` });
    const response = await del(`/admin/v1/organizations/${org.id}`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    await expectError(await call(`/admin/v1/organizations/${org.id}`), 404, "not_found");
    await expectRejected(() => patch(`/admin/v1/organizations/${org.id}`, { name: unique() }), 404, "not_found");
    await expectRejected(() => del(`/admin/v1/organizations/${org.id}`), 404, "not_found");
    expect((await listAll("/admin/v1/organizations?limit=100")).map((row) => row.id)).not.toContain(org.id);
    const byExternal = await json(await call(`/admin/v1/organizations?external_id=${encodeURIComponent(org.external_id)}`));
    expect(byExternal.data).toEqual([]);

    const events = await auditEventsFor(org.id);
    expect(events).toHaveLength(2);
    const deletion = events.find((event) => event.action !== "organization.create");
    expect(deletion.action).toMatch(/^organization\./);
    expect(deletion).toMatchObject({ target_type: "organization", target_id: org.id, organization_id: org.id });

    // An account can no longer name it; its external_id is free again.
    await expectRejected(() => post("/admin/v1/accounts", { name: unique("account"), type: "service", organization_id: org.id }), 400, "invalid_request");
    await createOrg({ external_id: org.external_id });
  });

  it("refuses while the organization has accounts (deactivated ones too): 409 conflict, nothing changed; 204 once they are gone", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    await createCredential(account.id);
    await expectRejected(() => del(`/admin/v1/organizations/${org.id}`), 409, "conflict");
    expect((await post(`/admin/v1/accounts/${account.id}/deactivate`)).status).toBe(200);
    await expectRejected(() => del(`/admin/v1/organizations/${org.id}`), 409, "conflict");
    expect(await json(await call(`/admin/v1/organizations/${org.id}`))).toEqual(org);

    expect((await del(`/admin/v1/accounts/${account.id}`)).status).toBe(204);
    expect((await del(`/admin/v1/organizations/${org.id}`)).status).toBe(204);
    await expectError(await call(`/admin/v1/organizations/${org.id}`), 404, "not_found");
  });

  it("refuses org_default: 400 invalid_request, nothing changed", async () => {
    await expectRejected(() => del(`/admin/v1/organizations/${DEFAULT_ORG}`), 400, "invalid_request");
    expect((await call(`/admin/v1/organizations/${DEFAULT_ORG}`)).status).toBe(200);
  });

  it("answers 404 not_found to an unknown id", async () => {
    await expectRejected(() => del(`/admin/v1/organizations/${UNKNOWN_ORG}`), 404, "not_found");
  });
});

describe("accounts in organizations", () => {
  it("creates an account in a named organization: organization_id in the answer, the GET and the list", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    expect(account.organization_id).toBe(org.id);
    expect((await json(await call(`/admin/v1/accounts/${account.id}`))).organization_id).toBe(org.id);
    const listed = (await listAll("/admin/v1/accounts?limit=100")).find((row) => row.id === account.id);
    expect(listed.organization_id).toBe(org.id);
  });

  it("puts an account created without organization_id in org_default, as before", async () => {
    const account = await createAccount();
    expect(account.organization_id).toBe(DEFAULT_ORG);
    expect((await json(await call(`/admin/v1/accounts/${account.id}`))).organization_id).toBe(DEFAULT_ORG);
  });

  it("accepts organization_id org_default named explicitly", async () => {
    expect((await accountIn(DEFAULT_ORG)).organization_id).toBe(DEFAULT_ORG);
  });

  for (const [label, organization_id] of [
    ["an unknown organization_id", UNKNOWN_ORG],
    ["an account's id as organization_id", "acct_0000000000000000000000"],
    ["an empty organization_id", ""],
    ["a numeric organization_id", 42],
  ] as const) {
    it(`rejects ${label}: 400 invalid_request, nothing stored`, async () => {
      await expectRejected(() => post("/admin/v1/accounts", { name: unique("account"), type: "service", organization_id }), 400, "invalid_request");
    });
  }

  it("lists only the organization's accounts with ?organization_id=, newest first", async () => {
    const org = await createOrg();
    const other = await createOrg();
    const mine = [await accountIn(org.id), await accountIn(org.id), await accountIn(org.id)];
    await accountIn(other.id);
    const outside = await createAccount();

    const listed = await listAll(`/admin/v1/accounts?organization_id=${org.id}&limit=2`);
    expect(listed.map((row) => row.id).sort()).toEqual(mine.map((row) => row.id).sort());
    for (const row of listed) expect(row.organization_id).toBe(org.id);
    for (let i = 0; i + 1 < listed.length; i++) expect(listed[i].created_at >= listed[i + 1].created_at).toBe(true);

    const inDefault = await listAll(`/admin/v1/accounts?organization_id=${DEFAULT_ORG}&limit=100`);
    expect(inDefault.map((row) => row.id)).toContain(outside.id);
    for (const row of inDefault) expect(row.organization_id).toBe(DEFAULT_ORG);
  });

  it("lists only the organization's credentials with ?organization_id=", async () => {
    const org = await createOrg();
    const a = await accountIn(org.id);
    const b = await accountIn(org.id);
    const mine = [await createCredential(a.id), await createCredential(a.id, "api_key"), await createCredential(b.id)];
    const elsewhere = await createCredential((await accountIn((await createOrg()).id)).id);
    const inDefault = await createCredential((await createAccount()).id);

    const listed = await listAll(`/admin/v1/credentials?organization_id=${org.id}&limit=2`);
    expect(listed.map((row) => row.id).sort()).toEqual(mine.map((row) => row.id).sort());
    for (let i = 0; i + 1 < listed.length; i++) expect(listed[i].created_at >= listed[i + 1].created_at).toBe(true);
    for (const row of listed) expect(JSON.stringify(row)).not.toMatch(/kms_|km_live_/);

    const defaults = (await listAll(`/admin/v1/credentials?organization_id=${DEFAULT_ORG}&limit=100`)).map((row) => row.id);
    expect(defaults).toContain(inDefault.id);
    expect(defaults).not.toContain(elsewhere.id);
    for (const credential of mine) expect(defaults).not.toContain(credential.id);
  });

  it("lists only the organization's audit events with ?organization_id=", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    const credential = await createCredential(account.id);
    expect((await patch(`/admin/v1/credentials/${credential.id}`, { name: unique("credential") })).status).toBe(200);
    await createCredential((await createAccount()).id); // in org_default: not listed
    await createApi(["read"]); // platform-wide: not listed

    const events = await listAll(`/admin/v1/audit-events?organization_id=${org.id}&limit=2`);
    expect(events.map((event) => `${event.action} ${event.target_id}`).sort()).toEqual(
      [
        `organization.create ${org.id}`,
        `account.create ${account.id}`,
        `credential.create ${credential.id}`,
        `credential.update ${credential.id}`,
      ].sort(),
    );
    for (const event of events) expect(event.organization_id).toBe(org.id);
    for (let i = 0; i + 1 < events.length; i++) expect(events[i].at >= events[i + 1].at).toBe(true);
  });

  it("rejects a repeated organization_id filter with 400", async () => {
    for (const path of ["accounts", "credentials", "audit-events"]) {
      await expectRejected(() => call(`/admin/v1/${path}?organization_id=${DEFAULT_ORG}&organization_id=${DEFAULT_ORG}`), 400, "invalid_request");
    }
  });
});

describe("organization_id on every audit event", () => {
  it("account and credential events carry the account's organization, deletions included", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    const credential = await createCredential(account.id);
    expect((await post(`/admin/v1/credentials/${credential.id}/roll`, {})).status).toBe(200);
    expect((await post(`/admin/v1/accounts/${account.id}/deactivate`)).status).toBe(200);
    expect((await del(`/admin/v1/accounts/${account.id}`)).status).toBe(204);

    const accountEvents = await auditEventsFor(account.id);
    expect(accountEvents.map((event) => event.action).sort()).toEqual(["account.create", "account.deactivate", "account.delete"]);
    const credentialEvents = await auditEventsFor(credential.id);
    expect(credentialEvents.map((event) => event.action).sort()).toEqual(["credential.create", "credential.delete", "credential.roll"]);
    for (const event of [...accountEvents, ...credentialEvents]) expect(event).toHaveProperty("organization_id", org.id);
  });

  it("events of the default organization's accounts carry org_default", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    for (const event of [...(await auditEventsFor(account.id)), ...(await auditEventsFor(credential.id))]) {
      expect(event).toHaveProperty("organization_id", DEFAULT_ORG);
    }
  });

  it("API events carry organization_id null", async () => {
    const api = await createApi(["read"]);
    expect((await patch(`/admin/v1/apis/${api.id}`, { name: unique("api") })).status).toBe(200);
    const events = await auditEventsFor(api.id);
    expect(events).toHaveLength(2);
    for (const event of events) expect(event).toHaveProperty("organization_id", null);
  });

  it("every event in the list has an organization_id member", async () => {
    await createOrg();
    await createCredential((await accountIn((await createOrg()).id)).id);
    await createApi(["read"]);
    const events = (await walkPages("/admin/v1/audit-events?limit=100")).flatMap((page) => page.data);
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) {
      expect(Object.keys(event)).toContain("organization_id");
      expect(event.organization_id === null || typeof event.organization_id === "string").toBe(true);
    }
  });
});
