import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EVENT_TYPES } from "../../src/services/webhook-events";
import { SESSION_COOKIE, getPage, postForm, sessionSetCookie, shownSecret, signedInBrowser, textOf } from "../support/console";
import { call, json, snapshot } from "../support/http";
import { createOrg, created } from "../support/organizations";

/**
 * The Webhooks screen (contract "Webhooks", "Console"; issue 25 §5): create with the event picker
 * (the signing secret shown once, never stored in the clear), edit, disable and enable, roll the
 * secret, a test event, delete; bad input refused next to its field with nothing changed; a
 * viewer's link reads and changes nothing; an organization's console sees its own endpoints alone.
 */

const hookUrl = (label = "x") => `https://hooks.example.com/${label}-${crypto.randomUUID()}`;

/** Deliveries go to a receiver that answers 200 at once (no request leaves the test). */
const realFetch = globalThis.fetch;
const received: { url: string; body: string; headers: Record<string, string> }[] = [];
beforeAll(() => {
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).hostname !== "hooks.example.com") return realFetch(input, init);
    received.push({ url: request.url, body: await request.text(), headers: Object.fromEntries(request.headers) });
    return new Response("ok", { status: 200 });
  });
});
afterAll(() => vi.restoreAllMocks());

/** The first delivery the receiver got at this URL: its body and headers. */
async function deliveredTo(url: string): Promise<{ body: string; headers: Record<string, string> }> {
  return vi.waitFor(
    () => {
      const found = received.find((candidate) => candidate.url === url);
      if (!found) throw new Error(`nothing delivered to ${url} yet`);
      return found;
    },
    { timeout: 10_000, interval: 100 },
  );
}

/** A console session opened from a console link of an organization. */
async function linkSession(organizationId: string, role: "admin" | "viewer"): Promise<string> {
  const link = await created(await call(`/admin/v1/organizations/${organizationId}/console-links`, { method: "POST", body: { email: `${role}@tenant.example`, role } }));
  const opened = sessionSetCookie(await getPage(new URL(link.url).pathname));
  expect(opened).toBeDefined();
  return `${SESSION_COOKIE}=${opened!.value}`;
}

/** An endpoint made through the admin API. */
async function endpoint(body: Record<string, unknown> = {}) {
  return created(await call("/admin/v1/webhooks", { method: "POST", body: { url: hookUrl(), events: ["webhook.test"], ...body } }));
}

/** Every endpoint row in D1, and the other tables snapshot() covers: for "nothing changed". */
async function state(): Promise<string> {
  const endpoints = await env.DB.prepare("SELECT * FROM webhook_endpoints ORDER BY id").all();
  return `${await snapshot()}\n${JSON.stringify(endpoints.results)}`;
}

/** A fresh one-time form nonce (the create and roll forms carry one; each is sent once). */
const nonce = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (byte) => "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[byte % 62]).join("");

const endpointIdIn = (html: string) => /href="\/console\/webhooks\/(wh_[0-9A-Za-z]+)"/.exec(html)?.[1];

