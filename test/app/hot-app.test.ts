import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { COMPLETE_APP_PATHS, createHotApp } from "../../src/hot-app";
import { call } from "../support/http";

/**
 * The Worker answers from two apps (src/hot-app.ts): the hot routes from a small app built at
 * start-up, everything under COMPLETE_APP_PATHS from the complete app, loaded on first use. Each
 * tells 404 from 405 by its own routes, so that is only right if no path is served by both.
 */
const routeKey = (route: { method: string; path: string }) => `${route.method} ${route.path}`;
const underCompleteApp = (path: string) =>
  COMPLETE_APP_PATHS.some((prefix) => (prefix.endsWith("/*") ? path.startsWith(prefix.slice(0, -1)) : path === prefix));

describe("the hot app and the complete app", () => {
  const complete = createApp().routes.filter((route) => route.method !== "ALL");
  const hot = createHotApp().routes.filter((route) => route.method !== "ALL");

  it("serve the same hot routes", () => {
    const hotInComplete = complete.filter((route) => !underCompleteApp(route.path)).map(routeKey);
    expect(new Set(hot.map(routeKey))).toEqual(new Set(hotInComplete));
    expect(hot.length).toBeGreaterThan(0);
  });

  it("leave every other route to the complete app", () => {
    expect(hot.filter((route) => underCompleteApp(route.path))).toEqual([]);
  });

  it("answer 404 and 405 across both", async () => {
    expect((await call("/oauth/token", { method: "GET", token: null })).headers.get("allow")).toBe("POST");
    expect((await call("/admin/v1/accounts", { method: "PUT" })).status).toBe(405);
    expect((await call("/docs", { method: "PUT", token: null })).headers.get("allow")).toBe("GET, HEAD");
    expect((await call("/nowhere", { token: null })).status).toBe(404);
  });
});
