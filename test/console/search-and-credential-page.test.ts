import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, createViaConsole, hiddenValue, shownSecret, signedInBrowser, textOf } from "../support/console";
import { altered, auditEventsFor, call, createAccount, createCredential, json, snapshot, uniqueName } from "../support/http";
import { basic, form } from "../support/oauth";

/**
 * The console as a daily tool: finding credentials and accounts, the credential page and its
 * handoff kit, Test now, ending a grace period, the deactivated-account rule, and the 404 page.
 */

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

const ISSUER = env.ISSUER.replace(/\/+$/, "");

function links(html: string, rel: "prev" | "next"): string | null {
  const match = new RegExp(`<a class="button" href="([^"]+)" rel="${rel}">`).exec(html);
  return match ? match[1]!.replace(/&amp;/g, "&") : null;
}

/** Inserts `count` API keys for one account straight into D1, one second apart, oldest first. */
async function insertCredentials(accountId: string, count: number, label: string): Promise<string[]> {
  const base = Date.now() - 3_600_000;
  const ids = Array.from({ length: count }, (_, i) => `cred_${label.replace(/[^A-Za-z0-9]/g, "")}${String(i).padStart(4, "0")}xxxxxxxxxxxx`.slice(0, 27));
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare(
        "INSERT INTO credentials (id, account_id, name, type, client_id, secret_hash, hint, scopes, created_at, updated_at) VALUES (?, ?, ?, 'api_key', NULL, ?, 'abcd', '[]', ?, ?)",
      ).bind(id, accountId, `${label} ${i}`, `${label}-hash-${i}`, new Date(base + i * 1000).toISOString(), new Date(base + i * 1000).toISOString()),
    ),
  );
  return ids;
}

