import { afterEach, describe, expect, it, vi } from "vitest";
import { SESSION_COOKIE, getPage, postForm, sessionSetCookie, textOf } from "../support/console";
import { call, createCredential, expectError, json, snapshot } from "../support/http";
import { tokenFor } from "../support/oauth";
import { created, unique } from "../support/organizations";

/**
 * Console links (contract "Organizations (tenants)"): POST /admin/v1/organizations/{id}/console-links
 * mints a single-use, 5-minute URL for a named person; it opens a console session bound to that
 * organization and role, which sees that organization alone, a viewer's changing nothing.
 */

/** An organization with an account and a credential in it, all named uniquely. */
async function tenant() {
  const org = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("org") } }));
  const account = await created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("account"), type: "service", organization_id: org.id } }));
  const credential = await created(
    await call("/admin/v1/credentials", { method: "POST", body: { name: unique("credential"), type: "api_key", account_id: account.id } }),
  );
  return { org, account, credential };
}

const mint = (organizationId: string, body: Record<string, unknown> = { email: "dana@acme.example", role: "admin" }, token?: string) =>
  call(`/admin/v1/organizations/${organizationId}/console-links`, { method: "POST", body, ...(token ? { token } : {}) });

/** Opens a link as a browser would; the session's Cookie header, or null when it opened none. */
async function open(url: string): Promise<{ response: Response; cookie: string | null }> {
  const response = await getPage(new URL(url).pathname);
  const cookie = sessionSetCookie(response);
  return { response, cookie: cookie ? `${SESSION_COOKIE}=${cookie.value}` : null };
}

