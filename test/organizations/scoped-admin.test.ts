import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createAccount, createCredential, expectError, json, snapshot } from "../support/http";
import { basic, form, testAuth, tokenFor, tokenRequest } from "../support/oauth";
import { accountIn, created, createOrg, unique } from "../support/organizations";

/**
 * Scoped admin access (contract "Organizations (tenants)", "Who may do what"):
 * - platform admins (ADMIN_TOKEN, or an access token for the default API with scope `admin`
 *   minted by a credential in org_default) see and change everything;
 * - organization admins (the same kind of token minted by a credential of any other organization
 *   X) see and change only X's accounts, credentials, audit events and usage: anything of another
 *   organization answers 404 exactly as an unknown id does, lists never hold it, APIs and X itself
 *   are read-only to them (403);
 * - scope `admin:read` allows GET only.
 * The D1 database is shared by every test in this file: each test makes its own organizations.
 */

const UNKNOWN_ACCOUNT = "acct_0000000000000000000000";
const UNKNOWN_CREDENTIAL = "cred_0000000000000000000000";
const UNKNOWN_ORG = "org_0000000000000000000000";
const UNKNOWN_API = "api_0000000000000000000000";
const DEFAULT_ORG = "org_default";

type Method = "GET" | "POST" | "PATCH" | "DELETE";
const send = (token: string, method: Method, path: string, body?: unknown) => call(path, { method, token, body });

async function createApi(scopes: string[] = ["read"]) {
  const identifier = `https://scoped-admin-${crypto.randomUUID()}.example.com`;
  return created(await call("/admin/v1/apis", { method: "POST", body: { name: unique("api"), identifier, scopes } }));
}

/**
 * snapshot() (accounts, credentials, audit events) plus organizations, APIs and grants, whatever
 * their tables are called: for "a refused request changed no stored row".
 */
async function state(): Promise<string> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE '%org%' OR name IN ('apis', 'grants')) ORDER BY name",
  ).all<{ name: string }>();
  const rows = tables.results.length ? await env.DB.batch(tables.results.map((t) => env.DB.prepare(`SELECT * FROM "${t.name}" ORDER BY 1`))) : [];
  return (await snapshot()) + JSON.stringify(tables.results.map((t, i) => [t.name, rows[i]!.results]));
}

/** The request must fail with this status and code, in the contract's error shape, and change no stored row. */
async function expectRefused(request: () => Promise<Response>, status: number, code: string, label = "") {
  const before = await state();
  const response = await request();
  const body = await expectError(response, status, code).catch((error: Error) => {
    throw new Error(label ? `${label}: ${error.message}` : error.message);
  });
  expect(Object.keys(body).sort(), label).toEqual(["error", "error_description"]);
  expect(await state(), `${label}: a refused request (${status} ${code}) changed stored rows`).toBe(before);
  return body;
}

/** Every row of a list, page by page, as the holder of `token`. */
async function listAll(token: string, path: string): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    if (pages > 200) throw new Error(`pagination of ${path} does not end`);
    const separator = path.includes("?") ? "&" : "?";
    const response = await send(token, "GET", cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`);
    expect(response.status, `GET ${path}: ${await response.clone().text()}`).toBe(200);
    const page = await json(response);
    rows.push(...page.data);
    cursor = page.next_cursor;
    if (cursor === null) return rows;
  }
}

/**
 * Two organizations: X, whose admin client (scope `admin`, or whatever `adminScopes` says) mints
 * `token`, and A, the other one. Each has an active account with an OAuth client and an API key;
 * A also has a deactivated account (so that a leaked activate would show).
 */
async function tenants(adminScopes: string[] = ["admin"]) {
  const x = await createOrg();
  const a = await createOrg();
  const xAdmins = await accountIn(x.id);
  const admin = await createCredential(xAdmins.id, "oauth_client", adminScopes);
  const xAccount = await accountIn(x.id);
  const xClient = await createCredential(xAccount.id, "oauth_client", ["read"]);
  const xKey = await createCredential(xAccount.id, "api_key", ["read"]);
  const aAccount = await accountIn(a.id);
  const aClient = await createCredential(aAccount.id, "oauth_client", ["read"]);
  const aKey = await createCredential(aAccount.id, "api_key", ["read"]);
  const aIdle = await accountIn(a.id);
  const aIdleClient = await createCredential(aIdle.id, "oauth_client", ["read"]);
  expect((await call(`/admin/v1/accounts/${aIdle.id}/deactivate`, { method: "POST" })).status).toBe(200);
  const token = await tokenFor(admin);
  return {
    x,
    a,
    admin,
    token,
    xAdmins,
    xAccount,
    xClient,
    xKey,
    aAccount,
    aClient,
    aKey,
    aIdle: { ...aIdle, status: "deactivated" },
    aIdleClient,
    xAccountIds: [xAdmins.id, xAccount.id],
    xCredentialIds: [admin.id, xClient.id, xKey.id],
    aAccountIds: [aAccount.id, aIdle.id],
    aCredentialIds: [aClient.id, aKey.id, aIdleClient.id],
  };
}
type Tenants = Awaited<ReturnType<typeof tenants>>;

/** A platform admin: an OAuth client of an account in org_default. */
async function platformClient(scopes: string[]) {
  const account = await createAccount();
  return createCredential(account.id, "oauth_client", scopes);
}

/** A's credentials still authenticate: the client at the token endpoint, the API key at test-auth. */
async function expectAStillWorks(t: Tenants) {
  const minted = await tokenRequest(t.aClient);
  expect(minted.status, `A's client at the token endpoint: ${await minted.clone().text()}`).toBe(200);
  const checked = await testAuth(t.aKey.api_key);
  expect(checked.status, "A's API key at test-auth").toBe(200);
  expect((await json(checked)).organization_id).toBe(t.a.id);
}