describe("finding credentials", () => {
  it("searches by name, client id, credential id and secret ending", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    const find = async (q: string) => textOf(await (await browser.get(`/console/credentials?q=${encodeURIComponent(q)}`)).text());

    const byName = await find(client.name.slice(-8));
    expect(byName).toContain(client.name);
    expect(byName).not.toContain(key.name);
    expect(await find(client.client_id)).toContain(client.name);
    expect(await find(key.id)).toContain(key.name);
    const byEnding = await find(`…${key.hint}`);
    expect(byEnding).toContain(key.name);
    expect(await find("no such credential anywhere 4711")).toContain("No credentials match.");
    // LIKE's wildcards are taken literally.
    expect(await find("%")).not.toContain(client.name);
  });

  it("filters by type and by the account's status", async () => {
    const active = await createAccount();
    const stopped = await createAccount();
    const client = await createCredential(active.id, "oauth_client");
    const key = await createCredential(active.id, "api_key");
    const stoppedKey = await createCredential(stopped.id, "api_key");
    await call(`/admin/v1/accounts/${stopped.id}/deactivate`, { method: "POST" });

    const keys = textOf(await (await browser.get(`/console/credentials?type=api_key&q=credential`)).text());
    expect(keys).toContain(key.name);
    expect(keys).not.toContain(client.name);
    const deactivated = await (await browser.get("/console/credentials?status=deactivated")).text();
    expect(textOf(deactivated)).toContain(stoppedKey.name);
    expect(textOf(deactivated)).not.toContain(key.name);
    // The list says when a credential's account is deactivated.
    expect(deactivated).toMatch(/<span class="badge off">Deactivated<\/span>/);
    const activeOnly = textOf(await (await browser.get(`/console/credentials?status=active&account_id=${stopped.id}`)).text());
    expect(activeOnly).not.toContain(stoppedKey.name);
  });

  it("answers an unknown filter value, parameter, repeated parameter or broken cursor with an error page", async () => {
    for (const query of ["type=password", "status=gone", "colour=red", "type=api_key&type=oauth_client", "cursor=nonsense", "before=%%", "cursor=a&before=b"]) {
      const response = await browser.get(`/console/credentials?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await response.text()).toContain('role="alert"');
    }
    for (const query of ["type=team", "status=paused", "q=x&q=y"]) {
      expect((await browser.get(`/console/accounts?${query}`)).status, query).toBe(400);
    }
  });

  it("pages Older and Newer, keeping the filters, and returns to the same page after Cancel and delete", async () => {
    const account = await createAccount();
    const label = `paged${Date.now().toString(36)}`;
    const ids = await insertCredentials(account.id, 120, label);
    const filters = `q=${label}&type=api_key`;
    const first = await (await browser.get(`/console/credentials?${filters}`)).text();
    expect(links(first, "prev")).toBeNull();
    const older = links(first, "next")!;
    const olderUrl = new URL(older, "http://x");
    expect(olderUrl.searchParams.get("q")).toBe(label);
    expect(olderUrl.searchParams.get("type")).toBe("api_key");
    const second = await (await browser.get(older)).text();
    expect(textOf(second)).toContain(`${label} 69`);
    expect(textOf(second)).toContain(`${label} 20`);
    expect(textOf(second)).not.toContain(`${label} 70 `);
    const third = await (await browser.get(links(second, "next")!)).text();
    expect(links(third, "next")).toBeNull();
    expect(textOf(third)).toContain(`${label} 0`);

    // Newer from the second page is the first page again, filters kept.
    const newer = links(second, "prev")!;
    expect(new URL(newer, "http://x").searchParams.get("q")).toBe(label);
    const backToFirst = await (await browser.get(newer)).text();
    expect(textOf(backToFirst)).toContain(`${label} 119`);
    expect(textOf(backToFirst)).toContain(`${label} 70`);
    expect(textOf(backToFirst)).not.toContain(`${label} 69`);

    // Delete from the second page: Cancel and the redirect both lead back to it.
    const target = ids[50]!;
    const deleteHref = new RegExp(`href="(/console/credentials/${target}/delete[^"]*)"`).exec(second)![1]!.replace(/&amp;/g, "&");
    expect(new URL(deleteHref, "http://x").searchParams.get("back")).toContain("cursor=");
    const confirm = await (await browser.get(deleteHref)).text();
    const cancel = /<a class="button" href="([^"]+)" data-cancel/.exec(confirm)![1]!.replace(/&amp;/g, "&");
    expect(new URL(cancel, "http://x").searchParams.get("q")).toBe(label);
    expect(new URL(cancel, "http://x").searchParams.get("cursor")).toBe(olderUrl.searchParams.get("cursor"));
    const deleted = await browser.post(`/console/credentials/${target}/delete`, { back: hiddenValue(confirm, "back").replace(/&amp;/g, "&") });
    expect(deleted.status).toBe(303);
    const location = new URL(deleted.headers.get("location")!, "http://x");
    expect(location.pathname).toBe("/console/credentials");
    expect(location.searchParams.get("q")).toBe(label);
    expect(location.searchParams.get("cursor")).toBe(olderUrl.searchParams.get("cursor"));
    expect(location.searchParams.get("done")).toBe("deleted");
  });

  it("keeps only the list's own parameters in a back link, so it cannot lead elsewhere", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    const confirm = await (await browser.get(`/console/credentials/${credential.id}/delete?back=${encodeURIComponent("q=x&evil=1&next=//evil.example")}`)).text();
    expect(hiddenValue(confirm, "back")).toBe("q=x");
    const deleted = await browser.post(`/console/credentials/${credential.id}/delete`, { back: "//evil.example/&type=api_key" });
    expect(deleted.headers.get("location")).toBe("/console/credentials?type=api_key&done=deleted");
  });
});

