import { defineConfig } from "vitest/config";

// Interop tests that drive a client in another language (Python authlib) against `npm run dev`.
// They are outside `npm test`, which needs nothing but Node; `npm run test:interop` runs them and
// .ci/run installs what they need first.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/interop/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
