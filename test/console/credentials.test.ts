import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Browser,
  createViaConsole,
  headerText,
  hiddenValue,
  setCookies,
  shownSecret,
  signedInBrowser,
  textOf,
} from "../support/console";
import { call, createAccount, createCredential, sha256Hex, uniqueName } from "../support/http";
import { basic, eventually, form, testAuth } from "../support/oauth";

/** The credentials pages: list, create (secret shown once), the no-secret rule, delete, roll. */

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

const SECRET_FIELD = /<input[^>]*id="(client_secret|api_key)"[^>]*value="([^"]+)"/;

async function credentialRows(name: string) {
  return (await env.DB.prepare("SELECT * FROM credentials WHERE name = ?").bind(name).all<Record<string, unknown>>()).results;
}

async function tokenStatus(clientId: string, clientSecret: string): Promise<number> {
  const response = await form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) });
  return response.status;
}

describe("GET /console/credentials", () => {
  it("lists credentials under the heading Credentials, with a Create control and the columns people need", async () => {
    const account = await createAccount();
    const oauth = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    const response = await browser.get("/console/credentials");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toMatch(/<h1>Credentials<\/h1>/);
    expect(html).toMatch(/<a class="button primary" href="\/console\/credentials\/new">\s*Create\s*<\/a>/);
    const headers = [...html.matchAll(/<th scope="col">([^<]*)<\/th>/g)].map((match) => match[1]);
    expect(headers).toEqual(["Name", "Type", "Account", "Secret ends in", "Created (UTC)", "Last used (UTC)", "Last 7 days", "Expires (UTC)"]);
    const text = textOf(html);
    for (const credential of [oauth, key]) {
      expect(text).toContain(credential.name);
      expect(text).toContain(`…${credential.hint}`);
      expect(html).toContain(`<time datetime="${credential.created_at}"`);
    }
    expect(text).toContain(oauth.client_id);
    expect(text).toContain("OAuth 2.0 client");
    expect(text).toContain("API key");
    expect(text).toContain(account.name);
    expect(text).toContain("Never"); // last used
    // Each row has a delete button named for screen readers after the credential.
    for (const credential of [oauth, key]) {
      expect(html).toMatch(new RegExp(`<a class="icon" href="/console/credentials/${credential.id}/delete" aria-label="Delete ${credential.name}"`));
      // The name links to the credential's own page, and its id (what the audit filter takes) is shown.
      expect(html).toContain(`<a href="/console/credentials/${credential.id}"><bdi dir="auto">${credential.name}</bdi></a>`);
      expect(text).toContain(credential.id);
    }
  });

  it("filters by account and links the Create control to that account", async () => {
    const mine = await createAccount();
    const other = await createAccount();
    const keep = await createCredential(mine.id, "api_key");
    const hide = await createCredential(other.id, "api_key");
    const html = await (await browser.get(`/console/credentials?account_id=${mine.id}`)).text();
    expect(textOf(html)).toContain(keep.name);
    expect(textOf(html)).not.toContain(hide.name);
    expect(textOf(html)).toContain(`Credentials of ${mine.name}`);
    expect(html).toContain(`<a class="button primary" href="/console/credentials/new?account_id=${mine.id}">`);
    // An unknown account id is an error page, not everything.
    const unknown = await browser.get("/console/credentials?account_id=acct_0000000000000000000000");
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^text\/html/);
    expect(textOf(await unknown.text())).not.toContain(keep.name);
  });
});

