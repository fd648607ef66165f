import type { Context, Hono } from "hono";
import { z } from "zod";
import { MAX_BODY_BYTES } from "../../config";
import { type ClaimRow, type RowsError, claimRows } from "../../console/metadata-editor";
import { type ApiFormError, type ApiFormValues, ApisPage, DeleteApiPage, EditApiPage } from "../../console/apis";
import { ApiError } from "../../http/errors";
import { NameSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import * as apis from "../../services/apis";
import { isDefaultApi } from "../../services/apis";
import { IdentifierSchema } from "../admin/apis";
import { consoleAudit, fieldMessage, form, refusalOf, scopesFromText, strictQuery } from "./forms";
import { allApis } from "./grants";
import { againClaimRows, hasClaimRows, readClaimRows, tokenClaimsFrom } from "./metadata-form";

/** The APIs screen: every API (the default one first), create one, edit its name, scopes and token claims, delete it. */

/** The values of the API forms, as typed. */
function apiValues(body: Record<string, string | undefined>): ApiFormValues {
  return { name: (body.name ?? "").slice(0, 200), identifier: (body.identifier ?? "").slice(0, 2100), scopes: (body.scopes ?? "").slice(0, 4000) };
}

const API_FIELD_LABELS: Record<string, string> = { name: "Name", identifier: "Identifier", scopes: "Scopes" };

function apiProblem(error: z.ZodError): ApiFormError {
  const issue = error.issues[0];
  const field = (["name", "identifier", "scopes"] as const).find((name) => name === issue?.path[0]) ?? "form";
  return { field, message: `${API_FIELD_LABELS[field] ?? "Form"}: ${issue?.message ?? "invalid"}.` };
}

const API_FLASH: Record<string, string> = {
  created: "API created. Give credentials access to it on their pages.",
  updated: "API saved.",
  deleted: "API deleted. Its grants are gone and its tokens no longer work.",
};

async function apisPage(c: Context<AppEnv>, extra: { flash?: string; error?: ApiFormError; values?: ApiFormValues } = {}, status: 200 | 400 | 409 = 200) {
  const { list, complete } = await allApis(c.env);
  return c.html(
    <ApisPage
      actor={c.get("actor")}
      apis={list}
      complete={complete}
      values={extra.values ?? { name: "", identifier: "", scopes: "" }}
      flash={extra.flash}
      error={extra.error}
    />,
    status,
  );
}

export function registerApiRoutes(ui: Hono<AppEnv>) {
  // The APIs screen: every API (the default one first) and the form to create one
  ui.get("/apis", async (c) => {
    const { done } = strictQuery(c, ["done"] as const);
    return apisPage(c, done && API_FLASH[done] ? { flash: API_FLASH[done] } : {});
  });

  // Create an API
  ui.post("/apis", async (c) => {
    const body = await form(c);
    const values = apiValues(body);
    const parsed = z.object({ name: NameSchema, identifier: IdentifierSchema }).safeParse({ ...body, identifier: values.identifier.trim() });
    if (!parsed.success) return apisPage(c, { values, error: apiProblem(parsed.error) }, 400);
    const scopes = scopesFromText(values.scopes);
    if ("message" in scopes) return apisPage(c, { values, error: { field: "scopes", message: scopes.message } }, 400);
    try {
      await apis.createApi(c.env, consoleAudit(c), { ...parsed.data, scopes: scopes.scopes });
    } catch (error) {
      // The identifier is taken (by another API, or the default one).
      const taken = refusalOf(error, "identifier");
      if (!taken) throw error;
      return apisPage(c, { values, error: { field: "identifier", message: fieldMessage("Identifier", taken) } }, 409);
    }
    return c.redirect("/console/apis?done=created", 303);
  });

  // Form to rename an API and change its scopes (the default API: its name only)
  ui.get("/apis/:id/edit", async (c) => {
    strictQuery(c, []);
    const api = await apis.getApi(c.env, c.req.param("id"));
    return c.html(
      <EditApiPage actor={c.get("actor")} api={api} values={{ name: api.name, identifier: api.identifier, scopes: (api.scopes ?? []).join(" ") }} claimRows={claimRows(api.token_claims)} />,
    );
  });

  // Save an API's name, scopes and token claims
  ui.post("/apis/:id", async (c) => {
    const body = await form(c, MAX_BODY_BYTES);
    const api = await apis.getApi(c.env, c.req.param("id"));
    const values = { ...apiValues(body), identifier: api.identifier };
    // A form without the claims editor leaves the claims alone.
    const typedClaims: ClaimRow[] | null = hasClaimRows(body) ? readClaimRows(body) : null;
    const shownClaims = typedClaims === null ? claimRows(api.token_claims) : againClaimRows(typedClaims);
    const again = (error: ApiFormError | undefined, claimsError?: RowsError) =>
      c.html(<EditApiPage actor={c.get("actor")} api={api} values={values} error={error} claimRows={shownClaims} claimsError={claimsError} />, 400);
    const name = NameSchema.safeParse(body.name ?? "");
    if (!name.success) return again({ field: "name", message: `Name: ${name.error.issues[0]?.message ?? "invalid"}.` });
    let scopes: string[] | undefined;
    // The default API's form has no scopes; a scopes field sent for it is refused by the service.
    if (body.scopes !== undefined) {
      const typed = scopesFromText(values.scopes);
      if ("message" in typed) return again({ field: "scopes", message: typed.message });
      scopes = typed.scopes;
    }
    const claims = typedClaims === null ? null : tokenClaimsFrom(typedClaims);
    if (claims && "error" in claims) return again(undefined, claims.error);
    await apis.updateApi(c.env, consoleAudit(c), api.id, { name: name.data, scopes, token_claims: claims ? claims.value : undefined });
    return c.redirect("/console/apis?done=updated", 303);
  });

  // Confirm deleting an API: how many credentials lose access
  ui.get("/apis/:id/delete", async (c) => {
    strictQuery(c, []);
    const api = await apis.getApi(c.env, c.req.param("id"));
    if (isDefaultApi(api.id)) throw new ApiError("invalid_request", "The default API cannot be deleted.");
    return c.html(<DeleteApiPage actor={c.get("actor")} api={api} grantCount={await apis.grantCount(c.env, api.id)} />);
  });

  // Delete an API: its grants go, its tokens stop working
  ui.post("/apis/:id/delete", async (c) => {
    await form(c);
    await apis.deleteApi(c.env, consoleAudit(c), c.req.param("id"));
    return c.redirect("/console/apis?done=deleted", 303);
  });
}
