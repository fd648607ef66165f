declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** examples/resource-server, bound to this Worker's Verifier (vitest.config.ts). */
    RESOURCE_SERVER: Fetcher;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
