import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, BASE, createAccount, createCredential } from "../support/http";

/**
 * The request log (src/http/middleware.ts): one JSON line per request, except that successful
 * requests on the hot routes are logged only in part (REQUEST_LOG_SAMPLE_RATE, default 1%).
 * Failures, and admin requests, are always logged; no line carries a secret.
 */

afterEach(() => vi.restoreAllMocks());

/** Sends a request to the Worker with some vars changed; returns its status and the log lines it wrote. */
async function logged(path: string, headers: Record<string, string>, vars: Record<string, string | undefined>) {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(BASE + path, { headers }), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  spy.mockRestore();
  const requests = lines.filter((line) => line.includes('"request_id"')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { status: response.status, requests, text: lines.join("\n") };
}

describe("the request log", () => {
  it("samples successful test-auth requests, never failed ones, and always logs admin requests", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const auth = { authorization: `Bearer ${key.api_key}` };

    const none = await logged("/v1/test-auth", auth, { REQUEST_LOG_SAMPLE_RATE: "0" });
    expect(none.status).toBe(200);
    expect(none.requests).toEqual([]);

    const all = await logged("/v1/test-auth", auth, { REQUEST_LOG_SAMPLE_RATE: "1" });
    expect(all.status).toBe(200);
    expect(all.requests).toEqual([expect.objectContaining({ route: "/v1/test-auth", status: 200, credential_id: key.id })]);
    expect(all.text).not.toContain(key.api_key);

    const failed = await logged("/v1/test-auth", { authorization: "Bearer km_live_not-a-key" }, { REQUEST_LOG_SAMPLE_RATE: "0" });
    expect(failed.status).toBe(401);
    expect(failed.requests).toEqual([expect.objectContaining({ route: "/v1/test-auth", status: 401 })]);

    const admin = await logged("/admin/v1/accounts?limit=1", { authorization: `Bearer ${ADMIN_TOKEN}` }, { REQUEST_LOG_SAMPLE_RATE: "0" });
    expect(admin.status).toBe(200);
    expect(admin.requests).toEqual([expect.objectContaining({ route: "/admin/v1/accounts", status: 200, actor: "admin_token" })]);
  });

  it("takes an empty or out-of-range rate as 1%", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const auth = { authorization: `Bearer ${key.api_key}` };
    for (const rate of [undefined, "", "2", "-1", "lots"]) {
      vi.spyOn(Math, "random").mockReturnValue(0.005);
      expect((await logged("/v1/test-auth", auth, { REQUEST_LOG_SAMPLE_RATE: rate })).requests, `rate ${rate}: a draw under 1%`).toHaveLength(1);
      vi.spyOn(Math, "random").mockReturnValue(0.5);
      expect((await logged("/v1/test-auth", auth, { REQUEST_LOG_SAMPLE_RATE: rate })).requests, `rate ${rate}: a draw over 1%`).toHaveLength(0);
    }
  });
});
