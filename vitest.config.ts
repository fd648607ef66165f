import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { build } from "esbuild";
import { defineConfig } from "vitest/config";

// Tests run inside workerd with real local D1 and KV (test/support/setup.ts applies the
// migrations). The two secrets are fixed test values here, so no .dev.vars is needed.
// examples/resource-server runs beside Keymint as a second Worker bound to its Verifier
// entrypoint, exactly as its own wrangler.toml binds it; tests reach it as RESOURCE_SERVER.
const EXAMPLE_BUNDLE = ".wrangler/test/resource-server.mjs";
// examples/claims-hook runs beside Keymint too, bound as CLAIMS_HOOK exactly as wrangler.toml binds it;
// its lookup tables (KV) are the tests' CLAIMS_HOOK_TABLES. test/fixtures/claims-hook-faults is a
// hook that misbehaves on request, for the fault tests (CLAIMS_HOOK_FAULTS).
const HOOK_BUNDLE = ".wrangler/test/claims-hook.mjs";
const FAULTS_BUNDLE = ".wrangler/test/claims-hook-faults.mjs";
const HOOK_TABLES = "claims-hook-tables";
// The plugin renames the Worker under test to "vitest-plugin-runner-<project name>".
const PROJECT = "workers";
const WORKER_UNDER_TEST = `vitest-plugin-runner-${PROJECT}`;
/** The example resource server's second instance is this API (test/rpc/verifier.test.ts registers it). */
const BILLING_AUDIENCE = "https://billing.example.test";

export default defineConfig(async () => {
  const bundle = (entry: string, outfile: string) =>
    build({ entryPoints: [entry], outfile, bundle: true, format: "esm", platform: "neutral", external: ["cloudflare:workers"], logLevel: "warning" });
  await Promise.all([
    bundle("examples/resource-server/src/index.ts", EXAMPLE_BUNDLE),
    bundle("examples/claims-hook/src/index.ts", HOOK_BUNDLE),
    bundle("test/fixtures/claims-hook-faults/index.ts", FAULTS_BUNDLE),
  ]);
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ADMIN_TOKEN: "test-admin-token-0123456789abcdefghijklmnop",
            KEY_ENCRYPTION_KEY: "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM",
            // Usage goes to the queue at the end of each request, not 10 s later.
            USAGE_FLUSH_SECONDS: "0",
            TEST_MIGRATIONS: await readD1Migrations("./migrations"),
            BILLING_AUDIENCE,
            // The example hook has 2 s here: a busy CI machine must not make unrelated token tests 503.
            // test/claims/issuance-hook.test.ts tests the default 50 ms itself.
            CLAIMS_HOOK_TIMEOUT_MS: "2000",
            // Webhook retries a second apart (production: 5 s, then minutes to hours).
            WEBHOOK_RETRY_SCHEDULE: "1,1,1",
            // Never GitHub's real keys URL from a test: test/secret-scanning answers this one.
            GITHUB_SECRET_SCANNING_KEYS_URL: "https://github-keys.test/meta/public_keys/secret_scanning",
          },
          serviceBindings: {
            RESOURCE_SERVER: "keymint-example-resource-server",
            BILLING_SERVER: "keymint-example-billing-server",
            CLAIMS_HOOK_FAULTS: { name: "keymint-test-claims-hook-faults", entrypoint: "ClaimsHook" },
          },
          kvNamespaces: { CLAIMS_HOOK_TABLES: HOOK_TABLES },
          // The usage, fan-out and webhook queues (wrangler.toml), delivering batches at once:
          // production waits up to 5 s (usage) or 1 s (fan-out, webhooks) to fill a batch.
          queueConsumers: { "keymint-usage": { maxBatchTimeout: 0 }, "keymint-fanout": { maxBatchTimeout: 0 }, "keymint-webhooks": { maxBatchTimeout: 0 } },
          workers: [
            {
              name: "keymint-example-resource-server",
              modules: true,
              scriptPath: EXAMPLE_BUNDLE,
              compatibilityDate: "2026-08-01",
              serviceBindings: { KEYMINT: { name: WORKER_UNDER_TEST, entrypoint: "Verifier" } },
            },
            {
              // The same example, configured as one API among several (its AUDIENCE var set).
              name: "keymint-example-billing-server",
              modules: true,
              scriptPath: EXAMPLE_BUNDLE,
              compatibilityDate: "2026-08-01",
              bindings: { AUDIENCE: BILLING_AUDIENCE },
              serviceBindings: { KEYMINT: { name: WORKER_UNDER_TEST, entrypoint: "Verifier" } },
            },
            {
              // The name wrangler.toml's CLAIMS_HOOK binding names.
              name: "keymint-example-claims-hook",
              modules: true,
              scriptPath: HOOK_BUNDLE,
              compatibilityDate: "2026-08-01",
              kvNamespaces: { TABLES: HOOK_TABLES },
            },
            {
              name: "keymint-test-claims-hook-faults",
              modules: true,
              scriptPath: FAULTS_BUNDLE,
              compatibilityDate: "2026-08-01",
            },
          ],
        },
      }),
    ],
    test: {
      name: PROJECT,
      include: ["test/**/*.test.ts"],
      exclude: ["test/node/**", "test/interop/**", "test/browser/**"],
      setupFiles: ["./test/support/setup.ts"],
      silent: "passed-only" as const,
    },
  };
});