describe("/console/webhooks", () => {
  it("lists endpoints with an event picker of every event type, and is in the console's navigation", async () => {
    const browser = await signedInBrowser();
    const mine = await endpoint({ description: "Billing sync" });
    const response = await browser.get("/console/webhooks");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<a href="/console/webhooks" aria-current="page">Webhooks</a>');
    for (const type of EVENT_TYPES) expect(html, type).toContain(`name="event.${type}"`);
    expect(html).toContain('name="events_all"');
    for (const group of ["Credentials", "Accounts", "Organizations", "APIs", "Webhooks"]) expect(html).toContain(`<legend>${group}</legend>`);
    const text = textOf(html);
    expect(text).toContain(mine.url);
    expect(text).toContain("Billing sync");
    expect(text).toContain("Platform: every organization");
    expect(text).toContain("Enabled");
    expect(html).toContain('class="cards"');
    // Other screens link to it too.
    expect(await (await browser.get("/console/credentials")).text()).toContain('href="/console/webhooks"');
  });

  it("creates an endpoint through the form: the secret shows once (201), sealed in D1, and never again", async () => {
    const browser = await signedInBrowser();
    const url = hookUrl("created");
    const response = await browser.post("/console/webhooks", {
      nonce: nonce(),
      url,
      description: "Leak alerts",
      "event.credential.leaked": "on",
      "event.credential.expiring": "on",
      organization_id: "",
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toContain("no-store");
    const html = await response.text();
    const secret = shownSecret(html, "webhook_secret");
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(textOf(html)).toContain("This is the only time it is shown");
    const id = endpointIdIn(html);
    expect(id).toBeDefined();

    const stored = await json(await call(`/admin/v1/webhooks/${id}`));
    expect(stored).toMatchObject({ url, description: "Leak alerts", events: ["credential.leaked", "credential.expiring"], organization_id: null, status: "enabled" });
    const row = await env.DB.prepare("SELECT * FROM webhook_endpoints WHERE id = ?").bind(id).first<Record<string, unknown>>();
    expect(row!.sealed_secret).not.toContain(secret!);
    expect(row!.sealed_secret).not.toContain(secret!.slice("whsec_".length, -1));
    expect(JSON.stringify(row)).not.toContain(secret!.slice("whsec_".length, 20));
    const audit = (await json(await call(`/admin/v1/audit-events?target_id=${id}`))).data;
    expect(audit[0]).toMatchObject({ action: "webhook.create", channel: "console" });

    // Reloading the endpoint's page (or the list) never shows it again.
    for (const path of [`/console/webhooks/${id}`, "/console/webhooks"]) {
      const page = await browser.get(path);
      expect(page.status, path).toBe(200);
      const again = await page.text();
      expect(again, path).toContain(url);
      expect(again, path).not.toContain(secret!.slice("whsec_".length, 20));
      expect(again, path).not.toContain('id="webhook_secret"');
    }

    // The receiver verifies a delivery with the secret the page showed (Standard Webhooks).
    expect((await browser.post(`/console/webhooks/${id}/test`)).status).toBe(303);
    const delivery = await deliveredTo(url);
    const payload = new Webhook(secret!).verify(delivery.body, delivery.headers) as { type: string };
    expect(payload.type).toBe("webhook.test");

    // All events wins over single boxes; a platform admin names an organization.
    const org = await createOrg();
    const scoped = await browser.post("/console/webhooks", { nonce: nonce(), url: hookUrl("org"), events_all: "on", "event.api.created": "on", organization_id: org.id });
    expect(scoped.status).toBe(201);
    const scopedId = endpointIdIn(await scoped.text());
    expect(await json(await call(`/admin/v1/webhooks/${scopedId}`))).toMatchObject({ events: ["*"], organization_id: org.id });
    expect(textOf(await (await browser.get(`/console/webhooks?organization_id=${org.id}`)).text())).toContain(org.name);
  });

  it("edits, disables and enables, rolls the secret (shown once), sends a test event and deletes an endpoint", async () => {
    const browser = await signedInBrowser();
    const first = await endpoint({ events: ["credential.created"] });
    const path = `/console/webhooks/${first.id}`;
    const page = await browser.get(path);
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const control of ["Send test event", "Disable", "Roll secret", "Delete", "Save endpoint"]) expect(textOf(html), control).toContain(control);
    expect(html).toMatch(/name="event.credential.created" value="on" checked/);

    // Edit
    const url = hookUrl("edited");
    const saved = await browser.post(path, { url, description: "Edited", "event.account.created": "on", "event.account.deleted": "on" });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`${path}?done=saved`);
    expect(await json(await call(`/admin/v1/webhooks/${first.id}`))).toMatchObject({ url, description: "Edited", events: ["account.created", "account.deleted"] });
    expect(textOf(await (await browser.get(`${path}?done=saved`)).text())).toContain("Endpoint saved.");

    // Disable, enable
    expect((await browser.post(`${path}/disable`)).status).toBe(303);
    expect((await json(await call(`/admin/v1/webhooks/${first.id}`))).status).toBe("disabled");
    const disabled = textOf(await (await browser.get(path)).text());
    expect(disabled).toContain("Disabled");
    expect(disabled).toContain("Enable");
    expect((await browser.post(`${path}/enable`)).status).toBe(303);
    expect((await json(await call(`/admin/v1/webhooks/${first.id}`))).status).toBe("enabled");

    // Roll: a confirmation with the grace choices, then the new secret once
    const confirm = await browser.get(`${path}/roll`);
    expect(confirm.status).toBe(200);
    const choices = [...(await confirm.text()).matchAll(/<option value="(\d+)"/g)].map((match) => match[1]);
    expect(choices).toEqual(["0", "3600", "86400", "604800"]);
    expect((await browser.post(`${path}/roll`, { expires_in: "5", nonce: nonce() })).status).toBe(400);
    const rolled = await browser.post(`${path}/roll`, { expires_in: "3600", nonce: nonce() });
    expect(rolled.status).toBe(200);
    const rolledHtml = await rolled.text();
    const secret = shownSecret(rolledHtml, "webhook_secret");
    expect(secret).toMatch(/^whsec_/);
    expect(textOf(rolledHtml)).toContain("For 1 hour every delivery is signed with the previous secret too");
    expect(await (await browser.get(path)).text()).not.toContain(secret!.slice("whsec_".length, 20));
    const actions = (await json(await call(`/admin/v1/audit-events?target_id=${first.id}`))).data.map((event: { action: string }) => event.action);
    expect(actions).toEqual(expect.arrayContaining(["webhook.update", "webhook.disable", "webhook.enable", "webhook.roll_secret"]));

    // A test event: recorded for this endpoint, then the back to the page with a flash
    const test = await browser.post(`${path}/test`);
    expect(test.status).toBe(303);
    expect(test.headers.get("location")).toBe(`${path}?done=test`);
    const events = await env.DB.prepare("SELECT type, endpoint_id FROM webhook_events WHERE endpoint_id = ?").bind(first.id).all();
    expect(events.results).toEqual([{ type: "webhook.test", endpoint_id: first.id }]);
    expect(textOf(await (await browser.get(`${path}?done=test`)).text())).toContain("Test event sent.");
    // Signed with the secret the roll showed (and the old one too, during its grace).
    const delivery = await deliveredTo(url);
    expect((new Webhook(secret!).verify(delivery.body, delivery.headers) as { type: string }).type).toBe("webhook.test");
    expect(delivery.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    // Its delivery shows in the deliveries table (and not under Failed).
    await vi.waitFor(
      async () => {
        const deliveries = await json(await call(`/admin/v1/webhooks/${first.id}/deliveries`));
        expect(deliveries.data.length).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 200 },
    );
    const withDeliveries = textOf(await (await browser.get(path)).text());
    expect(withDeliveries).toContain("webhook.test");
    expect(withDeliveries).toContain("Delivered");
    expect(withDeliveries).toContain("200");
    expect(textOf(await (await browser.get(`${path}?status=failed`)).text())).toContain("No deliveries match.");
    expect((await browser.get(`${path}?status=lost`)).status).toBe(400);

    // Delete, after a confirmation
    const confirmDelete = await browser.get(`${path}/delete`);
    expect(confirmDelete.status).toBe(200);
    expect(textOf(await confirmDelete.text())).toContain("Delete permanently");
    const deleted = await browser.post(`${path}/delete`);
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get("location")).toBe("/console/webhooks?done=deleted");
    expect((await call(`/admin/v1/webhooks/${first.id}`)).status).toBe(404);
    expect((await browser.get(path)).status).toBe(404);
    expect((await browser.post(`${path}/test`)).status).toBe(404);
  });

  it("refuses bad input next to its field (400), keeping what was typed and changing nothing", async () => {
    const browser = await signedInBrowser();
    const existing = await endpoint();
    const good = hookUrl("good");
    const cases: [Record<string, string>, string, string][] = [
      [{ url: "ftp://hooks.example.com/x", events_all: "on" }, "new-url", "Endpoint URL: must be https."],
      [{ url: "http://hooks.example.com/x", events_all: "on" }, "new-url", "Endpoint URL: must be https."],
      [{ url: "https://localhost/x", events_all: "on" }, "new-url", "Endpoint URL: may not name localhost."],
      [{ url: "https://127.0.0.1/x", events_all: "on" }, "new-url", "Endpoint URL: may not name a private, loopback, link-local or reserved address."],
      [{ url: "https://[::ffff:10.0.0.1]/x", events_all: "on" }, "new-url", "may not name a private"],
      [{ url: "not a url", events_all: "on" }, "new-url", "Endpoint URL: is not a URL."],
      [{ url: `https://hooks.example.com/${"a".repeat(3000)}`, events_all: "on" }, "new-url", "Endpoint URL: is at most 2048 characters."],
      [{ url: "", events_all: "on" }, "new-url", "Endpoint URL: enter the address"],
      [{ url: good }, "new-events", "Events: choose at least one event, or All events."],
      [{ url: good, "event.credential.nope": "on" }, "new-events", 'Events: "credential.nope" is not an event type'],
      [{ url: good, events_all: "on", description: "d".repeat(501) }, "new-description", "Description: at most 500 characters."],
      [{ url: good, events_all: "on", organization_id: "org_doesnotexist00000000" }, "new-organization", "Organization ID: no organization has this ID."],
    ];
    const before = await state();
    for (const [fields, id, message] of cases) {
      const response = await browser.post("/console/webhooks", { nonce: nonce(), ...fields });
      const label = JSON.stringify(fields).slice(0, 80);
      expect(response.status, label).toBe(400);
      const html = (await response.text()).replaceAll("&quot;", '"');
      expect(html, label).toMatch(new RegExp(`<div class="field-error" id="${id}-error">[^<]*${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      expect(html, label).toMatch(new RegExp(`aria-invalid="true"[^>]*aria-describedby="${id}-error|aria-describedby="${id}-error[^"]*"[^>]*aria-invalid="true"`));
      expect(html, label).toContain('role="alert"');
      if (fields.url && fields.url.length < 100) expect(html, label).toContain(`value="${fields.url}"`);
    }
    expect(await state()).toBe(before);

    // The edit form, the same way: the endpoint stays as it was.
    const path = `/console/webhooks/${existing.id}`;
    for (const [fields, id, message] of [
      [{ url: "https://10.1.2.3/hook", events_all: "on" }, "edit-url", "Endpoint URL: may not name a private"],
      [{ url: existing.url }, "edit-events", "Events: choose at least one event"],
    ] as const) {
      const response = await browser.post(path, fields);
      expect(response.status, message).toBe(400);
      const html = await response.text();
      expect(html).toContain(`id="${id}-error"`);
      expect(textOf(html)).toContain(message);
    }
    expect(await state()).toBe(before);
    const { secret: _, ...unchanged } = existing;
    expect(await json(await call(`/admin/v1/webhooks/${existing.id}`))).toEqual(unchanged);
  });

  it("shows a viewer's link every endpoint read-only, with no control that changes anything, and refuses each post (403)", async () => {
    const org = await createOrg();
    const theirs = await endpoint({ organization_id: org.id });
    const viewer = await linkSession(org.id, "viewer");
    const list = await getPage("/console/webhooks", { cookie: viewer });
    expect(list.status).toBe(200);
    const listHtml = await list.text();
    expect(textOf(listHtml)).toContain(theirs.url);
    expect(listHtml).toContain('href="/console/webhooks"');
    expect(listHtml).not.toContain('action="/console/webhooks"');
    const page = await getPage(`/console/webhooks/${theirs.id}`, { cookie: viewer });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(textOf(html)).toContain("Deliveries");
    for (const control of ["Send test event", "Roll secret", "Save endpoint", ">Disable<", ">Delete<"]) expect(html, control).not.toContain(control);
    expect(html.match(/<form method="post"/g)).toHaveLength(1); // Sign out
    for (const action of ["roll", "delete"]) {
      expect((await getPage(`/console/webhooks/${theirs.id}/${action}`, { cookie: viewer })).status, action).toBe(403);
    }
    const before = await state();
    for (const [path, fields] of [
      ["/console/webhooks", { url: hookUrl(), events_all: "on" }],
      [`/console/webhooks/${theirs.id}`, { url: hookUrl(), events_all: "on" }],
      [`/console/webhooks/${theirs.id}/disable`, {}],
      [`/console/webhooks/${theirs.id}/enable`, {}],
      [`/console/webhooks/${theirs.id}/test`, {}],
      [`/console/webhooks/${theirs.id}/roll`, { expires_in: "0", nonce: nonce() }],
      [`/console/webhooks/${theirs.id}/delete`, {}],
    ] as const) {
      expect((await postForm(path, fields, { cookie: viewer })).status, path).toBe(403);
    }
    expect(await state()).toBe(before);
    const tests = await env.DB.prepare("SELECT count(*) AS n FROM webhook_events WHERE endpoint_id = ?").bind(theirs.id).first<{ n: number }>();
    expect(tests!.n).toBe(0);
  });

  it("an organization's console lists and makes its own endpoints alone; another's, or the platform's, answer 404", async () => {
    const [a, b] = [await createOrg(), await createOrg()];
    const ours = await endpoint({ organization_id: a.id });
    const others = await endpoint({ organization_id: b.id });
    const platform = await endpoint();
    const admin = await linkSession(a.id, "admin");
    const list = textOf(await (await getPage("/console/webhooks", { cookie: admin })).text());
    expect(list).toContain(ours.url);
    expect(list).not.toContain(others.url);
    expect(list).not.toContain(platform.url);
    expect(list).not.toContain("Platform: every organization");
    // Asking for another organization's list shows this one's all the same.
    expect(textOf(await (await getPage(`/console/webhooks?organization_id=${b.id}`, { cookie: admin })).text())).not.toContain(others.url);
    expect((await getPage(`/console/webhooks/${ours.id}`, { cookie: admin })).status).toBe(200);

    const before = await state();
    for (const foreign of [others, platform]) {
      for (const path of [`/console/webhooks/${foreign.id}`, `/console/webhooks/${foreign.id}/roll`, `/console/webhooks/${foreign.id}/delete`]) {
        const response = await getPage(path, { cookie: admin });
        expect(response.status, path).toBe(404);
        expect(await response.text(), path).not.toContain(foreign.url);
      }
      for (const [path, fields] of [
        [`/console/webhooks/${foreign.id}`, { url: hookUrl(), events_all: "on" }],
        [`/console/webhooks/${foreign.id}/disable`, {}],
        [`/console/webhooks/${foreign.id}/test`, {}],
        [`/console/webhooks/${foreign.id}/roll`, { expires_in: "0", nonce: nonce() }],
        [`/console/webhooks/${foreign.id}/delete`, {}],
      ] as const) {
        expect((await postForm(path, fields, { cookie: admin })).status, path).toBe(404);
      }
    }
    // It may not name another organization; without one, the endpoint is its own.
    const refused = await postForm("/console/webhooks", { nonce: nonce(), url: hookUrl(), events_all: "on", organization_id: b.id }, { cookie: admin });
    expect(refused.status).toBe(400);
    expect(textOf(await refused.text())).toContain("for your own organization only");
    expect(await state()).toBe(before);
    const made = await postForm("/console/webhooks", { nonce: nonce(), url: hookUrl("own"), "event.webhook.test": "on" }, { cookie: admin });
    expect(made.status).toBe(201);
    const id = endpointIdIn(await made.text());
    expect((await json(await call(`/admin/v1/webhooks/${id}`))).organization_id).toBe(a.id);
  });
});

describe("a create or roll form sent twice", () => {
  it("makes one endpoint and rolls once: the second send changes nothing and shows no secret", async () => {
    const browser = await signedInBrowser();
    const url = hookUrl("twice");
    const fields = { nonce: nonce(), url, "event.webhook.test": "on" };
    const first = await browser.post("/console/webhooks", fields);
    expect(first.status).toBe(201);
    const again = await browser.post("/console/webhooks", fields);
    expect(again.status).toBe(409);
    const page = await again.text();
    expect(textOf(page)).toContain("This form was sent already");
    expect(page).not.toContain("whsec_");
    const rows = await env.DB.prepare("SELECT id, sealed_secret FROM webhook_endpoints WHERE url = ?").bind(url).all<{ id: string; sealed_secret: string }>();
    expect(rows.results).toHaveLength(1);

    const id = rows.results[0]!.id;
    const roll = { expires_in: "3600", nonce: nonce() };
    expect((await browser.post(`/console/webhooks/${id}/roll`, roll)).status).toBe(200);
    const after = await env.DB.prepare("SELECT sealed_secret, sealed_previous_secret FROM webhook_endpoints WHERE id = ?").bind(id).first();
    const replay = await browser.post(`/console/webhooks/${id}/roll`, roll);
    expect(replay.status).toBe(409);
    expect(await replay.text()).not.toContain("whsec_");
    // The receiver's secret is still the previous one, in its grace: not lost to a roll nobody saw.
    expect(await env.DB.prepare("SELECT sealed_secret, sealed_previous_secret FROM webhook_endpoints WHERE id = ?").bind(id).first()).toEqual(after);
    expect(after!.sealed_previous_secret).toBe(rows.results[0]!.sealed_secret);
  });
});
