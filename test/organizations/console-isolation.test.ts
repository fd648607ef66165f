import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SESSION_COOKIE, getPage, postForm, sessionSetCookie, textOf } from "../support/console";
import { call, dumpAllTables } from "../support/http";
import { accountIn, createOrg, created, unique } from "../support/organizations";

/**
 * Issue 23, "Bad input and isolation": every console page and form post that names an id, sent by
 * organization B's console session with organization A's ids, answers 404 exactly as an unknown id
 * would, and A's rows in D1 are unchanged. The same requests from A's own session do not answer
 * 404, so each row of the table is one the scoping could get wrong.
 */

/** An organization with an account and an OAuth client in it, and an admin's console session. */
async function tenant() {
  const org = await createOrg();
  const account = await accountIn(org.id);
  const credential = await created(
    await call("/admin/v1/credentials", { method: "POST", body: { name: unique("credential"), type: "oauth_client", account_id: account.id } }),
  );
  // Last, and for test events alone: no change above sends it anything.
  const webhook = await created(await call("/admin/v1/webhooks", { method: "POST", body: { url: `https://hooks.example.com/${crypto.randomUUID()}`, events: ["webhook.test"], organization_id: org.id } }));
  const link = await created(await call(`/admin/v1/organizations/${org.id}/console-links`, { method: "POST", body: { email: "admin@tenant.example", role: "admin" } }));
  const opened = sessionSetCookie(await getPage(new URL(link.url).pathname));
  expect(opened).toBeDefined();
  return { org, account, credential, webhook, cookie: `${SESSION_COOKIE}=${opened!.value}` };
}

type Tenant = Awaited<ReturnType<typeof tenant>>;

/** Every console page that shows one account's, credential's or webhook endpoint's rows, by the ids it names. */
const pages = (a: Tenant) => [
  `/console/credentials/${a.credential.id}`,
  `/console/credentials/${a.credential.id}/delete`,
  `/console/credentials/${a.credential.id}/roll`,
  `/console/credentials/${a.credential.id}/end-grace`,
  `/console/credentials?account_id=${a.account.id}`,
  `/console/accounts/${a.account.id}`,
  `/console/accounts/${a.account.id}/deactivate`,
  `/console/accounts/${a.account.id}/activate`,
  `/console/accounts/${a.account.id}/delete`,
  `/console/webhooks/${a.webhook.id}`,
  `/console/webhooks/${a.webhook.id}?status=failed`,
  `/console/webhooks/${a.webhook.id}/roll`,
  `/console/webhooks/${a.webhook.id}/delete`,
];

/** Every console form post that changes one account, credential or webhook endpoint, with fields that would be accepted; the deletes last. */
const posts = (a: Tenant): [string, Record<string, string>][] => [
  [`/console/credentials/${a.credential.id}/access`, { scopes: "read write" }],
  [`/console/credentials/${a.credential.id}/settings`, { expires_at: "", allowed_ips: "203.0.113.7" }],
  [`/console/credentials/${a.credential.id}/jwks`, { jwks: '{"keys":[]}' }],
  [`/console/credentials/${a.credential.id}/test`, { secret: "not the secret" }],
  [`/console/credentials/${a.credential.id}/roll`, { expires_in: "3600", nonce: "A".repeat(32) }],
  [`/console/credentials/${a.credential.id}/end-grace`, {}],
  [`/console/credentials/${a.credential.id}/metadata`, { "meta.0.name": "plan", "meta.0.type": "string", "meta.0.value": "stolen" }],
  [`/console/accounts/${a.account.id}`, { name: unique("renamed"), "meta.0.name": "plan", "meta.0.type": "string", "meta.0.value": "stolen" }],
  [`/console/accounts/${a.account.id}/deactivate`, {}],
  [`/console/accounts/${a.account.id}/activate`, {}],
  [`/console/webhooks/${a.webhook.id}`, { url: "https://hooks.example.com/stolen", events_all: "on", description: "stolen" }],
  [`/console/webhooks/${a.webhook.id}/disable`, {}],
  [`/console/webhooks/${a.webhook.id}/enable`, {}],
  [`/console/webhooks/${a.webhook.id}/test`, {}],
  [`/console/webhooks/${a.webhook.id}/roll`, { expires_in: "0", nonce: "C".repeat(32) }],
  [`/console/webhooks/${a.webhook.id}/delete`, {}],
  [`/console/credentials/${a.credential.id}/delete`, {}],
  [`/console/accounts/${a.account.id}/delete`, {}],
];

