import { FANOUT_INLINE_PAGES } from "../config";
import { publishOrganizationPage } from "./edge-entries";

/**
 * An organization-wide change (deactivation, activation, a new grant ceiling) has to reach the
 * edge entry of every credential in the organization, which may be thousands: more KV writes
 * than one Worker invocation may make. The admin request rewrites the first FANOUT_INLINE_PAGES
 * pages itself, so a small organization is done before the answer; the rest goes to the FANOUT
 * queue, a page per message, each message sending the next. Every page writes what D1 says at
 * the time it runs, so fan-outs that overlap (a deactivation, then an activation) end where D1
 * ends. A page that fails throws, and the queue delivers it again.
 */

/** A fan-out still to do: the organization's credentials after `after`, in id order. */
export interface FanoutMessage {
  organization_id: string;
  after: string | null;
}

/** Rewrites the organization's entries: the first pages now, the rest through the queue. */
export async function fanOutOrganization(env: Env, organizationId: string): Promise<void> {
  let after: string | null = null;
  for (let page = 0; page < FANOUT_INLINE_PAGES; page++) {
    after = await publishOrganizationPage(env, organizationId, after);
    if (after === null) return;
  }
  await env.FANOUT.send({ organization_id: organizationId, after } satisfies FanoutMessage);
}

/** The queue consumer: one page per message, then the next message. */
export async function applyFanout(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  for (const message of messages) {
    const { organization_id, after } = message.body as FanoutMessage;
    const next = await publishOrganizationPage(env, organization_id, after);
    if (next !== null) await env.FANOUT.send({ organization_id, after: next } satisfies FanoutMessage);
  }
}
