import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { call, json } from "../support/http";
import { createEndpoint, receiver, until } from "../support/webhooks";

// Deliveries go through the queue, retries a second apart: a busy machine needs more than 5 s.
vi.setConfig({ testTimeout: 30_000 });

/**
 * Delivery (contract "Webhooks"): a 2xx within 10 s delivers; anything else (an error status, a
 * redirect, no answer, no connection) is retried on the schedule (WEBHOOK_RETRY_SCHEDULE is
 * "1,1,1" in the tests) with the same webhook-id; every attempt is in the deliveries log; an
 * endpoint failing for 5 days is disabled; a consumer that dies mid-batch loses nothing.
 */

afterEach(() => {
  vi.restoreAllMocks();
});

/** The Worker's queue handler, called as the Queue calls it. */
const consume = worker.queue as unknown as (batch: MessageBatch, env: Env, ctx: ExecutionContext) => Promise<void>;

const deliveriesOf = async (id: string, query = "") => (await json(await call(`/admin/v1/webhooks/${id}/deliveries${query}`))).data as Record<string, unknown>[];

describe("retries", () => {
  it("500 twice, then 200: three attempts, the same webhook-id, each signed afresh, all in the log", async () => {
    const hooks = receiver((_, i) => new Response(null, { status: i < 2 ? 500 : 200 }));
    const endpoint = await createEndpoint({});
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(() => hooks.at(endpoint.url).length >= 3, 10_000);
    const attempts = hooks.at(endpoint.url);
    expect(new Set(attempts.map((attempt) => attempt.headers["webhook-id"])).size).toBe(1);
    for (const attempt of attempts) new Webhook(endpoint.secret).verify(attempt.body, attempt.headers);
    await until(async () => (await deliveriesOf(endpoint.id)).length >= 3);
    const log = (await deliveriesOf(endpoint.id)).reverse();
    expect(log.map(({ attempt, status, status_code }) => [attempt, status, status_code])).toEqual([
      [1, "failed", 500],
      [2, "failed", 500],
      [3, "succeeded", 200],
    ]);
    expect(log[0]!.next_attempt_at).not.toBeNull();
    expect(log[2]!.next_attempt_at).toBeNull();
    expect((await deliveriesOf(endpoint.id, "?status=failed")).map((row) => row.attempt)).toEqual([2, 1]);
  });

  it("a redirect is not followed and counts as a failure; a receiver that answers 200 is sent the event once, not again", async () => {
    const hooks = receiver((received) => (received.url.endsWith("/moved") ? Response.redirect("https://hooks.example.com/elsewhere", 302) : new Response("ok")));
    const moved = await createEndpoint({ url: "https://hooks.example.com/moved" });
    const fine = await createEndpoint({});
    await call(`/admin/v1/webhooks/${moved.id}/test`, { method: "POST" });
    await call(`/admin/v1/webhooks/${fine.id}/test`, { method: "POST" });
    await until(async () => (await deliveriesOf(moved.id)).length >= 4, 10_000);
    expect(hooks.received.filter((received) => received.url.endsWith("/elsewhere"))).toEqual([]);
    const log = await deliveriesOf(moved.id);
    expect(log.every((row) => row.status === "failed" && row.status_code === 302 && String(row.error).includes("not followed"))).toBe(true);
    // Out of retries after the schedule: the last attempt says so.
    expect(log[0]).toMatchObject({ attempt: 4, next_attempt_at: null });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(hooks.at(fine.url)).toHaveLength(1);
  });

  it("no answer within 10 s and no connection are failures, retried", async () => {
    receiver((received) => {
      if (received.url.endsWith("/refused")) throw new TypeError("Network connection lost.");
      throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
    });
    const slow = await createEndpoint({ url: "https://hooks.example.com/slow" });
    const refused = await createEndpoint({ url: "https://hooks.example.com/refused" });
    await call(`/admin/v1/webhooks/${slow.id}/test`, { method: "POST" });
    await call(`/admin/v1/webhooks/${refused.id}/test`, { method: "POST" });
    await until(async () => (await deliveriesOf(slow.id)).length >= 2 && (await deliveriesOf(refused.id)).length >= 2, 10_000);
    expect((await deliveriesOf(slow.id)).at(-1)).toMatchObject({ attempt: 1, status: "failed", status_code: null, error: "no answer within 10 s" });
    expect((await deliveriesOf(refused.id)).at(-1)).toMatchObject({ attempt: 1, status: "failed", status_code: null, error: "connection failed" });
  });

  it("the consumer aborts a request after 10 s: a 2xx that comes later does not count", async () => {
    const signals: (AbortSignal | null | undefined)[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (!String(input instanceof Request ? input.url : input).startsWith("https://hooks.example.com")) return real(input, init);
      signals.push(init?.signal);
      return new Response(null, { status: 200 });
    });
    const endpoint = await createEndpoint({});
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(() => signals.length >= 1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]!.aborted).toBe(false);
  });
});

