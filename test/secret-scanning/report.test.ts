import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_REVOCATIONS_PER_REPORT } from "../../src/services/secret-scanning";
import { generateSecret } from "../../src/services/secrets";
import { type KeysServer, type SigningKey, keysServer, reportBody, reportRequest, send, signingKey } from "../support/github";
import { auditEventsFor, call, createAccount, createCredential, json, sha256Hex, snapshot } from "../support/http";
import { testAuth, tokenRequest } from "../support/oauth";

/**
 * What a verified report does: a label per reported value, and LEAKED_SECRET_ACTION applied to
 * the real secrets only. Checked through HTTP (labels, the credentials' state, the audit log,
 * the token endpoint and test-auth) and the stored rows.
 */

let key: SigningKey;
let server: KeysServer;
beforeEach(async () => {
  key = signingKey();
  server = await keysServer([key]);
});
afterEach(() => {
  server.restore();
  vi.restoreAllMocks();
});

const URL_OF = (name: string) => `https://github.com/octo-org/app/blob/4b825dc/${name}/.env`;
const flagBindings = () => ({ ...env, LEAKED_SECRET_ACTION: "flag" }) as Env;

async function report(findings: { token: string; type?: string; url?: string }[], bindings: Env = env) {
  const response = await send(reportRequest(reportBody(findings), key), bindings);
  expect(response.status, await response.clone().text()).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return json<{ token_hash: string; token_type: string; label: string }[]>(response);
}

/** Every line the Worker logs while `work` runs. */
async function logsOf<T>(work: () => Promise<T>): Promise<{ result: T; lines: string }> {
  const lines: string[] = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  }
  const result = await work();
  return { result, lines: lines.join("\n") };
}

const getCredential = (id: string) => call(`/admin/v1/credentials/${id}`);

/** Rolls with a grace period: the old secret keeps working for an hour. */
async function rollWithGrace(id: string) {
  const response = await call(`/admin/v1/credentials/${id}/roll`, { method: "POST", body: { expires_in: 3600 } });
  expect(response.status).toBe(200);
  return json(response);
}

async function fixtures() {
  const account = await createAccount();
  const apiKey = await createCredential(account.id, "api_key");
  const client = await createCredential(account.id, "oauth_client");
  const graced = await createCredential(account.id, "oauth_client");
  const oldSecret = graced.client_secret as string;
  const rolled = await rollWithGrace(graced.id);
  const expiring = await call("/admin/v1/credentials", {
    method: "POST",
    body: { name: "expires soon", type: "api_key", account_id: account.id, scopes: [], expires_at: new Date(Date.now() + 1_000).toISOString() },
  }).then((response) => json(response));
  const deleted = await createCredential(account.id, "api_key");
  expect((await call(`/admin/v1/credentials/${deleted.id}`, { method: "DELETE" })).status).toBe(204);
  const bystander = await createCredential(account.id, "api_key");
  // The last character changed: the checksum no longer matches (the bystander's own key is untouched).
  const last = bystander.api_key.at(-1) === "A" ? "B" : "A";
  const malformed = bystander.api_key.slice(0, -1) + last;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(expiring.expires_at) - Date.now() + 50)));
  return { account, apiKey, client, graced, oldSecret, rolled, expiring, deleted, bystander, malformed };
}