/** Every route about one account or credential, and the row of each tenant pair it is sent about. */
interface ByIdRoute {
  method: Method;
  kind: "account" | "credential";
  suffix: string;
  body?: Record<string, unknown>;
  /** Which of A's rows: the deactivated account for activate, so that a leak would change it. */
  target: (t: Tenants) => string;
}
const BY_ID_ROUTES: ByIdRoute[] = [
  { method: "GET", kind: "account", suffix: "", target: (t) => t.aAccount.id },
  { method: "DELETE", kind: "account", suffix: "", target: (t) => t.aAccount.id },
  { method: "POST", kind: "account", suffix: "/deactivate", target: (t) => t.aAccount.id },
  { method: "POST", kind: "account", suffix: "/activate", target: (t) => t.aIdle.id },
  { method: "PATCH", kind: "account", suffix: "", body: { name: "renamed by another organization", metadata: { plan: "stolen" } }, target: (t) => t.aAccount.id },
  { method: "GET", kind: "account", suffix: "/usage", target: (t) => t.aAccount.id },
  { method: "GET", kind: "credential", suffix: "", target: (t) => t.aClient.id },
  { method: "PATCH", kind: "credential", suffix: "", body: { name: "renamed by another organization" }, target: (t) => t.aClient.id },
  { method: "PATCH", kind: "credential", suffix: "", body: { scopes: ["read", "admin"] }, target: (t) => t.aKey.id },
  { method: "PATCH", kind: "credential", suffix: "", body: { metadata: { plan: "stolen" } }, target: (t) => t.aKey.id },
  { method: "DELETE", kind: "credential", suffix: "", target: (t) => t.aClient.id },
  { method: "POST", kind: "credential", suffix: "/roll", body: { expires_in: 0 }, target: (t) => t.aClient.id },
  { method: "GET", kind: "credential", suffix: "/usage", target: (t) => t.aClient.id },
];
const pathOf = (route: ByIdRoute, id: string) => `/admin/v1/${route.kind === "account" ? "accounts" : "credentials"}/${id}${route.suffix}`;
const labelOf = (route: ByIdRoute) =>
  `${route.method} /admin/v1/${route.kind === "account" ? "accounts" : "credentials"}/{id}${route.suffix}${route.body ? ` ${JSON.stringify(route.body)}` : ""}`;

