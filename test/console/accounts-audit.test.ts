import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, createViaConsole, insertAccounts, insertAuditEvents, shownSecret, signedInBrowser, textOf } from "../support/console";
import { createAccount, createCredential, expectActions, snapshot, uniqueName } from "../support/http";
import { testAuth } from "../support/oauth";

/** The accounts page (create, deactivate, activate, delete, each confirmed), escaping, and the audit page. */

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

async function accountByName(name: string) {
  return env.DB.prepare("SELECT * FROM accounts WHERE name = ?").bind(name).first<{ id: string; name: string; type: string; status: string }>();
}

/** The href of the first link or GET form whose visible text or aria-label matches, HTML-unescaped. */
function unescapeAttr(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

interface AuditRow {
  at: string;
  actor: string;
  /** "the API" or "the console" */
  channel: string;
  action: string;
  target: string;
  targetName: string;
}

/** The audit table's rows, top to bottom. */
function auditRows(html: string): AuditRow[] {
  const body = html.slice(html.indexOf("<tbody>"), html.indexOf("</tbody>"));
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
    .map((row) => row[1]!)
    .filter((row) => row.includes("<time"))
    .map((row) => {
      const cells = [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1]!);
      return {
        at: /datetime="([^"]+)"/.exec(cells[0]!)![1]!,
        actor: textOf(/<bdi>([\s\S]*?)<\/bdi>/.exec(cells[1]!)![1]!),
        channel: /via ([^<]+)</.exec(cells[1]!)![1]!,
        action: textOf(cells[2]!),
        target: textOf(/<a[^>]*>([\s\S]*?)<\/a>/.exec(cells[3]!)![1]!),
        targetName: textOf(cells[3]!.slice(0, cells[3]!.indexOf("<div>"))),
      };
    });
}

function olderLink(html: string): string | null {
  const match = /<a class="button" href="([^"]+)" rel="next">/.exec(html);
  return match ? unescapeAttr(match[1]!) : null;
}