describe("creating a credential in the console", () => {
  it("offers a form with a name, the two types, the accounts by name and a one-time nonce", async () => {
    const service = await createAccount("service");
    const user = await createAccount("user");
    const response = await browser.get("/console/credentials/new");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toMatch(/<label for="name">Credential Name<\/label>\s*<input id="name" name="name" type="text" required/);
    const radios = [...html.matchAll(/<label>\s*<input type="radio" name="type" value="([a-z_]+)"( checked="")?\s*\/>\s*([^<]+?)\s*<\/label>/g)].map((m) => [
      m[1],
      Boolean(m[2]),
      m[3],
    ]);
    expect(radios).toEqual([
      ["oauth_client", true, "OAuth 2.0 w/ Client Credentials (Recommended)"],
      ["api_key", false, "API Key"],
    ]);
    expect(html).toMatch(/<label for="account_id">Account<\/label>\s*<select id="account_id" name="account_id"/);
    const options = [...html.matchAll(/<option value="([^"]+)"[^>]*>([^<]*)<\/option>/g)].map((m) => [m[1], textOf(m[2]!)]);
    expect(options).toContainEqual([service.id, `${service.name} (service account)`]);
    expect(options).toContainEqual([user.id, `${user.name} (user)`]);

    const nonce = hiddenValue(html, "nonce");
    expect(nonce).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(html).toMatch(/<input type="hidden" name="nonce" value="[0-9A-Za-z]{32}"/);
    const again = hiddenValue(await (await browser.get("/console/credentials/new")).text(), "nonce");
    expect(again).not.toBe(nonce);

    // Opened from an account's list, that account is preselected.
    const preselected = await (await browser.get(`/console/credentials/new?account_id=${user.id}`)).text();
    expect(preselected).toMatch(new RegExp(`<option value="${user.id}" selected`));
  });

  it("shows an OAuth client's id and secret once, no-store, with a warning; the secret works", async () => {
    const account = await createAccount();
    const name = uniqueName("console oauth");
    const { response } = await createViaConsole(browser, { name, type: "oauth_client", account_id: account.id });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toContain("no-store");
    expect(setCookies(response)).toEqual([]);
    const html = await response.text();
    expect(textOf(html)).toContain("This is the only time it is shown");
    const clientId = shownSecret(html, "client_id")!;
    const clientSecret = shownSecret(html, "client_secret")!;
    expect(clientId).toMatch(/^kmc_/);
    expect(clientSecret).toMatch(/^kms_/);
    expect(html).toMatch(/<button type="button" data-copy="client_secret" data-label="Client Secret">/);
    expect(headerText(response)).not.toContain(clientSecret);

    const rows = await credentialRows(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: "oauth_client", account_id: account.id, client_id: clientId, hint: clientSecret.slice(-4) });
    expect(JSON.stringify(rows[0])).not.toContain(clientSecret);
    expect(await tokenStatus(clientId, clientSecret)).toBe(200);
  });

  it("shows an API key once; posting the same form again shows 'already shown' and creates nothing", async () => {
    const account = await createAccount();
    const name = uniqueName("console key");
    const fields = { name, type: "api_key" as const, account_id: account.id };
    const { response, nonce } = await createViaConsole(browser, fields);
    expect(response.status).toBe(201);
    const apiKey = shownSecret(await response.text(), "api_key")!;
    expect(apiKey).toMatch(/^km_live_/);
    expect((await testAuth(apiKey)).status).toBe(200);

    for (let i = 0; i < 2; i++) {
      const replay = await browser.post("/console/credentials", { nonce, ...fields });
      expect(replay.status).toBe(200);
      expect(replay.headers.get("cache-control")).toContain("no-store");
      const html = await replay.text();
      expect(textOf(html)).toContain("This secret was already shown");
      expect(textOf(html)).toContain("The credential was created when the form was first sent");
      expect(html).not.toContain(apiKey);
      expect(html).not.toMatch(SECRET_FIELD);
      expect(html).not.toMatch(/km_live_|kms_/);
    }
    expect(await credentialRows(name)).toHaveLength(1);
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_events WHERE action = 'credential.create' AND target_id = ?")
      .bind((await credentialRows(name))[0]!.id)
      .first<{ n: number }>();
    expect(audit!.n).toBe(1);

    // A fresh nonce (the form loaded again) creates another credential with another key.
    const second = await createViaConsole(browser, fields);
    expect(second.response.status).toBe(201);
    const otherKey = shownSecret(await second.response.text(), "api_key")!;
    expect(otherKey).not.toBe(apiKey);
    expect(await credentialRows(name)).toHaveLength(2);
  });

  it("reuses of a nonce with a changed form are refused, not turned into a second secret", async () => {
    const account = await createAccount();
    const fields = { name: uniqueName("changed form"), type: "api_key" as const, account_id: account.id };
    const { response, nonce } = await createViaConsole(browser, fields);
    expect(response.status).toBe(201);
    const changed = await browser.post("/console/credentials", { nonce, ...fields, name: uniqueName("changed name") });
    expect(changed.status).toBe(400);
    expect(await changed.text()).not.toMatch(/km_live_/);
    expect(await credentialRows(fields.name)).toHaveLength(1);
  });

  it("re-renders the form with an error for bad input and changes nothing", async () => {
    const account = await createAccount();
    const form = await browser.get("/console/credentials/new");
    const nonce = hiddenValue(await form.text(), "nonce");
    const before = await env.DB.prepare("SELECT count(*) AS n FROM credentials").first<{ n: number }>();
    const bad: Record<string, string>[] = [
      { nonce, name: "", type: "api_key", account_id: account.id },
      { nonce, name: "x".repeat(101), type: "api_key", account_id: account.id },
      { nonce, name: "ok", type: "password", account_id: account.id },
      { nonce: "short", name: "ok", type: "api_key", account_id: account.id },
      { name: "ok", type: "api_key", account_id: account.id },
    ];
    for (const fields of bad) {
      const response = await browser.post("/console/credentials", fields);
      expect(response.status, JSON.stringify(fields)).toBe(400);
      const html = await response.text();
      expect(html).toContain('role="alert"');
      expect(html).toMatch(/name="nonce" value="[0-9A-Za-z]{32}"/);
      if (fields.account_id) expect(html).toMatch(new RegExp(`<option value="${account.id}" selected`)); // the choice is kept
    }
    const unknown = await browser.post("/console/credentials", { nonce, name: "ok", type: "api_key", account_id: "acct_0000000000000000000000" });
    expect(unknown.status).toBe(400);
    expect(textOf(await unknown.text())).toContain("no account has this id");
    const after = await env.DB.prepare("SELECT count(*) AS n FROM credentials").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });
});