describe("organization admins: another organization's accounts and credentials are unknown ids", () => {
  for (const route of BY_ID_ROUTES) {
    it(`${labelOf(route)} about A's ${route.kind}: 404 exactly as for an unknown id, A unchanged and still working`, async () => {
      const t = await tenants();
      const before = await state();
      const response = await send(t.token, route.method, pathOf(route, route.target(t)), route.body);
      const body = await response.text();
      const after = await state();
      const unknown = await send(t.token, route.method, pathOf(route, route.kind === "account" ? UNKNOWN_ACCOUNT : UNKNOWN_CREDENTIAL), route.body);
      expect(unknown.status, "the unknown id's answer").toBe(404);
      expect(response.status, `A's ${route.kind}: ${body}`).toBe(404);
      expect(JSON.parse(body)).toEqual(await json(unknown));
      expect(JSON.parse(body).error).toBe("not_found");
      expect(after, "A's rows changed").toBe(before);
      await expectAStillWorks(t);
    });
  }

  it("the same routes on X's own account and credential work (the control)", async () => {
    const t = await tenants();
    const ok = async (method: Method, path: string, status: number, body?: unknown) => {
      const response = await send(t.token, method, path, body);
      expect(response.status, `${method} ${path}: ${await response.clone().text()}`).toBe(status);
      return status === 204 ? null : json(response);
    };
    expect(await ok("GET", `/admin/v1/accounts/${t.xAccount.id}`, 200)).toMatchObject({ id: t.xAccount.id, organization_id: t.x.id });
    expect((await ok("GET", `/admin/v1/accounts/${t.xAccount.id}/usage`, 200)).data).toEqual(expect.any(Array));
    expect(await ok("GET", `/admin/v1/credentials/${t.xClient.id}`, 200)).toMatchObject({ id: t.xClient.id, account_id: t.xAccount.id });
    expect((await ok("GET", `/admin/v1/credentials/${t.xClient.id}/usage`, 200)).data).toEqual(expect.any(Array));
    const name = unique("renamed");
    expect(await ok("PATCH", `/admin/v1/credentials/${t.xClient.id}`, 200, { name })).toMatchObject({ name });
    expect(await ok("POST", `/admin/v1/credentials/${t.xClient.id}/roll`, 200, { expires_in: 0 })).toHaveProperty("client_secret");
    expect(await ok("POST", `/admin/v1/accounts/${t.xAccount.id}/deactivate`, 200)).toMatchObject({ status: "deactivated" });
    expect(await ok("POST", `/admin/v1/accounts/${t.xAccount.id}/activate`, 200)).toMatchObject({ status: "active" });
    await ok("DELETE", `/admin/v1/credentials/${t.xKey.id}`, 204);
    await ok("DELETE", `/admin/v1/accounts/${t.xAccount.id}`, 204);
    await expectAStillWorks(t);
  });
});

describe("organization admins: lists hold their own organization's rows only", () => {
  it("GET /admin/v1/accounts lists X's accounts and none of another organization's", async () => {
    const t = await tenants();
    const rows = await listAll(t.token, "/admin/v1/accounts?limit=100");
    for (const row of rows) expect(row.organization_id, `account ${row.id}`).toBe(t.x.id);
    expect(rows.map((row) => row.id).sort()).toEqual([...t.xAccountIds].sort());
  });

  it("GET /admin/v1/credentials lists X's credentials and none of another organization's", async () => {
    const t = await tenants();
    const rows = await listAll(t.token, "/admin/v1/credentials?limit=100");
    expect(rows.map((row) => row.id).sort()).toEqual([...t.xCredentialIds].sort());
    for (const row of rows) expect(t.xAccountIds, `credential ${row.id}`).toContain(row.account_id);
  });

  it("GET /admin/v1/audit-events lists X's events only: each with organization_id X, none about A or platform-wide", async () => {
    const t = await tenants();
    await createApi(); // platform-wide (organization_id null): not X's
    const rows = await listAll(t.token, "/admin/v1/audit-events?limit=100");
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.organization_id, `${row.action} ${row.target_id}`).toBe(t.x.id);
    const targets = rows.map((row) => row.target_id);
    for (const id of [t.a.id, ...t.aAccountIds, ...t.aCredentialIds]) expect(targets).not.toContain(id);
    for (const id of [t.x.id, ...t.xAccountIds, ...t.xCredentialIds]) expect(targets).toContain(id);
  });

  for (const path of ["accounts", "credentials", "audit-events"]) {
    it(`GET /admin/v1/${path}?organization_id=<another organization> answers 200 with an empty list, exactly as an unknown organization id does`, async () => {
      const t = await tenants();
      const foreign = await send(t.token, "GET", `/admin/v1/${path}?organization_id=${t.a.id}`);
      const unknown = await send(t.token, "GET", `/admin/v1/${path}?organization_id=${UNKNOWN_ORG}`);
      expect(unknown.status).toBe(200);
      expect(await unknown.clone().json()).toEqual({ data: [], next_cursor: null });
      expect(foreign.status, await foreign.clone().text()).toBe(200);
      expect(await json(foreign)).toEqual(await json(unknown));
      // org_default is another organization too.
      const platform = await send(t.token, "GET", `/admin/v1/${path}?organization_id=${DEFAULT_ORG}`);
      expect(platform.status).toBe(200);
      expect(await json(platform)).toEqual({ data: [], next_cursor: null });
    });

    it(`GET /admin/v1/${path}?organization_id=<its own organization> lists X's rows`, async () => {
      const t = await tenants();
      const rows = await listAll(t.token, `/admin/v1/${path}?organization_id=${t.x.id}&limit=100`);
      expect(rows.length).toBeGreaterThan(0);
      const expected = path === "accounts" ? t.xAccountIds : path === "credentials" ? t.xCredentialIds : null;
      if (expected) expect(rows.map((row) => row.id).sort()).toEqual([...expected].sort());
      else for (const row of rows) expect(row.organization_id).toBe(t.x.id);
    });
  }

  it("filters naming another organization's rows find nothing: credentials ?account_id=, audit-events ?target_id=", async () => {
    const t = await tenants();
    const credentials = await send(t.token, "GET", `/admin/v1/credentials?account_id=${t.aAccount.id}`);
    expect(credentials.status).toBe(200);
    expect(await json(credentials)).toEqual({ data: [], next_cursor: null });
    for (const id of [t.aAccount.id, t.aClient.id, t.a.id]) {
      const events = await send(t.token, "GET", `/admin/v1/audit-events?target_id=${id}`);
      expect(events.status).toBe(200);
      expect(await json(events), `audit events of ${id}`).toEqual({ data: [], next_cursor: null });
    }
  });

  it("GET /admin/v1/organizations lists X alone; ?q= with A's name finds nothing", async () => {
    const t = await tenants();
    const rows = await listAll(t.token, "/admin/v1/organizations?limit=100");
    expect(rows.map((row) => row.id)).toEqual([t.x.id]);
    const search = await send(t.token, "GET", `/admin/v1/organizations?q=${encodeURIComponent(t.a.name)}`);
    expect(search.status).toBe(200);
    expect(await json(search)).toEqual({ data: [], next_cursor: null });
  });
});

