import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { SESSION_COOKIE, type Browser, getPage, postForm, sessionSetCookie, signedInBrowser, textOf } from "../support/console";
import { call, json, snapshot, uniqueName } from "../support/http";
import { tokenFor } from "../support/oauth";
import { accountIn, createOrg, created, unique } from "../support/organizations";

/**
 * Metadata and token claims in the console (contract "Custom claims"): the key/value editor on
 * the credential, account and organization pages, and the token claims editor on an API's edit
 * page. Checked through the pages, through D1 and the admin API, and through a token minted after.
 */

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

type Row = [name: string, type: "string" | "number" | "boolean", value: string];

/** The editor's fields for these rows, then two blank rows, as the form sends them. */
function metaFields(rows: Row[]): Record<string, string> {
  const fields: Record<string, string> = {};
  [...rows, ["", "string", ""] as Row, ["", "string", ""] as Row].forEach(([name, type, value], i) => {
    fields[`meta.${i}.name`] = name;
    fields[`meta.${i}.type`] = type;
    fields[`meta.${i}.value`] = value;
  });
  return fields;
}

const storedMetadata = async (table: "credentials" | "accounts" | "organizations", id: string) =>
  (await env.DB.prepare(`SELECT metadata FROM ${table} WHERE id = ?`).bind(id).first<{ metadata: string | null }>())!.metadata;

/** Every row that a refused form could have changed: accounts, credentials, audit events, organizations, APIs. */
async function state(): Promise<string> {
  const [organizations, apis] = await env.DB.batch([env.DB.prepare("SELECT * FROM organizations ORDER BY id"), env.DB.prepare("SELECT * FROM apis ORDER BY id")]);
  return JSON.stringify([await snapshot(), organizations!.results, apis!.results]);
}

async function oauthClient(accountId: string) {
  return created(await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName("claims client"), type: "oauth_client", account_id: accountId } }));
}

/** A console session opened from a console link of an organization. */
async function linkSession(organizationId: string, role: "admin" | "viewer"): Promise<string> {
  const link = await created(await call(`/admin/v1/organizations/${organizationId}/console-links`, { method: "POST", body: { email: `${role}@tenant.example`, role } }));
  const opened = sessionSetCookie(await getPage(new URL(link.url).pathname));
  expect(opened).toBeDefined();
  return `${SESSION_COOKIE}=${opened!.value}`;
}

const ROWS: Row[] = [
  ["plan", "string", "enterprise"],
  ["seats", "number", "25"],
  ["beta", "boolean", "true"],
];
const SAVED = { plan: "enterprise", seats: 25, beta: true };

