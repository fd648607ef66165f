import { WorkerEntrypoint } from "cloudflare:workers";

// The hook contract, as this Worker uses it. Keymint's src has the authoritative type (ClaimsHookInput).
type Metadata = Record<string, string | number | boolean>;
interface ClaimsHookInput {
  organization: { id: string; name: string; external_id: string | null; metadata: Metadata | null };
  account: { id: string; name: string; type: "service" | "user"; organization_id: string; metadata: Metadata | null };
  credential: { id: string; name: string; type: "oauth_client"; account_id: string; client_id: string; scopes: string[]; metadata: Metadata | null; expires_at: string | null };
  api: { id: string; name: string; identifier: string; scopes: string[] | null };
  /** The scopes the token will carry. */
  scopes: string[];
}
type ClaimsHookAnswer = { claims?: Record<string, string | number | boolean> } | { deny: string };

interface Env {
  /** Lookup tables, edited with `wrangler kv key put` (no redeploy):
   *  plan:<organization external_id or id> → plan name; blocked:<client_id> → reason. */
  TABLES: KVNamespace;
}

/**
 * Keymint's issuance hook: bound as CLAIMS_HOOK (entrypoint "ClaimsHook"), called once per token
 * request after the client has authenticated. Keymint waits CLAIMS_HOOK_TIMEOUT_MS (default 50),
 * so this does exactly one KV round trip.
 */
export class ClaimsHook extends WorkerEntrypoint<Env> {
  async claims(input: ClaimsHookInput): Promise<ClaimsHookAnswer> {
    const org = input.organization;
    // Candidate plan keys, best first: the provider's own customer id, then Keymint's organization id.
    const planKeys = [...new Set([org.external_id, org.id].filter((id): id is string => !!id))].map((id) => `plan:${id}`);
    const blockedKey = `blocked:${input.credential.client_id}`;

    // One bulk read for every key (a Map of key → value or null), never one read after another.
    const rows = await this.env.TABLES.get([blockedKey, ...planKeys]);

    // A blocked client gets no token: Keymint answers 400 access_denied with this reason.
    const blocked = rows.get(blockedKey);
    if (blocked != null) return { deny: blocked.trim() || "client blocked" };

    const plan = planKeys.map((key) => rows.get(key)).find((value) => value != null && value !== "");
    // Keymint merges these over the mapped claims and checks them (names, reserved names, 1,024 bytes).
    return plan ? { claims: { plan } } : {};
  }
}

// Keymint calls this Worker over RPC only; there is nothing to serve over HTTP.
export default {
  fetch: () => new Response("keymint-example-claims-hook is called by Keymint over RPC (ClaimsHook.claims)\n", { status: 404 }),
} satisfies ExportedHandler<Env>;
