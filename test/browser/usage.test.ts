import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type DevServer, startDevServer } from "../node/dev-server";
import { SCREENSHOTS, adminApi, checkPage, launchChromium, localSql } from "./support";

/**
 * Usage in the console, in Chromium against `npm run dev`: real traffic goes through the usage
 * queue into D1, then the credential page's chart, the list's sparklines and the account's chart
 * show it. Each picture is checked against its accessible text, and that text against the
 * usage API's numbers. Takes the README's usage screenshot.
 */

const TOKENS = 5;
const CHECKS = 3;
const WRONG = 2;

describe("usage charts in a browser", () => {
  let server: DevServer;
  let browser: Browser;
  let context: BrowserContext;
  const ids = { account: "", client: "", key: "", busy: "" };
  /** The busy credential's week, as the usage consumer would have written it: per UTC day, [tokens, verifications, failures]. */
  const week = new Map<string, [number, number, number]>();
  /** How many hours `seedWeek` gave traffic: one bar each. */
  let seededHours = 0;

  /** A week of hourly rows for one credential, straight into the dev server's local D1 (traffic from the past cannot be sent now). */
  function seedWeek(credentialId: string) {
    const now = Date.now();
    const values: string[] = [];
    const failures: string[] = [];
    for (let hour = now - (now % 86_400_000) - 6 * 86_400_000; hour <= now; hour += 3_600_000) {
      const at = new Date(hour).toISOString();
      const daytime = Math.sin(((new Date(hour).getUTCHours() - 6) / 24) * 2 * Math.PI);
      const tokens = Math.round(60 + 45 * daytime);
      const checks = Math.round(tokens * 0.4);
      const failed = new Date(hour).getUTCHours() % 9 === 0 ? 3 : 0;
      values.push(`('${credentialId}', '${at}', ${tokens}, ${checks}, ${failed})`);
      seededHours++;
      if (failed) failures.push(`('${credentialId}', '${at}', 'wrong_secret', ${failed})`);
      const day = week.get(at.slice(0, 10)) ?? [0, 0, 0];
      week.set(at.slice(0, 10), [day[0] + tokens, day[1] + checks, day[2] + failed]);
    }
    const command =
      `INSERT INTO usage_hourly (credential_id, hour, tokens_issued, verifications, failures) VALUES ${values.join(", ")}; ` +
      `INSERT INTO usage_failures (credential_id, hour, reason, count) VALUES ${failures.join(", ")};`;
    localSql(server, command);
  }

  const admin = (path: string, body?: unknown) => adminApi(server)(path, body);
  const token = (clientId: string, secret: string) =>
    fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa(`${clientId}:${secret}`)}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
  const testAuth = (bearer: string) => fetch(`${server.url}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}` } });

  /** The usage API's totals over the last 7 UTC days, as the console's charts cover them. */
  async function apiTotals(path: string) {
    const tomorrow = new Date(new Date().toISOString().slice(0, 10)).getTime() + 86_400_000;
    const query = new URLSearchParams({ from: new Date(tomorrow - 7 * 86_400_000).toISOString(), to: new Date(tomorrow).toISOString(), granularity: "day" });
    const { data } = await admin(`${path}/usage?${query}`);
    return (data as any[]).reduce(
      (sum, day) => ({ tokens: sum.tokens + day.tokens_issued, checks: sum.checks + day.verifications, failures: sum.failures + day.failures }),
      { tokens: 0, checks: 0, failures: 0 },
    );
  }

  async function openPage(path: string, width: number): Promise<Page> {
    await context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    await page.goto(path);
    return page;
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Counts leave an isolate at once (not after 10 s), so the test waits only for the queue.
    await Promise.all([
      startDevServer(["--var", "USAGE_FLUSH_SECONDS:0"]).then((started) => (server = started)),
      launchChromium().then((launched) => (browser = launched)),
    ]);
    ids.account = (await admin("/accounts", { name: "Billing sync", type: "service" })).id;
    const client = await admin("/credentials", { name: "billing-sync prod", type: "oauth_client", account_id: ids.account });
    const key = await admin("/credentials", { name: "legacy webhook", type: "api_key", account_id: ids.account });
    const other = await admin("/credentials", { name: "quiet job", type: "oauth_client", account_id: ids.account });
    const pipeline = (await admin("/accounts", { name: "Events pipeline", type: "service" })).id;
    const busy = await admin("/credentials", { name: "events ingest", type: "oauth_client", account_id: pipeline });
    Object.assign(ids, { client: client.id, key: key.id, busy: busy.id });
    seedWeek(busy.id);

    for (let i = 0; i < TOKENS; i++) expect((await token(client.client_id, client.client_secret)).status).toBe(200);
    for (let i = 0; i < WRONG; i++) expect((await token(client.client_id, other.client_secret)).status).toBe(401);
    for (let i = 0; i < CHECKS; i++) expect((await testAuth(key.api_key)).status).toBe(200);

    // Through the queue (its batch timeout is 5 s) into D1.
    const deadline = Date.now() + 30_000;
    while ((await apiTotals(`/accounts/${ids.account}`)).checks < CHECKS || (await apiTotals(`/credentials/${ids.client}`)).failures < WRONG) {
      if (Date.now() > deadline) throw new Error(`usage did not reach D1 in 30 s: ${JSON.stringify([await apiTotals(`/accounts/${ids.account}`), await apiTotals(`/credentials/${ids.client}`)])}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    context = await browser.newContext({ baseURL: server.url });
    const login = await context.newPage();
    await login.goto("/console/login");
    await login.getByLabel("Admin token").fill(server.adminToken);
    await login.getByRole("button", { name: "Sign in" }).click();
    await login.waitForURL("**/console/credentials");
    await login.close();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const width of [1280, 390]) {
    it(`draws the credential's 7-day chart, and its text says what the bars show, at ${width} px`, async () => {
      const page = await openPage(`/console/credentials/${ids.client}`, width);
      const chart = page.getByRole("img", { name: /Usage, last 7 days/ });
      await chart.waitFor();
      // Its accessible name carries the totals, and they are the API's.
      const api = await apiTotals(`/credentials/${ids.client}`);
      expect(api).toEqual({ tokens: TOKENS, checks: 0, failures: WRONG });
      const name = await chart.getAttribute("aria-labelledby").then((refs) => page.evaluate((ids) => ids!.split(" ").map((id) => (globalThis as any).document.getElementById(id).textContent).join(" "), refs));
      expect(name).toContain(`${TOKENS} tokens issued, 0 verifications and ${WRONG} failures`);

      // Drawn: the bars have height on screen, tokens in one colour, failures in another on top.
      const box = await chart.boundingBox();
      expect(box!.width).toBeGreaterThan(width === 390 ? 250 : 600);
      expect(box!.height).toBeGreaterThan(100);
      const bars = await page.locator("svg[data-chart=usage] rect").evaluateAll((rects) =>
        rects.map((rect: any) => ({ kind: rect.getAttribute("class"), height: rect.getBoundingClientRect().height, fill: (globalThis as any).getComputedStyle(rect).fill })),
      );
      const ok = bars.filter((bar) => bar.kind === "bar-ok");
      const failed = bars.filter((bar) => bar.kind === "bar-failed");
      expect(ok.length).toBeGreaterThan(0);
      expect(failed.length).toBeGreaterThan(0);
      for (const bar of bars) expect(bar.height).toBeGreaterThan(1);
      expect(ok[0]!.fill).not.toBe(failed[0]!.fill);
      // Each hour with traffic names its numbers (<title>), and together they add up.
      const titles = await page.locator("svg[data-chart=usage] g > title").allTextContents();
      const sum = (pattern: RegExp) => titles.reduce((n, title) => n + Number(pattern.exec(title)?.[1] ?? 0), 0);
      expect(sum(/(\d+) tokens? issued/)).toBe(TOKENS);
      expect(sum(/(\d+) failures?/)).toBe(WRONG);

      // The table under the chart: today's row has the same numbers, with the reason.
      await page.getByText("Numbers by day").click();
      const today = page.locator("table[data-usage-table=usage] tbody tr").last();
      expect(await today.locator("td").allTextContents()).toEqual([String(TOKENS), "0", String(WRONG), `wrong secret ${WRONG}`]);
      await checkPage(page, `credential page at ${width} px`);
      await page.close();
    });
  }

  it("adds a busy week's hours up into its days, on the page and in the API", async () => {
    const page = await openPage(`/console/credentials/${ids.busy}`, 1280);
    await page.getByText("Numbers by day").click();
    const rows = await page.locator("table[data-usage-table=usage] tbody tr").evaluateAll((trs) =>
      trs.map((tr: any) => [tr.querySelector("time").getAttribute("datetime"), ...[...tr.querySelectorAll("td")].slice(0, 3).map((td: any) => Number(td.textContent))]),
    );
    expect(rows).toHaveLength(7);
    expect(rows).toEqual([...week].map(([day, counts]) => [day, ...counts]));
    // One bar per hour with traffic: every hour seeded, from midnight six days ago up to the seeding's.
    expect(seededHours).toBeGreaterThan(6 * 24);
    expect(await page.locator("svg[data-chart=usage] g").count()).toBe(seededHours);
    const sum = (i: number) => [...week.values()].reduce((n, day) => n + day[i]!, 0);
    expect(await apiTotals(`/credentials/${ids.busy}`)).toEqual({ tokens: sum(0), checks: sum(1), failures: sum(2) });
    await checkPage(page, "busy credential page");
    await page.locator("section.usage").screenshot({ path: join(SCREENSHOTS, "usage-chart.png") });
    await page.close();
  });

  it("shows a 7-day sparkline per credential in the list, named with its numbers, and no quiet hint for fresh credentials", async () => {
    const page = await openPage("/console/credentials", 1280);
    const row = (name: string) => page.getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });
    await expect(row("billing-sync prod").getByRole("img", { name: `Last 7 days: ${TOKENS} requests, ${WRONG} failures` }).count()).resolves.toBe(1);
    await expect(row("legacy webhook").getByRole("img", { name: `Last 7 days: ${CHECKS} requests, 0 failures` }).count()).resolves.toBe(1);
    await expect(row("quiet job").getByRole("img", { name: "Last 7 days: 0 requests, 0 failures" }).count()).resolves.toBe(1);
    const drawn = await row("billing-sync prod").locator("svg[data-sparkline] rect").evaluateAll((rects) => rects.map((rect: any) => rect.getBoundingClientRect().height));
    expect(drawn.length).toBe(2); // today: requests, and failures on top
    for (const height of drawn) expect(height).toBeGreaterThan(1);
    await expect(page.getByText(/Quiet for|Never used in/).count()).resolves.toBe(0);
    await checkPage(page, "credentials list");
    await page.close();
  });

  it("sums the account's credentials on its page, as the API does", async () => {
    const page = await openPage(`/console/credentials?account_id=${ids.account}`, 390);
    const chart = page.getByRole("img", { name: /Usage of this account/ });
    await chart.waitFor();
    expect(await apiTotals(`/accounts/${ids.account}`)).toEqual({ tokens: TOKENS, checks: CHECKS, failures: WRONG });
    await page.getByText("Numbers by day").click();
    const today = page.locator("table[data-usage-table=account-usage] tbody tr").last();
    expect(await today.locator("td").allTextContents()).toEqual([String(TOKENS), String(CHECKS), String(WRONG), `wrong secret ${WRONG}`]);
    await checkPage(page, "account page at 390 px");
    await page.close();
  });
});
