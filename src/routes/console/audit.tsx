import type { Hono } from "hono";
import { MAX_ID_LENGTH } from "../../config";
import { AuditPage } from "../../console/audit";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import * as search from "../../services/search";
import { listedOrganization, pageRequest, strictQuery } from "./forms";

/** The audit log screen: every change, newest first, optionally of one target. */

export function registerAuditRoutes(ui: Hono<AppEnv>) {
  // The audit log
  ui.get("/audit", async (c) => {
    const query = strictQuery(c, ["target_id", "organization_id", "cursor", "before"] as const);
    const organization = listedOrganization(c, query.organization_id);
    const target = (query.target_id ?? "").trim();
    if (target.length > MAX_ID_LENGTH) throw new ApiError("invalid_request", `A target ID is at most ${MAX_ID_LENGTH} characters.`);
    const page = await search.findAuditEvents(c.env, target || null, pageRequest(query), organization);
    const shown = c.get("adminOrganization") === null ? organization : null;
    return c.html(<AuditPage actor={c.get("actor")} page={page} target={target} organization={shown} />);
  });
}