describe("finding accounts and choosing one for a credential", () => {
  it("searches accounts by name and filters by type and status", async () => {
    const stamp = Date.now().toString(36);
    const service = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: `findme ${stamp} service`, type: "service" } }));
    const user = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: `findme ${stamp} person`, type: "user" } }));
    await call(`/admin/v1/accounts/${user.id}/deactivate`, { method: "POST" });
    const page = (query: string) => browser.get(`/console/accounts?q=${encodeURIComponent(`findme ${stamp}`)}&${query}`).then(async (r) => textOf(await r.text()));
    expect(await page("")).toContain(service.name);
    expect(await page("")).toContain(user.name);
    expect(await page("type=user")).not.toContain(service.name);
    expect(await page("status=deactivated")).toContain(user.name);
    expect(await page("status=active")).not.toContain(user.name);
  });

  it("offers no default account, finds any account by search, and lists deactivated ones as unavailable", async () => {
    const stamp = Date.now().toString(36);
    const wanted = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: `picker ${stamp}`, type: "service" } }));
    const off = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: `picker ${stamp} off`, type: "service" } }));
    await call(`/admin/v1/accounts/${off.id}/deactivate`, { method: "POST" });
    const blank = await (await browser.get("/console/credentials/new")).text();
    expect(blank).toMatch(/<option value="" selected="">Choose an account…<\/option>/);
    expect(blank).not.toMatch(/<option value="acct_[^"]+" selected/);

    const found = await (await browser.get(`/console/credentials/new?account_q=${encodeURIComponent(`picker ${stamp}`)}&name=kept&type=api_key`)).text();
    const options = [...found.matchAll(/<option value="(acct_[^"]+)"([^>]*)>/g)].map((m) => [m[1], m[2]!.includes("disabled")]);
    expect(options).toEqual(expect.arrayContaining([[wanted.id, false], [off.id, true]]));
    expect(options).toHaveLength(2);
    // What was typed before searching is kept.
    expect(found).toMatch(/<input id="name" name="name"[^>]*value="kept"/);
    expect(found).toMatch(/<input type="radio" name="type" value="api_key" checked=""/);
  });

  it("explains, keeps the form and creates nothing when the account is deactivated", async () => {
    const account = await createAccount();
    await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" });
    const before = await snapshot();
    const { response } = await createViaConsole(browser, { name: "kept name", type: "api_key", account_id: account.id });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(textOf(html)).toContain(`${account.name} is deactivated`);
    expect(html).toMatch(/<select id="account_id" name="account_id" required="" aria-invalid="true" aria-describedby="account_id-error"/);
    expect(html).toMatch(/<input id="name" name="name"[^>]*value="kept name"/);
    expect(html).toMatch(/<input type="radio" name="type" value="api_key" checked=""/);
    expect(await snapshot()).toBe(before);
  });

  it("keeps the name and type and marks the field after a bad name, including a blank one", async () => {
    const account = await createAccount();
    const form = await (await browser.get("/console/credentials/new")).text();
    const before = await snapshot();
    const response = await browser.post("/console/credentials", { nonce: hiddenValue(form, "nonce"), name: "   ", type: "api_key", account_id: account.id });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toMatch(/<input id="name" name="name"[^>]*aria-invalid="true" aria-describedby="name-error" autofocus=""/);
    expect(html).toMatch(/<input type="radio" name="type" value="api_key" checked=""/);
    expect(html).toMatch(new RegExp(`<option value="${account.id}" selected`));
    expect(await snapshot()).toBe(before);
    // The accounts form too: a blank name is refused, not stored as an invisible link.
    const blank = await browser.post("/console/accounts", { name: " \t ", type: "user" });
    expect(blank.status).toBe(400);
    expect(await blank.text()).toMatch(/aria-invalid="true"/);
    expect(await snapshot()).toBe(before);
  });
});

