import { defineConfig } from "vitest/config";

// Node-side tests: they start `npm run dev` (wrangler dev) and talk to it over HTTP, as a
// developer or an OAuth library would.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/node/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