describe("organization admins: creating accounts and credentials", () => {
  it("POST /admin/v1/accounts without organization_id creates the account in X, audited as the client in X", async () => {
    const t = await tenants();
    const name = unique("account");
    const account = await created(await send(t.token, "POST", "/admin/v1/accounts", { name, type: "service" }));
    expect(account).toMatchObject({ name, organization_id: t.x.id });
    const read = await json(await call(`/admin/v1/accounts/${account.id}`));
    expect(read.organization_id).toBe(t.x.id);
    const events = await listAll(t.token, `/admin/v1/audit-events?target_id=${account.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "account.create", actor: `client:${t.admin.client_id}`, organization_id: t.x.id, target_id: account.id });
  });

  it("POST /admin/v1/accounts with X's own organization_id: 201 in X", async () => {
    const t = await tenants();
    const account = await created(await send(t.token, "POST", "/admin/v1/accounts", { name: unique("account"), type: "user", organization_id: t.x.id }));
    expect(account.organization_id).toBe(t.x.id);
  });

  it("POST /admin/v1/accounts naming another organization (A, or org_default): 400 invalid_request, nothing created", async () => {
    const t = await tenants();
    for (const organization_id of [t.a.id, DEFAULT_ORG]) {
      await expectRefused(
        () => send(t.token, "POST", "/admin/v1/accounts", { name: unique("account"), type: "service", organization_id }),
        400,
        "invalid_request",
        `organization_id ${organization_id}`,
      );
    }
    const accountsOfA = await listAll(ADMIN_TOKEN, `/admin/v1/accounts?organization_id=${t.a.id}`);
    expect(accountsOfA.map((row) => row.id).sort()).toEqual([...t.aAccountIds].sort());
  });

  it("POST /admin/v1/credentials for A's account: the same status and code as for an unknown account id, nothing created", async () => {
    const t = await tenants();
    const body = (account_id: string) => ({ name: unique("credential"), type: "oauth_client", account_id, scopes: ["admin"] });
    const unknown = await send(t.token, "POST", "/admin/v1/credentials", body(UNKNOWN_ACCOUNT));
    const unknownBody = await json(unknown);
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
    for (const type of ["oauth_client", "api_key"]) {
      await expectRefused(
        () => send(t.token, "POST", "/admin/v1/credentials", { ...body(t.aAccount.id), type }),
        unknown.status,
        unknownBody.error,
        `a ${type} for A's account`,
      );
    }
    const credentialsOfA = await listAll(ADMIN_TOKEN, `/admin/v1/credentials?organization_id=${t.a.id}`);
    expect(credentialsOfA.map((row) => row.id).sort()).toEqual([...t.aCredentialIds].sort());
  });

  it("POST /admin/v1/credentials for X's account: 201, audited as the client in X", async () => {
    const t = await tenants();
    const credential = await created(
      await send(t.token, "POST", "/admin/v1/credentials", { name: unique("credential"), type: "oauth_client", account_id: t.xAccount.id, scopes: ["read"] }),
    );
    expect(credential).toMatchObject({ account_id: t.xAccount.id });
    expect(typeof credential.client_secret).toBe("string");
    const events = await listAll(ADMIN_TOKEN, `/admin/v1/audit-events?target_id=${credential.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "credential.create", actor: `client:${t.admin.client_id}`, organization_id: t.x.id });
  });

  it("changes by an organization admin are audited with actor client:<client_id> and organization_id X", async () => {
    const t = await tenants();
    expect((await send(t.token, "PATCH", `/admin/v1/credentials/${t.xClient.id}`, { name: unique("renamed") })).status).toBe(200);
    expect((await send(t.token, "POST", `/admin/v1/credentials/${t.xClient.id}/roll`, { expires_in: 0 })).status).toBe(200);
    expect((await send(t.token, "POST", `/admin/v1/accounts/${t.xAccount.id}/deactivate`)).status).toBe(200);
    expect((await send(t.token, "DELETE", `/admin/v1/accounts/${t.xAccount.id}`)).status).toBe(204);
    const events = [
      ...(await listAll(ADMIN_TOKEN, `/admin/v1/audit-events?target_id=${t.xClient.id}`)),
      ...(await listAll(ADMIN_TOKEN, `/admin/v1/audit-events?target_id=${t.xAccount.id}`)),
    ].filter((event) => !event.action.endsWith(".create"));
    expect(events.map((event) => event.action).sort()).toEqual(
      ["account.deactivate", "account.delete", "credential.delete", "credential.roll", "credential.update"].sort(),
    );
    for (const event of events) expect(event, event.action).toMatchObject({ actor: `client:${t.admin.client_id}`, organization_id: t.x.id });
  });
});

describe("organization admins: organizations", () => {
  it("GET /admin/v1/organizations/{X}: 200, as the platform sees it", async () => {
    const t = await tenants();
    const response = await send(t.token, "GET", `/admin/v1/organizations/${t.x.id}`);
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await json(response)).toEqual(await json(await call(`/admin/v1/organizations/${t.x.id}`)));
  });

  it("GET of A's organization, or of org_default: 404 exactly as for an unknown id", async () => {
    const t = await tenants();
    const unknown = await send(t.token, "GET", `/admin/v1/organizations/${UNKNOWN_ORG}`);
    expect(unknown.status).toBe(404);
    const unknownBody = await json(unknown);
    for (const id of [t.a.id, DEFAULT_ORG]) {
      const response = await send(t.token, "GET", `/admin/v1/organizations/${id}`);
      const body = await response.text();
      expect(response.status, `${id}: ${body}`).toBe(404);
      expect(JSON.parse(body)).toEqual(unknownBody);
    }
  });

  it("POST /admin/v1/organizations: 403 forbidden, nothing created", async () => {
    const t = await tenants();
    await expectRefused(() => send(t.token, "POST", "/admin/v1/organizations", { name: unique("org") }), 403, "forbidden");
  });

  const orgWrites: { method: Method; suffix: string; body?: Record<string, unknown> }[] = [
    { method: "PATCH", suffix: "", body: { name: "renamed by an organization admin" } },
    { method: "PATCH", suffix: "", body: { grants: null, metadata: { plan: "free" } } },
    { method: "DELETE", suffix: "" },
    { method: "POST", suffix: "/deactivate" },
    { method: "POST", suffix: "/activate" },
  ];
  for (const write of orgWrites) {
    const label = `${write.method} /admin/v1/organizations/{id}${write.suffix}${write.body ? ` ${JSON.stringify(write.body)}` : ""}`;

    it(`${label} of X itself: 403 forbidden, X unchanged`, async () => {
      const t = await tenants();
      await expectRefused(() => send(t.token, write.method, `/admin/v1/organizations/${t.x.id}${write.suffix}`, write.body), 403, "forbidden");
      expect(await json(await call(`/admin/v1/organizations/${t.x.id}`))).toEqual(t.x);
      expect((await testAuth(t.xKey.api_key)).status, "X's credentials still work").toBe(200);
    });

    it(`${label} of A: 404 exactly as for an unknown id, A unchanged`, async () => {
      const t = await tenants();
      const body = await expectRefused(() => send(t.token, write.method, `/admin/v1/organizations/${t.a.id}${write.suffix}`, write.body), 404, "not_found");
      const unknown = await send(t.token, write.method, `/admin/v1/organizations/${UNKNOWN_ORG}${write.suffix}`, write.body);
      expect(unknown.status).toBe(404);
      expect(body).toEqual(await json(unknown));
      expect(await json(await call(`/admin/v1/organizations/${t.a.id}`))).toEqual(t.a);
      await expectAStillWorks(t);
    });
  }
});

describe("organization admins: APIs are read-only", () => {
  it("GET /admin/v1/apis and GET /admin/v1/apis/api_default: 200", async () => {
    const t = await tenants();
    const list = await send(t.token, "GET", "/admin/v1/apis");
    expect(list.status, await list.clone().text()).toBe(200);
    expect((await json(list)).data.map((api: any) => api.id)).toContain("api_default");
    const one = await send(t.token, "GET", "/admin/v1/apis/api_default");
    expect(one.status, await one.clone().text()).toBe(200);
    expect((await json(one)).id).toBe("api_default");
  });

  it("POST /admin/v1/apis: 403 forbidden, nothing created", async () => {
    const t = await tenants();
    const identifier = `https://org-admin-api-${crypto.randomUUID()}.example.com`;
    await expectRefused(() => send(t.token, "POST", "/admin/v1/apis", { name: unique("api"), identifier, scopes: ["read"] }), 403, "forbidden");
    const apis = await listAll(ADMIN_TOKEN, "/admin/v1/apis?limit=100");
    expect(apis.map((api) => api.identifier)).not.toContain(identifier);
  });

  it("PATCH and DELETE /admin/v1/apis/{id}: 403 forbidden, the API unchanged", async () => {
    const t = await tenants();
    const api = await createApi(["read", "write"]);
    await expectRefused(() => send(t.token, "PATCH", `/admin/v1/apis/${api.id}`, { name: unique("renamed") }), 403, "forbidden", "PATCH name");
    await expectRefused(() => send(t.token, "PATCH", `/admin/v1/apis/${api.id}`, { scopes: ["read"] }), 403, "forbidden", "PATCH scopes");
    await expectRefused(() => send(t.token, "DELETE", `/admin/v1/apis/${api.id}`), 403, "forbidden", "DELETE");
    expect(await json(await call(`/admin/v1/apis/${api.id}`))).toEqual(api);
  });

  it("PATCH /admin/v1/apis/api_default: 403 forbidden, unchanged", async () => {
    const t = await tenants();
    const before = await json(await call("/admin/v1/apis/api_default"));
    await expectRefused(() => send(t.token, "PATCH", "/admin/v1/apis/api_default", { name: unique("renamed") }), 403, "forbidden");
    expect(await json(await call("/admin/v1/apis/api_default"))).toEqual(before);
  });
});

