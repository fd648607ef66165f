import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createAccount, createCredential, expectError, json, snapshot } from "../support/http";
import { recentDailyUsage } from "../../src/services/usage-reports";
import { signedInBrowser } from "../support/console";
import { basic, eventually, form, introspect, testAuth, tokenRequest } from "../support/oauth";

/**
 * Usage you can see: real traffic through the usage pipeline (per-isolate tally, the USAGE queue,
 * the consumer's batched D1 writes) into the hourly rollups, and back out through
 * GET /admin/v1/{credentials,accounts}/{id}/usage.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REASONS = ["wrong_secret", "ip_not_allowed", "expired", "revoked", "inactive", "deleted", "wrong_audience", "invalid_dpop_proof"];
const iso = (ms: number) => new Date(ms).toISOString();

const usageOf = (path: string, query: Record<string, string> = {}) => call(`${path}/usage?${new URLSearchParams(query)}`);

async function report(path: string, query: Record<string, string> = {}) {
  const response = await usageOf(path, query);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await json(response)).data as { start: string; tokens_issued: number; verifications: number; failures: number; failures_by_reason: Record<string, number> }[];
}

/** Totals of every bucket of a report. */
function totals(buckets: Awaited<ReturnType<typeof report>>) {
  const sum = { tokens_issued: 0, verifications: 0, failures: 0, failures_by_reason: Object.fromEntries(REASONS.map((r) => [r, 0])) };
  for (const bucket of buckets) {
    sum.tokens_issued += bucket.tokens_issued;
    sum.verifications += bucket.verifications;
    sum.failures += bucket.failures;
    for (const [reason, n] of Object.entries(bucket.failures_by_reason)) sum.failures_by_reason[reason] = (sum.failures_by_reason[reason] ?? 0) + n;
  }
  return sum;
}

/** The last two days, hourly: wide enough that a test crossing an hour or midnight still sees all its traffic. */
const recent = () => {
  const next = Date.now() - (Date.now() % HOUR) + HOUR;
  return { from: iso(next - 2 * DAY), to: iso(next) };
};

/** Counts for past hours, sent as an isolate would send them: one message on the real queue. */
async function sendUsage(rows: { credential_id: string; hour: string; tokens_issued?: number; verifications?: number; failures_by_reason?: Record<string, number> }[]) {
  await env.USAGE.send({
    v: 1,
    usage: rows.map((row) => {
      const failures_by_reason = row.failures_by_reason ?? {};
      return {
        credential_id: row.credential_id,
        hour: row.hour,
        last_used_at: null,
        tokens_issued: row.tokens_issued ?? 0,
        verifications: row.verifications ?? 0,
        failures: Object.values(failures_by_reason).reduce((a, b) => a + b, 0),
        failures_by_reason,
      };
    }),
  });
}

/** Ends a roll's grace as an admin does, in the console; answers the POST's status. */
async function endGraceViaConsole(credentialId: string): Promise<number> {
  const browser = await signedInBrowser();
  const response = await browser.post(`/console/credentials/${credentialId}/end-grace`, {});
  return response.status;
}

const storedRows = (credentialId: string) =>
  env.DB.prepare("SELECT hour, tokens_issued, verifications, failures FROM usage_hourly WHERE credential_id = ? ORDER BY hour").bind(credentialId).all();