describe("disabling", () => {
  it("an endpoint whose attempts have all failed for 5 days is disabled, audited, and retried no more", async () => {
    const hooks = receiver(() => new Response(null, { status: 503 }));
    const endpoint = await createEndpoint({});
    await env.DB.prepare("UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?").bind(new Date(Date.now() - 5 * 86_400_000 - 60_000).toISOString(), endpoint.id).run();
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(async () => (await json(await call(`/admin/v1/webhooks/${endpoint.id}`))).status === "disabled");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(hooks.at(endpoint.url)).toHaveLength(1);
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${endpoint.id}`))).data as { action: string; actor: string; channel: string }[];
    expect(events[0]).toMatchObject({ action: "webhook.disable", actor: "system", channel: "system" });
  });

  it("a success ends the failing run: failing for a day, then delivered, is not disabled later", async () => {
    receiver(() => new Response("ok"));
    const endpoint = await createEndpoint({});
    await env.DB.prepare("UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?").bind(new Date(Date.now() - 86_400_000).toISOString(), endpoint.id).run();
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(async () => (await deliveriesOf(endpoint.id)).length >= 1);
    expect(await env.DB.prepare("SELECT failing_since, status FROM webhook_endpoints WHERE id = ?").bind(endpoint.id).first()).toEqual({ failing_since: null, status: "enabled" });
  });
});

describe("a consumer that dies mid-batch", () => {
  it("acknowledges nothing it did not record: the Queue delivers those messages again, and they arrive", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({});
    // An event in the outbox, sent by hand so that this test drives the consumer itself.
    const eventId = `msg_${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`;
    await env.DB.prepare("INSERT INTO webhook_events (id, type, organization_id, payload, endpoint_id, created_at, sent_at) VALUES (?, 'webhook.test', NULL, ?, ?, ?, ?)")
      .bind(eventId, JSON.stringify({ type: "webhook.test", timestamp: new Date().toISOString(), organization_id: null, data: {} }), endpoint.id, new Date().toISOString(), new Date().toISOString())
      .run();
    const messages = [{ id: "m1", timestamp: new Date(), attempts: 1, body: { event_id: eventId, endpoint_id: endpoint.id, attempt: 1 } }];
    // D1 fails when the attempt is to be recorded: the worker dies there as far as this batch knows.
    const dying = { ...env, DB: new Proxy(env.DB, { get: (target, prop) => (prop === "batch" ? () => Promise.reject(new Error("D1 went away")) : (Reflect.get(target, prop) as Function).bind(target)) }) } as Env;
    const first = createMessageBatch("keymint-webhooks", messages);
    const ctx = createExecutionContext();
    await consume(first, dying, ctx);
    const result = await getQueueResult(first, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(["m1"]);
    expect(await deliveriesOf(endpoint.id)).toEqual([]);
    // The Queue's redelivery: the same message, to a consumer that lives.
    const again = createMessageBatch("keymint-webhooks", [{ ...messages[0]!, attempts: 2 }]);
    const ctx2 = createExecutionContext();
    await consume(again, env, ctx2);
    expect((await getQueueResult(again, ctx2)).explicitAcks).toEqual(["m1"]);
    expect((await deliveriesOf(endpoint.id)).map((row) => [row.event_id, row.status])).toEqual([[eventId, "succeeded"]]);
    expect(hooks.at(endpoint.url).map((received) => received.headers["webhook-id"])).toContain(eventId);
  });

  it("a sender that died after claiming the outbox leaves its events to the next one (the cron)", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({});
    const eventId = `msg_${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`;
    const past = new Date(Date.now() - 120_000).toISOString();
    await env.DB.prepare("INSERT INTO webhook_events (id, type, organization_id, payload, endpoint_id, created_at, claimed_until) VALUES (?, 'webhook.test', NULL, ?, ?, ?, ?)")
      .bind(eventId, JSON.stringify({ type: "webhook.test", timestamp: past, organization_id: null, data: {} }), endpoint.id, past, past)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled!({ cron: "*/15 * * * *", scheduledTime: Date.now(), noRetry() {} } as ScheduledController, env, ctx);
    const { waitOnExecutionContext } = await import("cloudflare:test");
    await waitOnExecutionContext(ctx);
    await until(() => hooks.at(endpoint.url).some((received) => received.headers["webhook-id"] === eventId));
  });
});

describe("a rolled secret", () => {
  it("signs with both secrets during its grace, then with the new one alone", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({});
    const rolled = await json(await call(`/admin/v1/webhooks/${endpoint.id}/roll-secret`, { method: "POST", body: { expires_in: 3600 } }));
    expect(rolled.secret).toMatch(/^whsec_/);
    expect(rolled.secret).not.toBe(endpoint.secret);
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(() => hooks.at(endpoint.url).length >= 1);
    const during = hooks.at(endpoint.url)[0]!;
    expect(during.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    new Webhook(endpoint.secret).verify(during.body, during.headers);
    new Webhook(rolled.secret).verify(during.body, during.headers);

    const again = await json(await call(`/admin/v1/webhooks/${endpoint.id}/roll-secret`, { method: "POST", body: { expires_in: 0 } }));
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(() => hooks.at(endpoint.url).length >= 2);
    const after = hooks.at(endpoint.url)[1]!;
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    new Webhook(again.secret).verify(after.body, after.headers);
    expect(() => new Webhook(rolled.secret).verify(after.body, after.headers)).toThrow();
  });
});

describe("a secret that cannot be opened", () => {
  it("(KEY_ENCRYPTION_KEY replaced) is a failed attempt with its reason, retried, not a message lost to the dead-letter queue", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({});
    // Sealed under another key: what a replaced KEY_ENCRYPTION_KEY leaves behind.
    const other = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(32)), "AES-GCM", false, ["encrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(endpoint.id) }, other, new TextEncoder().encode("whsec_x")));
    const blob = btoa(String.fromCharCode(...iv, ...sealed)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    await env.DB.prepare("UPDATE webhook_endpoints SET sealed_secret = ? WHERE id = ?").bind(blob, endpoint.id).run();
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(async () => (await deliveriesOf(endpoint.id)).length >= 2);
    expect((await deliveriesOf(endpoint.id)).at(-1)).toMatchObject({ attempt: 1, status: "failed", status_code: null });
    expect(String((await deliveriesOf(endpoint.id)).at(-1)!.error)).toContain("roll it");
    expect(hooks.at(endpoint.url)).toEqual([]);
    // A roll makes it work again.
    await call(`/admin/v1/webhooks/${endpoint.id}/roll-secret`, { method: "POST", body: { expires_in: 0 } });
    await call(`/admin/v1/webhooks/${endpoint.id}/test`, { method: "POST" });
    await until(() => hooks.at(endpoint.url).length >= 1);
  });
});
