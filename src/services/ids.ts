import { randomBase62 } from "./secrets";

/** Ids are a type prefix and 22 random base62 characters (131 bits): `acct_…`, `cred_…`, `api_…`, `org_…`. */
/** Accounts, credentials, APIs, organizations, webhook endpoints, webhook events (each delivery's webhook-id) and delivery attempts. */
export type IdPrefix = "acct" | "cred" | "api" | "org" | "wh" | "msg" | "whd";

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(22)}`;
}

/** The current time as the RFC 3339 UTC string stored everywhere. */
export function nowIso(now = Date.now()): string {
  return new Date(now).toISOString();
}
