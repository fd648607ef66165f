/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { collectFamilies } from "./runner";

/**
 * The hostile-input table as a whole, across its route-family files: it is big enough to cover
 * every route, and no two rows share a name (a row's name is how a failure is found). The family
 * files are loaded in collecting mode, so their rows are read here, not run.
 */

const families = await collectFamilies(() => Promise.all(Object.values(import.meta.glob(["./*.test.ts", "!./table.test.ts"])).map((load) => load())));
const ALL_CASES = families.flatMap(({ groups }) => groups.flatMap(([, cases]) => cases));

describe("the hostile-input table", () => {
  it("has at least 150 cases, each with a unique name", () => {
    expect(ALL_CASES.length).toBeGreaterThanOrEqual(150);
    expect(new Set(ALL_CASES.map((c) => c.name)).size).toBe(ALL_CASES.length);
  });
});