describe("the metadata editor", () => {
  it("on a credential's page: labelled rows, a hint against secrets; saving lands in D1 and the admin API; all rows blank clears it", async () => {
    const account = await accountIn("org_default");
    const credential = await oauthClient(account.id);
    const page = await (await browser.get(`/console/credentials/${credential.id}`)).text();
    expect(page).toContain(`<form method="post" action="/console/credentials/${credential.id}/metadata" class="stack">`);
    expect(page).toMatch(/<fieldset class="kv"[^>]*><legend>Metadata<\/legend>/);
    // Two blank rows, each field labelled.
    for (const label of ["Name 1", "Type 1", "Value 1", "Name 2", "Type 2", "Value 2"]) expect(page).toContain(`>${label}</label>`);
    expect(page).not.toContain('name="meta.2.name"');
    expect(textOf(page)).toContain("Not a place for secrets");
    expect(textOf(page)).toContain("At most 16 members");

    const saved = await browser.post(`/console/credentials/${credential.id}/metadata`, metaFields(ROWS));
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`/console/credentials/${credential.id}?done=metadata-saved`);
    expect(JSON.parse((await storedMetadata("credentials", credential.id))!)).toEqual(SAVED);
    expect((await json(await call(`/admin/v1/credentials/${credential.id}`))).metadata).toEqual(SAVED);
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${credential.id}`))).data as { action: string; channel: string }[];
    expect(events[0]).toMatchObject({ action: "credential.update", channel: "console" });

    // The page shows it read-only and in the editor (three rows, two blank ones), with the flash.
    const after = await (await browser.get(saved.headers.get("location")!)).text();
    expect(textOf(after)).toContain("Metadata saved.");
    expect(textOf(after)).toContain("plan: enterprise");
    expect(textOf(after)).toContain("seats: 25 (number)");
    expect(after).toMatch(/<input id="meta-0-name" name="meta.0.name"[^>]*value="plan"/);
    expect(after).toMatch(/<select id="meta-1-type" name="meta.1.type"><option value="string">Text<\/option><option value="number" selected="">Number<\/option>/);
    expect(after).toContain('name="meta.4.name"');
    expect(after).not.toContain('name="meta.5.name"');

    const cleared = await browser.post(`/console/credentials/${credential.id}/metadata`, metaFields([]));
    expect(cleared.status).toBe(303);
    expect(await storedMetadata("credentials", credential.id)).toBeNull();
    expect((await json(await call(`/admin/v1/credentials/${credential.id}`))).metadata).toBeNull();
  });

  it("on an account's new page: its fields and the way to its credentials; renames it and saves its metadata; the list links to it", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    const list = await (await browser.get(`/console/accounts?organization_id=${org.id}`)).text();
    expect(list).toContain(`<a href="/console/accounts/${account.id}"><bdi dir="auto">${account.name}</bdi></a>`);

    const page = await browser.get(`/console/accounts/${account.id}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const text = textOf(html);
    expect(html).toMatch(new RegExp(`<h1><bdi dir="auto">${account.name}</bdi></h1>`));
    expect(text).toContain("Service account");
    expect(text).toContain("Active");
    expect(text).toContain(org.name);
    expect(text).toContain("None yet");
    expect(html).toContain(`href="/console/credentials?account_id=${account.id}"`);
    expect(html).toContain(`<form method="post" action="/console/accounts/${account.id}" class="stack">`);

    const name = unique("renamed");
    const saved = await browser.post(`/console/accounts/${account.id}`, { name, ...metaFields(ROWS) });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`/console/accounts/${account.id}?done=saved`);
    const row = await env.DB.prepare("SELECT name, metadata FROM accounts WHERE id = ?").bind(account.id).first<{ name: string; metadata: string }>();
    expect(row!.name).toBe(name);
    expect(JSON.parse(row!.metadata)).toEqual(SAVED);
    expect(await json(await call(`/admin/v1/accounts/${account.id}`))).toMatchObject({ name, metadata: SAVED });
    const after = textOf(await (await browser.get(`/console/accounts/${account.id}?done=saved`)).text());
    expect(after).toContain("Account saved.");
    expect(after).toContain("plan: enterprise");

    expect((await browser.post(`/console/accounts/${account.id}`, { name, ...metaFields([]) })).status).toBe(303);
    expect(await storedMetadata("accounts", account.id)).toBeNull();
    expect((await json(await call(`/admin/v1/accounts/${account.id}`))).metadata).toBeNull();
    // An unknown account is the console's 404.
    expect((await browser.get("/console/accounts/acct_0000000000000000000000")).status).toBe(404);
  });

  it("on an organization's page: saves and clears its metadata", async () => {
    const org = await createOrg();
    const page = await (await browser.get(`/console/organizations/${org.id}`)).text();
    expect(page).toContain(`<form method="post" action="/console/organizations/${org.id}/metadata" class="stack">`);
    const saved = await browser.post(`/console/organizations/${org.id}/metadata`, metaFields(ROWS));
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`/console/organizations/${org.id}?done=metadata`);
    expect(JSON.parse((await storedMetadata("organizations", org.id))!)).toEqual(SAVED);
    expect((await json(await call(`/admin/v1/organizations/${org.id}`))).metadata).toEqual(SAVED);
    const after = textOf(await (await browser.get(`/console/organizations/${org.id}?done=metadata`)).text());
    expect(after).toContain("Metadata saved.");
    expect(after).toContain("beta: true (true/false)");

    expect((await browser.post(`/console/organizations/${org.id}/metadata`, metaFields([]))).status).toBe(303);
    expect(await storedMetadata("organizations", org.id)).toBeNull();
    expect((await json(await call(`/admin/v1/organizations/${org.id}`))).metadata).toBeNull();
  });

  it("refuses each bad input with a 400, the message next to the row and the field marked, and changes nothing, on every form", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    const credential = await oauthClient(account.id);
    const seventeen = Array.from({ length: 17 }, (_, i): Row => [`member_${i}`, "number", String(i)]);
    const heavy = Array.from({ length: 5 }, (_, i): Row => [`long_${i}`, "string", "x".repeat(250)]);
    const cases: { label: string; rows: Row[]; message: string; invalid: string }[] = [
      { label: "a bad name", rows: [["Bad-Name", "string", "x"]], message: '"Bad-Name" is not a name', invalid: "meta-0-name" },
      { label: "a name every object has", rows: [["plan", "string", "x"], ["constructor", "string", "x"]], message: '"constructor" cannot be used', invalid: "meta-1-name" },
      { label: "a 257-character value", rows: [["note", "string", "y".repeat(257)]], message: "text is at most 256 characters (this has 257)", invalid: "meta-0-value" },
      { label: "a number that is not one", rows: [["seats", "number", "abc"]], message: '"abc" is not a number', invalid: "meta-0-value" },
      { label: "an infinite number", rows: [["seats", "number", "1e999"]], message: '"1e999" is not a number', invalid: "meta-0-value" },
      { label: "a True/False that is neither", rows: [["beta", "boolean", "yes"]], message: 'true or false, not "yes"', invalid: "meta-0-value" },
      { label: "17 members", rows: seventeen, message: "Metadata has at most 16 members", invalid: "meta-16-name" },
      { label: "more than 1,024 bytes", rows: heavy, message: "Metadata is at most 1024 bytes as JSON.", invalid: "meta-0-name" },
      { label: "a value with no name", rows: [["", "string", "orphan"]], message: "give this value a name", invalid: "meta-0-name" },
      { label: "a name twice", rows: [["plan", "string", "a"], ["tier", "string", "b"], ["plan", "string", "c"]], message: '"plan" is already used in row 1', invalid: "meta-2-name" },
    ];
    const forms: [string, Record<string, string>][] = [
      [`/console/credentials/${credential.id}/metadata`, {}],
      [`/console/accounts/${account.id}`, { name: account.name }],
      [`/console/organizations/${org.id}/metadata`, {}],
    ];
    const before = await state();
    for (const { label, rows, message, invalid } of cases) {
      for (const [path, extra] of forms) {
        const response = await browser.post(path, { ...extra, ...metaFields(rows) });
        const what = `${label} at ${path}`;
        expect(response.status, what).toBe(400);
        const html = await response.text();
        expect(textOf(html), what).toContain(message);
        // The field is marked and described by the message, which sits inline (not only on an error page).
        const field = new RegExp(`<(input|select) id="${invalid}"[^>]*aria-describedby="(meta-\\d+-error|meta-error)"[^>]*aria-invalid="true"`).exec(html);
        expect(field, what).not.toBeNull();
        expect(html, what).toContain(`<div class="field-error" id="${field![2]}">`);
        // What was typed is shown again.
        expect(html, what).toContain(`value="${rows[0]![0]}"`);
      }
    }
    expect(await state()).toBe(before);
  });

  it("refuses a bad account name on the account page, keeping the metadata as typed", async () => {
    const account = await accountIn("org_default");
    const before = await state();
    const response = await browser.post(`/console/accounts/${account.id}`, { name: "   ", ...metaFields(ROWS) });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toMatch(/<input id="account-name"[^>]*aria-invalid="true" aria-describedby="account-name-error"/);
    expect(html).toContain('value="enterprise"');
    expect(await state()).toBe(before);
  });

  it("shows a viewer the metadata read-only, with no editor, and refuses the viewer's posts (403), changing nothing", async () => {
    const org = await createOrg();
    const account = await accountIn(org.id);
    const credential = await oauthClient(account.id);
    for (const path of [`/admin/v1/accounts/${account.id}`, `/admin/v1/credentials/${credential.id}`]) {
      expect((await call(path, { method: "PATCH", body: { metadata: { region: "eu-west" } } })).status, path).toBe(200);
    }
    const viewer = await linkSession(org.id, "viewer");
    for (const path of [`/console/accounts/${account.id}`, `/console/credentials/${credential.id}`]) {
      const page = await getPage(path, { cookie: viewer });
      expect(page.status, path).toBe(200);
      const html = await page.text();
      expect(textOf(html), path).toContain("region: eu-west");
      expect(html, path).not.toContain('name="meta.0.name"');
      expect(html, path).not.toContain(`action="/console/accounts/${account.id}"`);
      expect(html, path).not.toContain("/metadata");
    }
    const before = await state();
    for (const [path, fields] of [
      [`/console/accounts/${account.id}`, { name: "viewer rename", ...metaFields(ROWS) }],
      [`/console/credentials/${credential.id}/metadata`, metaFields(ROWS)],
    ] as const) {
      expect((await postForm(path, fields, { cookie: viewer })).status, path).toBe(403);
    }
    expect(await state()).toBe(before);

    // The organization's admin edits its own account's metadata.
    const admin = await linkSession(org.id, "admin");
    expect((await postForm(`/console/accounts/${account.id}`, { name: account.name, ...metaFields([["region", "string", "us-east"]]) }, { cookie: admin })).status).toBe(303);
    expect(JSON.parse((await storedMetadata("accounts", account.id))!)).toEqual({ region: "us-east" });
  });

  it("escapes a hostile value on every page that shows it, and when a refused form shows it again", async () => {
    const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
    const org = await createOrg();
    const account = await accountIn(org.id);
    const credential = await oauthClient(account.id);
    const pages: [string, string, Record<string, string>][] = [
      [`/console/credentials/${credential.id}/metadata`, `/console/credentials/${credential.id}`, {}],
      [`/console/accounts/${account.id}`, `/console/accounts/${account.id}`, { name: account.name }],
      [`/console/organizations/${org.id}/metadata`, `/console/organizations/${org.id}`, {}],
    ];
    for (const [action, path, extra] of pages) {
      expect((await browser.post(action, { ...extra, ...metaFields([["note", "string", hostile]]) })).status, action).toBe(303);
      const html = await (await browser.get(path)).text();
      expect(html, path).not.toContain("<script>alert");
      expect(html, path).not.toContain("<img src=x");
      expect(html, path).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
      expect(textOf(html), path).toContain(`note: ${hostile}`);
      // A refused form, with the hostile text in a name and a value.
      const refused = await browser.post(action, { ...extra, ...metaFields([["<b>bold", "string", hostile]]) });
      expect(refused.status, action).toBe(400);
      const again = await refused.text();
      expect(again, action).not.toContain("<b>bold");
      expect(again, action).not.toContain("<script>alert");
    }
  });
});

