import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Tests run inside workerd with real local D1 and KV (test/support/setup.ts applies the
// migrations). The two secrets are fixed test values here, so no .dev.vars is needed.
export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: "test-admin-token-0123456789abcdefghijklmnop",
          KEY_ENCRYPTION_KEY: "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM",
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/node/**", "test/browser/**"],
    setupFiles: ["./test/support/setup.ts"],
  },
}));