describe("the credential page", () => {
  it("shows fields, account and status, the handoff kit with absolute URLs, and its own history by name", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "oauth_client", ["events:write"]);
    const renamed = uniqueName("renamed");
    await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name: renamed } });
    const response = await browser.get(`/console/credentials/${credential.id}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    const text = textOf(html);
    expect(text).toContain(`Credential ID ${credential.id}`);
    expect(text).toContain(`Client ID ${credential.client_id}`);
    expect(text).toContain(`Secret ends in …${credential.hint}`);
    expect(text).toContain(`${account.name} Active`);
    expect(text).toContain("Scopes events:write");
    expect(text).toContain("Previous secret None");
    expect(text).toContain(`Token endpoint ${ISSUER}/oauth/token`);
    expect(text).toContain(`JWKS ${ISSUER}/.well-known/jwks.json`);
    expect(text).toContain(`Metadata ${ISSUER}/.well-known/oauth-authorization-server`);
    expect(text).toContain(`Audience (aud) ${env.ACCESS_TOKEN_AUDIENCE || ISSUER}`);
    expect(html).toContain(`KEYMINT_CLIENT_ID=${credential.client_id}`);
    expect(html).toContain("KEYMINT_CLIENT_SECRET=&lt;the secret shown once&gt;");
    expect(html).toContain(`-d grant_type=client_credentials ${ISSUER}/oauth/token`);
    // History: by name at the time, to the second, with the channel.
    const history = html.slice(html.indexOf('id="history-heading"'));
    expect(textOf(history)).toContain("credential.update");
    expect(textOf(history)).toContain(renamed);
    expect(textOf(history)).toContain(credential.name); // the create, under its first name
    expect(textOf(history)).toContain("via the API");
    expect(history).toMatch(/<time[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d<\/time>/);
    // Roll and delete are offered; End grace only while a grace runs.
    expect(html).toContain(`href="/console/credentials/${credential.id}/roll"`);
    expect(html).toContain(`href="/console/credentials/${credential.id}/delete"`);
    expect(html).not.toContain("/end-grace");
    expect((await browser.get("/console/credentials/cred_0000000000000000000000")).status).toBe(404);
  });

  it("ends a roll's grace period now: the old secret stops, the new one works, the event is recorded", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "oauth_client");
    const oldSecret = credential.client_secret as string;
    const rolled = await json(await call(`/admin/v1/credentials/${credential.id}/roll`, { method: "POST", body: { expires_in: 3600 } }));
    const token = (secret: string) => form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(credential.client_id, secret) });
    expect((await token(oldSecret)).status).toBe(200);

    const page = await (await browser.get(`/console/credentials/${credential.id}`)).text();
    expect(textOf(page)).toContain("Still works until");
    expect(page).toContain(`href="/console/credentials/${credential.id}/end-grace"`);
    const confirm = await browser.get(`/console/credentials/${credential.id}/end-grace`);
    expect(confirm.status).toBe(200);
    const confirmHtml = await confirm.text();
    expect(textOf(confirmHtml)).toContain("Last used (UTC)");
    expect(confirmHtml.indexOf("data-cancel")).toBeLessThan(confirmHtml.indexOf("End grace now</button>"));
    expect((await token(oldSecret)).status).toBe(200); // the GET changed nothing

    const ended = await browser.post(`/console/credentials/${credential.id}/end-grace`, { back: "" });
    expect(ended.status).toBe(303);
    expect(ended.headers.get("location")).toBe(`/console/credentials/${credential.id}?done=grace-ended`);
    expect((await token(oldSecret)).status).toBe(401);
    expect((await token(rolled.client_secret)).status).toBe(200);
    const after = await json(await call(`/admin/v1/credentials/${credential.id}`));
    expect(after.previous_secret_expires_at).toBeNull();
    const [event] = await auditEventsFor(credential.id);
    expect(event).toMatchObject({ action: "credential.end_grace", channel: "console", target_name: credential.name, actor: "admin_token" });
    // Nothing left to end: an error page, and no second event.
    expect((await browser.post(`/console/credentials/${credential.id}/end-grace`, {})).status).toBe(400);
    expect((await auditEventsFor(credential.id)).filter((e) => e.action === "credential.end_grace")).toHaveLength(1);
  });
});

describe("the shown-once page's handoff kit and Test now", () => {
  it("puts the secret into the .env snippet and curl line, with absolute URLs and copy buttons", async () => {
    const account = await createAccount();
    const { response } = await createViaConsole(browser, { name: uniqueName("kit"), type: "oauth_client", account_id: account.id });
    const html = await response.text();
    const clientId = shownSecret(html, "client_id")!;
    const secret = shownSecret(html, "client_secret")!;
    expect(html).toContain(`KEYMINT_CLIENT_SECRET=${secret}`);
    expect(html).toContain(`KEYMINT_CLIENT_ID=${clientId}`);
    expect(html).toContain(`KEYMINT_TOKEN_URL=${ISSUER}/oauth/token`);
    expect(html).toContain(`KEYMINT_JWKS_URL=${ISSUER}/.well-known/jwks.json`);
    expect(html).toMatch(/<button type="button" data-copy="kit-env" data-label=".env snippet">/);
    expect(html).toMatch(/<button type="button" data-copy="kit-curl"/);
    expect(html).toMatch(/<form method="post" action="\/console\/credentials\/cred_[^/]+\/test" target="_blank" data-inline-result="test-result">/);
  });

  it("Test now gets a token with the shown secret on the server and shows its claims, never the secret", async () => {
    const account = await createAccount();
    const { response } = await createViaConsole(browser, { name: uniqueName("test now"), type: "oauth_client", account_id: account.id });
    const html = await response.text();
    const secret = shownSecret(html, "client_secret")!;
    const clientId = shownSecret(html, "client_id")!;
    const id = /action="\/console\/credentials\/(cred_[^/]+)\/test"/.exec(html)![1]!;
    const before = await snapshot();
    const result = await browser.post(`/console/credentials/${id}/test`, { secret });
    expect(result.status).toBe(200);
    const page = await result.text();
    expect(page).not.toContain(secret);
    expect(page).toContain('id="test-result"');
    const claims = JSON.parse(textOf(/<pre class="claims">([\s\S]*?)<\/pre>/.exec(page)![1]!));
    expect(claims).toMatchObject({ iss: ISSUER, sub: account.id, client_id: clientId, cid: id, aud: env.ACCESS_TOKEN_AUDIENCE || ISSUER });
    expect(claims.exp - claims.iat).toBe(60);
    // Nothing about the secret was stored (last_used_at may move: that is a use).
    const strip = (dump: string) => dump.replace(/"last_used_at":(null|"[^"]*")/g, "");
    expect(strip(await snapshot())).toBe(strip(before));

    const wrong = await (await browser.post(`/console/credentials/${id}/test`, { secret: altered(secret) })).text();
    expect(textOf(wrong)).toContain("It did not work");
  });

  it("Test now checks an API key as an API would", async () => {
    const account = await createAccount();
    const { response } = await createViaConsole(browser, { name: uniqueName("test key"), type: "api_key", account_id: account.id });
    const html = await response.text();
    const key = shownSecret(html, "api_key")!;
    const id = /action="\/console\/credentials\/(cred_[^/]+)\/test"/.exec(html)![1]!;
    const page = await (await browser.post(`/console/credentials/${id}/test`, { secret: key })).text();
    expect(textOf(page)).toContain("the API key is accepted");
    expect(page).not.toContain(key);
  });
});

describe("the console's own 404", () => {
  it("answers an unknown console URL with a console page, not JSON", async () => {
    const response = await browser.get("/console/no-such-page");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(textOf(html)).toContain("Page not found");
    expect(html).toContain('<nav aria-label="Console">');
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    // The API keeps its JSON 404.
    expect((await call("/admin/v1/no-such-thing")).headers.get("content-type")).toMatch(/^application\/json/);
  });
});