describe("accounts page", () => {
  it("creates an account from a form that suggests a service account", async () => {
    const page = await browser.get("/console/accounts");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<h1>Accounts<\/h1>/);
    expect(html).toMatch(/<label for="account-name">Account Name<\/label>\s*<input id="account-name" name="name" type="text" required/);
    expect(html).toMatch(/<input type="radio" name="type" value="service" checked=""\s*\/>\s*Service account \(Recommended\)/);
    expect(html).toMatch(/<input type="radio" name="type" value="user"\s*\/>\s*User/);
    expect(html).toMatch(/<form method="post" action="\/console\/accounts"/);

    for (const type of ["service", "user"] as const) {
      const name = uniqueName(`console ${type}`);
      const response = await browser.post("/console/accounts", { name, type });
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe("/console/accounts?done=create");
      const row = await accountByName(name);
      expect(row).toMatchObject({ name, type, status: "active" });
      const events = await env.DB.prepare("SELECT actor, action FROM audit_events WHERE target_id = ?").bind(row!.id).all();
      expect(events.results).toEqual([{ actor: "admin_token", action: "account.create" }]);
      const list = textOf(await (await browser.get("/console/accounts?done=create")).text());
      expect(list).toContain("Account created.");
      expect(list).toContain(name);
      expect(list).toContain(type === "service" ? "Service account" : "User");
    }
  });

  it("refuses a bad account form with an error and no change", async () => {
    const before = await snapshot();
    const bad: Record<string, string>[] = [
      { name: "", type: "service" },
      { name: "x".repeat(101), type: "service" },
      { name: "tab\there", type: "service" },
      { name: "ok", type: "robot" },
      { name: "ok" },
    ];
    for (const fields of bad) {
      const response = await browser.post("/console/accounts", fields);
      expect(response.status, JSON.stringify(fields)).toBe(400);
      const html = await response.text();
      expect(html).toContain('role="alert"');
      expect(html).toMatch(/<h1>Accounts<\/h1>/);
    }
    expect(await snapshot()).toBe(before);
  });

  it("deactivates, activates and deletes an account, each after a confirmation page", async () => {
    const name = uniqueName("lifecycle");
    expect((await browser.post("/console/accounts", { name, type: "service" })).status).toBe(303);
    const account = (await accountByName(name))!;
    const { response } = await createViaConsole(browser, { name: uniqueName("lifecycle key"), type: "api_key", account_id: account.id });
    const apiKey = shownSecret(await response.text(), "api_key")!;
    expect((await testAuth(apiKey)).status).toBe(200);

    // The list links to the account's page (which links to its credentials) and offers Deactivate and Delete, named for the account.
    let list = await (await browser.get("/console/accounts")).text();
    expect(list).toContain(`<a href="/console/accounts/${account.id}"><bdi dir="auto">${name}</bdi></a>`);
    expect(await (await browser.get(`/console/accounts/${account.id}`)).text()).toContain(`href="/console/credentials?account_id=${account.id}"`);
    expect(list).toMatch(new RegExp(`<a class="button small" href="/console/accounts/${account.id}/deactivate" aria-label="Deactivate ${name}"`));
    expect(list).toMatch(new RegExp(`<a class="button small danger" href="/console/accounts/${account.id}/delete" aria-label="Delete ${name}"`));
    const credentials = await (await browser.get(`/console/credentials?account_id=${account.id}`)).text();
    expect(textOf(credentials)).toContain(`Credentials of ${name}`);
    expect(textOf(credentials)).toContain("lifecycle key");

    // Deactivate.
    const confirmDeactivate = await browser.get(`/console/accounts/${account.id}/deactivate`);
    expect(confirmDeactivate.status).toBe(200);
    const deactivateHtml = await confirmDeactivate.text();
    expect(textOf(deactivateHtml)).toContain(`Deactivate ${name}?`);
    expect(textOf(deactivateHtml)).toContain("stops working at once");
    expect(deactivateHtml).toContain(`<form method="post" action="/console/accounts/${account.id}/deactivate" class="confirm-actions">`);
    expect(textOf(deactivateHtml)).toContain("1 credential will stop working");
    expect((await accountByName(name))!.status).toBe("active"); // the GET changed nothing
    const deactivated = await browser.post(`/console/accounts/${account.id}/deactivate`);
    expect(deactivated.status).toBe(303);
    expect(deactivated.headers.get("location")).toBe("/console/accounts?done=deactivate");
    expect((await accountByName(name))!.status).toBe("deactivated");
    expect((await testAuth(apiKey)).status).toBe(401);
    list = await (await browser.get("/console/accounts?done=deactivate")).text();
    expect(textOf(list)).toContain("Account deactivated.");
    expect(list).toMatch(new RegExp(`<a class="button small" href="/console/accounts/${account.id}/activate" aria-label="Activate ${name}"`));

    // Activate.
    const confirmActivate = await browser.get(`/console/accounts/${account.id}/activate`);
    expect(textOf(await confirmActivate.text())).toContain(`Activate ${name}?`);
    const activated = await browser.post(`/console/accounts/${account.id}/activate`);
    expect(activated.status).toBe(303);
    expect(activated.headers.get("location")).toBe("/console/accounts?done=activate");
    expect((await accountByName(name))!.status).toBe("active");
    expect((await testAuth(apiKey)).status).toBe(200);

    // Delete.
    const confirmDelete = await browser.get(`/console/accounts/${account.id}/delete`);
    const deleteHtml = await confirmDelete.text();
    expect(textOf(deleteHtml)).toContain(`Delete ${name}?`);
    expect(textOf(deleteHtml)).toContain("Deletion is permanent");
    expect(deleteHtml).toMatch(/<button type="submit" class="danger">Delete permanently<\/button>/);
    // Cancel comes first, Escape follows it (data-cancel), and Deactivate is offered instead.
    expect(deleteHtml.indexOf("data-cancel")).toBeLessThan(deleteHtml.indexOf("Delete permanently"));
    expect(textOf(deleteHtml)).toContain("1 credential will be deleted with it");
    expect(deleteHtml).toContain(`<form method="post" action="/console/accounts/${account.id}/deactivate">`);
    expect(textOf(deleteHtml)).toContain("can be undone");
    expect(await accountByName(name)).not.toBeNull();
    const deleted = await browser.post(`/console/accounts/${account.id}/delete`);
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get("location")).toBe("/console/accounts?done=delete");
    expect(await accountByName(name)).toBeNull();
    expect((await env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE account_id = ?").bind(account.id).first<{ n: number }>())!.n).toBe(0);
    expect((await testAuth(apiKey)).status).toBe(401);
    expect(textOf(await (await browser.get("/console/accounts?done=delete")).text())).toContain("Account deleted.");

    const events = await env.DB.prepare("SELECT actor, action FROM audit_events WHERE target_id = ?").bind(account.id).all<{ actor: string; action: string }>();
    expect(events.results.map((event) => event.action).sort()).toEqual(["account.activate", "account.create", "account.deactivate", "account.delete"]);
    expect(new Set(events.results.map((event) => event.actor))).toEqual(new Set(["admin_token"]));

    // The gone account: 404 pages for its confirmations and actions.
    for (const action of ["deactivate", "activate", "delete"]) {
      expect((await browser.get(`/console/accounts/${account.id}/${action}`)).status).toBe(404);
      const post = await browser.post(`/console/accounts/${account.id}/${action}`);
      expect(post.status).toBe(404);
      expect(post.headers.get("content-type")).toMatch(/^text\/html/);
    }
  });

  it("renders names with markup escaped and Unicode as given, on every page that shows them", async () => {
    const names = ["<script>alert(1)</script>", `"><img src=x onerror=alert(1)> & 'q'`, "Zürich 東京 🚀"];
    for (const name of names) {
      expect((await browser.post("/console/accounts", { name, type: "service" })).status).toBe(303);
      const account = (await accountByName(name))!;
      expect(account.name).toBe(name);
      const credentialName = `${name} key`;
      const { response } = await createViaConsole(browser, { name: credentialName, type: "api_key", account_id: account.id });
      expect(response.status).toBe(201);
      const credential = (await env.DB.prepare("SELECT id FROM credentials WHERE account_id = ?").bind(account.id).first<{ id: string }>())!;

      const pages = [
        await response.text(),
        await (await browser.get("/console/accounts")).text(),
        await (await browser.get(`/console/accounts/${account.id}/deactivate`)).text(),
        await (await browser.get(`/console/accounts/${account.id}/delete`)).text(),
        await (await browser.get("/console/credentials")).text(),
        await (await browser.get(`/console/credentials?account_id=${account.id}`)).text(),
        await (await browser.get("/console/credentials/new")).text(),
        await (await browser.get(`/console/credentials/${credential.id}/delete`)).text(),
        await (await browser.get(`/console/credentials/${credential.id}/roll`)).text(),
      ];
      for (const html of pages) {
        expect(textOf(html)).toContain(name);
        // Never raw markup from the name: no injected tag and no attribute broken out of.
        expect(html).not.toContain("<script>alert(1)");
        expect(html).not.toContain("<img src=x");
        expect(html).not.toContain('"><img');
        if (name.startsWith("Zürich")) expect(html).toContain(name); // literal UTF-8, not entities
      }
      expect(pages[1]).toContain(`aria-label="Delete ${escapeHtml(name)}"`);
      expect(pages[4]).toContain(`aria-label="Delete ${escapeHtml(credentialName)}"`);
    }
    const accounts = await (await browser.get("/console/accounts")).text();
    expect(accounts).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const page = await browser.get("/console/accounts");
    expect(page.headers.get("content-type")).toMatch(/charset=utf-8/i);
  });

  it("lists 50 accounts a page with an Older link, and a preselected older account stays choosable for a new credential", async () => {
    const [oldest] = await insertAccounts(110);
    const page1 = await (await browser.get("/console/accounts")).text();
    expect(page1.match(/aria-label="Delete /g) ?? []).toHaveLength(50);
    const next = olderLink(page1);
    expect(next).toMatch(/^\/console\/accounts\?cursor=/);
    const page2 = await (await browser.get(next!)).text();
    expect(page2.match(/aria-label="Delete /g) ?? []).toHaveLength(50);
    // No account on both pages, and the second page is older.
    const ids = (html: string) => [...html.matchAll(/<div class="hint mono">(acct_[^<]+)<\/div>/g)].map((m) => m[1]);
    expect(ids(page1).filter((id) => ids(page2).includes(id))).toEqual([]);
    const times = (html: string) => [...html.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]!);
    expect(times(page1).at(-1)! >= times(page2)[0]!).toBe(true);

    // The oldest account's "Create" (from its credentials list) still lets you pick it.
    const form = await (await browser.get(`/console/credentials/new?account_id=${oldest}`)).text();
    expect(form).toMatch(new RegExp(`<option value="${oldest}" selected`));
    const { response } = await createViaConsole(browser, { name: uniqueName("old account key"), type: "api_key", account_id: oldest! });
    expect(response.status).toBe(201);
  });
});

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

describe("audit page", () => {
  it("shows events newest first with actor, action and target, and filters by target_id", async () => {
    const name = uniqueName("audited");
    expect((await browser.post("/console/accounts", { name, type: "user" })).status).toBe(303);
    const account = (await accountByName(name))!;
    expect((await browser.post(`/console/accounts/${account.id}/deactivate`)).status).toBe(303);
    expect((await browser.post(`/console/accounts/${account.id}/activate`)).status).toBe(303);
    const other = await createAccount();

    const response = await browser.get(`/console/audit?target_id=${account.id}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toMatch(/<h1>Audit log<\/h1>/);
    expect(html).toContain(`value="${account.id}"`); // the filter shows what it filters by
    const rows = auditRows(html);
    expect(rows.every((row) => row.target === account.id && row.actor === "admin_token" && row.channel === "the console")).toBe(true);
    expect(rows.every((row) => row.targetName === name)).toBe(true);
    // Times to the second.
    expect(html).toMatch(/<time datetime="[^"]+"[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d<\/time>/);
    expectActions(rows, ["account.activate", "account.deactivate", "account.create"]);
    expect(rows[0]!.action).toBe("account.activate");
    expect(textOf(html)).not.toContain(other.id);

    // Unfiltered: newest first, so the newest event (the other account's creation) comes first.
    const all = auditRows(await (await browser.get("/console/audit")).text());
    expect(all[0]).toMatchObject({ target: other.id, action: "account.create", channel: "the API", targetName: other.name });
    for (let i = 0; i + 1 < all.length; i++) expect(all[i]!.at >= all[i + 1]!.at).toBe(true);
    // Each target links to its own filtered view.
    expect(await (await browser.get("/console/audit")).text()).toContain(`href="/console/audit?target_id=${other.id}"`);

    // A target with no events shows an empty table, not an error; a whitespace filter means no filter.
    const none = await browser.get("/console/audit?target_id=acct_nothing_here");
    expect(none.status).toBe(200);
    expect(textOf(await none.text())).toContain("No events.");
    expect(auditRows(await (await browser.get("/console/audit?target_id=%20%20")).text()).length).toBeGreaterThan(0);
  });

  it("pages 50 events at a time with an Older link, keeping the filter", async () => {
    const account = await createAccount();
    await env.DB.prepare("DELETE FROM audit_events WHERE target_id = ?").bind(account.id).run();
    const actions = ["account.create", ...Array.from({ length: 26 }, () => ["account.deactivate", "account.activate"]).flat()];
    await insertAuditEvents(account.id, actions);
    // 53 events: create, then 26 deactivations and 26 activations.
    const first = await (await browser.get(`/console/audit?target_id=${account.id}`)).text();
    const page1 = auditRows(first);
    expect(page1).toHaveLength(50);
    expect(page1[0]!.action).toBe("account.activate");
    const next = olderLink(first);
    expect(next).not.toBeNull();
    const url = new URL(next!, "http://localhost:8787");
    expect(url.pathname).toBe("/console/audit");
    expect(url.searchParams.get("target_id")).toBe(account.id);
    expect(url.searchParams.get("cursor")).toBeTruthy();

    const second = await (await browser.get(next!)).text();
    const page2 = auditRows(second);
    expect(page2).toHaveLength(3);
    expect(page2.at(-1)!.action).toBe("account.create");
    expect(olderLink(second)).toBeNull();
    const all = [...page1, ...page2];
    expect(all.every((row) => row.target === account.id)).toBe(true);
    for (let i = 0; i + 1 < all.length; i++) expect(all[i]!.at >= all[i + 1]!.at).toBe(true);
    expect(all.filter((row) => row.action === "account.deactivate")).toHaveLength(26);

    // The unfiltered log has more than 50 events now too, and its Older link carries no filter.
    const unfiltered = olderLink(await (await browser.get("/console/audit")).text());
    expect(unfiltered).toMatch(/^\/console\/audit\?cursor=/);
    // A malformed cursor is an error page, not the first page again.
    const broken = await browser.get("/console/audit?cursor=%%%");
    expect(broken.status).toBe(400);
    expect(textOf(await broken.text())).toContain("cursor is not one Keymint issued");
  });

  it("records console changes with actor admin_token and shows credential events too", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    expect((await browser.post(`/console/credentials/${credential.id}/delete`)).status).toBe(303);
    const rows = auditRows(await (await browser.get(`/console/audit?target_id=${credential.id}`)).text());
    expectActions(rows, ["credential.delete", "credential.create"]);
    expect(rows.map((row) => [row.actor, row.channel, row.targetName])).toEqual([
      ["admin_token", "the console", credential.name],
      ["admin_token", "the API", credential.name],
    ]);
  });
});
