import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type DevServer, startDevServer } from "../node/dev-server";
import { adminApi, checkPage, launchChromium } from "./support";

/**
 * The metadata and token claims editors in a real browser, at a 1280 px laptop and a 390 px
 * phone: a credential's page, an account's page and an API's edit page, with values and with an
 * error shown inline; no sideways scroll, no axe-core violation, each field found by its label,
 * and focus on the field in error.
 */

const WIDTHS = [1280, 390] as const;
const LONG_VALUE = `eu-west-${"x".repeat(240)}`; // 248 characters, no space to break at

describe("the key/value editors on a laptop and a phone", () => {
  let server: DevServer;
  let browser: Browser;
  const contexts = new Map<number, BrowserContext>();
  const ids = { account: "", credential: "" };

  const admin = (path: string, body?: unknown) => adminApi(server)(path, body) as Promise<{ id: string }>;
  async function patch(path: string, body: unknown) {
    const response = await fetch(`${server.url}/admin/v1${path}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status, path).toBe(200);
  }

  async function signedInPage(width: number): Promise<Page> {
    let context = contexts.get(width);
    if (!context) {
      context = await browser.newContext({ viewport: { width, height: 800 }, baseURL: server.url });
      const page = await context.newPage();
      await page.goto("/console/login");
      await page.getByLabel("Admin token").fill(server.adminToken);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL("**/console/credentials");
      await page.close();
      contexts.set(width, context);
    }
    return context.newPage();
  }

  beforeAll(async () => {
    await Promise.all([startDevServer().then((started) => (server = started)), launchChromium().then((launched) => (browser = launched))]);
    ids.account = (await admin("/accounts", { name: "Billing sync", type: "service" })).id;
    ids.credential = (await admin("/credentials", { name: "billing-sync prod", type: "oauth_client", account_id: ids.account })).id;
    const metadata = { region: LONG_VALUE, seats: 25, beta: true, plan: "enterprise" };
    await patch(`/accounts/${ids.account}`, { metadata });
    await patch(`/credentials/${ids.credential}`, { metadata });
    await patch("/apis/api_default", { token_claims: { tenant: "organization.external_id", region: "account.metadata.region" } });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const width of WIDTHS) {
    it(`shows the editors with values, and an error inline, without sideways scroll or axe-core violations at ${width} px`, async () => {
      const page = await signedInPage(width);
      for (const path of [`/console/credentials/${ids.credential}`, `/console/accounts/${ids.account}`, "/console/apis/api_default/edit", "/console/apis"]) {
        await page.goto(path);
        await page.getByRole("heading", { level: 1 }).waitFor();
        await checkPage(page, `${path} at ${width} px`);
      }

      // The account page: each field by its label; a number that is not one is refused in place.
      await page.goto(`/console/accounts/${ids.account}`);
      const editor = page.getByRole("group", { name: "Metadata" });
      expect(await editor.getByLabel("Name 1", { exact: true }).inputValue()).toBe("region");
      expect(await editor.getByLabel("Value 1", { exact: true }).inputValue()).toBe(LONG_VALUE);
      await editor.getByLabel("Name 5", { exact: true }).fill("quota");
      await editor.getByLabel("Type 5", { exact: true }).selectOption({ label: "Number" });
      await editor.getByLabel("Value 5", { exact: true }).fill("lots");
      await page.getByRole("button", { name: "Save account" }).click();
      await page.getByText('Value: "lots" is not a number').waitFor();
      const value = editor.getByLabel("Value 5", { exact: true });
      expect(await value.getAttribute("aria-invalid")).toBe("true");
      expect(await value.evaluate((element) => element === (element.ownerDocument as any).activeElement)).toBe(true);
      await checkPage(page, `the account page with an error at ${width} px`);

      // Fixed, it saves: the page says so and shows the new member.
      await value.fill("12");
      await page.getByRole("button", { name: "Save account" }).click();
      await page.getByText("Account saved.").waitFor();
      expect(await page.getByRole("group", { name: "Metadata" }).getByLabel("Name 5", { exact: true }).inputValue()).toBe("quota");
      await patch(`/accounts/${ids.account}`, { metadata: { region: LONG_VALUE, seats: 25, beta: true, plan: "enterprise" } });

      // The API's claims editor: a reserved name is refused in place.
      await page.goto("/console/apis/api_default/edit");
      const claims = page.getByRole("group", { name: "Token claims" });
      expect(await claims.getByLabel("Source 1", { exact: true }).getAttribute("list")).toBe("claim-sources");
      await claims.getByLabel("Claim name 3", { exact: true }).fill("sub");
      await claims.getByLabel("Source 3", { exact: true }).fill("account.id");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText("sub is set by Keymint").first().waitFor();
      expect(await page.getByRole("group", { name: "Token claims" }).getByLabel("Claim name 3", { exact: true }).getAttribute("aria-invalid")).toBe("true");
      await checkPage(page, `the API edit page with an error at ${width} px`);
      await page.close();
    });
  }
});
