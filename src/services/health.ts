import { ping } from "../storage/d1";
import { readMarkers } from "../storage/revocation-markers";

/** Throws StoreUnavailableError (so the route answers 503) unless D1 and KV both answer. */
export async function checkStores(env: Env): Promise<void> {
  await Promise.all([ping(env.DB), readMarkers(env.REVOCATIONS, ["healthz"])]);
}
