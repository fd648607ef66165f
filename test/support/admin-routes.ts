import { describe, expect, it } from "vitest";
import { call, expectError, snapshot } from "./http";

/**
 * Every admin route, with a body that would be valid. runCommonAdminRouteTests sends each one
 * the failures every admin route must answer the same way, so no route can forget them.
 * test/admin/every-route.test.ts checks this table against the app's own route list.
 */
export interface AdminRoute {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  body?: Record<string, unknown>;
}

const someId = "cred_0000000000000000000000";
export const ADMIN_ROUTES: AdminRoute[] = [
  { method: "POST", path: "/admin/v1/organizations", body: { name: "x" } },
  { method: "GET", path: "/admin/v1/organizations" },
  { method: "GET", path: `/admin/v1/organizations/${someId}` },
  { method: "PATCH", path: `/admin/v1/organizations/${someId}`, body: { name: "y" } },
  { method: "DELETE", path: `/admin/v1/organizations/${someId}` },
  { method: "POST", path: `/admin/v1/organizations/${someId}/deactivate` },
  { method: "POST", path: `/admin/v1/organizations/${someId}/activate` },
  { method: "GET", path: `/admin/v1/organizations/${someId}/usage` },
  { method: "POST", path: `/admin/v1/organizations/${someId}/console-links`, body: { email: "dana@example.com", role: "viewer" } },
  { method: "POST", path: "/admin/v1/accounts", body: { name: "x", type: "service" } },
  { method: "GET", path: "/admin/v1/accounts" },
  { method: "GET", path: `/admin/v1/accounts/${someId}` },
  { method: "PATCH", path: `/admin/v1/accounts/${someId}`, body: { name: "x" } },
  { method: "POST", path: `/admin/v1/accounts/${someId}/deactivate` },
  { method: "POST", path: `/admin/v1/accounts/${someId}/activate` },
  { method: "DELETE", path: `/admin/v1/accounts/${someId}` },
  { method: "POST", path: "/admin/v1/credentials", body: { name: "x", type: "api_key", account_id: someId } },
  { method: "GET", path: "/admin/v1/credentials" },
  { method: "GET", path: `/admin/v1/credentials/${someId}` },
  { method: "PATCH", path: `/admin/v1/credentials/${someId}`, body: { name: "y" } },
  { method: "DELETE", path: `/admin/v1/credentials/${someId}` },
  { method: "POST", path: `/admin/v1/credentials/${someId}/roll`, body: { expires_in: 0 } },
  { method: "GET", path: "/admin/v1/audit-events" },
  { method: "GET", path: `/admin/v1/credentials/${someId}/usage` },
  { method: "GET", path: `/admin/v1/accounts/${someId}/usage` },
  // An identifier that is not https: the same 400 for every caller, so callers can be compared.
  { method: "POST", path: "/admin/v1/apis", body: { name: "x", identifier: "ftp://common.example.com", scopes: [] } },
  { method: "GET", path: "/admin/v1/apis" },
  { method: "GET", path: `/admin/v1/apis/${someId}` },
  { method: "PATCH", path: `/admin/v1/apis/${someId}`, body: { name: "y" } },
  { method: "DELETE", path: `/admin/v1/apis/${someId}` },
  // A URL that is not https: the same 400 for every caller.
  { method: "POST", path: "/admin/v1/webhooks", body: { url: "ftp://hooks.example.com", events: ["*"] } },
  { method: "GET", path: "/admin/v1/webhooks" },
  { method: "GET", path: `/admin/v1/webhooks/${someId}` },
  { method: "PATCH", path: `/admin/v1/webhooks/${someId}`, body: { description: "y" } },
  { method: "DELETE", path: `/admin/v1/webhooks/${someId}` },
  { method: "POST", path: `/admin/v1/webhooks/${someId}/roll-secret`, body: { expires_in: 0 } },
  { method: "POST", path: `/admin/v1/webhooks/${someId}/test` },
  { method: "GET", path: `/admin/v1/webhooks/${someId}/deliveries` },
];

/** Extra bearer tokens that must not open admin routes (e.g. an API key), added by the caller. */
export function runCommonAdminRouteTests(routes: AdminRoute[], extraRejected: () => Promise<{ label: string; token: string; status: number; code: string }[]> = async () => []) {
  for (const route of routes) {
    describe(`${route.method} ${route.path}`, () => {
      const send = (init: Parameters<typeof call>[1]) => call(route.path, { method: route.method, body: route.body, ...init });

      it("answers 401 without credentials, and changes nothing", async () => {
        const before = await snapshot();
        const response = await send({ token: null });
        await expectError(response, 401, "unauthorized");
        expect(await snapshot()).toBe(before);
      });

      it("answers 401 to a wrong admin token", async () => {
        await expectError(await send({ token: "x".repeat(43) }), 401, "unauthorized");
      });

      it("answers 401 to an Authorization header of another scheme", async () => {
        await expectError(await send({ token: null, headers: { authorization: "Basic YWRtaW46YWRtaW4=" } }), 401, "unauthorized");
      });

      it("rejects the other credentials that are not admin ones", async () => {
        for (const rejected of await extraRejected()) {
          const response = await send({ token: rejected.token });
          await expectError(response, rejected.status, rejected.code);
        }
      });

      if (route.method === "GET") {
        it("answers 400 to an unknown query parameter", async () => {
          await expectError(await call(`${route.path}?unexpected=1`), 400, "invalid_request");
        });
      }

      if (route.body) {
        it("answers 415 to a body that is not JSON, and changes nothing", async () => {
          const before = await snapshot();
          const response = await call(route.path, {
            method: route.method,
            body: "name=x&type=service",
            headers: { "content-type": "application/x-www-form-urlencoded" },
          });
          await expectError(response, 415, "unsupported_media_type");
          expect(await snapshot()).toBe(before);
        });

        it("answers 400 to broken JSON", async () => {
          const response = await call(route.path, {
            method: route.method,
            body: '{"name": "x",',
            headers: { "content-type": "application/json" },
          });
          await expectError(response, 400, "invalid_request");
        });

        it("answers 400 to an array where an object belongs", async () => {
          await expectError(await call(route.path, { method: route.method, body: [route.body] }), 400, "invalid_request");
        });

        it("answers 413 to a body over 64 KiB", async () => {
          const response = await call(route.path, {
            method: route.method,
            body: JSON.stringify({ ...route.body, name: "x".repeat(70 * 1024) }),
            headers: { "content-type": "application/json" },
          });
          await expectError(response, 413, "payload_too_large");
        });
      }
    });
  }
}
