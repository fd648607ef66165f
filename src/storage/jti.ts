import type { JtiStore } from "../durable-objects/jti-store";
import { guarded } from "./guarded";

/**
 * Single-use ids in the JtiStore Durable Object (src/durable-objects/jti-store.ts), one object
 * per scope. A store that fails or does not answer in time is a StoreUnavailableError: the
 * request is refused with 503, never let through.
 */

/** True the first time `jti` is claimed in `scope`, false for a replay. */
export function claimJti(ns: DurableObjectNamespace<JtiStore>, scope: string, jti: string, expiresAt: number): Promise<boolean> {
  return guarded("jti_store", () => ns.get(ns.idFromName(scope)).claim(jti, expiresAt));
}
