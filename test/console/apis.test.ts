import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, hiddenValue, shownSecret, signedInBrowser, textOf } from "../support/console";
import { auditEventsFor, call, createAccount, json, uniqueName } from "../support/http";
import { basic, rawForm } from "../support/oauth";

/**
 * The console's APIs screen (list, create, edit, delete with the count of credentials that lose
 * access) and the grant editor on credentials (checkboxes of each API's declared scopes), checked
 * through the pages and through what is stored and what the token endpoint then does.
 */

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

let counter = 0;
const newIdentifier = (label = "api") => `https://${label}-${Date.now().toString(36)}-${++counter}.example.com`;
const AUDIENCE = env.ACCESS_TOKEN_AUDIENCE || "http://localhost:8787";

async function createApi(scopes: string[], name = uniqueName("API")) {
  const response = await call("/admin/v1/apis", { method: "POST", body: { name, identifier: newIdentifier(), scopes } });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

async function createClient(body: { scopes?: string[]; grants?: { api: string; scopes: string[] }[] } = {}) {
  const account = await createAccount();
  const response = await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName("grantee"), type: "oauth_client", account_id: account.id, ...body } });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

const getCredential = async (id: string) => json(await call(`/admin/v1/credentials/${id}`));
const getApi = (id: string) => call(`/admin/v1/apis/${id}`);

async function apiRowsByIdentifier(identifier: string) {
  return (await env.DB.prepare("SELECT * FROM apis WHERE identifier = ?").bind(identifier).all<Record<string, unknown>>()).results;
}

/** apis and grants, whole: for "nothing changed" checks. */
async function apiState(): Promise<string> {
  const [apis, grants] = await env.DB.batch([env.DB.prepare("SELECT * FROM apis ORDER BY id"), env.DB.prepare("SELECT * FROM grants ORDER BY credential_id, api_id")]);
  return JSON.stringify([apis!.results, grants!.results]);
}

function tokenRequest(client: { client_id: string; client_secret: string }, params: Record<string, string> = {}) {
  const body = new URLSearchParams({ grant_type: "client_credentials", ...params });
  return rawForm("/oauth/token", body.toString(), { authorization: basic(client.client_id, client.client_secret) });
}

/** The row of the APIs table that names this API (by its id under the name). */
function rowOf(html: string, id: string): string {
  const rows = html.split("<tr>").filter((row) => row.includes(`<div class="hint mono">${id}</div>`));
  expect(rows, `one row for ${id}`).toHaveLength(1);
  return rows[0]!.split("</tr>")[0]!;
}

/** The fieldset of the grant editor for one API (by the id in its field names). */
function fieldsetOf(html: string, apiId: string): string {
  const sets = html.split("<fieldset").filter((set) => set.includes(`.${apiId}`));
  expect(sets, `one fieldset for ${apiId}`).toHaveLength(1);
  return sets[0]!.split("</fieldset>")[0]!;
}

/** The scope checkboxes of a fieldset: [scope, checked]. */
function checkboxes(fieldset: string, apiId: string): [string, boolean][] {
  return [...fieldset.matchAll(/<input type="checkbox" name="([^"]+)" value="1"( checked="")?/g)].map((m) => [m[1]!.replace(`s.${apiId}.`, ""), Boolean(m[2])]);
}

