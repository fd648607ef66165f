import type { Context } from "hono";
import type { z } from "zod";
import { MAX_ALLOWED_IPS, MAX_ID_LENGTH } from "../../config";
import type { FormError } from "../../console/credential-new";
import { fromDateTimeInput } from "../../console/lifecycle";
import { ApiError } from "../../http/errors";
import { readForm } from "../../http/form";
import { ScopesSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import { cidrProblem } from "../../lib/cidr";
import { jwksProblem } from "../../lib/client-jwks";
import type { Credential } from "../../services/credentials";
import type * as search from "../../services/search";
import type { AuditContext } from "../../storage/audit-events";
import { decodeCursor } from "../../storage/pagination";

/**
 * What every console screen reads its requests with: forms and list queries (strictly), the
 * list to return to, and the fields typed as text (expiry, allowlist, JWK Set, scopes), checked
 * by the rules the API applies; and a service's refusal of one field, in words for that field.
 */

/** The one-time value of a create or roll form, which makes sending it twice harmless. */
export const NONCE = /^[0-9A-Za-z]{32}$/;

/** Rows per list page. */
export const PAGE_SIZE = 50;
/** Longest search text accepted (a name is at most MAX_NAME_LENGTH characters; ids are shorter). */
export const MAX_SEARCH = 200;

/**
 * A console form, read as strictly as the OAuth forms: valid UTF-8, no field twice. Forms with
 * grant checkboxes (one field per checked scope) may be as large as any request body.
 */
export async function form(c: Context<AppEnv>, maxBytes?: number): Promise<Record<string, string>> {
  return Object.fromEntries(await readForm(c, maxBytes));
}

/** Who is acting in the console, for the audit log: channel "console". */
export function consoleAudit(c: Context<AppEnv>): AuditContext {
  return { actor: c.get("actor"), channel: "console", ip: c.req.header("cf-connecting-ip") ?? null };
}

const FIELD_LABELS: Record<string, string> = { name: "Name", type: "Type", account_id: "Account", nonce: "Form" };

/** The first problem of a failed form, in words for a person, and the field it is about. */
export function formProblem(error: z.ZodError): FormError {
  const issue = error.issues[0];
  const field = String(issue?.path[0] ?? "form");
  const known = (["name", "type", "account_id"] as const).find((name) => name === field);
  return { field: known ?? "form", message: `${FIELD_LABELS[field] ?? "Form"}: ${issue?.message ?? "invalid"}.` };
}

/**
 * A list page's query, strictly: a parameter the page does not know, or one given twice, is a
 * 400 (an unknown filter must not silently show everything).
 */
export function strictQuery<K extends string>(c: Context<AppEnv>, allowed: readonly K[]): Partial<Record<K, string>> {
  const all = c.req.queries();
  const out: Partial<Record<K, string>> = {};
  for (const [key, values] of Object.entries(all)) {
    if (!(allowed as readonly string[]).includes(key)) throw new ApiError("invalid_request", `Unknown parameter "${key.slice(0, 40)}".`);
    if (values.length > 1) throw new ApiError("invalid_request", `The parameter "${key}" is given more than once.`);
    out[key as K] = values[0]!;
  }
  return out;
}

/** One of `choices`, nothing (empty), or a 400 naming the choices. */
export function oneOf<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T | null {
  if (!value) return null;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new ApiError("invalid_request", `${name} must be one of: ${choices.join(", ")}.`);
}

/**
 * The organization a console list shows: an organization's console its own, whatever is asked;
 * a platform admin's the `organization_id` asked for (an id, or nothing: every organization).
 */
export function listedOrganization(c: Context<AppEnv>, requested: string | undefined): string | null {
  const own = c.get("adminOrganization");
  if (own !== null) return own;
  const id = (requested ?? "").trim();
  if (id.length > MAX_ID_LENGTH) throw new ApiError("invalid_request", `An organization ID is at most ${MAX_ID_LENGTH} characters.`);
  return id || null;
}

export function searchText(value: string | undefined): string | null {
  const text = (value ?? "").trim();
  if (text.length > MAX_SEARCH) throw new ApiError("invalid_request", `Search for at most ${MAX_SEARCH} characters.`);
  return text || null;
}

/** Where a list page starts: `cursor` (older than) or `before` (newer than), never both. */
export function pageRequest(query: { cursor?: string | undefined; before?: string | undefined }, limit = PAGE_SIZE): search.PageRequest {
  if (query.cursor && query.before) throw new ApiError("invalid_request", "Give cursor or before, not both.");
  const raw = query.cursor ?? query.before;
  if (!raw) return { limit, from: null };
  const position = decodeCursor(raw);
  if (!position) throw new ApiError("invalid_request", "This page link is broken: its cursor is not one Keymint issued.");
  return { limit, from: { position, direction: query.cursor ? "older" : "newer" } };
}

/**
 * The list a page came from (its filters and page), carried through confirmations as `back` so
 * that Cancel and the redirect after an action return to it. Only the list's own parameters
 * survive, re-encoded: it is never a URL, so it cannot send anyone elsewhere.
 */
export function sanitizeBack(raw: string | undefined, keys: readonly string[]): string {
  if (!raw || raw.length > 1000) return "";
  const kept = new URLSearchParams();
  for (const [key, value] of new URLSearchParams(raw)) if (keys.includes(key) && value && !kept.has(key)) kept.set(key, value.slice(0, MAX_SEARCH));
  return kept.toString();
}

/** A list's address with the `done` that makes it say what just happened. */
export const andDone = (href: string, done: string) => `${href}${href.includes("?") ? "&" : "?"}done=${done}`;

// ---- lifecycle fields: expiry, allowlist, private_key_jwt keys --------------------------------

/** An expiry typed in the console (UTC), or the message for its field. */
export function expiryFrom(text: string): { value: string | null } | { message: string } {
  const read = fromDateTimeInput(text);
  return "problem" in read ? { message: `Expires at: ${read.problem}.` } : read;
}

/** The allowlist typed one CIDR per line: null (anywhere) when empty, else each checked as the API checks it. */
export function allowlistFrom(text: string): { value: string[] | null } | { message: string } {
  const lines = [...new Set(text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean))];
  if (lines.length === 0) return { value: null };
  if (lines.length > MAX_ALLOWED_IPS) return { message: `IP allowlist: at most ${MAX_ALLOWED_IPS} CIDRs (there are ${lines.length}).` };
  for (const line of lines) {
    const problem = cidrProblem(line);
    if (problem) return { message: `IP allowlist: "${line.slice(0, 70)}" ${problem}.` };
  }
  return { value: lines };
}

