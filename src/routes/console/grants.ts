import { MAX_GRANTS } from "../../config";
import { type AccessError, type GrantSelection, emptySelection } from "../../console/apis";
import { ApiError } from "../../http/errors";
import * as apis from "../../services/apis";
import { isDefaultApi } from "../../services/apis";
import type * as credentials from "../../services/credentials";
import { scopesFromText } from "./forms";

/**
 * The APIs the console offers, and the grant editor's fields (the create form and a credential's
 * page): read from a form or a credential, and checked against the APIs as they are now.
 */

/** The console lists and offers at most this many APIs (one D1 read). */
const MAX_CONSOLE_APIS = 1000;

/**
 * Every API, default first, then the others by name; `complete` is false past MAX_CONSOLE_APIS,
 * and then grants cannot be edited here (an API the form did not show would lose its grant).
 */
export async function allApis(env: Env): Promise<{ list: apis.Api[]; complete: boolean }> {
  const page = await apis.listApis(env, MAX_CONSOLE_APIS, null);
  const others = page.data.filter((api) => !isDefaultApi(api.id)).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { list: [...page.data.filter((api) => isDefaultApi(api.id)), ...others], complete: page.next_cursor === null };
}

export const incompleteApis = () =>
  new ApiError("invalid_request", `There are more than ${MAX_CONSOLE_APIS} APIs, more than this page can show: set grants through the admin API.`);

/** Grant checkboxes: `s.<api id>.<scope>` for a scope, `a.<api id>` for access with no scope. */
const GRANT_SCOPE_FIELD = /^s\.(api_[0-9A-Za-z]{1,40})\.([\s\S]{1,200})$/;
const GRANT_ACCESS_FIELD = /^a\.(api_[0-9A-Za-z]{1,40})$/;
export const isGrantField = (name: string) => GRANT_SCOPE_FIELD.test(name) || GRANT_ACCESS_FIELD.test(name);

/** What the grant editor sent (or a query carried): the default API's scopes text and the boxes checked. */
export function readSelection(fields: Record<string, string | undefined>): GrantSelection {
  const selection = emptySelection();
  selection.scopes = (fields.scopes ?? "").slice(0, 4000);
  for (const name of Object.keys(fields)) {
    const scope = GRANT_SCOPE_FIELD.exec(name);
    if (scope) {
      const picked = selection.picked.get(scope[1]!) ?? new Set<string>();
      picked.add(scope[2]!);
      selection.picked.set(scope[1]!, picked);
    }
    const access = GRANT_ACCESS_FIELD.exec(name);
    if (access) selection.access.add(access[1]!);
  }
  return selection;
}

/** A credential's scopes and grants as the grant editor shows them. */
export function selectionOf(credential: credentials.Credential, list: apis.Api[]): GrantSelection {
  const selection = emptySelection();
  selection.scopes = credential.scopes.join(" ");
  for (const grant of credential.grants) {
    const api = list.find((candidate) => !isDefaultApi(candidate.id) && candidate.identifier === grant.api);
    if (!api) continue;
    if (grant.scopes.length === 0) selection.access.add(api.id);
    else selection.picked.set(api.id, new Set(grant.scopes));
  }
  return selection;
}

/**
 * The scopes and grants a selection asks for, checked against the APIs as they are now: an API
 * becomes a grant when one of its scopes is checked, or "grant access" is (an API with no scopes).
 */
export function accessFrom(selection: GrantSelection, list: apis.Api[]): { scopes: string[]; grants: credentials.GrantInput[] } | AccessError {
  const scopes = scopesFromText(selection.scopes);
  if ("message" in scopes) return { field: "scopes", message: scopes.message };
  const grants: credentials.GrantInput[] = [];
  for (const id of new Set([...selection.picked.keys(), ...selection.access])) {
    const api = list.find((candidate) => candidate.id === id && !isDefaultApi(candidate.id));
    if (!api) return { field: "grants", message: "An API in this form no longer exists: it was deleted meanwhile. Check the APIs below and save again." };
    const declared = api.scopes ?? [];
    const picked = selection.picked.get(id) ?? new Set<string>();
    const undeclared = [...picked].filter((scope) => !declared.includes(scope));
    if (undeclared.length) {
      return { field: `api:${id}`, message: `${api.name} no longer declares ${undeclared.join(" ").slice(0, 200)}. Check its scopes below and save again.` };
    }
    grants.push({ api: api.identifier, scopes: declared.filter((scope) => picked.has(scope)) });
  }
  if (grants.length > MAX_GRANTS) return { field: "grants", message: `A credential can have grants on at most ${MAX_GRANTS} APIs besides the default one.` };
  return { scopes: scopes.scopes, grants };
}

/** A grant the service refused (the APIs changed between the check above and the write), for the grant editor. */
export const grantsChanged = (refusal: ApiError): AccessError => ({
  field: "grants",
  message: `The APIs changed meanwhile: ${refusal.description} Check the grants below and save again.`,
});
