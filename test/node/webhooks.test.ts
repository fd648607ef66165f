import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, startDevServer } from "./dev-server";

/**
 * Webhooks (contract "Webhooks") against `npm run dev`, with real receivers over HTTP: node:http
 * servers in this process on 127.0.0.1, and the README's receiver (examples/webhook-receiver)
 * as its own process. The dev server retries on a 1 s schedule (WEBHOOK_RETRY_SCHEDULE:1,1,1),
 * so a retry test takes seconds; the 10 s timeout is waited for once.
 */

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Every secret its endpoint has had: each delivery verifies with one of them. */
  secrets: string[];
  close(): Promise<void>;
}

type Answer = (request: IncomingMessage, response: ServerResponse, delivery: Delivery) => void;

const receivers: Receiver[] = [];
/** Values no delivery may carry: credentials' secrets and their SHA-256 digests, webhook secrets. */
const forbidden: string[] = [];

const ok: Answer = (_request, response) => response.writeHead(204).end();

async function startReceiver(answer: Answer = ok): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const delivery = { headers: request.headers, body: Buffer.concat(chunks).toString("utf8"), receivedAt: Date.now() };
    deliveries.push(delivery);
    answer(request, response, delivery);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    deliveries,
    secrets: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  receivers.push(receiver);
  return receiver;
}

/** Polls until `check` returns something truthy, for at most `ms`. */
async function waitFor<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const verifies = (secret: string, delivery: Delivery) => {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
};

const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** Every key of a JSON value, nested ones included. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]);
  return [];
}

interface WebhookDeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  status: "succeeded" | "failed";
  status_code: number | null;
  error: string | null;
  at: string;
  next_attempt_at: string | null;
}

