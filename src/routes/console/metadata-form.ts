import { MAX_METADATA_MEMBERS, MAX_METADATA_STRING } from "../../config";
import {
  type ClaimRow,
  type MetadataRow,
  type MetadataType,
  type RowsError,
  isBlankClaimRow,
  isBlankMetadataRow,
  withBlankRows,
} from "../../console/metadata-editor";
import type { TokenClaims } from "../../services/apis";
import { CLAIM_NAME, FIXED_SOURCES, MAX_TOKEN_CLAIMS, type Metadata, RESERVED_CLAIMS, isClaimSource, metadataProblem } from "../../lib/claims";

/**
 * The key/value editors' posts (src/console/metadata-editor.tsx), read and checked by the rules
 * the admin API applies (src/lib/claims.ts): metadata from rows `meta.<i>.name/type/value`, an
 * API's token claims from rows `claim.<i>.name/source`. Blank rows are left out; a problem is
 * reported on its row (and field) when it has one, else on the whole set.
 */

/** Rows read from a post, at most: the editors show at most the members allowed plus a few blank rows. */
export const MAX_ROWS = 40;

/** What a re-rendered form keeps of a typed value (the limits are far below; the rest is never stored). */
const KEPT = 2_000;

const TYPES: readonly MetadataType[] = ["string", "number", "boolean"];

/** A number as JSON writes one: no hex, no blank, no Infinity. */
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The metadata rows of a post, as typed (rows past MAX_ROWS are not read). */
export function readMetadataRows(body: Record<string, string | undefined>): MetadataRow[] {
  const rows: MetadataRow[] = [];
  for (let i = 0; i < MAX_ROWS; i++) {
    const name = body[`meta.${i}.name`];
    const type = body[`meta.${i}.type`];
    const value = body[`meta.${i}.value`];
    if (name === undefined && type === undefined && value === undefined) continue;
    rows.push({
      name: (name ?? "").slice(0, KEPT),
      type: TYPES.includes(type as MetadataType) ? (type as MetadataType) : "string",
      value: (value ?? "").slice(0, KEPT),
    });
  }
  return rows;
}

/** Rows as typed, for the form shown again after a problem (with its blank rows). */
export const againMetadataRows = (rows: MetadataRow[]) => withBlankRows(rows, { name: "", type: "string", value: "" }, isBlankMetadataRow);
export const againClaimRows = (rows: ClaimRow[]) => withBlankRows(rows, { name: "", source: "" }, isBlankClaimRow);

/** Whether a post carries a metadata editor at all (a form without one leaves metadata alone). */
export const hasMetadataRows = (body: Record<string, string | undefined>) => Object.keys(body).some((key) => key.startsWith("meta."));
export const hasClaimRows = (body: Record<string, string | undefined>) => Object.keys(body).some((key) => key.startsWith("claim."));

/** Why a name is not a member's or a claim's name, or null. */
function nameProblem(name: string, label: string): string | null {
  if (!CLAIM_NAME.test(name)) return `${label}: "${name.slice(0, 50)}" is not a name: a lower-case letter, then up to 39 of a-z, 0-9 and _.`;
  if (name in Object.prototype) return `${label}: "${name}" cannot be used: every object already has it.`;
  return null;
}

/** One typed value as the member it stands for, or why it is not one. */
function valueOf(row: MetadataRow): { value: string | number | boolean } | { message: string } {
  if (row.type === "number") {
    const text = row.value.trim();
    const number = Number(text);
    if (!NUMBER.test(text) || !Number.isFinite(number)) return { message: `Value: "${row.value.slice(0, 50)}" is not a number (such as 42 or -1.5).` };
    return { value: number };
  }
  if (row.type === "boolean") {
    const text = row.value.trim().toLowerCase();
    if (text !== "true" && text !== "false") return { message: `Value: a True/False member is true or false, not "${row.value.slice(0, 50)}".` };
    return { value: text === "true" };
  }
  if (row.value.length > MAX_METADATA_STRING) return { message: `Value: text is at most ${MAX_METADATA_STRING} characters (this has ${row.value.length}).` };
  return { value: row.value };
}

