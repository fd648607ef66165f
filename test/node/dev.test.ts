import { spawnSync } from "node:child_process";
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

  it("runs examples/claims-hook beside Keymint: a row in its table puts a claim in the token, a blocked client gets access_denied", async () => {
    const admin = (path: string, body: unknown) =>
      fetch(`${server.url}/admin/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((response) => response.json());
    const externalId = `cus_dev_${Date.now()}`;
    const org = await admin("/organizations", { name: "Hooked", external_id: externalId });
    const account = await admin("/accounts", { name: "Hooked sync", type: "service", organization_id: org.id });
    const client = await admin("/credentials", { name: "hooked", type: "oauth_client", account_id: account.id });
    // The README's way to edit the hook's table locally.
    const put = (key: string, value: string) =>
      spawnSync("wrangler", ["kv", "key", "put", "--binding", "TABLES", key, value, "--local", "--persist-to", server.persist, "-c", "examples/claims-hook/wrangler.toml"], {
        encoding: "utf8",
        env: { ...process.env, CI: "true" },
      });
    expect(put(`plan:${externalId}`, "enterprise").status).toBe(0);
    const token = () =>
      fetch(`${server.url}/oauth/token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
      });
    const issued = await token();
    expect(issued.status).toBe(200);
    const payload = JSON.parse(Buffer.from((await issued.json()).access_token.split(".")[1], "base64url").toString());
    expect(payload.plan).toBe("enterprise");
    expect(put(`blocked:${client.client_id}`, "unpaid invoice").status).toBe(0);
    const denied = await token();
    expect(denied.status).toBe(400);
    expect(await denied.json()).toEqual({ error: "access_denied", error_description: "unpaid invoice" });
  });
});