/** A pasted JWK Set, checked by the rules the API applies (jwksProblem), or the message for its field. */
export function jwksFrom(text: string): { value: { keys: Record<string, unknown>[] } } | { message: string } {
  if (!text.trim()) return { message: 'JWK Set: paste {"keys": [...]} with the client\'s public keys.' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { message: "JWK Set: this is not valid JSON." };
  }
  const problem = jwksProblem(parsed);
  if (problem) return { message: `JWK Set: ${problem}.` };
  return { value: parsed as { keys: Record<string, unknown>[] } };
}

/** A JWK Set as the form shows it back. */
export const jwksText = (jwks: Credential["jwks"]) => (jwks ? JSON.stringify(jwks, null, 2) : "");

/** Scopes typed as text: separated by spaces or commas; a repeat is dropped, anything else is checked as the API checks it. */
export function scopesFromText(text: string): { scopes: string[] } | { message: string } {
  const words = [...new Set(text.split(/[\s,]+/).filter(Boolean))];
  const parsed = ScopesSchema.safeParse(words);
  if (parsed.success) return { scopes: parsed.data };
  const issue = parsed.error.issues[0];
  const word = typeof issue?.path[0] === "number" ? words[issue.path[0]] : undefined;
  return { message: `Scopes: ${word === undefined ? "" : `"${word.slice(0, 70)}": `}${issue?.message ?? "invalid"}.` };
}

// ---- a service's refusal of one field ---------------------------------------------------------

/** The service refused the value of this field (ApiError.field): the form shows it there, not an error page. */
export function refusalOf(error: unknown, field: string): ApiError | null {
  return error instanceof ApiError && error.field === field ? error : null;
}

/** A refusal in words for its field: the field's label, then the description without the field's own name. */
export function fieldMessage(label: string, refusal: ApiError): string {
  const named = `${refusal.field} `;
  return `${label}: ${refusal.description.startsWith(named) ? refusal.description.slice(named.length) : refusal.description}`;
}
