declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** examples/resource-server, bound to this Worker's Verifier (vitest.config.ts). */
    RESOURCE_SERVER: Fetcher;
    /** The example resource server configured as one API (its AUDIENCE var set to BILLING_AUDIENCE). */
    BILLING_SERVER: Fetcher;
    BILLING_AUDIENCE: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
