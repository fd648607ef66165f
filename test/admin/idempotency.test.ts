import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createAccount, createCredential, expectError, json } from "../support/http";

/** Idempotency-Key on credential creation and rolling: a retry never mints a second secret. */
describe("Idempotency-Key", () => {
  const rows = async (accountId: string) =>
    ((await env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE account_id = ?").bind(accountId).first<{ n: number }>())?.n ?? 0);

  it("a retried create returns the first credential's metadata, without a secret, and creates nothing", async () => {
    const account = await createAccount();
    const body = { name: "retried", type: "api_key", account_id: account.id };
    const headers = { "idempotency-key": `create-${crypto.randomUUID()}` };
    const first = await call("/admin/v1/credentials", { method: "POST", body, headers });
    expect(first.status).toBe(201);
    const created = await json(first);
    expect(created.api_key).toMatch(/^km_live_/);

    const retry = await call("/admin/v1/credentials", { method: "POST", body, headers });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const replayed = await json(retry);
    expect(replayed.id).toBe(created.id);
    expect(replayed).not.toHaveProperty("api_key");
    expect(JSON.stringify(replayed)).not.toContain(created.api_key);
    expect(await rows(account.id)).toBe(1);
    const audit = await json(await call(`/admin/v1/audit-events?target_id=${created.id}`));
    expect(audit.data.map((event: { action: string }) => event.action)).toEqual(["credential.create"]);
  });

  it("the same key with a different request is a 400 and changes nothing", async () => {
    const account = await createAccount();
    const headers = { "idempotency-key": `create-${crypto.randomUUID()}` };
    expect((await call("/admin/v1/credentials", { method: "POST", body: { name: "a", type: "api_key", account_id: account.id }, headers })).status).toBe(201);
    await expectError(
      await call("/admin/v1/credentials", { method: "POST", body: { name: "b", type: "api_key", account_id: account.id }, headers }),
      400,
      "invalid_request",
    );
    expect(await rows(account.id)).toBe(1);
  });

  it("keys are per actor, and distinct keys create distinct credentials", async () => {
    const account = await createAccount();
    const body = { name: "twice", type: "oauth_client", account_id: account.id };
    const a = await json(await call("/admin/v1/credentials", { method: "POST", body, headers: { "idempotency-key": `k-${crypto.randomUUID()}` } }));
    const b = await json(await call("/admin/v1/credentials", { method: "POST", body, headers: { "idempotency-key": `k-${crypto.randomUUID()}` } }));
    expect(a.id).not.toBe(b.id);
    expect(a.client_secret).not.toBe(b.client_secret);
  });

  it("a retried roll replays the first roll: the secret it showed keeps working", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const headers = { "idempotency-key": `roll-${crypto.randomUUID()}` };
    const rolled = await json(await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 0 }, headers }));
    const retry = await call(`/admin/v1/credentials/${key.id}/roll`, { method: "POST", body: { expires_in: 0 }, headers });
    expect(retry.status).toBe(200);
    expect(await json(retry)).not.toHaveProperty("api_key");
    expect((await call("/v1/test-auth", { token: rolled.api_key })).status).toBe(200);
    expect((await call("/v1/test-auth", { token: key.api_key })).status).toBe(401);
  });

  it("rejects a malformed key", async () => {
    const account = await createAccount();
    const response = await call("/admin/v1/credentials", {
      method: "POST",
      body: { name: "x", type: "api_key", account_id: account.id },
      headers: { "idempotency-key": "has space" },
    });
    await expectError(response, 400, "invalid_request");
    expect(await rows(account.id)).toBe(0);
  });
});
