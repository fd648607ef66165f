import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { type DevServer, startDevServer } from "../node/dev-server";
import { SCREENSHOTS, adminApi, checkPage, launchChromium } from "./support";

/**
 * An organization's console in Chromium against `npm run dev`: a console link opens it as an
 * admin or a viewer, at a laptop's and a phone's width. It names the organization, shows that
 * organization's rows alone, a viewer's pages have no control that changes anything, and every
 * page passes axe-core with no sideways scroll.
 */

describe("an organization's console, opened by a console link", () => {
  let server: DevServer;
  let browser: Browser;
  const acme = { org: "", credential: "" };
  const globex = { credential: "" };
  const admin = (path: string, body?: unknown) => adminApi(server)(path, body);

  beforeAll(async () => {
    [server, browser] = await Promise.all([startDevServer(), launchChromium()]);
    acme.org = (await admin("/organizations", { name: "Acme Corp", external_id: "cus_acme" })).id;
    const acmeAccount = (await admin("/accounts", { name: "Acme billing", type: "service", organization_id: acme.org })).id;
    acme.credential = (await admin("/credentials", { name: "acme-billing prod", type: "oauth_client", account_id: acmeAccount })).id;
    const globexOrg = (await admin("/organizations", { name: "Globex" })).id;
    const globexAccount = (await admin("/accounts", { name: "Globex sync", type: "service", organization_id: globexOrg })).id;
    globex.credential = (await admin("/credentials", { name: "globex-sync prod", type: "api_key", account_id: globexAccount })).id;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const width of [1280, 390]) {
    it(`the platform's Organizations screen at ${width} px: each organization, its page, and the filtered lists it links to`, async () => {
      const context = await browser.newContext({ baseURL: server.url, viewport: { width, height: 900 } });
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      await page.goto("/console/login");
      await page.getByLabel("Admin token").fill(server.adminToken);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL("**/console/credentials");
      await page.getByRole("link", { name: "Organizations" }).first().click();
      await page.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();
      const list = await page.locator("main").innerText();
      expect(list).toContain("Acme Corp");
      expect(list).toContain("cus_acme");
      expect(list).toContain("Globex");
      await checkPage(page, `Organizations at ${width} px`);
      if (width === 1280) await page.screenshot({ path: `${SCREENSHOTS}/organizations.png`, fullPage: true });

      await page.getByRole("link", { name: "Open Acme Corp" }).click();
      await page.getByRole("heading", { name: "Acme Corp", level: 1 }).waitFor();
      await checkPage(page, `Acme Corp's page at ${width} px`);
      await page.getByRole("link", { name: "Its credentials" }).click();
      await page.waitForURL(/organization_id=/);
      const credentials = await page.locator("main").innerText();
      expect(credentials).toContain("acme-billing prod");
      expect(credentials).not.toContain("globex-sync prod");
      await checkPage(page, `credentials filtered by organization at ${width} px`);
      await context.close();
    });
  }

  for (const role of ["admin", "viewer"] as const) {
    for (const width of [1280, 390]) {
      it(`${role === "admin" ? "an" : "a"} ${role}'s link at ${width} px: the organization's own console, and nothing more`, async () => {
        const link = await admin(`/organizations/${acme.org}/console-links`, { email: `${role}@acme.example`, role });
        const context = await browser.newContext({ baseURL: server.url, viewport: { width, height: 900 } });
        context.setDefaultTimeout(15_000);
        const page = await context.newPage();
        await page.goto(link.url);
        await page.waitForURL(/\/console\/credentials$/);
        const header = await page.locator("header.top").innerText();
        expect(header).toContain("Acme Corp");
        expect(header).toContain(`${role}@acme.example`);
        expect(header.includes("view only")).toBe(role === "viewer");
        const list = await page.locator("main").innerText();
        expect(list).toContain("acme-billing prod");
        expect(list).not.toContain("globex-sync prod");
        expect(await page.getByRole("link", { name: "Create" }).count()).toBe(role === "admin" ? 1 : 0);
        await checkPage(page, `${role}'s credentials at ${width} px`);

        await page.goto(`/console/credentials/${acme.credential}`);
        expect(await page.getByRole("link", { name: "Delete" }).count()).toBe(role === "admin" ? 1 : 0);
        expect(await page.locator("main form").count() > 0).toBe(role === "admin");
        await checkPage(page, `${role}'s credential page at ${width} px`);
        if (role === "viewer" && width === 390) await page.screenshot({ path: `${SCREENSHOTS}/organization-console-viewer-phone.png`, fullPage: true });

        // Another organization's credential is no credential at all here.
        const theirs = await page.goto(`/console/credentials/${globex.credential}`);
        expect(theirs?.status()).toBe(404);
        await page.goto("/console/accounts");
        expect(await page.locator("main").innerText()).not.toContain("Globex sync");
        await checkPage(page, `${role}'s accounts at ${width} px`);
        await context.close();
      });
    }
  }
});
