import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { type DevServer, startDevServer } from "../node/dev-server";
import { SCREENSHOTS, checkPage, launchChromium } from "./support";

/**
 * The Webhooks screen in Chromium against `npm run dev` (which allows http URLs), at a laptop's
 * and a phone's width: create an endpoint with the event picker, its secret shown once, then
 * its page with a test event's delivery in the deliveries table (to a port nobody answers, so it
 * fails: a failed row). Every page passes axe-core with no sideways scroll.
 */

describe("the Webhooks screen", () => {
  let server: DevServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startDevServer(), launchChromium()]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signedIn(width: number): Promise<Page> {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width, height: 900 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto("/console/login");
    await page.getByLabel("Admin token").fill(server.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/console/credentials");
    return page;
  }

  for (const width of [1280, 390]) {
    it(`at ${width} px: create with the event picker, the secret once, and the endpoint's deliveries`, async () => {
      const page = await signedIn(width);
      await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Webhooks" }).click();
      await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
      await checkPage(page, `Webhooks at ${width} px`);

      // No event chosen: the form comes back with the error at the picker, and focus on it.
      const url = `http://127.0.0.1:9/keymint-hooks/${width}`;
      await page.getByLabel("Endpoint URL").fill(url);
      await page.getByRole("button", { name: "Add endpoint" }).click();
      await page.locator("#new-events-error").waitFor();
      expect(await page.locator("#new-events-error").innerText()).toContain("choose at least one event");
      expect(await page.getByLabel("Endpoint URL").inputValue()).toBe(url);
      await checkPage(page, `the create form's error at ${width} px`);

      await page.getByLabel("Description (optional)").fill(`Leak alerts (${width} px)`);
      await page.getByLabel("credential.leaked").check();
      await page.getByLabel("credential.expiring").check();
      await page.getByLabel("account.deleted").check();
      await page.getByRole("button", { name: "Add endpoint" }).click();
      await page.getByRole("heading", { name: "Webhook endpoint created", level: 1 }).waitFor();
      const secret = await page.getByLabel("Signing secret", { exact: true }).inputValue();
      expect(secret).toMatch(/^whsec_/);
      expect(await page.locator("main").innerText()).toContain("This is the only time it is shown");
      await checkPage(page, `the secret shown once at ${width} px`);

      await page.getByRole("link", { name: "Open the endpoint" }).click();
      await page.getByRole("heading", { name: url, level: 1 }).waitFor();
      expect(await page.content()).not.toContain(secret.slice("whsec_".length));
      const fields = await page.locator("dl.fields").innerText();
      for (const type of ["credential.leaked", "credential.expiring", "account.deleted"]) expect(fields).toContain(type);
      await checkPage(page, `the endpoint's page at ${width} px`);

      await page.getByRole("button", { name: "Send test event" }).click();
      await page.getByText("Test event sent.").waitFor();
      // The delivery to a port nobody answers fails: a failed row, with its next attempt.
      const deliveries = page.locator("table.cards").last();
      for (let tries = 0; !(await deliveries.innerText()).includes("webhook.test"); tries++) {
        expect(tries, "no delivery row after 30 s").toBeLessThan(60);
        await page.waitForTimeout(500);
        await page.reload();
      }
      const row = await deliveries.innerText();
      expect(row).toContain("Failed");
      expect(row).toContain("No answer");
      await checkPage(page, `the deliveries table at ${width} px`);
      if (width === 1280) await page.screenshot({ path: `${SCREENSHOTS}/webhooks.png`, fullPage: true });
      if (width === 390) {
        // A card per row: the column names go with each value, and nothing scrolls sideways.
        expect(await deliveries.locator("thead").evaluate((head) => (globalThis as any).getComputedStyle(head).position)).toBe("absolute");
        expect(await deliveries.locator("tbody td").first().evaluate((cell) => (globalThis as any).getComputedStyle(cell).display)).toBe("block");
      }

      await page.getByLabel("Result").selectOption("failed");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL(/status=failed/);
      expect(await deliveries.innerText()).toContain("webhook.test");
      await checkPage(page, `failed deliveries at ${width} px`);
      await page.context().close();
    });
  }
});
