import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { type DevServer, startDevServer } from "../node/dev-server";
import { SCREENSHOTS, launchChromium } from "./support";

/**
 * The admin's flow in a real browser (headless Chromium), against `npm run dev`: sign in,
 * create a service account, create an API key and an OAuth client, see each secret once,
 * and delete the key with the trash icon. Locators are accessible names and labels, so the
 * test also proves the console is labelled. Takes the README's screenshots on the way.
 */

const ACCOUNT = "Billing sync";
const API_KEY_NAME = "legacy webhook";
const CLIENT_NAME = "billing-sync prod";

describe("console in a browser", () => {
  let server: DevServer;
  let browser: Browser;
  let page: Page;
  let apiKey = "";
  const oauthClient = { id: "", secret: "" };

  /** The OAuth client's name cell, which also shows its client ID. */
  const clientRow = () => page.getByRole("cell", { name: new RegExp(`^${CLIENT_NAME} kmc_`) });

  const testAuth = (bearer: string) => fetch(`${server.url}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}` } });

  /** Opens the Create credential form from the Credentials screen and fills it in. */
  async function fillNewCredential(name: string, type: "API Key" | "OAuth 2.0 w/ Client Credentials (Recommended)") {
    await page.goto(`${server.url}/console/credentials`);
    await page.getByRole("link", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Create credential" }).waitFor();
    await page.getByLabel("Credential Name").fill(name);
    await page.getByRole("radio", { name: type, exact: true }).check();
    await page.getByLabel("Account", { exact: true }).selectOption({ label: `${ACCOUNT} (service account)` });
  }

  async function submitNewCredential() {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.url}/console/credentials` && r.request().method() === "POST"),
      page.getByRole("button", { name: "Create credential" }).click(),
    ]);
    expect(response.status()).toBe(201);
    await page.getByText("This is the only time it is shown.").waitFor();
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Both at once, each kept as soon as it is up so that afterAll can stop it if the other fails.
    await Promise.all([
      startDevServer().then((started) => (server = started)),
      launchChromium().then((launched) => (browser = launched)),
    ]);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: server.url });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("signs in with the admin token", async () => {
    await page.goto("/console/credentials");
    expect(new URL(page.url()).pathname).toBe("/console/login");
    await page.getByLabel("Admin token").fill(server.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/console/credentials");
    await page.getByRole("heading", { name: "Credentials", level: 1 }).waitFor();
    await page.getByText("No credentials yet").waitFor();
  });

  it("creates a service account", async () => {
    await page.getByRole("link", { name: "Accounts" }).click();
    await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
    await page.getByLabel("Account Name").fill(ACCOUNT);
    await page.getByRole("radio", { name: "Service account (Recommended)" }).check();
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("Account created.").waitFor();
    await page.getByRole("link", { name: ACCOUNT, exact: true }).waitFor();
  });

  it("creates an API key and shows it once, with a copy button and a warning", async () => {
    await fillNewCredential(API_KEY_NAME, "API Key");
    await submitNewCredential();
    await page.getByRole("heading", { name: `${API_KEY_NAME} is ready` }).waitFor();

    const field = page.getByLabel("API Key", { exact: true });
    apiKey = await field.inputValue();
    expect(apiKey.length).toBeGreaterThan(20);
    expect(await field.getAttribute("readonly")).not.toBeNull();

    const copy = page.getByRole("button", { name: "Copy API Key" });
    await copy.click();
    await page.getByRole("button", { name: "Copied API Key" }).waitFor();
    // Screen readers hear it too: the live region says what was copied.
    await page.locator("#announce", { hasText: "API Key copied to the clipboard." }).waitFor();
    // Runs in the page (the DOM types are not in this project's lib).
    const clipboard = await page.evaluate(() => (navigator as unknown as { clipboard: { readText(): Promise<string> } }).clipboard.readText());
    expect(clipboard).toBe(apiKey);

    const works = await testAuth(apiKey);
    expect(works.status).toBe(200);
    expect(await works.json()).toMatchObject({ ok: true, credential_type: "api_key" });
  });

  it("does not show the secret again when the page is reloaded (the form is re-sent)", async () => {
    const response = await page.reload();
    expect(response?.request().method()).toBe("POST");
    await page.getByRole("heading", { name: "This secret was already shown" }).waitFor();
    expect(await page.getByLabel("API Key", { exact: true }).count()).toBe(0);
    expect(await page.content()).not.toContain(apiKey);
    // The first sending created it; the second did not create another.
    await page.getByRole("link", { name: "Back to credentials" }).click();
    await page.getByRole("heading", { name: "Credentials", level: 1 }).waitFor();
    expect(await page.getByRole("link", { name: API_KEY_NAME, exact: true }).count()).toBe(1);
  });

  it("creates an OAuth client whose credentials work at /oauth/token", async () => {
    await fillNewCredential(CLIENT_NAME, "OAuth 2.0 w/ Client Credentials (Recommended)");
    await submitNewCredential();
    await page.getByRole("heading", { name: `${CLIENT_NAME} is ready` }).waitFor();
    await page.getByRole("button", { name: "Copy Client ID" }).waitFor();
    await page.getByRole("button", { name: "Copy Client Secret" }).waitFor();
    const clientId = await page.getByLabel("Client ID", { exact: true }).inputValue();
    const clientSecret = await page.getByLabel("Client Secret", { exact: true }).inputValue();
    expect(clientId).not.toBe("");
    expect(clientSecret).not.toBe("");
    Object.assign(oauthClient, { id: clientId, secret: clientSecret });
    await page.screenshot({ path: `${SCREENSHOTS}/secret-shown-once.png`, fullPage: true });

    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
    const token = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    expect(token.status).toBe(200);
    const { access_token, token_type, expires_in } = (await token.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(token_type).toMatch(/^bearer$/i);
    expect(expires_in).toBe(60);
    expect((await testAuth(access_token)).status).toBe(200);
  });

  it("lists both credentials without their secrets", async () => {
    await page.getByRole("link", { name: "Done" }).click();
    await page.getByRole("heading", { name: "Credentials", level: 1 }).waitFor();
    await clientRow().waitFor();
    expect(await page.getByRole("link", { name: API_KEY_NAME, exact: true }).count()).toBe(1);
    expect(await page.content()).not.toContain(apiKey);
    await page.screenshot({ path: `${SCREENSHOTS}/credentials.png`, fullPage: true });
  });

  it("deletes the API key with the trash icon, after a warning that deletion is permanent", async () => {
    await page.getByRole("link", { name: `Delete ${API_KEY_NAME}` }).click();
    await page.getByRole("heading", { name: `Delete ${API_KEY_NAME}?` }).waitFor();
    await page.getByText("Deletion is permanent.").waitFor();
    await page.getByRole("button", { name: "Delete permanently" }).click();
    await page.getByText("Credential deleted.").waitFor();
    expect(await page.getByRole("link", { name: API_KEY_NAME, exact: true }).count()).toBe(0);
    await clientRow().waitFor();

    const refused = await testAuth(apiKey);
    expect(refused.status).toBe(401);
  });

  it("adds APIs, grants the OAuth client scopes on one with checkboxes, and its token is for that API", async () => {
    await page.getByRole("link", { name: "APIs", exact: true }).click();
    await page.getByRole("heading", { name: "APIs", level: 1 }).waitFor();
    await page.getByRole("cell", { name: /^Default API Default/ }).waitFor();
    for (const [name, identifier, scopes] of [
      ["Billing API", "https://billing.example.com", "invoices:read invoices:write"],
      ["Events API", "https://events.example.com", "events:read, events:write"],
    ] as const) {
      await page.getByLabel("API Name").fill(name);
      await page.getByLabel("Identifier", { exact: true }).fill(identifier);
      await page.getByLabel("Scopes").fill(scopes);
      await page.getByRole("button", { name: "Create API" }).click();
      await page.getByText("API created.").waitFor();
    }
    await page.getByRole("cell", { name: /^Billing API api_/ }).waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/apis.png`, fullPage: true });

    // The client's page: a group per API with its scopes as checkboxes.
    await page.getByRole("link", { name: "Credentials", exact: true }).click();
    await page.getByRole("link", { name: CLIENT_NAME, exact: true }).click();
    const billing = page.getByRole("group", { name: /^Billing API https:\/\/billing\.example\.com$/ });
    await billing.getByRole("checkbox", { name: "invoices:read" }).check();
    await page.getByLabel("Scopes", { exact: true }).fill("events:write");
    await page.getByRole("button", { name: "Save access" }).click();
    await page.getByText("Access saved.").waitFor();
    expect(await billing.getByRole("checkbox", { name: "invoices:read" }).isChecked()).toBe(true);
    expect(await billing.getByRole("checkbox", { name: "invoices:write" }).isChecked()).toBe(false);
    await page.locator("section", { has: page.getByRole("heading", { name: "APIs and scopes" }) }).screenshot({ path: `${SCREENSHOTS}/credential-grants.png` });

    // Through the admin API: the grant is stored; a token for Billing carries its aud and the scope checked.
    const list = await fetch(`${server.url}/admin/v1/credentials`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    const client = ((await list.json()) as { data: { name: string; scopes: string[]; grants: unknown[] }[] }).data.find((c) => c.name === CLIENT_NAME)!;
    expect(client.scopes).toEqual(["events:write"]);
    expect(client.grants).toEqual([{ api: "https://billing.example.com", scopes: ["invoices:read"] }]);
    const basic = Buffer.from(`${encodeURIComponent(oauthClient.id)}:${encodeURIComponent(oauthClient.secret)}`).toString("base64");
    const token = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&resource=https%3A%2F%2Fbilling.example.com",
    });
    expect(token.status).toBe(200);
    const { access_token } = (await token.json()) as { access_token: string };
    const claims = JSON.parse(Buffer.from(access_token.split(".")[1]!, "base64url").toString("utf8")) as { aud: string; scope: string };
    expect(claims).toMatchObject({ aud: "https://billing.example.com", scope: "invoices:read" });
  });
});