describe("the no-secret rule", () => {
  it("no console page, URL, Location or Set-Cookie ever contains a secret or its SHA-256", async () => {
    const account = await createAccount();
    const created: { id: string; secrets: string[] }[] = [];
    for (const type of ["oauth_client", "api_key"] as const) {
      const { response } = await createViaConsole(browser, { name: uniqueName(`sweep ${type}`), type, account_id: account.id });
      expect(response.status).toBe(201);
      expect(response.headers.get("location")).toBeNull();
      expect(setCookies(response)).toEqual([]);
      const html = await response.text();
      const secret = SECRET_FIELD.exec(html)![2]!;
      const row = await env.DB.prepare("SELECT id FROM credentials WHERE hint = ? AND account_id = ?").bind(secret.slice(-4), account.id).first<{ id: string }>();
      created.push({ id: row!.id, secrets: [secret] });
    }
    // Roll one of them with a grace period: both its old and new secrets must stay hidden.
    const rollPage = await browser.get(`/console/credentials/${created[0]!.id}/roll`);
    const nonce = hiddenValue(await rollPage.text(), "nonce");
    const rolled = await browser.post(`/console/credentials/${created[0]!.id}/roll`, { nonce, expires_in: "3600" });
    expect(rolled.status).toBe(200);
    created[0]!.secrets.push(SECRET_FIELD.exec(await rolled.text())![2]!);

    const forbidden: string[] = [];
    for (const { secrets } of created) {
      for (const secret of secrets) forbidden.push(secret, await sha256Hex(secret), encodeURIComponent(secret));
    }

    const paths = [
      "/console/credentials",
      `/console/credentials?account_id=${account.id}`,
      "/console/credentials/new",
      "/console/accounts",
      `/console/accounts/${account.id}/delete`,
      `/console/accounts/${account.id}/deactivate`,
      "/console/audit",
      `/console/audit?target_id=${account.id}`,
      ...created.flatMap(({ id }) => [`/console/credentials/${id}/delete`, `/console/credentials/${id}/roll`, `/console/audit?target_id=${id}`]),
    ];
    for (const path of paths) {
      const response = await browser.get(path);
      expect(response.status, path).toBe(200);
      const everything = `${path}\n${headerText(response)}\n${await response.text()}`;
      for (const value of forbidden) expect(everything.includes(value), `${path} leaks ${value.slice(0, 12)}…`).toBe(false);
    }
    // Replays and the delete redirect leak nothing either.
    const replay = await browser.post(`/console/credentials/${created[0]!.id}/roll`, { nonce, expires_in: "3600" });
    const deleted = await browser.post(`/console/credentials/${created[1]!.id}/delete`);
    for (const response of [replay, deleted]) {
      const everything = `${headerText(response)}\n${await response.text()}`;
      for (const value of forbidden) expect(everything.includes(value)).toBe(false);
    }
    // Nor is any of it stored in the audit log.
    const audit = JSON.stringify((await env.DB.prepare("SELECT * FROM audit_events").all()).results);
    for (const value of forbidden) expect(audit.includes(value)).toBe(false);
  });
});

