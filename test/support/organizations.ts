import { expect } from "vitest";
import { call, json } from "./http";

/** Helpers of the organization tests: unique names, and organizations and accounts made as the ADMIN_TOKEN. */

/** A label made unique (the D1 database is shared by the tests of a file). */
export const unique = (label = "org") => `${label} ${crypto.randomUUID()}`;

/** The body of a 201, failing the test with the answer otherwise. */
export async function created(response: Response) {
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

/** A new organization, with any of its fields. */
export const createOrg = async (body: Record<string, unknown> = {}) => created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("org"), ...body } }));

/** A new service account in an organization. */
export const accountIn = async (organizationId: string) =>
  created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("account"), type: "service", organization_id: organizationId } }));
