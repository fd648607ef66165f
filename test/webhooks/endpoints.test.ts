import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { BASE, call, createCredential, expectError, json, snapshot } from "../support/http";
import { tokenFor } from "../support/oauth";
import { accountIn, createOrg } from "../support/organizations";
import { createEndpoint, hookUrl, receiver } from "../support/webhooks";

// Deliveries go through the queue, retries a second apart: a busy machine needs more than 5 s.
vi.setConfig({ testTimeout: 30_000 });

/**
 * Webhook endpoints through /admin/v1/webhooks (contract "Webhooks"): the shape, the secret shown
 * once and sealed at rest, edits and their audit events, and who may manage which: platform
 * admins every endpoint, an organization's admins their own alone (anything else is 404).
 */

// Deliveries of these tests' events go to the stub receiver, never to the network.
beforeEach(() => void receiver());
afterEach(() => vi.restoreAllMocks());

const ENDPOINT_KEYS = ["created_at", "description", "events", "id", "organization_id", "status", "updated_at", "url"];

describe("an endpoint", () => {
  it("is created with its secret shown once, listed and read without it, and sealed in D1", async () => {
    const url = hookUrl();
    const made = await createEndpoint({ url, events: ["credential.created", "credential.deleted"], description: "SIEM" });
    expect(Object.keys(made).sort()).toEqual([...ENDPOINT_KEYS, "secret"].sort());
    expect(made).toMatchObject({ url, events: ["credential.created", "credential.deleted"], organization_id: null, description: "SIEM", status: "enabled" });
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/); // 32 random bytes
    const read = await json(await call(`/admin/v1/webhooks/${made.id}`));
    expect(Object.keys(read).sort()).toEqual(ENDPOINT_KEYS);
    const listed = (await json(await call("/admin/v1/webhooks"))).data;
    expect(listed.find((row: { id: string }) => row.id === made.id)).toEqual(read);
    const stored = await env.DB.prepare("SELECT * FROM webhook_endpoints WHERE id = ?").bind(made.id).first<Record<string, unknown>>();
    expect(JSON.stringify(stored)).not.toContain(made.secret.slice(6));
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${made.id}`))).data;
    expect(events.map((event: { action: string }) => event.action)).toEqual(["webhook.create"]);
    expect(JSON.stringify(events)).not.toContain(made.secret.slice(6));
  });

  it("is edited, disabled, enabled, rolled and deleted, each audited; a second DELETE is 404", async () => {
    const made = await createEndpoint({});
    const url = hookUrl();
    expect(await json(await call(`/admin/v1/webhooks/${made.id}`, { method: "PATCH", body: { url, events: ["account.created"], description: null } }))).toMatchObject({ url, events: ["account.created"], description: null });
    expect((await json(await call(`/admin/v1/webhooks/${made.id}`, { method: "PATCH", body: { status: "disabled" } }))).status).toBe("disabled");
    expect((await json(await call(`/admin/v1/webhooks/${made.id}`, { method: "PATCH", body: { status: "enabled" } }))).status).toBe("enabled");
    const rolled = await json(await call(`/admin/v1/webhooks/${made.id}/roll-secret`, { method: "POST", body: { expires_in: 60 } }));
    expect(rolled.secret).not.toBe(made.secret);
    expect((await call(`/admin/v1/webhooks/${made.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await call(`/admin/v1/webhooks/${made.id}`, { method: "DELETE" }), 404, "not_found");
    await expectError(await call(`/admin/v1/webhooks/${made.id}`), 404, "not_found");
    const actions = (await json(await call(`/admin/v1/audit-events?target_id=${made.id}`))).data.map((event: { action: string }) => event.action);
    expect(actions).toEqual(["webhook.delete", "webhook.roll_secret", "webhook.enable", "webhook.disable", "webhook.update", "webhook.create"]);
  });

  it("takes http and local hosts only with WEBHOOK_ALLOW_INSECURE_URLS=true (npm run dev)", async () => {
    const body = JSON.stringify({ url: "http://127.0.0.1:9999/hook", events: ["*"] });
    const send = async (vars: Record<string, string>) => {
      const ctx = createExecutionContext();
      const response = await worker.fetch(
        new Request(`${BASE}/admin/v1/webhooks`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body }) as Request<unknown, IncomingRequestCfProperties>,
        { ...env, ...vars } as Env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };
    await expectError(await send({}), 400, "invalid_request");
    const local = await send({ WEBHOOK_ALLOW_INSECURE_URLS: "true" });
    expect(local.status).toBe(201);
    // Nothing listens there: gone before the next test's changes would be sent to it.
    expect((await call(`/admin/v1/webhooks/${(await json(local)).id}`, { method: "DELETE" })).status).toBe(204);
  });
});

describe("an organization's endpoints", () => {
  it("go when the organization is deleted, and stay while it is not", async () => {
    const org = await createOrg();
    const endpoint = await createEndpoint({ organization_id: org.id });
    const account = await accountIn(org.id);
    expect((await call(`/admin/v1/organizations/${org.id}`, { method: "DELETE" })).status).toBe(409);
    expect((await call(`/admin/v1/webhooks/${endpoint.id}`)).status).toBe(200);
    expect((await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/admin/v1/organizations/${org.id}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await call(`/admin/v1/webhooks/${endpoint.id}`), 404, "not_found");
  });
});

describe("an organization's admins", () => {
  async function orgAdmin() {
    const org = await createOrg();
    const account = await accountIn(org.id);
    const client = await createCredential(account.id, "oauth_client", ["admin"]);
    return { org, token: await tokenFor(client) };
  }

  it("make endpoints for their own organization, and may name no other", async () => {
    const { org, token } = await orgAdmin();
    const other = await createOrg();
    const own = await createEndpoint({}, token);
    expect(own.organization_id).toBe(org.id);
    const before = await snapshot();
    for (const organization_id of [other.id, null, "org_0000000000000000000000"]) {
      await expectError(await call("/admin/v1/webhooks", { method: "POST", token, body: { url: hookUrl(), events: ["*"], organization_id } }), 400, "invalid_request");
    }
    expect(await snapshot()).toBe(before);
  });

  it("see and manage their own endpoints alone: another organization's and the platform's answer 404 and stay as they were", async () => {
    const a = await orgAdmin();
    const b = await orgAdmin();
    const theirs = await createEndpoint({}, a.token);
    const platform = await createEndpoint({});
    const mine = await createEndpoint({}, b.token);
    const listed = (await json(await call("/admin/v1/webhooks", { token: b.token }))).data.map((row: { id: string }) => row.id);
    expect(listed).toEqual([mine.id]);
    expect((await json(await call(`/admin/v1/webhooks?organization_id=${a.org.id}`, { token: b.token }))).data).toEqual([]);
    const before = await snapshot();
    for (const id of [theirs.id, platform.id]) {
      for (const [method, path, body] of [
        ["GET", `/admin/v1/webhooks/${id}`],
        ["PATCH", `/admin/v1/webhooks/${id}`, { status: "disabled" }],
        ["DELETE", `/admin/v1/webhooks/${id}`],
        ["POST", `/admin/v1/webhooks/${id}/roll-secret`, { expires_in: 0 }],
        ["POST", `/admin/v1/webhooks/${id}/test`],
        ["GET", `/admin/v1/webhooks/${id}/deliveries`],
      ] as const) {
        await expectError(await call(path, { method, token: b.token, ...(body ? { body } : {}) }), 404, "not_found");
      }
    }
    expect(await snapshot()).toBe(before);
    expect((await call(`/admin/v1/webhooks/${mine.id}/test`, { method: "POST", token: b.token })).status).toBe(202);
  });
});