describe("webhooks against npm run dev, with real receivers", { timeout: 30_000 }, () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer(["--var", "WEBHOOK_RETRY_SCHEDULE:1,1,1"]);
  });
  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await server?.stop();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? null : JSON.parse(text) };
  }

  async function ok2xx(method: string, path: string, body?: unknown): Promise<any> {
    const response = await call(method, path, body);
    expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeGreaterThanOrEqual(200);
    expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
    return response.body;
  }

  /** An endpoint for this receiver; by default subscribed to an event no test here causes, so only its test events reach it. */
  async function endpointFor(receiver: Receiver, events: string[] = ["api.deleted"]): Promise<{ id: string; secret: string }> {
    const created = await call("POST", "/webhooks", { url: receiver.url, events, description: "test/node/webhooks.test.ts" });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    receiver.secrets.push(created.body.secret);
    forbidden.push(created.body.secret);
    return { id: created.body.id, secret: created.body.secret };
  }

  const sendTest = async (endpointId: string): Promise<string> => {
    const response = await call("POST", `/webhooks/${endpointId}/test`);
    expect(response.status).toBe(202);
    return response.body.event_id as string;
  };

  const deliveriesOf = async (endpointId: string, query = ""): Promise<WebhookDeliveryRow[]> =>
    (await ok2xx("GET", `/webhooks/${endpointId}/deliveries${query}`)).data;

  it("sends an event for each change, with data.id right, and none for a change that changed nothing", async () => {
    const receiver = await startReceiver();
    const endpoint = await endpointFor(receiver, ["*"]);

    const account = await ok2xx("POST", "/accounts", { name: "Webhook events", type: "service" });
    const client = await ok2xx("POST", "/credentials", { name: "hooked client", type: "oauth_client", account_id: account.id });
    const key = await ok2xx("POST", "/credentials", { name: "hooked key", type: "api_key", account_id: account.id });
    forbidden.push(client.client_secret, key.api_key);
    await ok2xx("PATCH", `/credentials/${client.id}`, { name: "hooked client renamed" });
    const rolled = await ok2xx("POST", `/credentials/${client.id}/roll`, { expires_in: 3600 });
    forbidden.push(rolled.client_secret);
    await ok2xx("DELETE", `/credentials/${client.id}`);
    await ok2xx("POST", `/accounts/${account.id}/deactivate`);
    await ok2xx("POST", `/accounts/${account.id}/deactivate`); // already deactivated: no event
    await ok2xx("POST", `/accounts/${account.id}/activate`);
    for (const secret of [client.client_secret, key.api_key, rolled.client_secret]) forbidden.push(sha256Hex(secret));

    const expected: Record<string, string[]> = {
      "account.created": [account.id],
      "credential.created": [client.id, key.id].sort(),
      "credential.updated": [client.id],
      "credential.rolled": [client.id],
      "credential.deleted": [client.id],
      "account.deactivated": [account.id],
      "account.activated": [account.id],
    };
    // At least once, in any order: one event per distinct webhook-id.
    const byType = () => {
      const events = new Map<string, { type: string; data: { id: string; name?: string }; organization_id: string | null; timestamp: string }>();
      for (const delivery of receiver.deliveries) events.set(delivery.headers["webhook-id"] as string, JSON.parse(delivery.body));
      const types: Record<string, string[]> = {};
      for (const event of events.values()) (types[event.type] ??= []).push(event.data.id);
      for (const ids of Object.values(types)) ids.sort();
      return { events, types };
    };
    await waitFor("every event of the changes", () => Object.keys(expected).every((type) => (byType().types[type]?.length ?? 0) >= expected[type]!.length));
    await sleep(2_000); // time for a stray event (a second account.deactivated) to arrive
    const { events, types } = byType();
    expect(types).toEqual(expected);

    for (const [id, event] of events) {
      expect(id).toMatch(/^msg_/);
      expect(Object.keys(event).sort()).toEqual(["data", "organization_id", "timestamp", "type"]);
      expect(Number.isNaN(Date.parse(event.timestamp))).toBe(false);
    }
    const updated = [...events.values()].find((event) => event.type === "credential.updated")!;
    expect(updated.data.name).toBe("hooked client renamed");
    // Every delivery verifies with the endpoint's secret, and not with another.
    for (const delivery of receiver.deliveries) {
      expect(verifies(endpoint.secret, delivery)).toBe(true);
      expect(verifies(`whsec_${Buffer.alloc(32, 7).toString("base64")}`, delivery)).toBe(false);
      expect(delivery.headers["content-type"]).toMatch(/^application\/json/);
      expect(delivery.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(delivery.headers["webhook-timestamp"]) - delivery.receivedAt / 1000)).toBeLessThan(60);
    }
  });

  it("retries a failed delivery with the same webhook-id, and logs each attempt (500, 500, then 200)", async () => {
    const answered = new Map<string, number>();
    const receiver = await startReceiver((request, response) => {
      const id = request.headers["webhook-id"] as string;
      const n = (answered.get(id) ?? 0) + 1;
      answered.set(id, n);
      response.writeHead(n <= 2 ? 500 : 200).end(n <= 2 ? "try again" : "ok");
    });
    const endpoint = await endpointFor(receiver);
    const eventId = await sendTest(endpoint.id);

    await waitFor("three attempts", () => receiver.deliveries.length >= 3);
    expect(receiver.deliveries.map((delivery) => delivery.headers["webhook-id"])).toEqual([eventId, eventId, eventId]);
    for (const delivery of receiver.deliveries) {
      expect(verifies(endpoint.secret, delivery)).toBe(true);
      expect(JSON.parse(delivery.body)).toMatchObject({ type: "webhook.test", data: { endpoint: { id: endpoint.id } } });
    }
    // Each retry waited its turn of the schedule (1 s).
    expect(receiver.deliveries[1]!.receivedAt - receiver.deliveries[0]!.receivedAt).toBeGreaterThanOrEqual(900);
    expect(receiver.deliveries[2]!.receivedAt - receiver.deliveries[1]!.receivedAt).toBeGreaterThanOrEqual(900);

    const log = await waitFor("three attempts in the deliveries log", async () => {
      const rows = await deliveriesOf(endpoint.id);
      return rows.length >= 3 && rows;
    });
    const attempts = [...log].sort((a, b) => a.attempt - b.attempt);
    expect(attempts.map((row) => [row.attempt, row.status_code, row.status, row.event_id, row.event_type])).toEqual([
      [1, 500, "failed", eventId, "webhook.test"],
      [2, 500, "failed", eventId, "webhook.test"],
      [3, 200, "succeeded", eventId, "webhook.test"],
    ]);
    expect(attempts[0]!.next_attempt_at).not.toBeNull();
    expect(attempts[1]!.next_attempt_at).not.toBeNull();
    expect(attempts[2]!.next_attempt_at).toBeNull();
    expect(attempts[2]!.error).toBeNull();

    const failed = await deliveriesOf(endpoint.id, "?status=failed");
    expect(failed.map((row) => [row.attempt, row.status_code]).sort()).toEqual([
      [1, 500],
      [2, 500],
    ]);
    // Delivered: no fourth attempt.
    await sleep(1_500);
    expect(receiver.deliveries).toHaveLength(3);
  });

  it("counts a redirect as a failure, does not follow it, and retries", async () => {
    const target = await startReceiver();
    const receiver = await startReceiver((_request, response) => response.writeHead(302, { location: target.url }).end());
    const endpoint = await endpointFor(receiver);
    target.secrets.push(endpoint.secret);
    const eventId = await sendTest(endpoint.id);

    const log = await waitFor("two attempts in the deliveries log", async () => {
      const rows = await deliveriesOf(endpoint.id);
      return rows.length >= 2 && rows;
    });
    const first = log.find((row) => row.attempt === 1)!;
    expect(first).toMatchObject({ event_id: eventId, status: "failed", status_code: 302 });
    expect(first.error).toMatch(/redirect/i);
    expect(first.next_attempt_at).not.toBeNull();
    expect(log.find((row) => row.attempt === 2)).toMatchObject({ event_id: eventId, status: "failed", status_code: 302 });
    expect(receiver.deliveries.every((delivery) => delivery.headers["webhook-id"] === eventId)).toBe(true);
    expect(target.deliveries).toHaveLength(0);
  });

  it("signs with both secrets during a roll's grace, then with the new one only", async () => {
    const receiver = await startReceiver();
    const endpoint = await endpointFor(receiver);
    const rolled = await call("POST", `/webhooks/${endpoint.id}/roll-secret`, { expires_in: 3600 });
    expect(rolled.status).toBe(200);
    const second = rolled.body.secret as string;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(endpoint.secret);
    receiver.secrets.push(second);
    forbidden.push(second);
    const shown = await ok2xx("GET", `/webhooks/${endpoint.id}`);
    expect(shown).not.toHaveProperty("secret");

    const duringGrace = await sendTest(endpoint.id);
    const graceDelivery = await waitFor("the delivery during the grace", () => receiver.deliveries.find((d) => d.headers["webhook-id"] === duringGrace));
    const signatures = (graceDelivery.headers["webhook-signature"] as string).split(" ");
    expect(signatures).toHaveLength(2);
    for (const signature of signatures) expect(signature).toMatch(/^v1,/);
    expect(verifies(endpoint.secret, graceDelivery)).toBe(true);
    expect(verifies(second, graceDelivery)).toBe(true);

    const rolledAgain = await call("POST", `/webhooks/${endpoint.id}/roll-secret`, { expires_in: 0 });
    expect(rolledAgain.status).toBe(200);
    const third = rolledAgain.body.secret as string;
    receiver.secrets.push(third);
    forbidden.push(third);

    const afterGrace = await sendTest(endpoint.id);
    const delivery = await waitFor("the delivery after the grace", () => receiver.deliveries.find((d) => d.headers["webhook-id"] === afterGrace));
    expect((delivery.headers["webhook-signature"] as string).split(" ")).toHaveLength(1);
    expect(verifies(third, delivery)).toBe(true);
    expect(verifies(second, delivery)).toBe(false);
    expect(verifies(endpoint.secret, delivery)).toBe(false);
  });

  it("the README's receiver is examples/webhook-receiver/receiver.mjs, verbatim", () => {
    const readme = readFileSync("README.md", "utf8");
    const section = /^### Webhooks\n([\s\S]*?)(?=^##)/m.exec(readme)?.[1];
    expect(section, "README has a ### Webhooks section").toBeDefined();
    const block = /```js\n([\s\S]*?)```/.exec(section!)?.[1];
    expect(block).toBe(readFileSync("examples/webhook-receiver/receiver.mjs", "utf8"));
  });

  it("the README's receiver verifies a test event, logs its type, and deduplicates by webhook-id", async () => {
    const port = await freePort();
    const created = await call("POST", "/webhooks", { url: `http://127.0.0.1:${port}/`, events: ["api.deleted"] });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    forbidden.push(secret);
    let stdout = "";
    const child: ChildProcess = spawn("node", ["examples/webhook-receiver/receiver.mjs"], {
      env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stdout += chunk));
    try {
      await waitFor("the receiver to listen", () => stdout.includes("listening"), 5_000);
      const eventId = await sendTest(created.body.id);
      await waitFor("the receiver to log webhook.test", () => stdout.includes(`webhook.test ${eventId}`));
      const log = await waitFor("the delivery logged as succeeded", async () => (await deliveriesOf(created.body.id)).find((row) => row.status === "succeeded"));
      expect(log).toMatchObject({ event_id: eventId, attempt: 1, status_code: 204 });

      // A bad signature gets 400; the same webhook-id twice is acted on once.
      const body = JSON.stringify({ type: "webhook.test", timestamp: new Date().toISOString(), organization_id: null, data: {} });
      const signed = (key: string) => ({
        "content-type": "application/json",
        "webhook-id": "msg_replayed",
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": new Webhook(key).sign("msg_replayed", new Date(), body),
      });
      const wrong = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: signed(`whsec_${Buffer.alloc(32, 1).toString("base64")}`), body });
      expect(wrong.status).toBe(400);
      for (let i = 0; i < 2; i++) expect((await fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: signed(secret), body })).status).toBe(204);
      expect(stdout.split("\n").filter((line) => line.includes("msg_replayed"))).toHaveLength(1);
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("counts a receiver that never answers as a failure after 10 s", { timeout: 30_000 }, async () => {
    const receiver = await startReceiver(() => {
      // never answers
    });
    const endpoint = await endpointFor(receiver);
    const eventId = await sendTest(endpoint.id);

    const first = await waitFor(
      "the first attempt recorded",
      async () => (await deliveriesOf(endpoint.id)).find((row) => row.attempt === 1),
      20_000,
    );
    expect(first).toMatchObject({ event_id: eventId, status: "failed", status_code: null });
    expect(first.error).toMatch(/10 s/);
    expect(first.next_attempt_at).not.toBeNull();
    expect(receiver.deliveries[0]!.headers["webhook-id"]).toBe(eventId);
    // It waited the 10 s before giving up.
    expect(Date.parse(first.at) - receiver.deliveries[0]!.receivedAt).toBeGreaterThanOrEqual(9_000);
    // No more attempts: each would hold a queue batch for 10 s more.
    expect((await call("DELETE", `/webhooks/${endpoint.id}`)).status).toBe(204);
  });

  it("every delivery verifies with its endpoint's secret and carries no secret, hash or webhook secret", () => {
    const all = receivers.flatMap((receiver) => receiver.deliveries.map((delivery) => ({ receiver, delivery })));
    expect(all.length).toBeGreaterThan(10);
    expect(forbidden.length).toBeGreaterThan(8);
    for (const { receiver, delivery } of all) {
      expect(receiver.secrets.some((secret) => verifies(secret, delivery))).toBe(true);
      const text = [delivery.body, ...Object.entries(delivery.headers).map(([name, value]) => `${name}: ${value}`)].join("\n");
      for (const value of forbidden) expect(text.includes(value), `a delivery carries ${value.slice(0, 10)}…`).toBe(false);
      const keys = keysOf(JSON.parse(delivery.body));
      for (const key of keys) expect(key).not.toMatch(/^(secret|client_secret|api_key)$|secret_hash|sealed/);
    }
  });
});