async function signedInLink(organizationId: string, role: "admin" | "viewer" = "admin", email = `${crypto.randomUUID()}@acme.example`) {
  const link = await created(await mint(organizationId, { email, role }));
  const { response, cookie } = await open(link.url);
  expect(response.status).toBe(200);
  expect(cookie).not.toBeNull();
  return { cookie: cookie!, email };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("POST /admin/v1/organizations/{id}/console-links", () => {
  it("mints a 5-minute link, audited with the person's email and never the link", async () => {
    const { org } = await tenant();
    const before = Date.now();
    const link = await created(await mint(org.id, { email: "dana@acme.example", role: "viewer" }));
    expect(Object.keys(link).sort()).toEqual(["expires_at", "url"]);
    expect(link.url).toMatch(/^http:\/\/localhost:8787\/console\/link\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const lifetime = Date.parse(link.expires_at) - before;
    expect(lifetime).toBeGreaterThan(298_000);
    expect(lifetime).toBeLessThanOrEqual(301_000);
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${org.id}`))).data as { action: string; detail: string | null }[];
    const event = events.find((e) => e.action === "organization.console_link");
    expect(event?.detail).toBe("dana@acme.example (viewer)");
    expect(JSON.stringify(events)).not.toContain(new URL(link.url).pathname.split("/").pop());
  });

  it("refuses bad input with 400, an unknown organization with 404, a deactivated one with 400, and organization admins with 403", async () => {
    const { org } = await tenant();
    const before = await snapshot();
    for (const body of [{ email: "not an email", role: "admin" }, { email: "dana@acme.example", role: "owner" }, { email: "dana@acme.example" }, { role: "admin" }, { email: "dana@acme.example", role: "admin", extra: 1 }]) {
      await expectError(await mint(org.id, body), 400, "invalid_request");
    }
    expect(await snapshot()).toBe(before);
    await expectError(await mint("org_0000000000000000000000"), 404, "not_found");
    const { account } = await tenant();
    const orgAdmin = await createCredential(account.id, "oauth_client", ["admin"]);
    await expectError(await mint(account.organization_id, undefined, await tokenFor(orgAdmin)), 403, "forbidden");
    expect((await call(`/admin/v1/organizations/${org.id}/deactivate`, { method: "POST" })).status).toBe(200);
    await expectError(await mint(org.id), 400, "invalid_request");
  });
});

describe("opening a console link", () => {
  it("opens a session once: a reused, forged or expired link, or one for a deactivated organization, shows the sign-in page with the reason and opens none", async () => {
    const { org } = await tenant();
    const link = await created(await mint(org.id));
    const first = await open(link.url);
    expect(first.response.status).toBe(200);
    expect(first.cookie).not.toBeNull();
    const page = await first.response.text();
    expect(page).toContain(org.name);
    expect(page).toContain('http-equiv="refresh"');

    const again = await open(link.url);
    expect(again.response.status).toBe(401);
    expect(again.cookie).toBeNull();
    expect(textOf(await again.response.text())).toContain("used already");

    const fresh = await created(await mint(org.id));
    const [body, signature] = new URL(fresh.url).pathname.split("/").pop()!.split(".");
    const forgedBody = btoa(JSON.stringify({ lid: crypto.randomUUID(), org: org.id, email: "mallory@evil.example", role: "admin", exp: Math.floor(Date.now() / 1000) + 300 }))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    for (const forged of [`${forgedBody}.${signature}`, `${body}.${signature!.slice(0, -2)}AA`, `${body}`, "junk"]) {
      const response = await getPage(`/console/link/${forged}`);
      expect(response.status, forged).toBe(401);
      expect(sessionSetCookie(response)).toBeUndefined();
    }
    // The untouched link still works: the forgeries spent nothing.
    expect((await open(fresh.url)).cookie).not.toBeNull();

    const late = await created(await mint(org.id));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 301_000);
    const expired = await open(late.url);
    expect(expired.response.status).toBe(401);
    expect(expired.cookie).toBeNull();
    expect(textOf(await expired.response.text())).toContain("expired");
    vi.useRealTimers();

    const closing = await created(await mint(org.id));
    expect((await call(`/admin/v1/organizations/${org.id}/deactivate`, { method: "POST" })).status).toBe(200);
    const closed = await open(closing.url);
    expect(closed.response.status).toBe(401);
    expect(closed.cookie).toBeNull();
    expect(textOf(await closed.response.text())).toContain("deactivated");
  });
});

describe("an organization's console", () => {
  it("lists and opens its own organization's rows only; another's pages and forms answer 404 and change nothing", async () => {
    const mine = await tenant();
    const theirs = await tenant();
    const { cookie } = await signedInLink(mine.org.id);
    const list = textOf(await (await getPage("/console/credentials", { cookie })).text());
    expect(list).toContain(mine.credential.name);
    expect(list).not.toContain(theirs.credential.name);
    const accounts = textOf(await (await getPage("/console/accounts", { cookie })).text());
    expect(accounts).toContain(mine.account.name);
    expect(accounts).not.toContain(theirs.account.name);
    const audit = textOf(await (await getPage("/console/audit", { cookie })).text());
    expect(audit).toContain(mine.credential.name);
    expect(audit).not.toContain(theirs.credential.name);
    expect(textOf(await (await getPage(`/console/audit?target_id=${theirs.credential.id}`, { cookie })).text())).not.toContain(theirs.credential.name);

    expect((await getPage(`/console/credentials/${mine.credential.id}`, { cookie })).status).toBe(200);
    for (const path of [`/console/credentials/${theirs.credential.id}`, `/console/credentials?account_id=${theirs.account.id}`, `/console/accounts/${theirs.account.id}/delete`]) {
      expect((await getPage(path, { cookie })).status, path).toBe(404);
    }
    const before = await snapshot();
    for (const path of [`/console/credentials/${theirs.credential.id}/delete`, `/console/accounts/${theirs.account.id}/deactivate`, `/console/accounts/${theirs.account.id}/delete`]) {
      expect((await postForm(path, {}, { cookie })).status, path).toBe(404);
    }
    expect(await snapshot()).toBe(before);
    expect((await call(`/admin/v1/credentials/${theirs.credential.id}`)).status).toBe(200);
  });

  it("creates accounts in its organization, audited as link:<email>", async () => {
    const mine = await tenant();
    const { cookie, email } = await signedInLink(mine.org.id);
    const name = unique("console account");
    expect((await postForm("/console/accounts", { name, type: "service" }, { cookie })).status).toBe(303);
    const listed = (await json(await call(`/admin/v1/accounts?organization_id=${mine.org.id}`))).data as { name: string; id: string }[];
    const account = listed.find((a) => a.name === name);
    expect(account).toBeDefined();
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${account!.id}`))).data as { actor: string; organization_id: string }[];
    expect(events[0]).toMatchObject({ actor: `link:${email}`, organization_id: mine.org.id });
  });

  it("a viewer reads and changes nothing: every form answers 403", async () => {
    const mine = await tenant();
    const { cookie } = await signedInLink(mine.org.id, "viewer");
    expect((await getPage("/console/credentials", { cookie })).status).toBe(200);
    expect((await getPage(`/console/credentials/${mine.credential.id}`, { cookie })).status).toBe(200);
    const before = await snapshot();
    for (const [path, fields] of [
      [`/console/credentials/${mine.credential.id}/delete`, {}],
      [`/console/accounts/${mine.account.id}/deactivate`, {}],
      ["/console/accounts", { name: unique("viewer account"), type: "service" }],
    ] as const) {
      expect((await postForm(path, fields, { cookie })).status, path).toBe(403);
    }
    expect(await snapshot()).toBe(before);
    // Pages that exist only to change something are refused too, and a viewer's pages offer no such control.
    for (const path of ["/console/credentials/new", `/console/credentials/${mine.credential.id}/delete`, `/console/credentials/${mine.credential.id}/roll`, `/console/accounts/${mine.account.id}/deactivate`]) {
      expect((await getPage(path, { cookie })).status, path).toBe(403);
    }
    const page = await (await getPage(`/console/credentials/${mine.credential.id}`, { cookie })).text();
    expect(page).not.toContain(`/console/credentials/${mine.credential.id}/delete`);
    expect(page).not.toContain('method="post" action="/console/credentials');
    expect(textOf(page)).toContain("view only");
  });

  it("shows APIs read-only to an organization's admin: no form, and their edit pages and forms refused", async () => {
    const mine = await tenant();
    const { cookie } = await signedInLink(mine.org.id);
    const apis = await (await getPage("/console/apis", { cookie })).text();
    expect(apis).not.toContain('action="/console/apis"');
    expect(apis).not.toContain("/console/apis/api_default/edit");
    expect((await getPage("/console/apis/api_default/edit", { cookie })).status).toBe(403);
    expect((await postForm("/console/apis", { name: "x", identifier: "https://x.example.com", scopes: "" }, { cookie })).status).toBe(403);
    expect(textOf(await (await getPage("/console/credentials", { cookie })).text())).toContain(mine.org.name);
  });

  it("ends when the organization is deactivated, and stays ended after it is activated again", async () => {
    const mine = await tenant();
    const { cookie } = await signedInLink(mine.org.id);
    expect((await getPage("/console/credentials", { cookie })).status).toBe(200);
    expect((await call(`/admin/v1/organizations/${mine.org.id}/deactivate`, { method: "POST" })).status).toBe(200);
    const ended = await getPage("/console/credentials", { cookie });
    expect(ended.status).toBe(303);
    expect(ended.headers.get("location")).toBe("/console/login");
    expect((await call(`/admin/v1/organizations/${mine.org.id}/activate`, { method: "POST" })).status).toBe(200);
    expect((await getPage("/console/credentials", { cookie })).status).toBe(303);
  });
});
