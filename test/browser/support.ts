import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { type Browser, type Page, chromium } from "playwright-core";
import type { DevServer } from "../node/dev-server";

/** What the browser tests share: Debian's Chromium, the screenshots' folder, axe-core, and the dev server's admin API and local D1. */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// The README's screenshots are refreshed only on request (UPDATE_SCREENSHOTS=1), so an
// ordinary run leaves the work tree clean.
export const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? "docs/screenshots" : mkdtempSync(join(tmpdir(), "keymint-shots-"));

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** The dev server's admin API: GET without a body, POST with one; any status from 300 up fails the test. */
export function adminApi(server: DevServer) {
  return async (path: string, body?: unknown) => {
    const response = await fetch(`${server.url}/admin/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status, path).toBeLessThan(300);
    return response.json() as Promise<any>;
  };
}

/** SQL straight into the dev server's local D1 (states no API sets: a leak, a past expiry, past usage). */
export function localSql(server: DevServer, command: string): void {
  const result = spawnSync("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", server.persist, "--command", command], {
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
  });
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
}

interface Violation {
  id: string;
  impact: string | null;
  nodes: { target: string[] }[];
}

/** Sideways overflow and axe-core violations of the page as it is now: none of either. */
export async function checkPage(page: Page, label: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: (globalThis as any).document.documentElement.scrollWidth as number,
    innerWidth: (globalThis as any).innerWidth as number,
  }));
  expect(scrollWidth, `${label}: page is ${scrollWidth} px wide in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
  // Injected through the DevTools protocol, so the console's CSP (script-src 'self') stays on.
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] });
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n: any) => ({ target: n.target })) }));
  })) as Violation[];
  expect(violations, `${label}: axe-core violations`).toEqual([]);
}
