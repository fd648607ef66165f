import { defineConfig } from "vitest/config";

// Browser tests: they start `npm run dev` (wrangler dev) and drive the console in headless
// Chromium (playwright-core with the system's chromium; see test/browser/browser.ts).
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
