import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "./dev-server";

describe("npm run dev", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => server?.stop());

  it("serves /healthz with local D1 and KV", async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("applied the migrations and accepts the admin token from .dev.vars", async () => {
    const created = await fetch(`${server.url}/admin/v1/accounts`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Dev smoke test", type: "service" }),
    });
    expect(created.status).toBe(201);
    const listed = await fetch(`${server.url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect((await listed.json()).data.map((a: { name: string }) => a.name)).toContain("Dev smoke test");
  });

  it("sees the caller's address as CF-Connecting-IP, and one the client sends, so an allowlist can be tried locally (README tour)", async () => {
    const admin = (path: string, body: unknown) =>
      fetch(`${server.url}/admin/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((response) => response.json());
    const account = await admin("/accounts", { name: "Allowlist", type: "service" });
    const client = await admin("/credentials", { name: "fenced", type: "oauth_client", account_id: account.id, allowed_ips: ["10.1.2.0/24"] });
    const token = (headers: Record<string, string> = {}) =>
      fetch(`${server.url}/oauth/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
          ...headers,
        },
        body: "grant_type=client_credentials",
      });
    expect((await token({ "CF-Connecting-IP": "10.1.2.3" })).status).toBe(200);
    expect((await token()).status).toBe(401); // 127.0.0.1
  });
});
