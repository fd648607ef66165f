import { generateKeyPairSync } from "node:crypto";
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type DevServer, startDevServer } from "../node/dev-server";
import { SCREENSHOTS, adminApi, checkPage, launchChromium, localSql } from "./support";

/**
 * Every console page at a 1280 px laptop and a 390 px phone, with 100-character and
 * right-to-left names: no sideways scrolling, tables as cards on the phone, zero axe-core
 * violations; and the keyboard: skip link, focus ring, Escape, focus on the first error, copy
 * announcements and Test now in place. Takes the phone screenshot for the README.
 */

const LONG_NAME = `Billing-sync-${"x".repeat(87)}`; // 100 characters, no space to break at
const RTL_NAME = "סנכרון חיובים של מערכת ההנהלה — billing ↔ ledger 2026 (ייצור) " + "ש".repeat(36);
const WIDTHS = [1280, 390] as const;

describe("the console on a laptop and a phone", () => {
  let server: DevServer;
  let browser: Browser;
  const contexts = new Map<number, BrowserContext>();
  const ids = { account: "", credential: "", rolled: "", api: "", rtlApi: "", signer: "", expired: "" };

  const sql = (command: string) => localSql(server, command);
  const admin = (path: string, body?: unknown) => adminApi(server)(path, body) as Promise<{ id: string }>;

  async function signedInPage(width: number): Promise<Page> {
    let context = contexts.get(width);
    if (!context) {
      context = await browser.newContext({ viewport: { width, height: 800 }, baseURL: server.url });
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
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
    mkdirSync(SCREENSHOTS, { recursive: true });
    await Promise.all([
      startDevServer().then((started) => (server = started)),
      launchChromium().then((launched) => (browser = launched)),
    ]);
    const account = await admin("/accounts", { name: LONG_NAME, type: "service" });
    const rtl = await admin("/accounts", { name: RTL_NAME, type: "user" });
    const stopped = await admin("/accounts", { name: `Stopped ${RTL_NAME}`.slice(0, 100), type: "service" });
    ids.account = account.id;
    ids.credential = (await admin("/credentials", { name: LONG_NAME, type: "oauth_client", account_id: account.id, scopes: ["events:write"] })).id;
    await admin("/credentials", { name: RTL_NAME, type: "api_key", account_id: rtl.id });
    await admin("/credentials", { name: `Old key of ${LONG_NAME}`.slice(0, 100), type: "api_key", account_id: stopped.id });
    const rolled = await admin("/credentials", { name: `Rolled ${RTL_NAME}`.slice(0, 100), type: "oauth_client", account_id: rtl.id });
    await admin(`/credentials/${rolled.id}/roll`, { expires_in: 3600 });
    ids.rolled = rolled.id;
    await admin(`/accounts/${stopped.id}/deactivate`, {});
    // APIs with long and right-to-left names, a 300-character identifier without a break, and many scopes.
    const api = await admin("/apis", {
      name: LONG_NAME,
      identifier: `https://billing.example.com/${"v".repeat(270)}`,
      scopes: Array.from({ length: 24 }, (_, i) => `billing:scope-number-${String(i).padStart(2, "0")}-${"x".repeat(30)}`),
    });
    const rtlApi = await admin("/apis", { name: RTL_NAME, identifier: "https://ledger.example.com", scopes: [] });
    ids.api = api.id;
    ids.rtlApi = rtlApi.id;
    const grants = [
      { api: `https://billing.example.com/${"v".repeat(270)}`, scopes: ["billing:scope-number-03-" + "x".repeat(30)] },
      { api: "https://ledger.example.com", scopes: [] },
    ];
    const patched = await fetch(`${server.url}/admin/v1/credentials/${ids.credential}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ grants }),
    });
    expect(patched.status).toBe(200);

    // Lifecycle states (expiry, allowlists, leaks, private_key_jwt and DPoP): a private_key_jwt
    // client with DPoP, an allowlist and an expiry 3 days away; a leaked secret; an expired key.
    const signer = await admin("/credentials", {
      name: `Signer ${RTL_NAME}`.slice(0, 100),
      type: "oauth_client",
      account_id: rtl.id,
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [publicJwk(`signing-key-2026-${"k".repeat(60)}`), publicJwk("signing-key-2025")] },
      dpop_bound_access_tokens: true,
      expires_at: new Date(Date.now() + 3 * 86_400_000 - 60_000).toISOString(),
      allowed_ips: ["203.0.113.0/24", "2001:db8:abcd:12:3456:7890:abcd:ef00/120"],
    });
    ids.signer = signer.id;
    ids.expired = (await admin("/credentials", { name: `Expired ${LONG_NAME}`.slice(0, 100), type: "api_key", account_id: account.id })).id;
    const leakUrl = `https://github.com/example-org/${"billing-sync-".repeat(8)}/blob/0123456789abcdef/config/production.env`;
    const soon = new Date(Date.now() + 3 * 86_400_000 - 60_000).toISOString();
    sql(
      `UPDATE credentials SET leaked_at = '2026-03-01T12:34:56.000Z', leak_url = '${leakUrl}', expires_at = '${soon}' WHERE id = '${ids.rolled}'; ` +
        `UPDATE credentials SET expires_at = '2026-01-01T00:00:00.000Z' WHERE id = '${ids.expired}';`,
    );
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const width of WIDTHS) {
    it(`has no sideways scroll and no axe-core violation on any page at ${width} px`, async () => {
      const page = await signedInPage(width);
      const paths = [
        "/console/credentials",
        "/console/credentials?q=zzz-nothing",
        "/console/credentials/new",
        `/console/credentials/${ids.credential}`,
        `/console/credentials/${ids.rolled}`,
        `/console/credentials/${ids.credential}/delete`,
        `/console/credentials/${ids.credential}/roll`,
        `/console/credentials/${ids.rolled}/end-grace`,
        `/console/credentials/${ids.signer}`,
        `/console/credentials/${ids.signer}/delete`,
        `/console/credentials/${ids.expired}`,
        "/console/accounts",
        `/console/accounts/${ids.account}/delete`,
        `/console/accounts/${ids.account}/deactivate`,
        "/console/audit",
        "/console/apis",
        `/console/apis/${ids.api}/edit`,
        `/console/apis/${ids.api}/delete`,
        `/console/apis/${ids.rtlApi}/delete`,
        "/console/apis/api_default/edit",
        "/console/apis/api_default/delete",
        "/console/organizations",
        "/console/organizations?q=zzz-nothing",
        "/console/organizations/org_default",
        `/console/accounts?organization_id=org_default`,
        `/console/audit?organization_id=org_default`,
        "/console/no-such-page",
        "/console/credentials?type=nonsense",
      ];
      for (const path of paths) {
        await page.goto(path);
        await checkPage(page, `${path} at ${width} px`);
      }
      // A form error on the APIs page and on a credential's grants: still no sideways scroll, no violation.
      await page.goto("/console/apis");
      await page.getByLabel("API Name").fill(RTL_NAME);
      await page.getByLabel("Identifier", { exact: true }).fill("http://not-local.example.com");
      await page.getByRole("button", { name: "Create API" }).click();
      await page.locator("#identifier-error").waitFor();
      await checkPage(page, `/console/apis with an error at ${width} px`);
      await page.goto(`/console/credentials/${ids.credential}`);
      await page.getByLabel("Scopes", { exact: true }).fill('not"valid');
      await page.getByRole("button", { name: "Save access" }).click();
      await page.locator("#scopes-error").waitFor();
      await checkPage(page, `a credential's grants with an error at ${width} px`);

      // The lifecycle states are visible in words: the leak banner, the 7-day badge, Expired.
      await page.goto(`/console/credentials/${ids.rolled}`);
      await page.getByText("Reported leaked on 2026-03-01 12:34:56 UTC").waitFor();
      await page.getByRole("link", { name: "Roll the secret now" }).waitFor();
      await page.locator(".badge", { hasText: "Expires in 3 days" }).first().waitFor();
      if (width === 1280) await page.screenshot({ path: `${SCREENSHOTS}/credential-leaked.png` });
      await page.goto(`/console/credentials/${ids.expired}`);
      await page.locator(".badge", { hasText: "Expired" }).first().waitFor();
      await page.goto(`/console/credentials/${ids.signer}`);
      expect(await page.getByRole("link", { name: "Roll secret" }).count()).toBe(0);
      await page.getByRole("listitem").filter({ hasText: `signing-key-2026-${"k".repeat(60)} EC P-256` }).waitFor();
      if (width === 1280) await page.screenshot({ path: `${SCREENSHOTS}/private-key-client.png` });
      // A bad allowlist comes back on its field, focused.
      await page.getByLabel("IP allowlist").fill("203.0.113.0/24\n10.1.2.3/8");
      await page.getByRole("button", { name: "Save expiry and restrictions" }).click();
      await page.locator("#allowed_ips-error", { hasText: "has host bits set" }).waitFor();
      expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("allowed_ips");
      await checkPage(page, `a credential's allowlist with an error at ${width} px`);
      // A private key pasted as the new JWK Set is stopped in the page, before it is sent.
      await page.goto(`/console/credentials/${ids.signer}`);
      const posts: string[] = [];
      page.on("request", (request) => (request.method() === "POST" ? posts.push(request.url()) : undefined));
      await page.getByLabel("JWK Set").fill(JSON.stringify({ keys: [privateJwk("rotated")] }));
      await page.getByRole("button", { name: "Replace keys" }).click();
      await page.locator("#jwks-error", { hasText: "holds a private member" }).waitFor();
      expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("jwks");
      expect(new URL(page.url()).pathname).toBe(`/console/credentials/${ids.signer}`);
      expect(posts).toEqual([]);
      await checkPage(page, `a JWK Set refused in the page at ${width} px`);

      // Tables are stacked cards on the phone and tables on the laptop.
      await page.goto("/console/credentials");
      const display = await page.locator("table.cards tbody tr").first().evaluate((row) => (globalThis as any).getComputedStyle(row).display);
      expect(display).toBe(width < 720 ? "block" : "table-row");
      // The header wraps: Sign out stays on screen.
      const signOut = await page.getByRole("button", { name: "Sign out" }).boundingBox();
      expect(signOut!.x + signOut!.width).toBeLessThanOrEqual(width);
      if (width === 390) await page.screenshot({ path: `${SCREENSHOTS}/credentials-phone.png`, fullPage: true });

      // The sign-in page, signed out.
      const fresh = await browser.newContext({ viewport: { width, height: 800 }, baseURL: server.url });
      const login = await fresh.newPage();
      await login.goto("/console/login");
      await checkPage(login, `/console/login at ${width} px`);
      await fresh.close();
      await page.close();
    });

    it(`creates a private_key_jwt client from a pasted JWK Set (checked in the page first) at ${width} px`, async () => {
      const page = await signedInPage(width);
      await page.goto(`/console/credentials/new?account_id=${ids.account}`);
      await page.getByLabel("Credential Name").fill(`${RTL_NAME.slice(0, 80)} ${width}`);
      await page.getByRole("radio", { name: "Private key JWT" }).check();
      await page.getByRole("checkbox", { name: "Require DPoP-bound tokens" }).check();
      // Duplicate kids: refused in the page, focus on the field, nothing sent.
      const posts: string[] = [];
      page.on("request", (request) => (request.method() === "POST" ? posts.push(request.url()) : undefined));
      const twice = publicJwk("same-kid");
      await page.getByLabel("JWK Set (public keys, for private key JWT)").fill(JSON.stringify({ keys: [twice, { ...publicJwk("other"), kid: "same-kid" }] }));
      await page.getByRole("button", { name: "Create credential" }).click();
      await page.locator("#jwks-error", { hasText: 'repeats the kid "same-kid"' }).waitFor();
      expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("jwks");
      expect(new URL(page.url()).pathname).toBe("/console/credentials/new");
      expect(posts).toEqual([]);
      await checkPage(page, `the create form with a JWK Set error at ${width} px`);
      // A past expiry is refused by the server, on its field.
      await page.getByLabel("JWK Set (public keys, for private key JWT)").fill(JSON.stringify({ keys: [publicJwk(`client-key-${width}`)] }));
      await page.getByLabel("Expires at (UTC)").fill("2020-01-01T00:00");
      await page.getByRole("button", { name: "Create credential" }).click();
      await page.locator("#expires_at-error", { hasText: "must be in the future" }).waitFor();
      expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("expires_at");
      await checkPage(page, `the create form with an expiry error at ${width} px`);
      // Then it is created: no secret, the client ID and how it signs in.
      await page.getByLabel("Expires at (UTC)").fill(new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 16));
      await page.getByRole("button", { name: "Create credential" }).click();
      await page.getByText("There is no secret to copy.").waitFor();
      expect(await page.getByLabel("Client Secret", { exact: true }).count()).toBe(0);
      expect(await page.getByLabel("Client ID", { exact: true }).inputValue()).toMatch(/^kmc_/);
      await page.getByText(`client-key-${width}`).waitFor();
      await checkPage(page, `a new private_key_jwt client at ${width} px`);
      await page.close();
    });

    it(`shows a new secret once with its handoff kit, and Test now works in place, at ${width} px`, async () => {
      const page = await signedInPage(width);
      await page.goto(`/console/credentials/new?account_id=${ids.account}`);
      await page.getByLabel("Credential Name").fill(`${LONG_NAME.slice(0, 90)} ${width}`);
      await page.getByRole("button", { name: "Create credential" }).click();
      await page.getByText("This is the only time it is shown.").waitFor();
      await checkPage(page, `shown-once page at ${width} px`);
      // Every Copy button's word stays on one line ("Cop" over "y" at 390 px was a bug).
      // A Copy button is no taller than the one-line Test now button beside it.
      const oneLine = (await page.getByRole("button", { name: "Test now" }).boundingBox())!.height;
      const copyHeights = await page.$$eval("button[data-copy]", (buttons) => buttons.map((button) => button.getBoundingClientRect().height));
      expect(copyHeights.length).toBeGreaterThan(0);
      expect(copyHeights.filter((height) => height > oneLine + 1), `Copy buttons on one line at ${width} px (one line: ${oneLine} px)`).toEqual([]);
      // After the action, focus is on the heading (screen readers hear where they are).
      expect(await page.evaluate(() => (globalThis as any).document.activeElement?.tagName)).toBe("H1");
      const secret = await page.getByLabel("Client Secret", { exact: true }).inputValue();
      expect(await page.getByLabel(".env snippet").inputValue()).toContain(`KEYMINT_CLIENT_SECRET=${secret}`);

      await page.getByRole("button", { name: "Copy .env snippet" }).click();
      await page.locator("#announce", { hasText: ".env snippet copied to the clipboard." }).waitFor();

      await page.getByRole("button", { name: "Test now" }).click();
      await page.locator("#test-result", { hasText: "It works" }).waitFor();
      expect(await page.locator("#test-result pre").textContent()).toContain(`"iss": "${server.url}"`);
      // Still the same page, secret still there to copy.
      expect(await page.getByLabel("Client Secret", { exact: true }).inputValue()).toBe(secret);
      await checkPage(page, `shown-once page with a test result at ${width} px`);
      if (width === 390) await page.screenshot({ path: `${SCREENSHOTS}/secret-shown-once-phone.png`, fullPage: true });
      await page.close();
    });
  }

  it("works from the keyboard: skip link, a visible focus ring, Cancel before delete, Escape cancels, focus on the first error", async () => {
    const page = await signedInPage(1280);
    await page.goto("/console/credentials");
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    expect(await skip.evaluate((el) => el === (globalThis as any).document.activeElement)).toBe(true);
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("main");

    // The focus ring: 3 px and at least 3:1 against the page behind it.
    await page.getByLabel("Search").focus();
    await page.keyboard.press("Tab");
    const ring = await page.evaluate(() => {
      const el = (globalThis as any).document.activeElement;
      const style = (globalThis as any).getComputedStyle(el);
      const bg = (globalThis as any).getComputedStyle((globalThis as any).document.body).backgroundColor;
      return { width: style.outlineWidth, style: style.outlineStyle, color: style.outlineColor, bg };
    });
    expect(ring.style).toBe("solid");
    expect(parseFloat(ring.width)).toBeGreaterThanOrEqual(3);
    expect(contrast(ring.color, ring.bg)).toBeGreaterThanOrEqual(3);

    // Delete confirmation: Cancel is the first control, and Escape goes back to the list.
    await page.goto(`/console/credentials?q=${encodeURIComponent("Billing-sync")}`);
    await page.getByRole("link", { name: `Delete ${LONG_NAME}` }).click();
    await page.getByRole("heading", { name: `Delete ${LONG_NAME}?` }).waitFor();
    const order = await page.locator("form.confirm-actions a, form.confirm-actions button").allTextContents();
    expect(order.map((text) => text.trim())).toEqual(["Cancel", "Delete permanently"]);
    await page.keyboard.press("Escape");
    await page.waitForURL((url) => url.pathname === "/console/credentials" && url.searchParams.get("q") === "Billing-sync");

    // A blank name: the form comes back with the name field focused and marked.
    await page.goto(`/console/credentials/new?account_id=${ids.account}`);
    await page.getByLabel("Credential Name").fill("   ");
    await page.getByRole("radio", { name: "API Key" }).check();
    await page.getByRole("button", { name: "Create credential" }).click();
    await page.locator("#name-error").waitFor();
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("name");
    expect(await page.getByRole("radio", { name: "API Key" }).isChecked()).toBe(true);

    // The APIs form: a duplicate identifier comes back focused on the identifier, with what was typed.
    await page.goto("/console/apis");
    await page.getByLabel("API Name").fill("Ledger again");
    await page.getByLabel("Identifier", { exact: true }).fill("https://ledger.example.com");
    await page.getByLabel("Scopes").fill("ledger:read");
    await page.getByRole("button", { name: "Create API" }).click();
    await page.locator("#identifier-error").waitFor();
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("identifier");
    expect(await page.getByLabel("API Name").inputValue()).toBe("Ledger again");
    expect(await page.getByLabel("Scopes").inputValue()).toBe("ledger:read");

    // Grants are checkboxes in a group named after the API; a bad default scope focuses that field
    // and keeps the boxes as they were checked.
    await page.goto(`/console/credentials/${ids.credential}`);
    const billing = page.getByRole("group", { name: new RegExp(`^${LONG_NAME}`) });
    const second = billing.getByRole("checkbox", { name: `billing:scope-number-01-${"x".repeat(30)}` });
    await second.check();
    await page.getByLabel("Scopes", { exact: true }).fill("bad\\scope");
    await page.getByRole("button", { name: "Save access" }).click();
    await page.locator("#scopes-error").waitFor();
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("scopes");
    expect(await page.getByRole("group", { name: new RegExp(`^${LONG_NAME}`) }).getByRole("checkbox", { name: `billing:scope-number-01-${"x".repeat(30)}` }).isChecked()).toBe(true);
    await page.close();
  });
});

/** A fresh EC P-256 key's public JWK with this kid. */
function publicJwk(kid: string): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { ...publicKey.export({ format: "jwk" }), kid };
}

/** A private JWK (with "d"): what must never be pasted. */
function privateJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { ...privateKey.export({ format: "jwk" }), kid };
}

/** WCAG contrast ratio of two CSS rgb()/rgba() colours. */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = (color.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