describe("deleting a credential in the console", () => {
  it("asks first, says deletion is permanent, then deletes: 303, gone, its key refused", async () => {
    const account = await createAccount();
    const name = uniqueName("to delete");
    const { response } = await createViaConsole(browser, { name, type: "api_key", account_id: account.id });
    const apiKey = shownSecret(await response.text(), "api_key")!;
    expect((await testAuth(apiKey)).status).toBe(200);
    const [row] = await credentialRows(name);
    const id = row!.id as string;
    // last_used_at arrives through the usage queue, a moment after the use.
    await eventually(async () => (await credentialRows(name))[0]?.last_used_at, (at) => typeof at === "string");

    const list = await (await browser.get("/console/credentials")).text();
    expect(list).toMatch(new RegExp(`<a class="icon" href="/console/credentials/${id}/delete" aria-label="Delete ${name}"`));

    const confirm = await browser.get(`/console/credentials/${id}/delete`);
    expect(confirm.status).toBe(200);
    const confirmHtml = await confirm.text();
    expect(textOf(confirmHtml)).toContain(`Delete ${name}?`);
    expect(textOf(confirmHtml)).toContain("Deletion is permanent.");
    expect(confirmHtml).toContain(`<form method="post" action="/console/credentials/${id}/delete" class="confirm-actions">`);
    // It says what goes: the secret's ending, the account, the last use; Cancel comes first.
    expect(textOf(confirmHtml)).toContain(`Secret ends in …${apiKey.slice(-4)}`);
    expect(textOf(confirmHtml)).toContain(`Account ${account.name} Active`);
    expect(textOf(confirmHtml)).toMatch(/Last used \(UTC\) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect(confirmHtml.indexOf("data-cancel")).toBeLessThan(confirmHtml.indexOf("Delete permanently"));
    expect(await credentialRows(name)).toHaveLength(1); // the GET changed nothing

    const deleted = await browser.post(`/console/credentials/${id}/delete`);
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get("location")).toBe("/console/credentials?done=deleted");
    expect(await credentialRows(name)).toHaveLength(0);
    const after = await testAuth(apiKey);
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await call(`/admin/v1/credentials/${id}`)).status).toBe(404);

    const flashed = textOf(await (await browser.get("/console/credentials?done=deleted")).text());
    expect(flashed).toContain("Credential deleted.");
    expect(flashed).not.toContain(name);
    const events = await env.DB.prepare("SELECT actor, action FROM audit_events WHERE target_id = ? ORDER BY at").bind(id).all();
    expect(events.results).toEqual([
      { actor: "admin_token", action: "credential.create" },
      { actor: "admin_token", action: "credential.delete" },
    ]);

    // A second delete, or the confirmation of a gone credential, is a 404 page.
    const again = await browser.post(`/console/credentials/${id}/delete`);
    expect(again.status).toBe(404);
    expect(again.headers.get("content-type")).toMatch(/^text\/html/);
    expect((await browser.get(`/console/credentials/${id}/delete`)).status).toBe(404);
  });

  it("stops an OAuth client's secret at once", async () => {
    const account = await createAccount();
    const name = uniqueName("oauth to delete");
    const { response } = await createViaConsole(browser, { name, type: "oauth_client", account_id: account.id });
    const html = await response.text();
    const [clientId, clientSecret] = [shownSecret(html, "client_id")!, shownSecret(html, "client_secret")!];
    expect(await tokenStatus(clientId, clientSecret)).toBe(200);
    const id = (await credentialRows(name))[0]!.id as string;
    expect((await browser.post(`/console/credentials/${id}/delete`)).status).toBe(303);
    expect(await tokenStatus(clientId, clientSecret)).toBe(401);
  });
});