describe("counts from real traffic reach the rollups", () => {
  it("tokens, verifications (test-auth, introspection) and failures by reason, batched into one row per credential and hour", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");

    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await json(await tokenRequest(client))).access_token);
    expect((await testAuth(tokens[0]!)).status).toBe(200);
    expect((await testAuth(tokens[1]!)).status).toBe(200);
    expect((await introspect(client, tokens[2]!)).status).toBe(200);
    // A well-formed secret, of another client: a wrong secret for this one.
    const other = await createCredential(account.id, "oauth_client");
    expect((await tokenRequest({ client_id: client.client_id, client_secret: other.client_secret })).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await testAuth(key.api_key)).status).toBe(200);
    expect((await testAuth(`${key.api_key.slice(0, -1)}${key.api_key.endsWith("A") ? "B" : "A"}`)).status).toBe(401);

    const range = recent();
    const clientUsage = await eventually(
      async () => totals(await report(`/admin/v1/credentials/${client.id}`, range)),
      (sum) => sum.tokens_issued === 3 && sum.verifications === 3 && sum.failures === 1,
    );
    // Introspection authenticates the caller too, and checks the token: one more token use is not a token issued.
    expect(clientUsage.failures_by_reason).toEqual({ ...Object.fromEntries(REASONS.map((r) => [r, 0])), wrong_secret: 1 });

    const keyUsage = await eventually(async () => totals(await report(`/admin/v1/credentials/${key.id}`, range)), (sum) => sum.verifications === 4);
    // A mistyped API key names no credential: it is nobody's failure.
    expect(keyUsage).toMatchObject({ tokens_issued: 0, verifications: 4, failures: 0 });

    // Stored: rows per credential and hour, whatever the number of requests (one, unless the test crossed an hour).
    const rows = (await storedRows(client.id)).results;
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThanOrEqual(2);
    expect(rows.reduce((sum, row) => sum + (row.tokens_issued as number), 0)).toBe(3);

    // The account's view is the sum of its credentials'.
    const accountUsage = await eventually(async () => totals(await report(`/admin/v1/accounts/${account.id}`, range)), (sum) => sum.verifications === 7);
    expect(accountUsage).toMatchObject({ tokens_issued: 3, verifications: 7, failures: 1 });
  });

  it("counts an IP outside the allowlist, an expired token and a revoked token under their own reasons", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const patched = await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { allowed_ips: ["203.0.113.0/24"] } });
    expect(patched.status).toBe(200);
    const from = (ip: string) => form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(client.client_id, client.client_secret), "cf-connecting-ip": ip });
    expect((await from("198.51.100.7")).status).toBe(401);
    const token = (await json(await from("203.0.113.9"))).access_token as string;
    const revoked = await form("/oauth/revoke", { token }, { authorization: basic(client.client_id, client.client_secret), "cf-connecting-ip": "203.0.113.9" });
    expect(revoked.status).toBe(200);
    expect((await testAuth(token)).status).toBe(401);

    const sum = await eventually(async () => totals(await report(`/admin/v1/credentials/${client.id}`, recent())), (value) => value.failures === 2);
    expect(sum.failures_by_reason).toMatchObject({ ip_not_allowed: 1, revoked: 1, wrong_secret: 0 });
    expect(sum.tokens_issued).toBe(1);
  });

  it("counts a token or an API key asked about another API as wrong_audience, not revoked", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    const token = (await json(await tokenRequest(client))).access_token as string;
    const elsewhere = (bearer: string) => call(`/v1/test-auth?audience=${encodeURIComponent("https://elsewhere.example.com")}`, { token: bearer });
    expect((await elsewhere(token)).status).toBe(401);
    expect((await elsewhere(key.api_key)).status).toBe(401);
    for (const credential of [client, key]) {
      const sum = await eventually(async () => totals(await report(`/admin/v1/credentials/${credential.id}`, recent())), (value) => value.failures === 1);
      expect(sum.failures_by_reason).toMatchObject({ wrong_audience: 1, revoked: 0 });
    }
  });

  it("adds messages from many isolates into the same hourly row", async () => {
    const account = await createAccount();
    const { id } = await createCredential(account.id, "api_key");
    const hour = "2026-03-01T10:00:00.000Z";
    await sendUsage([{ credential_id: id, hour, verifications: 5, failures_by_reason: { expired: 1 } }]);
    await sendUsage([{ credential_id: id, hour, verifications: 7, failures_by_reason: { expired: 2, wrong_secret: 1 } }]);
    const rows = await eventually(
      async () => (await storedRows(id)).results,
      (value) => value.length === 1 && value[0]!.verifications === 12,
    );
    expect(rows).toEqual([{ hour, tokens_issued: 0, verifications: 12, failures: 4 }]);
  });
});

