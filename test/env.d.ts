declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** examples/resource-server, bound to this Worker's Verifier (vitest.config.ts). */
    RESOURCE_SERVER: Fetcher;
    /** The example resource server configured as one API (its AUDIENCE var set to BILLING_AUDIENCE). */
    BILLING_SERVER: Fetcher;
    BILLING_AUDIENCE: string;
    /** examples/claims-hook's lookup tables (its TABLES KV namespace). */
    CLAIMS_HOOK_TABLES: KVNamespace;
    /** test/fixtures/claims-hook-faults: a hook that misbehaves as the credential's metadata `hook` asks. */
    CLAIMS_HOOK_FAULTS: Service;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