describe("revoke (the default): labels and actions for a mix of values", () => {
  it("deletes live and expired credentials, ends a leaked previous secret's grace, and touches nothing else", async () => {
    const f = await fixtures();
    const findings = [
      { token: f.apiKey.api_key, type: "keymint_api_key", url: URL_OF("api-key") },
      { token: f.client.client_secret, type: "keymint_client_secret", url: URL_OF("client") },
      { token: f.oldSecret, type: "keymint_client_secret", url: URL_OF("previous") },
      { token: f.expiring.api_key, type: "keymint_api_key", url: URL_OF("expired") },
      { token: f.deleted.api_key, type: "keymint_api_key", url: URL_OF("deleted") },
      { token: f.malformed, type: "keymint_api_key", url: URL_OF("malformed") },
      { token: "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", type: "github_token", url: URL_OF("foreign") },
      { token: `sk_live_${"a".repeat(43)}`, type: "stripe", url: URL_OF("stripe") },
      { token: f.client.client_id, type: "keymint_client_id", url: URL_OF("client-id") },
      { token: f.graced.client_id, type: "keymint_client_id", url: URL_OF("client-id-2") },
    ];
    const untouched = [f.bystander.id];
    const bystanderEvents = await auditEventsFor(f.bystander.id);

    const { result: labels, lines } = await logsOf(() => report(findings));

    // One answer per finding, in order, with exactly GitHub's three fields.
    expect(labels).toEqual(
      await Promise.all(
        findings.map(async ({ token, type }, i) => ({
          token_hash: await sha256Hex(token),
          token_type: type,
          label: i < 4 ? "true_positive" : "false_positive",
        })),
      ),
    );

    // Live and expired credentials are gone, as if an admin had deleted them, with the URL audited.
    for (const [credential, url] of [[f.apiKey, URL_OF("api-key")], [f.client, URL_OF("client")], [f.expiring, URL_OF("expired")]] as const) {
      expect((await getCredential(credential.id)).status).toBe(404);
      const [event] = await auditEventsFor(credential.id);
      expect(event).toMatchObject({ action: "credential.delete", actor: "github_secret_scanning", channel: "system", detail: url });
    }
    expect((await testAuth(f.apiKey.api_key)).status).toBe(401);
    expect((await tokenRequest(f.client)).status).toBe(401);

    // The leaked previous secret stops; the credential and its new secret live on.
    const graced = await json(await getCredential(f.graced.id));
    expect(graced.previous_secret_expires_at).toBeNull();
    expect((await tokenRequest({ client_id: f.graced.client_id, client_secret: f.oldSecret })).status).toBe(401);
    expect((await tokenRequest({ client_id: f.graced.client_id, client_secret: f.rolled.client_secret })).status).toBe(200);
    const [graceEvent] = await auditEventsFor(f.graced.id);
    expect(graceEvent).toMatchObject({ action: "credential.end_grace", actor: "github_secret_scanning", channel: "system", detail: URL_OF("previous") });

    // A client_id, a malformed key, foreign tokens and a deleted key change nothing.
    for (const id of untouched) expect((await getCredential(id)).status).toBe(200);
    expect(await auditEventsFor(f.bystander.id)).toEqual(bystanderEvents);
    expect((await testAuth(f.bystander.api_key)).status).toBe(200);
    expect(await auditEventsFor(f.deleted.id)).toHaveLength(2); // its create and its admin's delete

    // Nothing logged says more than counts: no reported value, no digest.
    expect(lines).toContain("secret_scanning_report");
    for (const { token } of findings) {
      expect(lines).not.toContain(token);
      expect(lines).not.toContain(await sha256Hex(token));
    }
  });

  it("the same secret reported twice, or a report sent again, acts once; the second time it is gone", async () => {
    const account = await createAccount();
    const apiKey = await createCredential(account.id, "api_key");
    const findings = [
      { token: apiKey.api_key, url: URL_OF("one") },
      { token: apiKey.api_key, url: URL_OF("two") },
    ];
    expect((await report(findings)).map((entry) => entry.label)).toEqual(["true_positive", "true_positive"]);
    const events = await auditEventsFor(apiKey.id);
    expect(events.map((event) => event.action)).toEqual(["credential.delete", "credential.create"]);
    const before = await snapshot();
    expect((await report(findings)).map((entry) => entry.label)).toEqual(["false_positive", "false_positive"]);
    expect(await snapshot()).toBe(before);
  });

  it("a current secret and its credential's previous one in the same report: the credential is deleted", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const rolled = await rollWithGrace(client.id);
    const labels = await report([{ token: client.client_secret }, { token: rolled.client_secret }]);
    expect(labels.map((entry) => entry.label)).toEqual(["true_positive", "true_positive"]);
    expect((await getCredential(client.id)).status).toBe(404);
  });
});