describe("ranges, granularities and empty buckets", () => {
  /** A credential with known counts at 05:00 and 07:00 on 2026-02-10 and at 23:00 on 2026-02-11. */
  async function seeded() {
    const account = await createAccount();
    const { id } = await createCredential(account.id, "oauth_client");
    await sendUsage([
      { credential_id: id, hour: "2026-02-10T05:00:00.000Z", tokens_issued: 4, failures_by_reason: { wrong_secret: 2 } },
      { credential_id: id, hour: "2026-02-10T07:00:00.000Z", tokens_issued: 1, verifications: 9 },
      { credential_id: id, hour: "2026-02-11T23:00:00.000Z", verifications: 3, failures_by_reason: { revoked: 1, expired: 1 } },
    ]);
    await eventually(async () => (await storedRows(id)).results, (rows) => rows.length === 3);
    return { id, account };
  }

  it("answers every hour of [from, to) once, ascending, zeros included", async () => {
    const { id } = await seeded();
    const buckets = await report(`/admin/v1/credentials/${id}`, { from: "2026-02-10T04:00:00Z", to: "2026-02-10T09:00:00Z", granularity: "hour" });
    expect(buckets.map((b) => b.start)).toEqual(["04", "05", "06", "07", "08"].map((h) => `2026-02-10T${h}:00:00.000Z`));
    const zeros = Object.fromEntries(REASONS.map((r) => [r, 0]));
    expect(buckets[0]).toEqual({ start: "2026-02-10T04:00:00.000Z", tokens_issued: 0, verifications: 0, failures: 0, failures_by_reason: zeros });
    expect(buckets[1]).toEqual({ start: "2026-02-10T05:00:00.000Z", tokens_issued: 4, verifications: 0, failures: 2, failures_by_reason: { ...zeros, wrong_secret: 2 } });
    expect(buckets[2]).toMatchObject({ tokens_issued: 0, verifications: 0, failures: 0 });
    expect(buckets[3]).toMatchObject({ tokens_issued: 1, verifications: 9, failures: 0 });
    expect(buckets[4]).toMatchObject({ tokens_issued: 0, verifications: 0, failures: 0 });
  });

  it("adds hours up into UTC days, and accepts an offset that names the same instant", async () => {
    const { id, account } = await seeded();
    const query = { from: "2026-02-09T00:00:00Z", to: "2026-02-13T00:00:00Z", granularity: "day" };
    const days = await report(`/admin/v1/credentials/${id}`, query);
    expect(days.map((d) => [d.start, d.tokens_issued, d.verifications, d.failures])).toEqual([
      ["2026-02-09T00:00:00.000Z", 0, 0, 0],
      ["2026-02-10T00:00:00.000Z", 5, 9, 2],
      ["2026-02-11T00:00:00.000Z", 0, 3, 2],
      ["2026-02-12T00:00:00.000Z", 0, 0, 0],
    ]);
    expect(days[2]!.failures_by_reason).toMatchObject({ revoked: 1, expired: 1, wrong_secret: 0 });
    // 01:00 at +01:00 is midnight UTC.
    const offset = await report(`/admin/v1/credentials/${id}`, { ...query, from: "2026-02-10T01:00:00+01:00" });
    expect(offset.map((d) => d.start)).toEqual(days.slice(1).map((d) => d.start));
    // The account answers the same numbers while it has only this credential.
    expect(await report(`/admin/v1/accounts/${account.id}`, query)).toEqual(days);
  });

  it("answers exactly 90 days, and by default the last 7 days hourly up to the end of the current hour", async () => {
    const { id } = await seeded();
    const ninety = await report(`/admin/v1/credentials/${id}`, { from: "2026-01-01T00:00:00Z", to: "2026-04-01T00:00:00Z", granularity: "day" });
    expect(ninety).toHaveLength(90);
    expect(totals(ninety)).toMatchObject({ tokens_issued: 5, verifications: 12, failures: 4 });
    const hourly = await report(`/admin/v1/credentials/${id}`, { from: "2026-01-01T00:00:00Z", to: "2026-04-01T00:00:00Z" });
    expect(hourly).toHaveLength(90 * 24);
    const before = Date.now();
    const byDefault = await report(`/admin/v1/credentials/${id}`);
    const after = Date.now();
    expect(byDefault).toHaveLength(7 * 24);
    // It ends with the current hour (the one of `before`, or of `after` if an hour began meanwhile).
    const end = Date.parse(byDefault.at(-1)!.start) + HOUR;
    expect([before, after].map((at) => at - (at % HOUR) + HOUR)).toContain(end);
  });

  it("answers zeros for a credential with no traffic, and 404 for one that does not exist", async () => {
    const account = await createAccount();
    const { id } = await createCredential(account.id, "api_key");
    const buckets = await report(`/admin/v1/credentials/${id}`, { granularity: "day" });
    expect(buckets).toHaveLength(30);
    expect(totals(buckets)).toMatchObject({ tokens_issued: 0, verifications: 0, failures: 0 });
    await expectError(await usageOf("/admin/v1/credentials/cred_0000000000000000000000"), 404, "not_found");
    await expectError(await usageOf("/admin/v1/accounts/acct_0000000000000000000000"), 404, "not_found");
  });
});