describe("the APIs screen", () => {
  it("is in the console's nav and lists every API; the default one is marked, takes any scope, and offers no delete", async () => {
    const api = await createApi(["invoices:read", "invoices:write"]);
    const response = await browser.get("/console/apis");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toMatch(/<nav aria-label="Console">[\s\S]*<a href="\/console\/apis" aria-current="page">APIs<\/a>[\s\S]*<\/nav>/);
    expect(html).toMatch(/<h1>APIs<\/h1>/);
    const headers = [...html.matchAll(/<th scope="col">([^<]*)<\/th>/g)].map((match) => match[1]);
    expect(headers).toEqual(["Name", "Identifier", "Scopes", "Token claims", "Created (UTC)"]);

    const row = rowOf(html, api.id);
    expect(textOf(row)).toContain(api.name);
    expect(textOf(row)).toContain(api.identifier);
    expect(textOf(row)).toContain("invoices:read invoices:write");
    expect(row).toContain(`<time datetime="${api.created_at}"`);
    expect(row).toContain(`<bdi dir="auto">${api.name}</bdi>`);
    expect(row).toContain(`href="/console/apis/${api.id}/edit" aria-label="Edit ${api.name}"`);
    expect(row).toContain(`href="/console/apis/${api.id}/delete" aria-label="Delete ${api.name}"`);

    const defaultRow = rowOf(html, "api_default");
    expect(textOf(defaultRow)).toContain("Default API Default");
    expect(textOf(defaultRow)).toContain(AUDIENCE);
    expect(textOf(defaultRow)).toContain("Any scope");
    expect(defaultRow).toContain('href="/console/apis/api_default/edit" aria-label="Edit Default API"');
    expect(defaultRow).not.toContain("/delete");
    // The default API comes first.
    expect(html.indexOf("api_default")).toBeLessThan(html.indexOf(api.id));
  });

  it("creates an API through the services: stored, audited as a console change, listed", async () => {
    const identifier = newIdentifier("created");
    const name = uniqueName("Billing API");
    const response = await browser.post("/console/apis", { name, identifier, scopes: "invoices:read, invoices:write  invoices:read" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/apis?done=created");
    const rows = await apiRowsByIdentifier(identifier);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name, scopes: JSON.stringify(["invoices:read", "invoices:write"]) });
    const id = rows[0]!.id as string;
    expect(await json(await getApi(id))).toMatchObject({ name, identifier, scopes: ["invoices:read", "invoices:write"] });
    const [event] = await auditEventsFor(id);
    expect(event).toMatchObject({ action: "api.create", channel: "console", actor: "admin_token", target_type: "api", target_name: name });

    const page = await (await browser.get("/console/apis?done=created")).text();
    expect(textOf(page)).toContain("API created.");
    expect(textOf(rowOf(page, id))).toContain(identifier);
  });

  it("refuses a bad identifier or scope with a form error that keeps what was typed, and stores nothing", async () => {
    const before = await apiState();
    const name = uniqueName("Typed name");
    const cases = [
      { fields: { identifier: "http://billing.example.com", scopes: "a b" }, field: "identifier" },
      { fields: { identifier: "https://billing.example.com/#frag", scopes: "a b" }, field: "identifier" },
      { fields: { identifier: "not a uri", scopes: "a b" }, field: "identifier" },
      { fields: { identifier: `https://example.com/${"x".repeat(2000)}`, scopes: "" }, field: "identifier" },
      { fields: { identifier: newIdentifier(), scopes: 'ok "quoted"' }, field: "api-scopes" },
    ];
    for (const { fields, field } of cases) {
      const response = await browser.post("/console/apis", { name, ...fields });
      expect(response.status, fields.identifier).toBe(400);
      const html = await response.text();
      expect(html).toMatch(new RegExp(`<input id="${field}"[^>]*aria-invalid="true"`));
      expect(html).toContain('role="alert"');
      // What was typed is still in the form.
      expect(html).toContain(`value="${name}"`);
      expect(hiddenValue(html, "scopes")).toBe(fields.scopes.replaceAll('"', "&quot;"));
      expect(html).toContain(`value="${fields.identifier}"`);
    }
    // A blank name is the name field's error.
    const blank = await browser.post("/console/apis", { name: "  ", identifier: newIdentifier(), scopes: "" });
    expect(blank.status).toBe(400);
    expect(await blank.text()).toMatch(/<input id="api-name"[^>]*aria-invalid="true" aria-describedby="api-name-error" autofocus=""/);
    expect(await apiState()).toBe(before);
  });

  it("answers a duplicate identifier (or the default API's) with 409 and a form error on the identifier", async () => {
    const existing = await createApi(["a"]);
    const before = await apiState();
    for (const identifier of [existing.identifier, AUDIENCE]) {
      const response = await browser.post("/console/apis", { name: "Second", identifier, scopes: "b" });
      expect(response.status, identifier).toBe(409);
      const html = await response.text();
      expect(html).toMatch(/<input id="identifier"[^>]*aria-invalid="true"/);
      expect(textOf(html)).toMatch(/Identifier: (Another API|This identifier is the default API's)/);
      expect(html).toContain(`value="${identifier}"`);
      expect(html).toContain('value="Second"');
    }
    expect(await apiState()).toBe(before);
  });

  it("edits an API's name and scopes; a scope removed leaves every grant, audited as a console change", async () => {
    const api = await createApi(["events:read", "events:write", "events:admin"]);
    const client = await createClient({ grants: [{ api: api.identifier, scopes: ["events:read", "events:admin"] }] });
    const form = await (await browser.get(`/console/apis/${api.id}/edit`)).text();
    expect(form).toContain(`value="${api.name}"`);
    expect(hiddenValue(form, "scopes")).toBe("events:read events:write events:admin");
    expect(textOf(form)).toContain(api.identifier);
    expect(textOf(form)).toContain("A scope you remove is removed from every credential's grant");

    const renamed = uniqueName("Events API");
    const response = await browser.post(`/console/apis/${api.id}`, { name: renamed, scopes: "events:read events:write" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/apis?done=updated");
    expect(await json(await getApi(api.id))).toMatchObject({ name: renamed, identifier: api.identifier, scopes: ["events:read", "events:write"] });
    expect((await getCredential(client.id)).grants).toEqual([{ api: api.identifier, scopes: ["events:read"] }]);
    const [event] = await auditEventsFor(api.id);
    expect(event).toMatchObject({ action: "api.update", channel: "console", target_name: renamed });

    // A bad scope comes back as a form error with what was typed; nothing changes.
    const before = await apiState();
    const bad = await browser.post(`/console/apis/${api.id}`, { name: "Other name", scopes: "events:read bad\\scope" });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toMatch(/<input id="api-scopes"[^>]*aria-invalid="true"/);
    expect(html).toContain('value="Other name"');
    expect(hiddenValue(html, "scopes")).toBe("events:read bad\\scope");
    expect(await apiState()).toBe(before);
  });

  it("offers the default API its name and token claims only: no scopes field, no delete page; posting either is refused and changes nothing", async () => {
    const form = await browser.get("/console/apis/api_default/edit");
    expect(form.status).toBe(200);
    const html = await form.text();
    expect(html).toMatch(/<h1>Edit <bdi dir="auto">Default API<\/bdi><\/h1>/);
    expect(html).not.toContain('name="scopes"');
    expect(textOf(html)).toContain("Any scope");
    expect(textOf(html)).toContain(AUDIENCE);

    const before = await apiState();
    const scopes = await browser.post("/console/apis/api_default", { name: "Default API", scopes: "only:this" });
    expect(scopes.status).toBe(400);
    expect(textOf(await scopes.text())).toContain("The default API accepts any scope");
    const confirm = await browser.get("/console/apis/api_default/delete");
    expect(confirm.status).toBe(400);
    expect(textOf(await confirm.text())).toContain("The default API cannot be deleted.");
    const remove = await browser.post("/console/apis/api_default/delete");
    expect(remove.status).toBe(400);
    expect(await apiState()).toBe(before);
    expect(await json(await getApi("api_default"))).toMatchObject({ identifier: AUDIENCE, scopes: null });
  });

  it("deletes an API after a confirmation that counts the credentials losing access; its grants and tokens stop at once", async () => {
    const api = await createApi(["reports:read"]);
    const granted = [
      await createClient({ grants: [{ api: api.identifier, scopes: ["reports:read"] }] }),
      await createClient({ grants: [{ api: api.identifier, scopes: [] }] }),
    ];
    await createClient(); // no grant: not counted
    const confirm = await browser.get(`/console/apis/${api.id}/delete`);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    const text = textOf(html);
    expect(text).toContain(`Delete ${api.name}?`);
    expect(text).toContain("2 credentials will lose access to it.");
    expect(text).toContain("Every token minted for it stops working at once");
    expect(text).toContain("Credentials with access 2");
    expect([...html.matchAll(/<form method="post" action="([^"]+)" class="confirm-actions">/g)].map((m) => m[1])).toEqual([`/console/apis/${api.id}/delete`]);
    expect(html).toMatch(/<a class="button" href="\/console\/apis" data-cancel[^>]*>\s*Cancel\s*<\/a>/);

    const token = await tokenRequest(granted[0], { resource: api.identifier });
    expect(token.status).toBe(200);
    const accessToken = (await json(token)).access_token as string;
    expect(decodeJwt(accessToken).aud).toBe(api.identifier);
    expect((await call(`/v1/test-auth?audience=${encodeURIComponent(api.identifier)}`, { token: accessToken })).status).toBe(200);

    const response = await browser.post(`/console/apis/${api.id}/delete`);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/apis?done=deleted");
    expect((await getApi(api.id)).status).toBe(404);
    for (const client of granted) expect((await getCredential(client.id)).grants).toEqual([]);
    expect((await call(`/v1/test-auth`, { token: accessToken })).status).toBe(401);
    expect((await tokenRequest(granted[0], { resource: api.identifier })).status).toBe(400);
    const [event] = await auditEventsFor(api.id);
    expect(event).toMatchObject({ action: "api.delete", channel: "console", target_name: api.name });
    expect(textOf(await (await browser.get("/console/apis?done=deleted")).text())).toContain("API deleted.");

    // One credential, said in the singular.
    const single = await createApi([]);
    await createClient({ grants: [{ api: single.identifier, scopes: [] }] });
    expect(textOf(await (await browser.get(`/console/apis/${single.id}/delete`)).text())).toContain("1 credential will lose access to it.");
    const none = await createApi(["x"]);
    expect(textOf(await (await browser.get(`/console/apis/${none.id}/delete`)).text())).toContain("No credential has a grant on it.");
  });
});

describe("grants on a credential, as checkboxes", () => {
  it("shows one fieldset per API (name and identifier as legend) with its scopes checked as granted; the default API's scopes as text", async () => {
    const billing = await createApi(["invoices:read", "invoices:write"]);
    const flags = await createApi([]);
    const client = await createClient({ scopes: ["events:write"], grants: [{ api: billing.identifier, scopes: ["invoices:write"] }] });
    const html = await (await browser.get(`/console/credentials/${client.id}`)).text();
    expect(html).toMatch(/<h2 id="access-heading">APIs and scopes<\/h2>/);
    expect(html).toContain(`<form method="post" action="/console/credentials/${client.id}/access" class="stack">`);
    // The default API: free text.
    expect(html).toMatch(/<label for="scopes">Scopes<\/label>\s*<input id="scopes" name="scopes" type="text"[^>]*dir="auto" value="events:write"/);
    // An API with scopes: one checkbox per declared scope, in its fieldset, legend = name and identifier.
    const set = fieldsetOf(html, billing.id);
    expect(textOf(/<legend>([\s\S]*?)<\/legend>/.exec(set)![1]!)).toBe(`${billing.name} ${billing.identifier}`);
    expect(set).toContain(`<bdi dir="auto">${billing.name}</bdi>`);
    expect(checkboxes(set, billing.id)).toEqual([
      ["invoices:read", false],
      ["invoices:write", true],
    ]);
    // An API without scopes: one "Grant access" checkbox, unchecked.
    const flagSet = fieldsetOf(html, flags.id);
    expect(flagSet).toMatch(new RegExp(`<label>\\s*<input type="checkbox" name="a\\.${flags.id}" value="1"\\s*/>\\s*Grant access\\s*</label>`));
    // The summary names the grant.
    expect(textOf(html)).toContain(`Other APIs ${billing.name} ${billing.identifier} : invoices:write Created`);
  });

  it("saves checked scopes as grants through the service: stored, audited as a console change, and the token endpoint follows", async () => {
    const billing = await createApi(["invoices:read", "invoices:write"]);
    const flags = await createApi([]);
    const unused = await createApi(["nothing:here"]);
    const client = await createClient({ grants: [{ api: billing.identifier, scopes: ["invoices:write"] }] });
    const response = await browser.post(`/console/credentials/${client.id}/access`, {
      back: "q=grantee",
      scopes: "events:read, events:write",
      [`s.${billing.id}.invoices:read`]: "1",
      [`a.${flags.id}`]: "1",
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`/console/credentials/${client.id}?back=q%3Dgrantee&done=access-saved`);
    const stored = await getCredential(client.id);
    expect(stored.scopes).toEqual(["events:read", "events:write"]);
    expect(stored.grants).toHaveLength(2);
    expect(stored.grants).toEqual(
      expect.arrayContaining([
        { api: billing.identifier, scopes: ["invoices:read"] },
        { api: flags.identifier, scopes: [] },
      ]),
    );
    expect(stored.grants.map((grant: { api: string }) => grant.api)).not.toContain(unused.identifier);
    const [event] = await auditEventsFor(client.id);
    expect(event).toMatchObject({ action: "credential.update", channel: "console", actor: "admin_token" });

    // The token endpoint: invoices:read on billing, nothing more; flags with no scope.
    const read = await tokenRequest(client, { resource: billing.identifier });
    expect(read.status).toBe(200);
    expect(decodeJwt((await json(read)).access_token)).toMatchObject({ aud: billing.identifier, scope: "invoices:read" });
    expect((await tokenRequest(client, { resource: billing.identifier, scope: "invoices:write" })).status).toBe(400);
    expect((await tokenRequest(client, { resource: flags.identifier })).status).toBe(200);
    expect((await tokenRequest(client, { resource: unused.identifier })).status).toBe(400);

    const page = await (await browser.get(`/console/credentials/${client.id}?done=access-saved`)).text();
    expect(textOf(page)).toContain("Access saved.");
    expect(checkboxes(fieldsetOf(page, billing.id), billing.id)).toEqual([
      ["invoices:read", true],
      ["invoices:write", false],
    ]);
    expect(fieldsetOf(page, flags.id)).toMatch(new RegExp(`name="a\\.${flags.id}" value="1" checked=""`));

    // Unchecking everything removes the grants; the default API's scopes can be emptied too.
    expect((await browser.post(`/console/credentials/${client.id}/access`, { scopes: "" })).status).toBe(303);
    expect(await getCredential(client.id)).toMatchObject({ scopes: [], grants: [] });
    expect((await tokenRequest(client, { resource: billing.identifier })).status).toBe(400);
  });

  it("keeps a grant with no scope on an API that declares scopes, as a checked 'Access with no scope' box", async () => {
    const api = await createApi(["a:read"]);
    const client = await createClient({ grants: [{ api: api.identifier, scopes: [] }] });
    const html = await (await browser.get(`/console/credentials/${client.id}`)).text();
    const set = fieldsetOf(html, api.id);
    expect(set).toMatch(new RegExp(`<input type="checkbox" name="a\\.${api.id}" value="1" checked=""\\s*/>\\s*Access with no scope`));
    // Saving the form as shown keeps it.
    expect((await browser.post(`/console/credentials/${client.id}/access`, { scopes: "", [`a.${api.id}`]: "1" })).status).toBe(303);
    expect((await getCredential(client.id)).grants).toEqual([{ api: api.identifier, scopes: [] }]);
  });

  it("refuses scopes an API does not declare, an API that is gone, and bad default scopes: 400, the form as sent, nothing changed", async () => {
    const api = await createApi(["one", "two"]);
    const client = await createClient({ scopes: ["kept"], grants: [{ api: api.identifier, scopes: ["one"] }] });
    const before = await apiState();
    const credentialBefore = JSON.stringify(await getCredential(client.id));

    const undeclared = await browser.post(`/console/credentials/${client.id}/access`, { scopes: "kept", [`s.${api.id}.two`]: "1", [`s.${api.id}.three`]: "1" });
    expect(undeclared.status).toBe(400);
    let html = await undeclared.text();
    expect(textOf(html)).toContain(`${api.name} no longer declares three.`);
    const set = fieldsetOf(html, api.id);
    // The error is in the API's fieldset, on its first checkbox (focus lands there); what was checked stays checked.
    expect(set).toMatch(new RegExp(`name="s\\.${api.id}\\.one" value="1" aria-invalid="true" aria-describedby="grant-${api.id}-error" autofocus=""`));
    expect(checkboxes(set, api.id)).toEqual([
      ["one", false],
      ["two", true],
    ]);

    const gone = await browser.post(`/console/credentials/${client.id}/access`, { scopes: "kept", "s.api_0000000000000000000000.x": "1" });
    expect(gone.status).toBe(400);
    expect(textOf(await gone.text())).toContain("An API in this form no longer exists");

    const badScopes = await browser.post(`/console/credentials/${client.id}/access`, { scopes: "fine, not\"fine", [`s.${api.id}.two`]: "1" });
    expect(badScopes.status).toBe(400);
    html = await badScopes.text();
    expect(html).toMatch(/<input id="scopes" name="scopes"[^>]*value="fine, not&quot;fine" aria-describedby="scopes-error scopes-hint" aria-invalid="true"/);
    expect(checkboxes(fieldsetOf(html, api.id), api.id)).toEqual([
      ["one", false],
      ["two", true],
    ]);

    expect(await apiState()).toBe(before);
    expect(JSON.stringify(await getCredential(client.id))).toBe(credentialBefore);
  });

  it("creates a credential with grants from the create form's checkboxes; a form error keeps them checked", async () => {
    const api = await createApi(["orders:read", "orders:write"]);
    const account = await createAccount();
    const form = await (await browser.get(`/console/credentials/new?account_id=${account.id}`)).text();
    expect(form).toMatch(/<h2 id="access-heading">APIs and scopes<\/h2>/);
    expect(checkboxes(fieldsetOf(form, api.id), api.id)).toEqual([
      ["orders:read", false],
      ["orders:write", false],
    ]);
    const nonce = hiddenValue(form, "nonce");

    // A blank name: the form comes back with the scopes typed and the boxes checked.
    const fields = { nonce, type: "oauth_client", account_id: account.id, scopes: "events:write", [`s.${api.id}.orders:write`]: "1" };
    const blank = await browser.post("/console/credentials", { ...fields, name: " " });
    expect(blank.status).toBe(400);
    const again = await blank.text();
    expect(again).toMatch(/<input id="scopes" name="scopes"[^>]*value="events:write"/);
    expect(checkboxes(fieldsetOf(again, api.id), api.id)).toEqual([
      ["orders:read", false],
      ["orders:write", true],
    ]);
    // Find (a GET of the whole form) keeps them too.
    const found = await (await browser.get(`/console/credentials/new?${new URLSearchParams({ ...fields, name: "x", account_q: "account" })}`)).text();
    expect(checkboxes(fieldsetOf(found, api.id), api.id)).toEqual([
      ["orders:read", false],
      ["orders:write", true],
    ]);

    const name = uniqueName("with grants");
    const created = await browser.post("/console/credentials", { ...fields, nonce: hiddenValue(again, "nonce"), name });
    expect(created.status).toBe(201);
    const html = await created.text();
    const clientId = shownSecret(html, "client_id")!;
    const clientSecret = shownSecret(html, "client_secret")!;
    const row = (await env.DB.prepare("SELECT id FROM credentials WHERE name = ?").bind(name).first<{ id: string }>())!;
    expect(await getCredential(row.id)).toMatchObject({ scopes: ["events:write"], grants: [{ api: api.identifier, scopes: ["orders:write"] }] });
    const token = await tokenRequest({ client_id: clientId, client_secret: clientSecret }, { resource: api.identifier });
    expect(token.status).toBe(200);
    expect(decodeJwt((await json(token)).access_token)).toMatchObject({ aud: api.identifier, scope: "orders:write" });
    const [event] = await auditEventsFor(row.id);
    expect(event).toMatchObject({ action: "credential.create", channel: "console" });
  });
});

describe("CSRF on the new console posts", () => {
  it("refuses each from another origin (403, nothing changed) and accepts it from the console itself", async () => {
    const api = await createApi(["p:read"]);
    const doomed = await createApi([]);
    const client = await createClient();
    const attempts: { path: string; fields: Record<string, string>; status: number }[] = [
      { path: "/console/apis", fields: { name: "csrf", identifier: newIdentifier("csrf"), scopes: "" }, status: 303 },
      { path: `/console/apis/${api.id}`, fields: { name: "renamed by csrf", scopes: "p:read" }, status: 303 },
      { path: `/console/credentials/${client.id}/access`, fields: { scopes: "", [`s.${api.id}.p:read`]: "1" }, status: 303 },
      { path: `/console/apis/${doomed.id}/delete`, fields: {}, status: 303 },
    ];
    const before = await apiState();
    const credentialBefore = JSON.stringify(await getCredential(client.id));
    for (const { path, fields } of attempts) {
      for (const origin of ["https://evil.example", "http://localhost:8788", "null"]) {
        const response = await browser.post(path, fields, { origin });
        expect(response.status, `${path} from ${origin}`).toBe(403);
        expect(textOf(await response.text())).toContain("Forms must be sent from this console, not from another site.");
      }
      expect((await browser.post(path, fields, { origin: null })).status, `${path} without Origin`).toBe(403);
    }
    expect(await apiState()).toBe(before);
    expect(JSON.stringify(await getCredential(client.id))).toBe(credentialBefore);

    for (const { path, fields, status } of attempts) expect((await browser.post(path, fields)).status, path).toBe(status);
    expect(await apiState()).not.toBe(before);
    expect((await getCredential(client.id)).grants).toEqual([{ api: api.identifier, scopes: ["p:read"] }]);
    expect((await getApi(doomed.id)).status).toBe(404);
  });
});