describe("scope admin:read", () => {
  it("an organization's admin:read token reads X as an organization admin does, and nothing of A", async () => {
    const t = await tenants(["admin:read"]);
    for (const path of [
      `/admin/v1/accounts/${t.xAccount.id}`,
      `/admin/v1/accounts/${t.xAccount.id}/usage`,
      `/admin/v1/credentials/${t.xClient.id}`,
      `/admin/v1/credentials/${t.xClient.id}/usage`,
      `/admin/v1/organizations/${t.x.id}`,
      "/admin/v1/apis",
      "/admin/v1/apis/api_default",
    ]) {
      const response = await send(t.token, "GET", path);
      expect(response.status, `GET ${path}: ${await response.clone().text()}`).toBe(200);
    }
    expect((await listAll(t.token, "/admin/v1/accounts")).map((row) => row.id).sort()).toEqual([...t.xAccountIds].sort());
    expect((await listAll(t.token, "/admin/v1/credentials")).map((row) => row.id).sort()).toEqual([...t.xCredentialIds].sort());
    for (const row of await listAll(t.token, "/admin/v1/audit-events")) expect(row.organization_id).toBe(t.x.id);
    expect((await listAll(t.token, "/admin/v1/organizations")).map((row) => row.id)).toEqual([t.x.id]);
    for (const path of [`/admin/v1/accounts/${t.aAccount.id}`, `/admin/v1/credentials/${t.aClient.id}`, `/admin/v1/organizations/${t.a.id}`]) {
      await expectError(await send(t.token, "GET", path), 404, "not_found");
    }
  });

  it("an organization's admin:read token: every write is 403 forbidden, nothing changed", async () => {
    const t = await tenants(["admin:read"]);
    const writes: [Method, string, unknown?][] = [
      ["POST", "/admin/v1/accounts", { name: unique("account"), type: "service" }],
      ["POST", "/admin/v1/accounts", { name: unique("account"), type: "service", organization_id: t.x.id }],
      ["POST", `/admin/v1/accounts/${t.xAccount.id}/deactivate`],
      ["POST", `/admin/v1/accounts/${t.xAccount.id}/activate`],
      ["DELETE", `/admin/v1/accounts/${t.xAccount.id}`],
      ["POST", "/admin/v1/credentials", { name: unique("credential"), type: "api_key", account_id: t.xAccount.id, scopes: [] }],
      ["PATCH", `/admin/v1/credentials/${t.xClient.id}`, { name: unique("renamed") }],
      ["POST", `/admin/v1/credentials/${t.xClient.id}/roll`, { expires_in: 0 }],
      ["DELETE", `/admin/v1/credentials/${t.xClient.id}`],
      ["POST", "/admin/v1/organizations", { name: unique("org") }],
      ["PATCH", `/admin/v1/organizations/${t.x.id}`, { name: unique("renamed") }],
      ["POST", `/admin/v1/organizations/${t.x.id}/deactivate`],
      ["DELETE", `/admin/v1/organizations/${t.x.id}`],
      ["POST", "/admin/v1/apis", { name: unique("api"), identifier: `https://read-${crypto.randomUUID()}.example.com`, scopes: [] }],
    ];
    for (const [method, path, body] of writes) {
      await expectRefused(() => send(t.token, method, path, body), 403, "forbidden", `${method} ${path}`);
    }
    expect((await testAuth(t.xKey.api_key)).status).toBe(200);
  });

  it("a platform admin:read token (credential in org_default) reads every organization's rows", async () => {
    const t = await tenants();
    const reader = await platformClient(["admin:read"]);
    const token = await tokenFor(reader);
    for (const path of [
      `/admin/v1/accounts/${t.xAccount.id}`,
      `/admin/v1/accounts/${t.aAccount.id}`,
      `/admin/v1/accounts/${t.aAccount.id}/usage`,
      `/admin/v1/credentials/${t.aClient.id}`,
      `/admin/v1/credentials/${t.aClient.id}/usage`,
      `/admin/v1/organizations/${t.a.id}`,
      `/admin/v1/organizations/${DEFAULT_ORG}`,
      "/admin/v1/apis/api_default",
    ]) {
      const response = await send(token, "GET", path);
      expect(response.status, `GET ${path}: ${await response.clone().text()}`).toBe(200);
    }
    expect((await listAll(token, `/admin/v1/accounts?organization_id=${t.a.id}`)).map((row) => row.id).sort()).toEqual([...t.aAccountIds].sort());
    expect((await listAll(token, `/admin/v1/accounts?organization_id=${t.x.id}`)).map((row) => row.id).sort()).toEqual([...t.xAccountIds].sort());
    expect((await listAll(token, `/admin/v1/credentials?organization_id=${t.a.id}`)).map((row) => row.id).sort()).toEqual([...t.aCredentialIds].sort());
    expect((await listAll(token, `/admin/v1/audit-events?organization_id=${t.a.id}`)).length).toBeGreaterThan(0);
  });

  it("a platform admin:read token: every write is 403 forbidden, nothing changed", async () => {
    const t = await tenants();
    const token = await tokenFor(await platformClient(["admin:read"]));
    const api = await createApi();
    const writes: [Method, string, unknown?][] = [
      ["POST", "/admin/v1/accounts", { name: unique("account"), type: "service" }],
      ["POST", "/admin/v1/accounts", { name: unique("account"), type: "service", organization_id: t.a.id }],
      ["POST", `/admin/v1/accounts/${t.aAccount.id}/deactivate`],
      ["POST", `/admin/v1/accounts/${t.aIdle.id}/activate`],
      ["DELETE", `/admin/v1/accounts/${t.aAccount.id}`],
      ["POST", "/admin/v1/credentials", { name: unique("credential"), type: "api_key", account_id: t.aAccount.id, scopes: [] }],
      ["PATCH", `/admin/v1/credentials/${t.aClient.id}`, { name: unique("renamed") }],
      ["POST", `/admin/v1/credentials/${t.aClient.id}/roll`, { expires_in: 0 }],
      ["DELETE", `/admin/v1/credentials/${t.aClient.id}`],
      ["POST", "/admin/v1/organizations", { name: unique("org") }],
      ["PATCH", `/admin/v1/organizations/${t.a.id}`, { name: unique("renamed") }],
      ["POST", `/admin/v1/organizations/${t.a.id}/deactivate`],
      ["DELETE", `/admin/v1/organizations/${t.a.id}`],
      ["POST", "/admin/v1/apis", { name: unique("api"), identifier: `https://read-${crypto.randomUUID()}.example.com`, scopes: [] }],
      ["PATCH", `/admin/v1/apis/${api.id}`, { name: unique("renamed") }],
      ["DELETE", `/admin/v1/apis/${api.id}`],
    ];
    for (const [method, path, body] of writes) {
      await expectRefused(() => send(token, method, path, body), 403, "forbidden", `${method} ${path}`);
    }
    await expectAStillWorks(t);
  });

  it("a token narrowed to admin:read by the token request's scope is read-only, though its credential also holds admin", async () => {
    const t = await tenants(["admin", "admin:read"]);
    const reader = await tokenFor(t.admin, "admin:read");
    const read = await send(reader, "GET", `/admin/v1/accounts/${t.xAccount.id}`);
    expect(read.status, await read.clone().text()).toBe(200);
    await expectRefused(
      () => send(reader, "PATCH", `/admin/v1/credentials/${t.xClient.id}`, { name: unique("renamed") }),
      403,
      "forbidden",
      "PATCH with admin:read",
    );
    // The full token of the same credential may write.
    expect((await send(t.token, "PATCH", `/admin/v1/credentials/${t.xClient.id}`, { name: unique("renamed") })).status).toBe(200);
  });
});

