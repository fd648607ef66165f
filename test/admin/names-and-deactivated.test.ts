import { describe, expect, it } from "vitest";
import { auditEventsFor, call, createAccount, createCredential, expectError, json, snapshot, uniqueName } from "../support/http";

/**
 * The contract's rules on names (trimmed, then 1–100 code points; a blank name → 400), on
 * credentials for a deactivated account (400), and on what an audit event remembers: the target's
 * name at the time, and the channel the change came through.
 */

const BLANKS = ["", " ", "   ", "\u3000", " \u00a0 "];

describe("names are trimmed, and a blank name is refused", () => {
  it("refuses a blank account name with 400 invalid_request and changes nothing", async () => {
    for (const name of BLANKS) {
      const before = await snapshot();
      await expectError(await call("/admin/v1/accounts", { method: "POST", body: { name, type: "service" } }), 400, "invalid_request");
      expect(await snapshot()).toBe(before);
    }
  });

  it("refuses a blank credential name on create and on PATCH, changing nothing", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    for (const name of BLANKS) {
      const before = await snapshot();
      await expectError(
        await call("/admin/v1/credentials", { method: "POST", body: { name, type: "api_key", account_id: account.id } }),
        400,
        "invalid_request",
      );
      await expectError(await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name } }), 400, "invalid_request");
      expect(await snapshot()).toBe(before);
    }
  });

  it("stores and answers names without their surrounding spaces", async () => {
    const name = uniqueName("padded");
    const account = await json(await call("/admin/v1/accounts", { method: "POST", body: { name: `  ${name}\t `, type: "service" } }));
    expect(account.name).toBe(name);
    expect((await json(await call(`/admin/v1/accounts/${account.id}`))).name).toBe(name);

    const created = await call("/admin/v1/credentials", { method: "POST", body: { name: ` ${name} `, type: "api_key", account_id: account.id } });
    expect(created.status).toBe(201);
    const credential = await json(created);
    expect(credential.name).toBe(name);
    const renamed = await json(await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name: `\n${name} 2 ` } }));
    expect(renamed.name).toBe(`${name} 2`);
  });

  it("counts the 100-code-point limit after trimming", async () => {
    const hundred = "x".repeat(100);
    const ok = await call("/admin/v1/accounts", { method: "POST", body: { name: `   ${hundred}   `, type: "user" } });
    expect(ok.status).toBe(201);
    expect((await json(ok)).name).toBe(hundred);
    await expectError(await call("/admin/v1/accounts", { method: "POST", body: { name: `${hundred}y`, type: "user" } }), 400, "invalid_request");
  });
});

describe("a deactivated account gets no new credentials", () => {
  it("answers 400 invalid_request, creates nothing and records nothing; after activation it works", async () => {
    const account = await createAccount();
    await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" });
    const before = await snapshot();
    for (const type of ["oauth_client", "api_key"]) {
      const body = await expectError(
        await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName(), type, account_id: account.id } }),
        400,
        "invalid_request",
      );
      expect(body.error_description).toMatch(/deactivated/);
    }
    expect(await snapshot()).toBe(before);

    await call(`/admin/v1/accounts/${account.id}/activate`, { method: "POST" });
    const created = await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName(), type: "api_key", account_id: account.id } });
    expect(created.status).toBe(201);
  });

  it("still answers 404 for an account that does not exist", async () => {
    await expectError(
      await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName(), type: "api_key", account_id: "acct_0000000000000000000000" } }),
      404,
      "not_found",
    );
  });
});

describe("audit events keep the name at the time and the channel", () => {
  it("records each change under the name the target had then, channel api", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    const firstName = credential.name;
    const secondName = uniqueName("renamed");
    await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name: secondName } });
    await call(`/admin/v1/credentials/${credential.id}/roll`, { method: "POST", body: { expires_in: 0 } });
    await call(`/admin/v1/credentials/${credential.id}`, { method: "DELETE" });

    // Sorted by action: two changes can share a millisecond, and then their order is by id.
    const events = (await auditEventsFor(credential.id)).map((event) => [event.action, event.target_name, event.channel]).sort();
    expect(events).toEqual([
      ["credential.create", firstName, "api"],
      ["credential.delete", secondName, "api"],
      ["credential.roll", secondName, "api"],
      ["credential.update", secondName, "api"],
    ]);
  });

  it("names each credential an account deletion removed, and the account", async () => {
    const account = await createAccount();
    const one = await createCredential(account.id);
    const two = await createCredential(account.id, "api_key");
    await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" });
    await call(`/admin/v1/accounts/${account.id}`, { method: "DELETE" });
    for (const credential of [one, two]) {
      const [deleted] = await auditEventsFor(credential.id);
      expect(deleted).toMatchObject({ action: "credential.delete", target_name: credential.name, channel: "api" });
    }
    const accountEvents = (await auditEventsFor(account.id)).map((event) => [event.action, event.target_name]);
    expect(accountEvents).toEqual([
      ["account.delete", account.name],
      ["account.deactivate", account.name],
      ["account.create", account.name],
    ]);
  });
});
