import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, createAccount, createCredential, json, sha256Hex } from "../support/http";
import { tokenFor } from "../support/oauth";
import { created, unique } from "../support/organizations";
import { createEndpoint, receiver, typesOf, until } from "../support/webhooks";

// Deliveries go through the queue, retries a second apart: a busy machine needs more than 5 s.
vi.setConfig({ testTimeout: 30_000 });

/**
 * Events (contract "Webhooks"): each change records its event in the same D1 batch (the outbox),
 * none for a change that changed nothing, and the queue delivers it signed with Standard Webhooks
 * to every enabled endpoint subscribed to it: platform endpoints get every organization's, an
 * organization's endpoints its own. Payloads never carry a secret.
 */

afterEach(() => vi.restoreAllMocks());

describe("events of changes", () => {
  it("a credential's life and its account's, in order, each verified with standardwebhooks; a change that changes nothing sends none", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({});
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["read"]);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { name: "renamed" } })).status).toBe(200);
    const rolled = await json(await call(`/admin/v1/credentials/${client.id}/roll`, { method: "POST", body: { expires_in: 0 } }));
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200); // nothing changes
    expect((await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" })).status).toBe(200);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    const expected = ["credential.created", "credential.updated", "credential.rolled", "account.deactivated", "account.activated", "credential.deleted"];
    await until(() => hooks.at(endpoint.url).length >= expected.length + 1);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more comes
    const deliveries = hooks.at(endpoint.url);
    const ours = deliveries.filter((delivery) => {
      const data = (JSON.parse(delivery.body) as { data: { id: string } }).data;
      return data.id === client.id || data.id === account.id;
    });
    expect(typesOf(ours).sort()).toEqual(["account.created", ...expected].sort());
    const verifier = new Webhook(endpoint.secret);
    for (const delivery of deliveries) {
      const event = verifier.verify(delivery.body, delivery.headers) as { type: string; timestamp: string; organization_id: string; data: Record<string, unknown> };
      expect(Object.keys(event).sort()).toEqual(["data", "organization_id", "timestamp", "type"]);
      expect(delivery.headers["webhook-id"]).toMatch(/^msg_/);
    }
    const updated = JSON.parse(ours.find((delivery) => typesOf([delivery])[0] === "credential.updated")!.body);
    expect(updated).toMatchObject({ organization_id: "org_default", data: { id: client.id, name: "renamed", client_id: client.client_id } });
    // No secret, digest or webhook secret in any body or header.
    const secrets = [client.client_secret, rolled.client_secret, await sha256Hex(client.client_secret), await sha256Hex(rolled.client_secret), endpoint.secret, endpoint.secret.slice(6)];
    for (const delivery of deliveries) for (const secret of secrets) expect(JSON.stringify(delivery)).not.toContain(secret);
  });

  it("organizations and APIs send theirs; an organization's endpoint gets its own organization's events only", async () => {
    const hooks = receiver();
    const platform = await createEndpoint({ events: ["organization.created", "organization.deactivated", "api.created", "account.created"] });
    const org = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("Acme") } }));
    const other = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("Globex") } }));
    const own = await createEndpoint({ organization_id: org.id, events: ["account.created", "api.created"] });
    const mine = await created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("mine"), type: "service", organization_id: org.id } }));
    const theirs = await created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("theirs"), type: "service", organization_id: other.id } }));
    const api = await created(await call("/admin/v1/apis", { method: "POST", body: { name: "Events", identifier: `https://events-${crypto.randomUUID()}.example.com`, scopes: [] } }));
    expect((await call(`/admin/v1/organizations/${org.id}/deactivate`, { method: "POST" })).status).toBe(200);
    await until(() => hooks.at(platform.url).length >= 6 && hooks.at(own.url).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ids = (url: string) => hooks.at(url).map((delivery) => `${typesOf([delivery])[0]} ${(JSON.parse(delivery.body) as { data: { id: string } }).data.id}`);
    expect(ids(own.url)).toEqual([`account.created ${mine.id}`]);
    expect(ids(platform.url).sort()).toEqual(
      [`organization.created ${org.id}`, `organization.created ${other.id}`, `account.created ${mine.id}`, `account.created ${theirs.id}`, `api.created ${api.id}`, `organization.deactivated ${org.id}`].sort(),
    );
    const deactivated = hooks.at(platform.url).find((delivery) => typesOf([delivery])[0] === "organization.deactivated")!;
    expect(JSON.parse(deactivated.body)).toMatchObject({ organization_id: org.id, data: { id: org.id, status: "deactivated" } });
  });

  it("writes no outbox row when no enabled endpoint subscribes, and none for a token request", async () => {
    // This test's endpoints only: the earlier tests' are gone.
    await env.DB.prepare("DELETE FROM webhook_endpoints").run();
    const before = await env.DB.prepare("SELECT count(*) AS n FROM webhook_events").first<{ n: number }>();
    const disabled = await createEndpoint({ events: ["account.created"] });
    await call(`/admin/v1/webhooks/${disabled.id}`, { method: "PATCH", body: { status: "disabled" } });
    await createEndpoint({ events: ["api.deleted"] });
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    await tokenFor(client);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM webhook_events").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });

  it("a change whose batch fails records no event, and its retry records exactly one", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({ events: ["account.created"] });
    const name = unique("failing");
    const failing = { ...env, DB: new Proxy(env.DB, { get: (target, prop) => (prop === "batch" ? () => Promise.reject(new Error("D1 is down")) : Reflect.get(target, prop).bind?.(target) ?? Reflect.get(target, prop)) }) };
    const { default: worker } = await import("../../src/index");
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("http://localhost:8787/admin/v1/accounts", { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ name, type: "service" }) }) as Request<unknown, IncomingRequestCfProperties>,
      failing as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_events WHERE payload LIKE ?").bind(`%${name}%`).first<{ n: number }>())!.n).toBe(0);
    await created(await call("/admin/v1/accounts", { method: "POST", body: { name, type: "service" } }));
    await until(() => hooks.at(endpoint.url).length >= 1);
    expect(hooks.at(endpoint.url).map((delivery) => JSON.parse(delivery.body).data.name)).toEqual([name]);
  });

  it("a test event goes to its endpoint alone", async () => {
    const hooks = receiver();
    const one = await createEndpoint({ events: ["account.created"] });
    const two = await createEndpoint({ events: ["*"] });
    const answer = await call(`/admin/v1/webhooks/${one.id}/test`, { method: "POST" });
    expect(answer.status).toBe(202);
    const { event_id } = await json(answer);
    await until(() => hooks.at(one.url).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hooks.at(one.url).map((delivery) => delivery.headers["webhook-id"])).toEqual([event_id]);
    expect(JSON.parse(hooks.at(one.url)[0]!.body)).toMatchObject({ type: "webhook.test", organization_id: null, data: { endpoint: { id: one.id } } });
    expect(hooks.at(two.url)).toEqual([]);
  });
});

describe("edits that change nothing", () => {
  it("send no event: a credential PATCH and an API PATCH with the values they already have", async () => {
    const hooks = receiver();
    const endpoint = await createEndpoint({ events: ["credential.updated", "api.updated"] });
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["read"]);
    const api = await created(await call("/admin/v1/apis", { method: "POST", body: { name: "Same", identifier: `https://same-${crypto.randomUUID()}.example.com`, scopes: ["a"] } }));
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { name: client.name, scopes: ["read"], grants: [] } })).status).toBe(200);
    expect((await call(`/admin/v1/apis/${api.id}`, { method: "PATCH", body: { name: "Same", scopes: ["a"] } })).status).toBe(200);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { name: "changed" } })).status).toBe(200);
    await until(() => hooks.at(endpoint.url).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hooks.at(endpoint.url).map((delivery) => `${typesOf([delivery])[0]} ${JSON.parse(delivery.body).data.name}`)).toEqual(["credential.updated changed"]);
  });
});