describe("the token claims editor on an API's edit page", () => {
  it("saves the default API's claims: the admin API shows them, the list shows them, and a token minted after carries them", async () => {
    const externalId = `cus_${crypto.randomUUID()}`;
    const org = await createOrg({ external_id: externalId });
    const account = await accountIn(org.id);
    expect((await call(`/admin/v1/accounts/${account.id}`, { method: "PATCH", body: { metadata: { tier: "gold" } } })).status).toBe(200);
    const client = await oauthClient(account.id);
    const defaultApi = await json(await call("/admin/v1/apis/api_default"));

    const page = await (await browser.get("/console/apis/api_default/edit")).text();
    expect(page).toMatch(/<fieldset class="kv"[^>]*><legend>Token claims<\/legend>/);
    expect(page).toContain('<datalist id="claim-sources"><option value="organization.id"></option>');
    expect(page).toContain('<option value="account.metadata." label="account.metadata.&lt;name&gt;: add the member&#39;s name"></option>');
    expect(page).toMatch(/<input id="claim-0-source" name="claim.0.source"[^>]*list="claim-sources"/);
    for (const label of ["Claim name 1", "Source 1", "Claim name 2", "Source 2"]) expect(page).toContain(`>${label}</label>`);

    const saved = await browser.post("/console/apis/api_default", {
      name: defaultApi.name,
      "claim.0.name": "tenant",
      "claim.0.source": "organization.external_id",
      "claim.1.name": "",
      "claim.1.source": "",
      "claim.2.name": "tier",
      "claim.2.source": " account.metadata.tier ",
      "claim.3.name": "",
      "claim.3.source": "",
    });
    expect(saved.status).toBe(303);
    const claims = { tenant: "organization.external_id", tier: "account.metadata.tier" };
    expect((await json(await call("/admin/v1/apis/api_default"))).token_claims).toEqual(claims);
    const payload = decodeJwt(await tokenFor(client));
    expect(payload).toMatchObject({ tenant: externalId, tier: "gold" });

    const list = textOf(await (await browser.get("/console/apis")).text());
    expect(list).toContain("tenant from organization.external_id");
    // An organization's console sees them read-only: in the list, with no way to edit.
    const tenantAdmin = await linkSession(org.id, "admin");
    const theirs = await (await getPage("/console/apis", { cookie: tenantAdmin })).text();
    expect(textOf(theirs)).toContain("tier from account.metadata.tier");
    expect(theirs).not.toContain("/console/apis/api_default/edit");
    expect((await getPage("/console/apis/api_default/edit", { cookie: tenantAdmin })).status).toBe(403);
    expect((await postForm("/console/apis/api_default", { name: defaultApi.name }, { cookie: tenantAdmin })).status).toBe(403);

    // A save without the claims editor's fields leaves them; all rows blank clears them.
    expect((await browser.post("/console/apis/api_default", { name: defaultApi.name })).status).toBe(303);
    expect((await json(await call("/admin/v1/apis/api_default"))).token_claims).toEqual(claims);
    expect((await browser.post("/console/apis/api_default", { name: defaultApi.name, "claim.0.name": "", "claim.0.source": "" })).status).toBe(303);
    expect((await json(await call("/admin/v1/apis/api_default"))).token_claims).toBeNull();
    expect(decodeJwt(await tokenFor(client))).not.toHaveProperty("tenant");
  });

  it("refuses a reserved name, an unknown source, a name twice, a source with no name and 17 claims inline with a 400; nothing changes", async () => {
    const api = await created(await call("/admin/v1/apis", { method: "POST", body: { name: uniqueName("Claims API"), identifier: `https://claims-${crypto.randomUUID()}.example.com`, scopes: ["read"] } }));
    const rows = (pairs: [string, string][]) => Object.fromEntries(pairs.flatMap(([name, source], i) => [[`claim.${i}.name`, name], [`claim.${i}.source`, source]]));
    const cases: { label: string; pairs: [string, string][]; message: string; invalid: string }[] = [
      { label: "sub", pairs: [["sub", "account.id"]], message: "sub is set by Keymint", invalid: "claim-0-name" },
      { label: "an unknown source", pairs: [["secret", "organization.secret"]], message: '"organization.secret" is not a source', invalid: "claim-0-source" },
      { label: "a bad metadata name", pairs: [["plan", "account.metadata.Bad-Name"]], message: "is not a source", invalid: "claim-0-source" },
      { label: "a bad claim name", pairs: [["Tenant", "organization.id"]], message: '"Tenant" is not a name', invalid: "claim-0-name" },
      { label: "a name twice", pairs: [["tenant", "organization.id"], ["tenant", "account.id"]], message: '"tenant" is already used in row 1', invalid: "claim-1-name" },
      { label: "a source with no name", pairs: [["", "account.id"]], message: "give this source a claim name", invalid: "claim-0-name" },
      { label: "a name with no source", pairs: [["tenant", ""]], message: "say where the claim's value comes from", invalid: "claim-0-source" },
      { label: "17 claims", pairs: Array.from({ length: 17 }, (_, i): [string, string] => [`claim_${i}`, "account.id"]), message: "at most 16 token claims", invalid: "claim-16-name" },
    ];
    const before = await state();
    for (const { label, pairs, message, invalid } of cases) {
      for (const id of [api.id, "api_default"]) {
        const name = (await json(await call(`/admin/v1/apis/${id}`))).name;
        const response = await browser.post(`/console/apis/${id}`, { name: `${name} changed`, ...(id === "api_default" ? {} : { scopes: "read" }), ...rows(pairs) });
        expect(response.status, `${label} on ${id}`).toBe(400);
        const html = await response.text();
        expect(textOf(html), label).toContain(message);
        expect(html, label).toMatch(new RegExp(`<input id="${invalid}"[^>]*aria-describedby="claim-\\d+-error"[^>]*aria-invalid="true"`));
        expect(html, label).toContain(`value="${pairs[0]![0]}"`);
      }
    }
    expect(await state()).toBe(before);
  });
});
