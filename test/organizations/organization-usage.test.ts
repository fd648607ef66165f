import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createCredential, expectError, json } from "../support/http";
import { created, unique } from "../support/organizations";

/**
 * GET /admin/v1/organizations/{id}/usage (contract "Organizations (tenants)"): as for a
 * credential, the sum over the organization's credentials, deleted ones included.
 */

const HOUR = 3_600_000;

/** Counts for one past hour, sent as an isolate sends them: one message on the real queue. */
function sendUsage(hour: string, counts: { credential_id: string; tokens_issued: number; verifications: number }[]) {
  return env.USAGE.send({
    v: 1,
    usage: counts.map((count) => ({ ...count, hour, last_used_at: null, failures: 0, failures_by_reason: {} })),
  });
}

/** The totals of a usage report over the two days up to the end of this hour. */
async function totals(path: string) {
  const to = Date.now() - (Date.now() % HOUR) + HOUR;
  const query = new URLSearchParams({ from: new Date(to - 48 * HOUR).toISOString(), to: new Date(to).toISOString() });
  const response = await call(`${path}/usage?${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  const { data } = await json(response);
  return (data as { tokens_issued: number; verifications: number }[]).reduce((sum, b) => ({ tokens: sum.tokens + b.tokens_issued, checks: sum.checks + b.verifications }), { tokens: 0, checks: 0 });
}

describe("an organization's usage", () => {
  it("sums its credentials across accounts, deleted credentials included, and nothing of another organization", async () => {
    const org = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("org") } }));
    const other = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("org") } }));
    const accountIn = async (organization_id: string) => created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("a"), type: "service", organization_id } }));
    const [a, b, elsewhere] = [await accountIn(org.id), await accountIn(org.id), await accountIn(other.id)];
    const [c1, c2, c3, outside] = [await createCredential(a.id, "oauth_client"), await createCredential(a.id, "api_key"), await createCredential(b.id, "oauth_client"), await createCredential(elsewhere.id, "api_key")];
    const hour = new Date(Date.now() - (Date.now() % HOUR) - HOUR).toISOString();
    await sendUsage(hour, [
      { credential_id: c1.id, tokens_issued: 3, verifications: 0 },
      { credential_id: c2.id, tokens_issued: 0, verifications: 5 },
      { credential_id: c3.id, tokens_issued: 7, verifications: 0 },
      { credential_id: outside.id, tokens_issued: 100, verifications: 100 },
    ]);
    const deadline = Date.now() + 10_000;
    while ((await totals(`/admin/v1/credentials/${outside.id}`)).tokens < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));

    expect(await totals(`/admin/v1/organizations/${org.id}`)).toEqual({ tokens: 10, checks: 5 });
    expect((await call(`/admin/v1/credentials/${c3.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await totals(`/admin/v1/organizations/${org.id}`), "the deleted credential still counts").toEqual({ tokens: 10, checks: 5 });
    expect(await totals(`/admin/v1/accounts/${b.id}`), "an account counts its current credentials").toEqual({ tokens: 0, checks: 0 });
    expect(await totals(`/admin/v1/organizations/${other.id}`)).toEqual({ tokens: 100, checks: 100 });
  });

  it("answers 404 for an unknown organization, and 400 for a bad range", async () => {
    await expectError(await call("/admin/v1/organizations/org_0000000000000000000000/usage"), 404, "not_found");
    await expectError(await call("/admin/v1/organizations/org_default/usage?from=2026-01-01T00:30:00Z&to=2026-01-02T00:00:00Z"), 400, "invalid_request");
  });
});
