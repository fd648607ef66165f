import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GITHUB_KEYS_KEY } from "../../src/storage/github-keys";
import { KEYS_URL, type SigningKey, reportBody, reportRequest, send, signingKey } from "../support/github";
import { createAccount, createCredential, sha256Hex } from "../support/http";
import { RECEIVER, type Received, createEndpoint, typesOf, until } from "../support/webhooks";

// Deliveries go through the queue, retries a second apart: a busy machine needs more than 5 s.
vi.setConfig({ testTimeout: 30_000 });

/**
 * Changes Keymint makes by itself send their events too (contract "Webhooks"): a secret
 * scanner's report, whether LEAKED_SECRET_ACTION revokes (credential.leaked, then
 * credential.deleted) or flags (credential.leaked); a repeated report sends nothing new.
 */

let key: SigningKey;
let received: Received[];

beforeEach(async () => {
  key = signingKey();
  received = [];
  await env.REVOCATIONS.delete(GITHUB_KEYS_KEY);
  // One stub for both sides: GitHub's keys URL, and the webhook receiver.
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === KEYS_URL) return Response.json({ public_keys: [{ key_identifier: key.id, key: key.pem, is_current: true }] });
    if (url.startsWith(RECEIVER)) {
      received.push({ url, headers: Object.fromEntries(new Headers(init?.headers).entries()), body: String(init?.body ?? "") });
      return new Response(null, { status: 204 });
    }
    return real(input, init);
  });
});
afterEach(() => vi.restoreAllMocks());

const LEAK_URL = "https://github.com/octo-org/app/blob/4b825dc/.env";
const at = (url: string) => received.filter((delivery) => delivery.url === url);

describe("a secret scanner's report", () => {
  it("revoke: credential.leaked with where it was found, and credential.deleted; never the secret", async () => {
    const endpoint = await createEndpoint({ events: ["credential.leaked", "credential.deleted"] });
    const account = await createAccount();
    const apiKey = await createCredential(account.id, "api_key");
    expect((await send(reportRequest(reportBody([{ token: apiKey.api_key, url: LEAK_URL }]), key))).status).toBe(200);
    await until(() => at(endpoint.url).length >= 2);
    expect(typesOf(at(endpoint.url)).sort()).toEqual(["credential.deleted", "credential.leaked"]);
    const leaked = JSON.parse(at(endpoint.url).find((delivery) => typesOf([delivery])[0] === "credential.leaked")!.body);
    expect(leaked).toMatchObject({ organization_id: "org_default", data: { id: apiKey.id, leak_url: LEAK_URL } });
    for (const delivery of at(endpoint.url)) {
      expect(JSON.stringify(delivery)).not.toContain(apiKey.api_key);
      expect(JSON.stringify(delivery)).not.toContain(await sha256Hex(apiKey.api_key));
    }
  });

  it("flag: credential.leaked with leaked_at and leak_url set; the same report again sends nothing", async () => {
    const endpoint = await createEndpoint({ events: ["credential.leaked"] });
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const flagging = { ...env, LEAKED_SECRET_ACTION: "flag" } as Env;
    const body = reportBody([{ token: client.client_secret, url: LEAK_URL }]);
    expect((await send(reportRequest(body, key), flagging)).status).toBe(200);
    await until(() => at(endpoint.url).length >= 1);
    expect(JSON.parse(at(endpoint.url)[0]!.body)).toMatchObject({ type: "credential.leaked", data: { id: client.id, leak_url: LEAK_URL, client_id: client.client_id } });
    expect(JSON.parse(at(endpoint.url)[0]!.body).data.leaked_at).toMatch(/^20/);
    expect((await send(reportRequest(body, key), flagging)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(at(endpoint.url)).toHaveLength(1);
  });
});