describe("the console's sparkline read", () => {
  it("reads a page of more credentials than one statement binds (99), and puts each day's counts on its credential", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `cred_sparkline_${String(i).padStart(3, "0")}_${Date.now().toString(36)}`);
    const today = Date.now();
    const yesterday = today - DAY;
    const pick = [0, 98, 99, 149];
    await sendUsage(pick.map((i) => ({ credential_id: ids[i]!, hour: iso(today - (today % HOUR)), tokens_issued: i + 1, failures_by_reason: { wrong_secret: 1 } })));
    await sendUsage([{ credential_id: ids[99]!, hour: iso(yesterday - (yesterday % HOUR)), verifications: 5 }]);
    await eventually(async () => (await storedRows(ids[99]!)).results, (rows) => rows.length === 2);
    const usage = await recentDailyUsage(env, ids, 7, today);
    expect(usage.size).toBe(150);
    for (const [i, id] of ids.entries()) {
      const series = usage.get(id)!;
      expect(series.requests).toHaveLength(7);
      expect(series.requests[6]).toBe(pick.includes(i) ? i + 1 : 0);
      expect(series.failures[6]).toBe(pick.includes(i) ? 1 : 0);
      expect(series.requests[5]).toBe(i === 99 ? 5 : 0);
    }
  });
});

describe("hostile ranges and granularities get 400", () => {
  const cases: [string, Record<string, string> | string][] = [
    ["more than 90 days", { from: "2026-01-01T00:00:00Z", to: "2026-04-01T01:00:00Z" }],
    ["more than 90 days, daily", { from: "2026-01-01T00:00:00Z", to: "2026-04-02T00:00:00Z", granularity: "day" }],
    ["to before from", { from: "2026-02-10T05:00:00Z", to: "2026-02-10T04:00:00Z" }],
    ["an empty range", { from: "2026-02-10T05:00:00Z", to: "2026-02-10T05:00:00Z" }],
    ["from not on an hour", { from: "2026-02-10T05:30:00Z", to: "2026-02-10T07:00:00Z" }],
    ["to not on an hour", { from: "2026-02-10T05:00:00Z", to: "2026-02-10T07:00:01Z" }],
    ["a day range not at midnight", { from: "2026-02-10T05:00:00Z", to: "2026-02-12T00:00:00Z", granularity: "day" }],
    ["a granularity of week", { granularity: "week" }],
    ["an empty granularity", { granularity: "" }],
    ["a date without a time", { from: "2026-02-10", to: "2026-02-11T00:00:00Z" }],
    ["not a date", { from: "yesterday" }],
    ["a Unix time", { from: "1767225600" }],
    ["an unknown parameter", { since: "2026-02-10T00:00:00Z" }],
    ["from given twice", "from=2026-02-10T00:00:00Z&from=2026-02-11T00:00:00Z"],
    ["a range past the default end of 90 days", { from: "2020-01-01T00:00:00Z" }],
  ];
  it.each(cases)("%s", async (_, query) => {
    const account = await createAccount();
    const { id } = await createCredential(account.id, "api_key");
    const before = await snapshot();
    const search = typeof query === "string" ? query : new URLSearchParams(query).toString();
    for (const path of [`/admin/v1/credentials/${id}/usage`, `/admin/v1/accounts/${account.id}/usage`]) {
      const response = await call(`${path}?${search}`);
      await expectError(response, 400, "invalid_request");
    }
    expect(await snapshot()).toBe(before);
  });
});

