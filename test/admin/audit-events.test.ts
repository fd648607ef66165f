import { describe, expect, it } from "vitest";
import {
  auditEventsFor,
  call,
  createAccount,
  createCredential,
  expectActions,
  expectError,
  expectRejected,
  json,
  snapshot,
  tableCounts,
  uniqueName,
  walkPages,
} from "../support/http";

/** Management API, audit events: one per change, with who, what and from where; none otherwise. */

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const EVENT_KEYS = ["action", "actor", "at", "channel", "detail", "id", "ip", "organization_id", "target_id", "target_name", "target_type"];

function expectEvent(event: any, expected: { action: string; target_type: string; target_id: string; ip: string | null }) {
  expect(Object.keys(event).sort()).toEqual(EVENT_KEYS);
  // `detail` is for what an action alone does not say (a leak's URL); an admin's change has none.
  expect(event).toMatchObject({ actor: "admin_token", channel: "api", detail: null, ...expected });
  expect(typeof event.target_name).toBe("string");
  expect(typeof event.id).toBe("string");
  expect(event.id.length).toBeGreaterThan(0);
  expect(event.at).toMatch(RFC3339_UTC);
  expect(Math.abs(Date.parse(event.at) - Date.now())).toBeLessThan(60_000);
}

/**
 * Sends one change and checks that exactly `expected` new audit events were recorded (the
 * table grew by that many), each for its target with the right action, actor and ip.
 */
async function expectAudited(
  send: () => Promise<Response>,
  status: number,
  expected: () => { action: string; target_type: string; target_id: string }[],
  ip: string | null,
) {
  const before = (await tableCounts()).audit_events!;
  const response = await send();
  expect(response.status).toBe(status);
  const body = status === 204 ? null : await json(response);
  const events = expected();
  expect((await tableCounts()).audit_events).toBe(before + events.length);
  for (const wanted of events) {
    const matching = (await auditEventsFor(wanted.target_id)).filter((event) => event.action === wanted.action);
    expect(matching).toHaveLength(1);
    expectEvent(matching[0], { ...wanted, ip });
  }
  return body;
}

describe("GET /admin/v1/audit-events", () => {
  it("lists events as {data, next_cursor}, each {id, at, actor, channel, action, target_type, target_id, target_name, ip, detail}", async () => {
    await createAccount();
    const response = await call("/admin/v1/audit-events");
    expect(response.status).toBe(200);
    const page = await json(response);
    expect(Object.keys(page).sort()).toEqual(["data", "next_cursor"]);
    expect(page.data.length).toBeGreaterThan(0);
    for (const event of page.data) expect(Object.keys(event).sort()).toEqual(EVENT_KEYS);
  });

  it("lists newest first: times never increase, and the latest change is on top", async () => {
    const account = await createAccount();
    const events = (await walkPages("/admin/v1/audit-events?limit=100")).flatMap((page) => page.data);
    for (let i = 0; i + 1 < events.length; i++) expect(events[i].at >= events[i + 1].at).toBe(true);
    const latest = events.find((event: any) => event.target_id === account.id);
    expect(latest.at).toBe(events[0].at);
  });

  it("filters by target_id: only that target's events, none of its account's or credentials'", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name: uniqueName() } });
    await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" });

    const accountEvents = await auditEventsFor(account.id);
    expectActions(accountEvents, ["account.deactivate", "account.create"]);
    for (const event of accountEvents) expect(event.target_id).toBe(account.id);

    const credentialEvents = await auditEventsFor(credential.id);
    expectActions(credentialEvents, ["credential.update", "credential.create"]);
    for (const event of credentialEvents) expect(event.target_id).toBe(credential.id);
  });

  it("answers an unknown target_id with an empty list", async () => {
    const response = await call("/admin/v1/audit-events?target_id=acct_0000000000000000000000");
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ data: [], next_cursor: null });
  });

  it("keeps the history of a deleted target", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    await call(`/admin/v1/credentials/${credential.id}`, { method: "DELETE" });
    await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" });
    expectActions(await auditEventsFor(credential.id), ["credential.delete", "credential.create"]);
    expectActions(await auditEventsFor(account.id), ["account.delete", "account.create"]);
  });

  it("rejects a repeated target_id and an unknown parameter", async () => {
    await expectError(await call("/admin/v1/audit-events?target_id=a&target_id=b"), 400, "invalid_request");
    await expectError(await call("/admin/v1/audit-events?action=account.create"), 400, "invalid_request");
  });

  it("cannot be written or deleted through the API: 405 with Allow, nothing changes", async () => {
    for (const method of ["POST", "DELETE", "PATCH", "PUT"]) {
      const before = await snapshot();
      const response = await call("/admin/v1/audit-events", {
        method,
        body: method === "DELETE" ? undefined : { action: "account.create", target_type: "account", target_id: "x" },
      });
      await expectError(response, 405, "method_not_allowed");
      expect(response.headers.get("allow")).toMatch(/\bGET\b/);
      expect(response.headers.get("allow")).not.toMatch(new RegExp(`\\b${method}\\b`));
      expect(await snapshot()).toBe(before);
    }
  });
});