describe("platform admins", () => {
  it("an admin token of a credential in org_default sees X's and A's accounts, credentials and organizations", async () => {
    const t = await tenants();
    const admin = await platformClient(["admin"]);
    const token = await tokenFor(admin);
    const accounts = await listAll(token, "/admin/v1/accounts?limit=100");
    const ids = accounts.map((row) => row.id);
    for (const id of [...t.xAccountIds, ...t.aAccountIds]) expect(ids).toContain(id);
    for (const [account, org] of [
      [t.xAccount, t.x],
      [t.aAccount, t.a],
    ]) {
      const response = await send(token, "GET", `/admin/v1/accounts/${account.id}`);
      expect(response.status).toBe(200);
      expect((await json(response)).organization_id).toBe(org.id);
    }
    const credentials = (await listAll(token, "/admin/v1/credentials?limit=100")).map((row) => row.id);
    for (const id of [...t.xCredentialIds, ...t.aCredentialIds]) expect(credentials).toContain(id);
    const orgs = (await listAll(token, "/admin/v1/organizations?limit=100")).map((row) => row.id);
    for (const id of [t.x.id, t.a.id, DEFAULT_ORG]) expect(orgs).toContain(id);
  });

  it("an admin token of a credential in org_default changes any organization's rows, audited as its client", async () => {
    const t = await tenants();
    const admin = await platformClient(["admin"]);
    const token = await tokenFor(admin);
    const account = await created(await send(token, "POST", "/admin/v1/accounts", { name: unique("account"), type: "service", organization_id: t.a.id }));
    expect(account.organization_id).toBe(t.a.id);
    const name = unique("renamed");
    const renamed = await send(token, "PATCH", `/admin/v1/organizations/${t.a.id}`, { name });
    expect(renamed.status, await renamed.clone().text()).toBe(200);
    expect((await json(renamed)).name).toBe(name);
    expect((await send(token, "PATCH", `/admin/v1/credentials/${t.xClient.id}`, { name: unique("renamed") })).status).toBe(200);
    const events = await listAll(token, `/admin/v1/audit-events?target_id=${account.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "account.create", actor: `client:${admin.client_id}`, organization_id: t.a.id });
  });

  it("the ADMIN_TOKEN sees X's and A's rows", async () => {
    const t = await tenants();
    expect((await call(`/admin/v1/accounts/${t.aAccount.id}`)).status).toBe(200);
    expect((await call(`/admin/v1/accounts/${t.xAccount.id}`)).status).toBe(200);
    expect((await listAll(ADMIN_TOKEN, `/admin/v1/accounts?organization_id=${t.x.id}`)).map((row) => row.id).sort()).toEqual([...t.xAccountIds].sort());
  });
});

describe("scope admin on another API", () => {
  /** A client in the given organization granted `admin` on a new API (and nothing on the default API unless told). */
  async function clientWithAdminOnOtherApi(organizationId: string, defaultScopes: string[] = []) {
    const api = await createApi(["admin", "admin:read"]);
    const account = await accountIn(organizationId);
    const client = await created(
      await call("/admin/v1/credentials", {
        method: "POST",
        body: { name: unique("client"), type: "oauth_client", account_id: account.id, scopes: defaultScopes, grants: [{ api: api.identifier, scopes: ["admin", "admin:read"] }] },
      }),
    );
    const minted = await form("/oauth/token", { grant_type: "client_credentials", resource: api.identifier }, { authorization: basic(client.client_id, client.client_secret) });
    expect(minted.status, await minted.clone().text()).toBe(200);
    const token = (await json(minted)).access_token as string;
    return { api, client, token };
  }

  for (const [label, where] of [
    ["a credential in org_default", () => Promise.resolve(DEFAULT_ORG)],
    ["a credential of another organization", async () => (await createOrg()).id],
  ] as const) {
    it(`a token for another API with scope admin, of ${label}, opens nothing: 401 unauthorized, nothing changed`, async () => {
      const { token } = await clientWithAdminOnOtherApi(await where(), ["admin"]);
      await expectRefused(() => send(token, "GET", "/admin/v1/accounts"), 401, "unauthorized", "GET accounts");
      await expectRefused(() => send(token, "GET", "/admin/v1/organizations"), 401, "unauthorized", "GET organizations");
      await expectRefused(() => send(token, "POST", "/admin/v1/accounts", { name: unique("account"), type: "service" }), 401, "unauthorized", "POST accounts");
      await expectRefused(() => send(token, "GET", `/admin/v1/credentials/${UNKNOWN_CREDENTIAL}`), 401, "unauthorized", "GET a credential");
      await expectRefused(() => send(token, "GET", `/admin/v1/apis/${UNKNOWN_API}`), 401, "unauthorized", "GET an API");
    });
  }
});