describe("previous_secret_last_used_at: the old secret going quiet during a roll's grace", () => {
  it("is null after a roll, set when the old secret is used (not the new one), null again when the grace ends, and after the next roll", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const read = async () => json(await call(`/admin/v1/credentials/${client.id}`));
    expect((await read()).previous_secret_last_used_at).toBeNull();

    const rolled = await json(await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 3600 } }));
    expect(rolled.previous_secret_last_used_at).toBeNull();
    const fresh = { client_id: client.client_id, client_secret: rolled.client_secret };
    expect((await tokenRequest(fresh)).status).toBe(200);
    // The new secret's use shows in last_used_at only.
    await eventually(read, (value) => value.last_used_at !== null);
    expect((await read()).previous_secret_last_used_at).toBeNull();

    const before = Date.now();
    expect((await tokenRequest(client)).status).toBe(200);
    const used = await eventually(read, (value) => value.previous_secret_last_used_at !== null);
    expect(Date.parse(used.previous_secret_last_used_at)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(used.previous_secret_last_used_at)).toBeLessThanOrEqual(Date.now() + 1000);

    // Ending the grace forgets it with the previous secret (the console's "End grace now").
    const ended = await endGraceViaConsole(client.id);
    expect(ended).toBe(303);
    expect((await read()).previous_secret_last_used_at).toBeNull();
    expect(await env.DB.prepare("SELECT previous_secret_last_used_at FROM credentials WHERE id = ?").bind(client.id).first()).toEqual({ previous_secret_last_used_at: null });

    // A second roll starts a new grace, for another previous secret: nothing used it yet.
    const again = await json(await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 3600 } }));
    expect(again.previous_secret_last_used_at).toBeNull();
    const stored = await env.DB.prepare("SELECT previous_secret_last_used_at FROM credentials WHERE id = ?").bind(client.id).first();
    expect(stored).toEqual({ previous_secret_last_used_at: null });
  });

  it("counts an API key's previous secret too, and a use from before a roll never lands on the next grace", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const rolled = await json(await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 600 } }));
    expect((await testAuth(key.api_key)).status).toBe(200);
    const read = async () => json(await call(`/admin/v1/credentials/${key.id}`));
    await eventually(read, (value) => value.previous_secret_last_used_at !== null);
    // A late message for the first grace, arriving after the second roll, is not the second grace's use.
    const firstGraceEnds = (await env.DB.prepare("SELECT previous_secret_expires_at AS at FROM credentials WHERE id = ?").bind(key.id).first<{ at: string }>())!.at;
    await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 600 } });
    await env.USAGE.send({
      v: 1,
      usage: [{ credential_id: key.id, hour: iso(Date.now() - (Date.now() % HOUR)), last_used_at: null, previous_secret: { last_used_at: iso(Date.now()), grace_ends: firstGraceEnds }, tokens_issued: 0, verifications: 1, failures: 0, failures_by_reason: {} }],
    });
    // The message's verification arrives; the previous secret's use does not.
    await eventually(async () => totals(await report(`/admin/v1/credentials/${key.id}`, recent())), (sum) => sum.verifications === 2);
    expect((await read()).previous_secret_last_used_at).toBeNull();
    expect(rolled.previous_secret_last_used_at).toBeNull();
  });
});
