import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, signedInBrowser, textOf } from "../support/console";
import { call, createAccount, createCredential, json } from "../support/http";
import { eventually, testAuth, tokenRequest } from "../support/oauth";

/**
 * Usage on the console's pages, as the server renders them: the credential page's chart and its
 * table, the list's sparklines and "quiet" hints, the account's sum, and the previous secret's
 * last use during a roll's grace. test/browser/usage.test.ts checks how they look in Chromium.
 */

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

const DAY = 86_400_000;
const page = async (path: string) => {
  const response = await browser.get(path);
  expect(response.status).toBe(200);
  return response.text();
};
const usageRows = (credentialId: string) => env.DB.prepare("SELECT * FROM usage_hourly WHERE credential_id = ?").bind(credentialId).all();

/** Counts from the past, sent as an isolate sends them: one message on the real usage queue. */
async function sendUsage(credentialId: string, at: number, counts: { tokens_issued?: number; verifications?: number; last_used_at?: string | null }) {
  await env.USAGE.send({
    v: 1,
    usage: [
      {
        credential_id: credentialId,
        hour: new Date(at - (at % 3_600_000)).toISOString(),
        last_used_at: counts.last_used_at ?? null,
        tokens_issued: counts.tokens_issued ?? 0,
        verifications: counts.verifications ?? 0,
        failures: 0,
        failures_by_reason: {},
      },
    ],
  });
}

describe("the credential page", () => {
  it("charts the last 7 days hourly, with a table of the same numbers by day", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const twoDaysAgo = Date.now() - 2 * DAY;
    await sendUsage(key.id, twoDaysAgo, { verifications: 7 });
    for (let i = 0; i < 2; i++) expect((await testAuth(key.api_key)).status).toBe(200);
    await eventually(async () => (await usageRows(key.id)).results, (rows) => rows.reduce((n, row) => n + (row.verifications as number), 0) === 9);

    const dayBefore = new Date().toISOString().slice(0, 10);
    const html = await page(`/console/credentials/${key.id}`);
    const dayAfter = new Date().toISOString().slice(0, 10);
    expect(html).toMatch(/<svg[^>]*role="img"[^>]*aria-labelledby="usage-heading usage-summary"/);
    expect(textOf(html)).toContain("Hourly, in UTC. 0 tokens issued, 9 verifications and 0 failures.");
    // One bar per hour with traffic, each named by its numbers.
    const titles = [...html.matchAll(/<g data-hour="([^"]+)"><title>([^<]*)<\/title>/g)].map((match) => match[2] ?? "");
    expect(titles.some((title) => title.includes("7 verifications"))).toBe(true);
    // The table: seven UTC days, oldest first, ending today.
    const days = [...html.matchAll(/<th scope="row"><time datetime="(\d{4}-\d\d-\d\d)">/g)].map((match) => match[1]);
    expect(days).toHaveLength(7);
    // Today (the day of the request: midnight may pass while it runs), and two days before it.
    expect([dayBefore, dayAfter]).toContain(days.at(-1));
    expect(days[4]).toBe(new Date(Date.parse(`${days.at(-1)}T00:00:00Z`) - 2 * DAY).toISOString().slice(0, 10));
    expect(days).toEqual([...days].sort());
  });

  it("says when the previous secret was last used during a roll's grace, and that the grace can end when it has not been", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 3600 } });
    expect(textOf(await page(`/console/credentials/${client.id}`))).toContain("No use of it recorded since the roll.");
    expect((await tokenRequest(client)).status).toBe(200);
    const used = await eventually(
      async () => json(await call(`/admin/v1/credentials/${client.id}`)),
      (credential) => credential.previous_secret_last_used_at !== null,
    );
    const html = await page(`/console/credentials/${client.id}`);
    expect(html).toMatch(new RegExp(`id="previous-secret-use">Last used <time datetime="${used.previous_secret_last_used_at}"`));
  });
});

describe("the credentials list", () => {
  it("gives each row a 7-day sparkline named by its numbers, and marks a credential quiet for 30 days or more", async () => {
    const account = await createAccount();
    const busy = await createCredential(account.id, "api_key");
    const quiet = await createCredential(account.id, "api_key");
    const fresh = await createCredential(account.id, "api_key");
    // Either side of the 30-day line.
    const almost = await createCredential(account.id, "api_key");
    const just = await createCredential(account.id, "api_key");
    await sendUsage(almost.id, Date.now() - 29.5 * DAY, { verifications: 1, last_used_at: new Date(Date.now() - 29.5 * DAY).toISOString() });
    await sendUsage(just.id, Date.now() - 30.5 * DAY, { verifications: 1, last_used_at: new Date(Date.now() - 30.5 * DAY).toISOString() });
    for (let i = 0; i < 3; i++) expect((await testAuth(busy.api_key)).status).toBe(200);
    // Last used 45 days ago: what the usage pipeline wrote then.
    const longAgo = Date.now() - 45 * DAY;
    await sendUsage(quiet.id, longAgo, { verifications: 1, last_used_at: new Date(longAgo).toISOString() });
    await eventually(
      async () => (await Promise.all([busy, quiet, almost, just].map(async (c) => (await usageRows(c.id)).results.length))).every((n) => n === 1),
      (done) => done,
    );

    const html = await page(`/console/credentials?account_id=${account.id}`);
    const row = (name: string) => html.split("<tr>").find((tr) => tr.includes(`>${name}</bdi>`))!;
    expect(row(busy.name)).toContain('aria-label="Last 7 days: 3 requests, 0 failures"');
    expect(row(quiet.name)).toContain('aria-label="Last 7 days: 0 requests, 0 failures"');
    expect(textOf(row(quiet.name))).toContain("Quiet for 45 days");
    expect(textOf(row(busy.name))).not.toMatch(/Quiet for|Never used in/);
    expect(textOf(row(fresh.name))).not.toMatch(/Quiet for|Never used in/);
    expect(textOf(row(almost.name))).not.toMatch(/Quiet for/);
    expect(textOf(row(just.name))).toContain("Quiet for 30 days");
    // The account's page sums its credentials.
    expect(html).toMatch(/<svg[^>]*aria-labelledby="account-usage-heading account-usage-summary"/);
    expect(textOf(html)).toContain("0 tokens issued, 3 verifications and 0 failures.");
  });
});
