import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { call, createAccount, json } from "../support/http";
import { createEndpoint, receiver, typesOf, until } from "../support/webhooks";

// Deliveries go through the queue, retries a second apart: a busy machine needs more than 5 s.
vi.setConfig({ testTimeout: 30_000 });

/**
 * Changes made by Keymint itself (contract "Webhooks"): the cron's notices, `credential.expiring`
 * 7 days and 1 day before `expires_at` and `credential.expired` after it, each once per
 * credential and expiry however often the cron runs.
 */

afterEach(() => vi.restoreAllMocks());

async function cron(at = Date.now()) {
  const ctx = createExecutionContext();
  await worker.scheduled!({ cron: "*/15 * * * *", scheduledTime: at, noRetry() {} } as ScheduledController, env, ctx);
  await waitOnExecutionContext(ctx);
}

const HOUR = 3_600_000;

describe("expiry notices", () => {
  it("7 days and 1 day before, and once expired: each once, with the credential as the admin API shows it", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({ events: ["credential.expiring", "credential.expired"] });
    const account = await createAccount();
    const make = async (hours: number) =>
      json(await call("/admin/v1/credentials", { method: "POST", body: { name: `expires in ${hours} h`, type: "api_key", account_id: account.id, expires_at: new Date(Date.now() + hours * HOUR).toISOString() } }));
    const inThreeDays = await make(72);
    const inHalfADay = await make(12);
    const inAMonth = await make(24 * 30);
    const expired = await make(1);
    // Expired an hour ago (the API never takes a past expiry: the clock moved on).
    await env.DB.prepare("UPDATE credentials SET expires_at = ? WHERE id = ?").bind(new Date(Date.now() - HOUR).toISOString(), expired.id).run();

    await cron();
    await cron(); // a second run sends nothing new
    await until(() => hooks.at(endpoint.url).length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const got = hooks.at(endpoint.url).map((delivery) => `${typesOf([delivery])[0]} ${JSON.parse(delivery.body).data.id}`);
    expect(got.sort()).toEqual([`credential.expiring ${inThreeDays.id}`, `credential.expiring ${inHalfADay.id}`, `credential.expired ${expired.id}`].sort());
    expect(got.join()).not.toContain(inAMonth.id);
    const notice = JSON.parse(hooks.at(endpoint.url).find((delivery) => delivery.body.includes(inThreeDays.id))!.body);
    expect(notice).toMatchObject({ type: "credential.expiring", organization_id: "org_default", data: { id: inThreeDays.id, expires_at: inThreeDays.expires_at, name: "expires in 72 h" } });
    expect(JSON.stringify(notice)).not.toContain("secret_hash");

    // Six days on, the credential of three days enters its last day: the 1-day notice, once.
    await cron(Date.now() + 2.5 * 24 * HOUR);
    await cron(Date.now() + 2.5 * 24 * HOUR);
    await until(() => hooks.at(endpoint.url).length >= 4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hooks.at(endpoint.url).filter((delivery) => delivery.body.includes(inThreeDays.id))).toHaveLength(2);
  });

  it("a changed expiry notifies again", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({ events: ["credential.expiring"] });
    const account = await createAccount();
    const key = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "moving", type: "api_key", account_id: account.id, expires_at: new Date(Date.now() + 48 * HOUR).toISOString() } }));
    await cron();
    await until(() => hooks.at(endpoint.url).length >= 1);
    await call(`/admin/v1/credentials/${key.id}`, { method: "PATCH", body: { expires_at: new Date(Date.now() + 96 * HOUR).toISOString() } });
    await cron();
    await until(() => hooks.at(endpoint.url).length >= 2);
    expect(hooks.at(endpoint.url).map((delivery) => JSON.parse(delivery.body).data.expires_at)).toHaveLength(2);
  });
});
