// An issuance hook that answers at once (bench/latency/workload.mjs, "token-cold-hook"): what a
// token request with CLAIMS_HOOK costs Keymint itself, the hook's own time being zero here.
import { WorkerEntrypoint } from "cloudflare:workers";

export class InstantHook extends WorkerEntrypoint {
  claims() {
    return { claims: { tier: "gold" } };
  }
}

export default { fetch: () => new Response("called over RPC only", { status: 404 }) };
