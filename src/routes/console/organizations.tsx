import type { Context, Hono } from "hono";
import { z } from "zod";
import { MAX_BODY_BYTES } from "../../config";
import { type MetadataRow, type RowsError, metadataRows } from "../../console/metadata-editor";
import { OrganizationPage, OrganizationsPage } from "../../console/organizations";
import { ApiError } from "../../http/errors";
import { EXTERNAL_ID, NameSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import * as organizations from "../../services/organizations";
import { lastSevenDays, organizationUsage } from "../../services/usage-reports";
import { decodeCursor } from "../../storage/pagination";
import { consoleAudit, form, formProblem, searchText, strictQuery } from "./forms";
import { againMetadataRows, metadataFrom, readMetadataRows } from "./metadata-form";

/**
 * The Organizations screen, for platform admins (an organization's console has no way to it):
 * find by name or exact external ID, create, and each organization's page with its usage, the
 * way to its accounts, credentials and audit log, its metadata, and deactivate or activate.
 */

const PAGE = 50;
const ExternalId = z.string().regex(EXTERNAL_ID, "must be 1 to 255 printable ASCII characters");

const ORGANIZATION_FLASH: Record<string, string> = {
  create: "Organization created.",
  metadata: "Metadata saved. Tokens minted from now on carry it where an API's claims name it.",
};

/** One organization's page (with the metadata as typed and its error after a refused save). */
async function organizationPage(c: Context<AppEnv>, id: string, extra: { flash?: string | undefined; rows?: MetadataRow[]; error?: RowsError } = {}, status: 200 | 400 = 200) {
  const organization = await organizations.getOrganization(c.env, id);
  const usage = await organizationUsage(c.env, organization.id, lastSevenDays());
  return c.html(
    <OrganizationPage
      actor={c.get("actor")}
      organization={organization}
      usage={usage}
      metadataRows={extra.rows ?? metadataRows(organization.metadata)}
      metadataError={extra.error}
      flash={extra.flash}
    />,
    status,
  );
}

export function registerOrganizationRoutes(ui: Hono<AppEnv>) {
  // The list: the exact external ID if one matches, else names that contain the search
  ui.get("/organizations", async (c) => {
    const query = strictQuery(c, ["q", "cursor", "done"] as const);
    const q = searchText(query.q);
    let page = q === null || query.cursor ? null : await organizations.listOrganizations(c.env, { external_id: q, q: null }, 1, null);
    if (!page || page.data.length === 0) {
      const cursor = query.cursor ? decodeCursor(query.cursor) : null;
      if (query.cursor && !cursor) throw new ApiError("invalid_request", "That page link is not valid any more.");
      page = await organizations.listOrganizations(c.env, { external_id: null, q }, PAGE, cursor);
    }
    const flash = query.done === "deactivate" ? "Organization deactivated." : query.done === "activate" ? "Organization activated." : undefined;
    return c.html(<OrganizationsPage actor={c.get("actor")} organizations={page.data} next={page.next_cursor} q={q} flash={flash} />);
  });

  // Create one
  ui.post("/organizations", async (c) => {
    const body = await form(c);
    const external = (body.external_id ?? "").trim();
    const parsed = z.object({ name: NameSchema, external_id: ExternalId.optional() }).safeParse({ name: body.name, ...(external ? { external_id: external } : {}) });
    const list = async (error: string) => c.html(<OrganizationsPage actor={c.get("actor")} organizations={[]} next={null} q={null} error={error} />, 400);
    if (!parsed.success) return list(formProblem(parsed.error).message);
    try {
      const created = await organizations.createOrganization(c.env, consoleAudit(c), parsed.data);
      return c.redirect(`/console/organizations/${created.id}?done=create`, 303);
    } catch (error) {
      if (error instanceof ApiError && error.code === "conflict") return list("External ID: another organization has it.");
      throw error;
    }
  });

  // One organization: its details, usage and the way to its rows
  ui.get("/organizations/:id", async (c) => {
    const { done } = strictQuery(c, ["done"] as const);
    return organizationPage(c, c.req.param("id"), { flash: done ? ORGANIZATION_FLASH[done] : undefined });
  });

  // Replace an organization's metadata (all rows blank: none)
  ui.post("/organizations/:id/metadata", async (c) => {
    const id = c.req.param("id");
    const rows = readMetadataRows(await form(c, MAX_BODY_BYTES));
    const read = metadataFrom(rows);
    if ("error" in read) return organizationPage(c, id, { rows: againMetadataRows(rows), error: read.error }, 400);
    await organizations.updateOrganization(c.env, consoleAudit(c), id, { metadata: read.value });
    return c.redirect(`/console/organizations/${id}?done=metadata`, 303);
  });

  for (const action of ["deactivate", "activate"] as const) {
    ui.post(`/organizations/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      if (action === "deactivate") await organizations.deactivateOrganization(c.env, consoleAudit(c), id);
      else await organizations.activateOrganization(c.env, consoleAudit(c), id);
      return c.redirect(`/console/organizations?done=${action}`, 303);
    });
  }
}