/** A's rows, read from D1: every table's rows that name one of A's ids. */
async function rowsOf(a: Tenant): Promise<string> {
  const ids = [a.org.id, a.account.id, a.credential.id, a.webhook.id];
  const tables = await dumpAllTables();
  const mine = Object.entries(tables).map(([table, rows]) => [table, rows.filter((row) => ids.some((id) => JSON.stringify(row).includes(id)))]);
  return JSON.stringify(mine);
}

describe("an organization's console and another organization's ids", () => {
  // The control's test event goes to a receiver that answers at once: no request leaves the test.
  beforeAll(() => {
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) =>
      new URL(new Request(input, init).url).hostname === "hooks.example.com" ? new Response("ok") : realFetch(input, init),
    );
  });
  afterAll(() => vi.restoreAllMocks());

  it("answers 404 to every page and every form post naming them, changing nothing; the same requests from their own console do not", async () => {
    const a = await tenant();
    const b = await tenant();
    const before = await rowsOf(a);
    expect(before).toContain(a.credential.id);

    for (const path of pages(a)) {
      const response = await getPage(path, { cookie: b.cookie });
      expect(response.status, path).toBe(404);
      const text = textOf(await response.text());
      expect(text, path).not.toContain(a.credential.name);
      expect(text, path).not.toContain(a.account.name);
    }
    for (const [path, fields] of posts(a)) {
      expect((await postForm(path, fields, { cookie: b.cookie })).status, path).toBe(404);
    }
    // A credential for A's account, asked for by B: the console's "no account has this id".
    const create = await postForm("/console/credentials", { nonce: "B".repeat(32), name: unique("stolen"), type: "api_key", account_id: a.account.id }, { cookie: b.cookie });
    expect(create.status).toBe(400);
    expect(textOf(await create.text())).toContain("no account has this id");
    // Organizations are the platform's screen.
    for (const path of ["/console/organizations", `/console/organizations/${a.org.id}`]) {
      expect((await getPage(path, { cookie: b.cookie })).status, path).toBe(404);
    }
    for (const action of ["deactivate", "activate"]) {
      expect((await postForm(`/console/organizations/${a.org.id}/${action}`, {}, { cookie: b.cookie })).status, action).toBe(404);
    }
    // Nor does B's list of webhook endpoints, whatever it asks for.
    for (const path of ["/console/webhooks", `/console/webhooks?organization_id=${a.org.id}`]) {
      expect(textOf(await (await getPage(path, { cookie: b.cookie })).text()), path).not.toContain(a.webhook.url);
    }
    // Lists and pages with A's ids as filters show none of A's rows.
    for (const path of [`/console/audit?target_id=${a.credential.id}`, `/console/audit?target_id=${a.account.id}`, `/console/credentials/new?account_id=${a.account.id}`, `/console/credentials?q=${encodeURIComponent(a.credential.name)}`]) {
      const response = await getPage(path, { cookie: b.cookie });
      const text = textOf(await response.text());
      expect(text, path).not.toContain(a.credential.name);
      expect(text, path).not.toContain(a.account.name);
    }
    expect(await rowsOf(a)).toBe(before);

    // The control: A's own session reaches each of them.
    for (const path of pages(a)) {
      expect((await getPage(path, { cookie: a.cookie })).status, path).not.toBe(404);
    }
    for (const [path, fields] of posts(a)) {
      expect((await postForm(path, fields, { cookie: a.cookie })).status, path).not.toBe(404);
    }
    expect(await rowsOf(a)).not.toBe(before);
  });
});
