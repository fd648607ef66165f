import { vi } from "vitest";
import { call, json } from "./http";

/**
 * A receiver for the workers tests: outbound fetch to RECEIVER is answered here (vi.spyOn, the
 * one way to stub fetch in workerd), every request recorded, and each answer chosen by `answer`.
 * Anything else goes to the real fetch. test/node/webhooks.test.ts uses a real HTTP receiver.
 */

export const RECEIVER = "https://hooks.example.com";

export interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type Answer = (received: Received, index: number) => Response | Promise<Response>;

export function receiver(answer: Answer = () => new Response(null, { status: 204 })) {
  const received: Received[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(RECEIVER)) return real(input, init);
    const delivery = { url, headers: Object.fromEntries(new Headers(init?.headers).entries()), body: String(init?.body ?? "") };
    received.push(delivery);
    return answer(delivery, received.length - 1);
  });
  return {
    received,
    /** What reached one endpoint's URL. */
    at: (url: string) => received.filter((delivery) => delivery.url === url),
  };
}

/** A unique endpoint URL at the receiver. */
export const hookUrl = () => `${RECEIVER}/${crypto.randomUUID()}`;

/** A new endpoint, its secret included (201). */
export async function createEndpoint(body: Record<string, unknown>, token?: string) {
  const response = await call("/admin/v1/webhooks", { method: "POST", body: { url: hookUrl(), events: ["*"], ...body }, ...(token ? { token } : {}) });
  if (response.status !== 201) throw new Error(`endpoint: ${response.status} ${await response.text()}`);
  return json(response);
}

/** Waits until `done()` holds (the queue delivers in the background), up to `ms`. */
export async function until(done: () => boolean | Promise<boolean>, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for deliveries");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The events a delivery list holds, by type. */
export const typesOf = (deliveries: Received[]) => deliveries.map((delivery) => (JSON.parse(delivery.body) as { type: string }).type);
