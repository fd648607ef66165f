import { settings } from "../config";
import { DEFAULT_API_ID, grantScopes } from "../storage/apis";
import type { ApiEntry, LiveEntry } from "../storage/edge-entries";
import { healCredential } from "./credential-lookup";
import type { Deferrer } from "./deferrer";

/**
 * Which API a token is for, and what the credential may ask of it (RFC 8707). The default API
 * (no `resource`, or ACCESS_TOKEN_AUDIENCE) takes the credential's own `scopes`; any other API
 * takes the credential's grant on it, trimmed to what the API still declares. Everything comes
 * from the two entries the token path read in one bulk KV read (the credential's and the API's).
 */

/** A grant as the contract shows it: the API's identifier and the scopes granted on it. */
export interface Grant {
  api: string;
  scopes: string[];
}

/** The audience and the most a token for it may carry, or null: not an API this credential may use. */
export type Target = { aud: string; scopes: string[] } | null;

/** Whether an identifier (a `resource`, `audience` or `aud`) names the default API; none named does too. */
export function namesDefaultApi(env: Env, identifier: string | undefined): boolean {
  return identifier === undefined || identifier === settings(env).audience;
}

/**
 * What the organization's grant ceiling leaves of a grant on an API (by id): all of it without a
 * ceiling; on the default API, all of it unless the ceiling names it; elsewhere, nothing unless
 * the ceiling names the API, and then only the scopes both have (contract, "Organizations").
 */
export function underCeiling(entry: LiveEntry, apiId: string, scopes: string[]): string[] | null {
  if (!entry.ceiling) return scopes;
  const cap = entry.ceiling.find((grant) => grant.api_id === apiId);
  if (!cap) return apiId === DEFAULT_API_ID ? scopes : null;
  return scopes.filter((scope) => cap.scopes.includes(scope));
}

/** The credential's grants under its organization's ceiling, the default API's first, as test-auth shows them. */
export function grantsShown(env: Env, entry: LiveEntry): Grant[] {
  const grants = [{ api_id: DEFAULT_API_ID, api: settings(env).audience, scopes: entry.scopes }, ...(entry.grants ?? []).map((grant) => ({ api_id: grant.api_id, api: grant.identifier, scopes: grant.scopes }))];
  return grants.flatMap(({ api_id, api, scopes }) => {
    const allowed = underCeiling(entry, api_id, scopes);
    return allowed === null ? [] : [{ api, scopes: allowed }];
  });
}

/**
 * The target for `resource`. `api` is the API's entry read with the credential's (null when none
 * has that identifier). A grant written before the API last changed is stale: it is read again
 * from D1 (a miss, bounded by how often APIs change) and the entry is published in the background.
 */
export async function targetFor(env: Env, ctx: Deferrer | undefined, entry: LiveEntry, resource: string | undefined, api: ApiEntry | null): Promise<Target> {
  if (namesDefaultApi(env, resource)) return { aud: settings(env).audience, scopes: underCeiling(entry, DEFAULT_API_ID, entry.scopes)! };
  if (!api) return null;
  const grant = entry.grants?.find((candidate) => candidate.api_id === api.id);
  let scopes = grant?.scopes;
  if (grant && grant.api_updated_at !== api.updated_at) {
    scopes = await grantScopes(env.DB, entry.id, api.id);
    healCredential(env, ctx, entry.id);
  }
  if (scopes === undefined) return null;
  const declared = api.scopes ?? [];
  const allowed = underCeiling(entry, api.id, scopes.filter((scope) => declared.includes(scope)));
  return allowed === null ? null : { aud: api.identifier, scopes: allowed };
}