describe("flag (LEAKED_SECRET_ACTION=flag)", () => {
  it("sets leaked_at and leak_url and audits it; the credential keeps working, and a roll clears the flag", async () => {
    const account = await createAccount();
    const apiKey = await createCredential(account.id, "api_key");
    const client = await createCredential(account.id, "oauth_client");
    const oldSecret = client.client_secret;
    const rolled = await rollWithGrace(client.id);
    const clientId = { client_id: client.client_id };
    const before = await json(await getCredential(apiKey.id));
    expect(before.leaked_at).toBeNull();

    const labels = await report(
      [
        { token: apiKey.api_key, url: URL_OF("flagged") },
        { token: oldSecret, url: URL_OF("flagged-previous") },
        { token: client.client_id, url: URL_OF("client-id") },
      ],
      flagBindings(),
    );
    expect(labels.map((entry) => entry.label)).toEqual(["true_positive", "true_positive", "false_positive"]);

    const flagged = await json(await getCredential(apiKey.id));
    expect(Date.parse(flagged.leaked_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(flagged).toEqual({ ...before, leaked_at: flagged.leaked_at, leak_url: URL_OF("flagged") });
    const [event] = await auditEventsFor(apiKey.id);
    expect(event).toMatchObject({ action: "credential.leak_flagged", actor: "github_secret_scanning", channel: "system", detail: URL_OF("flagged") });
    // Nothing else changed: both secrets of the rolled client, and the API key, still work.
    expect((await testAuth(apiKey.api_key)).status).toBe(200);
    expect((await tokenRequest({ ...clientId, client_secret: oldSecret })).status).toBe(200);
    expect((await tokenRequest({ ...clientId, client_secret: rolled.client_secret })).status).toBe(200);
    const graced = await json(await getCredential(client.id));
    expect(graced.leak_url).toBe(URL_OF("flagged-previous"));
    expect(graced.previous_secret_expires_at).not.toBeNull();

    // The same report again (a replay): still labelled, but no new flag or event.
    const snapshotBefore = await snapshot();
    expect((await report([{ token: apiKey.api_key, url: URL_OF("flagged") }], flagBindings()))[0]!.label).toBe("true_positive");
    expect(await snapshot()).toBe(snapshotBefore);

    // An admin rolls the leaked key: the flag goes with the old secret.
    const afterRoll = await json(await call(`/admin/v1/credentials/${apiKey.id}/roll`, { method: "POST", body: { expires_in: 0 } }));
    expect([afterRoll.leaked_at, afterRoll.leak_url]).toEqual([null, null]);
  });

  it("LEAKED_SECRET_ACTION=revoke deletes where flag only marks: the same report under each", async () => {
    const account = await createAccount();
    const [a, b] = [await createCredential(account.id, "api_key"), await createCredential(account.id, "api_key")];
    await report([{ token: a.api_key }], flagBindings());
    await report([{ token: b.api_key }], { ...env, LEAKED_SECRET_ACTION: "revoke" } as Env);
    expect((await getCredential(a.id)).status).toBe(200);
    expect((await getCredential(b.id)).status).toBe(404);
  });
});

/** The real bindings, counting D1 statements (and the parameters each binds) and KV operations. */
function countingBindings(base: Env = env) {
  const counts = { statements: 0, lookups: 0, maxParameters: 0, roundTrips: 0, kv: 0 };
  const db = base.DB;
  type Method = (...args: unknown[]) => unknown;
  /** Counts the statement's round trips and the parameters it binds (on D1's own statement objects). */
  const instrument = (statement: D1PreparedStatement): D1PreparedStatement => {
    const target = statement as unknown as Record<string, Method>;
    const bind = target.bind!;
    target.bind = (...values: unknown[]) => {
      counts.maxParameters = Math.max(counts.maxParameters, values.length);
      return instrument(bind.apply(statement, values) as D1PreparedStatement);
    };
    for (const name of ["first", "all", "run", "raw"]) {
      const original = target[name]!;
      target[name] = (...args: unknown[]) => {
        counts.roundTrips += 1;
        return original.apply(statement, args);
      };
    }
    return statement;
  };
  const DB = {
    prepare(sql: string) {
      counts.statements += 1;
      if (sql.includes("secret_hash IN")) counts.lookups += 1;
      return instrument(db.prepare(sql));
    },
    batch(statements: D1PreparedStatement[]) {
      counts.roundTrips += 1;
      return db.batch(statements);
    },
    withSession: (...args: unknown[]) => (db.withSession as unknown as Method)(...args),
    exec: (sql: string) => db.exec(sql),
  };
  const kv = base.REVOCATIONS;
  const REVOCATIONS = new Proxy(kv, {
    get(object, name) {
      const value = Reflect.get(object, name);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts.kv += 1;
        return value.apply(object, args);
      };
    },
  });
  return { counts, bindings: { ...base, DB, REVOCATIONS } as unknown as Env };
}

describe("batches", () => {
  it("1,000 tokens with 150-character URLs: answered in under 10 s, with one lookup statement per 99 tokens and no more than 100 parameters", async () => {
    const account = await createAccount();
    const real = [await createCredential(account.id, "api_key"), await createCredential(account.id, "oauth_client")];
    const url = `https://github.com/octo-org/${"a".repeat(150 - "https://github.com/octo-org/".length - ".env".length)}.env`;
    expect(url).toHaveLength(150);
    const tokens = Array.from({ length: 1000 }, (_, i) => {
      if (i === 10) return real[0]!.api_key as string;
      if (i === 500) return real[1]!.client_secret as string;
      // Mostly well-formed unknown secrets (each one a lookup), some client_ids and junk.
      if (i % 10 === 3) return generateSecret("client_id");
      if (i % 10 === 7) return `not-a-secret-${i}`;
      return generateSecret(i % 2 ? "api_key" : "client_secret");
    });
    const candidates = tokens.filter((token) => token.startsWith("km_live_") || token.startsWith("kms_")).length;
    const { counts, bindings } = countingBindings();
    const started = Date.now();
    const response = await send(reportRequest(reportBody(tokens.map((token) => ({ token, url }))), key), bindings);
    const elapsed = Date.now() - started;
    expect(response.status).toBe(200);
    const labels = await json<{ label: string }[]>(response);
    expect(labels).toHaveLength(1000);
    expect(labels.flatMap((entry, i) => (entry.label === "true_positive" ? [i] : []))).toEqual([10, 500]);
    expect(elapsed).toBeLessThan(10_000);
    expect(counts.lookups).toBe(Math.ceil(candidates / 99));
    expect(counts.maxParameters).toBeLessThanOrEqual(100);
    // Lookups in one round trip, plus a handful per deletion: nowhere near one per token.
    expect(counts.roundTrips).toBeLessThan(30);
    expect((await getCredential(real[0]!.id)).status).toBe(404);
    expect((await getCredential(real[1]!.id)).status).toBe(404);
  });

  it(`more true positives than one invocation may revoke: the first ${MAX_REVOCATIONS_PER_REPORT} are deleted, the rest flagged, all labelled; under 1,000 KV operations`, async () => {
    const account = await createAccount();
    const count = MAX_REVOCATIONS_PER_REPORT + 3;
    const credentials = [];
    for (let i = 0; i < count; i++) credentials.push(await createCredential(account.id, "api_key"));
    const { counts, bindings } = countingBindings();
    const response = await send(reportRequest(reportBody(credentials.map((credential) => ({ token: credential.api_key, url: URL_OF("dump") }))), key), bindings);
    expect(response.status).toBe(200);
    const labels = await json<{ label: string }[]>(response);
    expect(labels.every((entry) => entry.label === "true_positive")).toBe(true);
    expect(counts.kv).toBeLessThan(1000);
    const states = await Promise.all(credentials.map(async (credential) => {
      const answer = await getCredential(credential.id);
      return answer.status === 404 ? "deleted" : (await json(answer)).leak_url === URL_OF("dump") ? "flagged" : "untouched";
    }));
    expect(states.filter((state) => state === "deleted")).toHaveLength(MAX_REVOCATIONS_PER_REPORT);
    expect(states.filter((state) => state === "flagged")).toHaveLength(3);
  }, 60_000);
});
