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
});