describe("rolling a credential's secret in the console", () => {
  it("offers a grace period, shows the new secret once, and a replay does not roll again", async () => {
    const account = await createAccount();
    const name = uniqueName("to roll");
    const { response } = await createViaConsole(browser, { name, type: "oauth_client", account_id: account.id });
    const created = await response.text();
    const clientId = shownSecret(created, "client_id")!;
    const oldSecret = shownSecret(created, "client_secret")!;
    const id = (await credentialRows(name))[0]!.id as string;

    const page = await browser.get(`/console/credentials/${id}/roll`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<label for="expires_in">Grace period for the old secret<\/label>/);
    const choices = [...html.matchAll(/<option value="(\d+)"/g)].map((m) => Number(m[1]));
    expect(choices).toEqual([0, 3600, 86_400, 604_800]);
    expect(textOf(html)).toContain("the client ID stays the same");
    const nonce = hiddenValue(html, "nonce");
    expect(nonce).toMatch(/^[0-9A-Za-z]{32}$/);

    const rolled = await browser.post(`/console/credentials/${id}/roll`, { nonce, expires_in: "3600" });
    expect(rolled.status).toBe(200);
    expect(rolled.headers.get("cache-control")).toContain("no-store");
    const rolledHtml = await rolled.text();
    expect(textOf(rolledHtml)).toContain(`New secret for ${name}`);
    expect(textOf(rolledHtml)).toContain("This is the only time it is shown");
    expect(textOf(rolledHtml)).toContain("The previous secret keeps working until");
    expect(shownSecret(rolledHtml, "client_id")).toBe(clientId);
    const newSecret = shownSecret(rolledHtml, "client_secret")!;
    expect(newSecret).toMatch(/^kms_/);
    expect(newSecret).not.toBe(oldSecret);
    expect(await tokenStatus(clientId, newSecret)).toBe(200);
    expect(await tokenStatus(clientId, oldSecret)).toBe(200); // the grace period

    const stored = await env.DB.prepare("SELECT secret_hash, previous_secret_expires_at FROM credentials WHERE id = ?").bind(id).first();
    const replay = await browser.post(`/console/credentials/${id}/roll`, { nonce, expires_in: "3600" });
    expect(replay.status).toBe(200);
    const replayHtml = await replay.text();
    expect(textOf(replayHtml)).toContain("This secret was already shown");
    expect(textOf(replayHtml)).toContain("The secret was rolled when the form was first sent");
    expect(replayHtml).not.toMatch(SECRET_FIELD);
    expect(replayHtml).not.toContain(newSecret);
    expect(await env.DB.prepare("SELECT secret_hash, previous_secret_expires_at FROM credentials WHERE id = ?").bind(id).first()).toEqual(stored);
    expect(await tokenStatus(clientId, newSecret)).toBe(200);
    const rolls = await env.DB.prepare("SELECT count(*) AS n FROM audit_events WHERE target_id = ? AND action = 'credential.roll'").bind(id).first<{ n: number }>();
    expect(rolls!.n).toBe(1);
  });

  it("with no grace period, the old API key dies at once", async () => {
    const account = await createAccount();
    const name = uniqueName("roll now");
    const { response } = await createViaConsole(browser, { name, type: "api_key", account_id: account.id });
    const oldKey = shownSecret(await response.text(), "api_key")!;
    const id = (await credentialRows(name))[0]!.id as string;
    const nonce = hiddenValue(await (await browser.get(`/console/credentials/${id}/roll`)).text(), "nonce");
    const rolled = await browser.post(`/console/credentials/${id}/roll`, { nonce, expires_in: "0" });
    expect(rolled.status).toBe(200);
    const html = await rolled.text();
    const newKey = shownSecret(html, "api_key")!;
    expect(newKey).toMatch(/^km_live_/);
    expect(textOf(html)).not.toContain("The previous secret keeps working");
    expect((await testAuth(newKey)).status).toBe(200);
    expect((await testAuth(oldKey)).status).toBe(401);
  });

  it("refuses a grace period that is not offered, or a missing nonce, without rolling", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    const nonce = hiddenValue(await (await browser.get(`/console/credentials/${credential.id}/roll`)).text(), "nonce");
    const before = await env.DB.prepare("SELECT secret_hash FROM credentials WHERE id = ?").bind(credential.id).first();
    const bad: Record<string, string>[] = [{ nonce, expires_in: "5" }, { nonce, expires_in: "" }, { nonce: "", expires_in: "0" }, { expires_in: "0" }];
    for (const fields of bad) {
      const response = await browser.post(`/console/credentials/${credential.id}/roll`, fields);
      expect(response.status, JSON.stringify(fields)).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    }
    expect(await env.DB.prepare("SELECT secret_hash FROM credentials WHERE id = ?").bind(credential.id).first()).toEqual(before);
    expect((await testAuth(credential.api_key)).status).toBe(200);
    // An unknown credential is a 404 page.
    expect((await browser.get("/console/credentials/cred_0000000000000000000000/roll")).status).toBe(404);
    expect((await browser.post("/console/credentials/cred_0000000000000000000000/roll", { nonce, expires_in: "0" })).status).toBe(404);
  });
});