describe("every change records one audit event: actor, action, target and ip", () => {
  it("follows an account and a credential through their whole lives", async () => {
    const ids = { account: "", credential: "" };
    const headers = (ip: string) => ({ "cf-connecting-ip": ip });

    const before = (await tableCounts()).audit_events!;
    const createResponse = await call("/admin/v1/accounts", { method: "POST", body: { name: uniqueName(), type: "user" }, headers: headers("203.0.113.1") });
    expect(createResponse.status).toBe(201);
    ids.account = (await json(createResponse)).id;
    expect((await tableCounts()).audit_events).toBe(before + 1);
    expectEvent((await auditEventsFor(ids.account))[0], { action: "account.create", target_type: "account", target_id: ids.account, ip: "203.0.113.1" });

    const account = () => [{ action: "", target_type: "account", target_id: ids.account }];
    const credential = () => [{ action: "", target_type: "credential", target_id: ids.credential }];
    const as = (action: string, of: () => { action: string; target_type: string; target_id: string }[]) => () =>
      of().map((event) => ({ ...event, action }));

    await expectAudited(
      () => call(`/admin/v1/accounts/${ids.account}/deactivate`, { method: "POST", headers: headers("2001:db8::2") }),
      200,
      as("account.deactivate", account),
      "2001:db8::2",
    );
    await expectAudited(
      () => call(`/admin/v1/accounts/${ids.account}/activate`, { method: "POST", headers: headers("203.0.113.3") }),
      200,
      as("account.activate", account),
      "203.0.113.3",
    );

    const beforeCredential = (await tableCounts()).audit_events!;
    const credentialResponse = await call("/admin/v1/credentials", {
      method: "POST",
      body: { name: uniqueName(), type: "oauth_client", account_id: ids.account, scopes: ["read"] },
      headers: headers("203.0.113.4"),
    });
    expect(credentialResponse.status).toBe(201);
    ids.credential = (await json(credentialResponse)).id;
    expect((await tableCounts()).audit_events).toBe(beforeCredential + 1);
    expectEvent((await auditEventsFor(ids.credential))[0], {
      action: "credential.create",
      target_type: "credential",
      target_id: ids.credential,
      ip: "203.0.113.4",
    });

    await expectAudited(
      () => call(`/admin/v1/credentials/${ids.credential}`, { method: "PATCH", body: { scopes: ["write"] }, headers: headers("203.0.113.5") }),
      200,
      as("credential.update", credential),
      "203.0.113.5",
    );
    await expectAudited(
      () => call(`/admin/v1/credentials/${ids.credential}/roll`, { method: "POST", body: { expires_in: 0 }, headers: headers("203.0.113.6") }),
      200,
      as("credential.roll", credential),
      "203.0.113.6",
    );
    await expectAudited(
      () => call(`/admin/v1/credentials/${ids.credential}`, { method: "DELETE", headers: headers("203.0.113.7") }),
      204,
      as("credential.delete", credential),
      "203.0.113.7",
    );
    await expectAudited(
      () => call(`/admin/v1/accounts/${ids.account}`, { method: "DELETE", headers: headers("203.0.113.8") }),
      204,
      as("account.delete", account),
      "203.0.113.8",
    );

    expectActions(await auditEventsFor(ids.account), ["account.delete", "account.activate", "account.deactivate", "account.create"]);
    expectActions(await auditEventsFor(ids.credential), ["credential.delete", "credential.roll", "credential.update", "credential.create"]);
  });

  it("deleting an account records credential.delete for each of its credentials and account.delete", async () => {
    const owner = await createAccount();
    const credentials = [
      await createCredential(owner.id, "oauth_client"),
      await createCredential(owner.id, "api_key"),
      await createCredential(owner.id, "api_key"),
      await createCredential(owner.id, "oauth_client"),
    ];
    await expectAudited(
      () => call(`/admin/v1/accounts/${owner.id}`, { method: "DELETE", headers: { "cf-connecting-ip": "192.0.2.44" } }),
      204,
      () => [
        ...credentials.map((c) => ({ action: "credential.delete", target_type: "credential", target_id: c.id })),
        { action: "account.delete", target_type: "account", target_id: owner.id },
      ],
      "192.0.2.44",
    );
  });

  it("records ip null when the request has no cf-connecting-ip", async () => {
    const account = await createAccount();
    const [event] = await auditEventsFor(account.id);
    expectEvent(event, { action: "account.create", target_type: "account", target_id: account.id, ip: null });
  });
});

describe("no audit event without a change", () => {
  it("reads record nothing", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    const before = await snapshot();
    for (const path of [
      `/admin/v1/accounts/${account.id}`,
      "/admin/v1/accounts",
      `/admin/v1/credentials/${credential.id}`,
      `/admin/v1/credentials?account_id=${account.id}`,
      "/admin/v1/audit-events",
      `/admin/v1/audit-events?target_id=${account.id}`,
    ]) {
      expect((await call(path)).status).toBe(200);
    }
    expect(await snapshot()).toBe(before);
  });

  it("rejected requests record nothing", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    await expectRejected(() => call("/admin/v1/accounts", { method: "POST", body: { name: "", type: "service" } }), 400, "invalid_request");
    await expectRejected(() => call("/admin/v1/accounts", { method: "POST", body: { name: "x", type: "service" }, token: null }), 401, "unauthorized");
    await expectRejected(() => call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { scopes: ["a", "a"] } }), 400, "invalid_request");
    await expectRejected(() => call("/admin/v1/credentials/cred_0000000000000000000000", { method: "DELETE" }), 404, "not_found");
    await expectRejected(() => call(`/admin/v1/accounts/${account.id}`, { method: "PUT", body: { name: "x" } }), 405, "method_not_allowed");
    await expectRejected(() => call(`/admin/v1/accounts/${account.id}`, { method: "PATCH", body: { metadata: { Bad: 1 } } }), 400, "invalid_request");
    await expectRejected(
      () => call(`/admin/v1/credentials/${credential.id}/roll`, { method: "POST", body: "expires_in=0", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
  });

  it("idempotent activate and deactivate record nothing", async () => {
    const account = await createAccount();
    const before = await snapshot();
    expect((await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" })).status).toBe(200);
    expect(await snapshot()).toBe(before);
    await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" });
    const deactivated = await snapshot();
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    expect(await snapshot()).toBe(deactivated);
  });
});
