import { describe, expect, it } from "vitest";
import { signedInBrowser, textOf } from "../support/console";
import { call, json } from "../support/http";

/**
 * The Organizations screen (contract "Console": platform admins have /console/organizations, and
 * an organization filter on the accounts, credentials and audit pages).
 */

const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

describe("/console/organizations", () => {
  it("creates an organization, finds it by name or exact external ID, and deactivates and activates it", async () => {
    const browser = await signedInBrowser();
    const name = unique("Console org");
    const externalId = `cus_${crypto.randomUUID()}`;
    const created = await browser.post("/console/organizations", { name, external_id: externalId });
    expect(created.status).toBe(303);
    const location = created.headers.get("location")!;
    const id = location.match(/\/console\/organizations\/(org_[A-Za-z0-9]+)/)![1]!;
    const stored = await json(await call(`/admin/v1/organizations/${id}`));
    expect(stored).toMatchObject({ name, external_id: externalId, status: "active" });
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${id}`))).data as { action: string; channel: string }[];
    expect(events[0]).toMatchObject({ action: "organization.create", channel: "console" });

    expect(textOf(await (await browser.get(`/console/organizations?q=${encodeURIComponent(name.slice(0, 20))}`)).text())).toContain(name);
    expect(textOf(await (await browser.get(`/console/organizations?q=${externalId}`)).text())).toContain(name);
    expect(textOf(await (await browser.get("/console/organizations?q=zzz-nothing-matches")).text())).toContain("No organizations match.");

    const page = await browser.get(`/console/organizations/${id}`);
    expect(page.status).toBe(200);
    expect(textOf(await page.text())).toContain("Usage, last 7 days");

    expect((await browser.post(`/console/organizations/${id}/deactivate`)).status).toBe(303);
    expect((await json(await call(`/admin/v1/organizations/${id}`))).status).toBe("deactivated");
    expect((await browser.post(`/console/organizations/${id}/activate`)).status).toBe(303);
    expect((await json(await call(`/admin/v1/organizations/${id}`))).status).toBe("active");
  });

  it("refuses a blank name, a bad external ID and a taken one with the form's error, creating nothing", async () => {
    const browser = await signedInBrowser();
    const taken = `cus_${crypto.randomUUID()}`;
    expect((await browser.post("/console/organizations", { name: unique("first"), external_id: taken })).status).toBe(303);
    const attempts: Record<string, string>[] = [{ name: "   " }, { name: unique("bad"), external_id: "has\u0001control" }, { name: unique("dup"), external_id: taken }];
    for (const fields of attempts) {
      const response = await browser.post("/console/organizations", fields);
      expect(response.status, JSON.stringify(fields)).toBe(400);
    }
    const found = (await json(await call(`/admin/v1/organizations?external_id=${taken}`))).data;
    expect(found).toHaveLength(1);
  });

  it("filters the accounts, credentials and audit pages by organization", async () => {
    const browser = await signedInBrowser();
    const org = await json(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("filtered") } }));
    const inside = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("inside"), type: "service", organization_id: org.id } }));
    const outside = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("outside"), type: "service" } }));
    const accounts = textOf(await (await browser.get(`/console/accounts?organization_id=${org.id}`)).text());
    expect(accounts).toContain(inside.name);
    expect(accounts).not.toContain(outside.name);
    const audit = textOf(await (await browser.get(`/console/audit?organization_id=${org.id}`)).text());
    expect(audit).toContain(inside.name);
    expect(audit).not.toContain(outside.name);
    const credentials = await browser.get(`/console/credentials?organization_id=${org.id}`);
    expect(credentials.status).toBe(200);
    expect(textOf(await credentials.text())).toContain("No credentials match.");
  });
});