/** Metadata from the editor's rows: null when every row is blank (which clears it), or the first problem. */
export function metadataFrom(rows: MetadataRow[]): { value: Metadata | null } | { error: RowsError } {
  const metadata: Metadata = {};
  const seen = new Map<string, number>();
  for (const [row, typed] of rows.entries()) {
    if (isBlankMetadataRow(typed)) continue;
    const name = typed.name.trim();
    if (name === "") return { error: { row, field: "name", message: "Name: give this value a name, or clear the row." } };
    const bad = nameProblem(name, "Name");
    if (bad) return { error: { row, field: "name", message: bad } };
    if (seen.has(name)) return { error: { row, field: "name", message: `Name: "${name}" is already used in row ${seen.get(name)! + 1}.` } };
    seen.set(name, row);
    if (seen.size > MAX_METADATA_MEMBERS) return { error: { row, field: "name", message: `Metadata has at most ${MAX_METADATA_MEMBERS} members: clear a row.` } };
    const value = valueOf(typed);
    if ("message" in value) return { error: { row, field: "value", message: value.message } };
    metadata[name] = value.value;
  }
  if (seen.size === 0) return { value: null };
  // The whole set, by the admin API's own check (the byte limit is the one no row shows alone).
  const problem = metadataProblem(metadata);
  if (problem) return { error: { message: `${problem[0]!.toUpperCase()}${problem.slice(1)}.` } };
  return { value: metadata };
}

/** The token claim rows of a post, as typed (rows past MAX_ROWS are not read). */
export function readClaimRows(body: Record<string, string | undefined>): ClaimRow[] {
  const rows: ClaimRow[] = [];
  for (let i = 0; i < MAX_ROWS; i++) {
    const name = body[`claim.${i}.name`];
    const source = body[`claim.${i}.source`];
    if (name === undefined && source === undefined) continue;
    rows.push({ name: (name ?? "").slice(0, KEPT), source: (source ?? "").slice(0, KEPT) });
  }
  return rows;
}

/** An API's token claims from the editor's rows: null when every row is blank (none), or the first problem. */
export function tokenClaimsFrom(rows: ClaimRow[]): { value: TokenClaims | null } | { error: RowsError } {
  const claims: TokenClaims = {};
  const seen = new Map<string, number>();
  for (const [row, typed] of rows.entries()) {
    if (isBlankClaimRow(typed)) continue;
    const name = typed.name.trim();
    const source = typed.source.trim();
    if (name === "") return { error: { row, field: "name", message: "Claim name: give this source a claim name, or clear the row." } };
    const bad = nameProblem(name, "Claim name");
    if (bad) return { error: { row, field: "name", message: bad } };
    if (RESERVED_CLAIMS.has(name)) return { error: { row, field: "name", message: `Claim name: ${name} is set by Keymint (or read by JWT libraries) and cannot be mapped.` } };
    if (seen.has(name)) return { error: { row, field: "name", message: `Claim name: "${name}" is already used in row ${seen.get(name)! + 1}.` } };
    seen.set(name, row);
    if (seen.size > MAX_TOKEN_CLAIMS) return { error: { row, field: "name", message: `An API has at most ${MAX_TOKEN_CLAIMS} token claims: clear a row.` } };
    if (source === "") return { error: { row, field: "source", message: "Source: say where the claim's value comes from." } };
    if (!isClaimSource(source)) {
      return {
        error: {
          row,
          field: "source",
          message: `Source: "${source.slice(0, 80)}" is not a source. Use ${FIXED_SOURCES.join(", ")}, or organization.metadata.<name>, account.metadata.<name> or credential.metadata.<name>.`,
        },
      };
    }
    claims[name] = source;
  }
  return { value: seen.size === 0 ? null : claims };
}
