import type { Child, FC } from "hono/jsx";
import { MAX_METADATA_BYTES, MAX_METADATA_MEMBERS, MAX_METADATA_STRING } from "../config";
import { FIXED_SOURCES, MAX_TOKEN_CLAIMS, type Metadata } from "../lib/claims";
import { Name, Writable } from "./layout";
import { CardSection, Submit } from "./parts";

/**
 * The key/value editors of the console, without script: metadata (organizations, accounts,
 * credentials) as rows of name, type and value, and an API's token claims as rows of claim name
 * and source. Each shows the rows it has plus two blank ones; a blank row is left out when saved.
 * Errors sit under their row (or the whole group), and the field they are about is marked.
 */

export type MetadataType = "string" | "number" | "boolean";

/** One row of the metadata editor, as typed. */
export interface MetadataRow {
  name: string;
  type: MetadataType;
  value: string;
}

/** One row of the token claims editor, as typed. */
export interface ClaimRow {
  name: string;
  source: string;
}

/** An editor's error: about one row (0-based) and one of its fields, or the whole set when `row` is absent. */
export interface RowsError {
  message: string;
  row?: number | undefined;
  field?: "name" | "type" | "value" | "source" | undefined;
}

/** Blank rows offered after the existing ones. */
export const BLANK_ROWS = 2;

const TYPE_LABEL: Record<MetadataType, string> = { string: "Text", number: "Number", boolean: "True/False" };

/** Stored metadata as the editor's rows, plus the blank ones. */
export function metadataRows(metadata: Metadata | null): MetadataRow[] {
  const rows = Object.entries(metadata ?? {}).map(([name, value]): MetadataRow => ({
    name,
    type: typeof value === "number" ? "number" : typeof value === "boolean" ? "boolean" : "string",
    value: String(value),
  }));
  return withBlankRows(rows, { name: "", type: "string", value: "" }, isBlankMetadataRow);
}

/** A mapping as the editor's rows, plus the blank ones. */
export function claimRows(tokenClaims: Record<string, string> | null): ClaimRow[] {
  return withBlankRows(
    Object.entries(tokenClaims ?? {}).map(([name, source]) => ({ name, source })),
    { name: "", source: "" },
    isBlankClaimRow,
  );
}

/** A row with neither name nor value (its type alone says nothing): left out when saved. */
export const isBlankMetadataRow = (row: MetadataRow) => row.name.trim() === "" && row.value.trim() === "";
export const isBlankClaimRow = (row: ClaimRow) => row.name.trim() === "" && row.source.trim() === "";

/** Rows as typed, without the blank ones at the end, then the blank rows offered. */
export function withBlankRows<T extends object>(rows: T[], blank: T, isBlank: (row: T) => boolean): T[] {
  const kept = [...rows];
  while (kept.length > 0 && isBlank(kept[kept.length - 1]!)) kept.pop();
  return [...kept, ...Array.from({ length: BLANK_ROWS }, () => ({ ...blank }))];
}

/** The attributes of one input: marked and described when the error is about it. */
function marks(prefix: string, error: RowsError | undefined, row: number, field: string) {
  const whole = error !== undefined && error.row === undefined && row === 0 && field === "name";
  const here = error !== undefined && error.row === row && (error.field ?? "name") === field;
  if (!here && !whole) return {};
  return { "aria-describedby": here ? `${prefix}-${row}-error` : `${prefix}-error`, "aria-invalid": "true", autofocus: true };
}

/** One field of a row: its label (the head names the column to the eye) and its control. */
const Cell: FC<{ id: string; label: string; children: Child }> = ({ id, label, children }) => (
  <div>
    <label class="kv-label" for={id}>
      {label}
    </label>
    {children}
  </div>
);

/** A row's field of names or sources (`<prefix>.<row>.<field>`): text read as code. */
const CodeInput: FC<{ prefix: string; row: number; field: string; value: string; error: RowsError | undefined; list?: string }> = ({ prefix, row, field, value, error, list }) => (
  <input
    id={`${prefix}-${row}-${field}`}
    name={`${prefix}.${row}.${field}`}
    type="text"
    class="mono"
    list={list}
    autocomplete="off"
    spellcheck={false}
    value={value}
    {...marks(prefix, error, row, field)}
  />
);

/** The message under a row, or over the whole set. */
const RowMessage: FC<{ prefix: string; error: RowsError | undefined; row?: number }> = ({ prefix, error, row }) =>
  error !== undefined && error.row === row ? (
    <div class="field-error" id={row === undefined ? `${prefix}-error` : `${prefix}-${row}-error`}>
      {error.message}
    </div>
  ) : null;

/** The metadata editor: a fieldset of rows `meta.<i>.name`, `meta.<i>.type`, `meta.<i>.value`. */
export const MetadataEditor: FC<{ rows: MetadataRow[]; error?: RowsError | undefined; legend?: string }> = ({ rows, error, legend }) => (
  <fieldset class="kv" aria-describedby="meta-hint">
    <legend>{legend ?? "Metadata"}</legend>
    <div class="hint" id="meta-hint">
      Not a place for secrets: anyone with console or admin access reads it, and an API can copy it into tokens. At most {MAX_METADATA_MEMBERS} members; a name is a
      lower-case letter, then up to 39 of a-z, 0-9 and _; text is at most {MAX_METADATA_STRING} characters, and all of it at most {MAX_METADATA_BYTES.toLocaleString("en")}{" "}
      bytes as JSON. Clear a row's name and value to remove it.
    </div>
    <RowMessage prefix="meta" error={error} />
    <div class="kv-head kv-meta" aria-hidden="true">
      <span>Name</span>
      <span>Type</span>
      <span>Value</span>
    </div>
    {rows.map((row, i) => (
      <div class="kv-row kv-meta">
        <Cell id={`meta-${i}-name`} label={`Name ${i + 1}`}>
          <CodeInput prefix="meta" row={i} field="name" value={row.name} error={error} />
        </Cell>
        <Cell id={`meta-${i}-type`} label={`Type ${i + 1}`}>
          <select id={`meta-${i}-type`} name={`meta.${i}.type`} {...marks("meta", error, i, "type")}>
            {(Object.keys(TYPE_LABEL) as MetadataType[]).map((type) => (
              <option value={type} selected={row.type === type}>
                {TYPE_LABEL[type]}
              </option>
            ))}
          </select>
        </Cell>
        <Cell id={`meta-${i}-value`} label={`Value ${i + 1}`}>
          <input id={`meta-${i}-value`} name={`meta.${i}.value`} type="text" autocomplete="off" dir="auto" value={row.value} {...marks("meta", error, i, "value")} />
        </Cell>
        <RowMessage prefix="meta" error={error} row={i} />
      </div>
    ))}
  </fieldset>
);

/** The metadata card of an organization's or a credential's page (left out for viewers): `children`, its hint; `back`, the list to return to. */
export const MetadataSection: FC<{ action: string; back?: string; rows: MetadataRow[]; error: RowsError | undefined; children: Child }> = ({ action, back, rows, error, children }) => (
  <Writable>
    <CardSection id="metadata" heading="Metadata">
      <p class="hint">{children}</p>
      <form method="post" action={action} class="stack">
        {back === undefined ? null : <input type="hidden" name="back" value={back} />}
        <MetadataEditor rows={rows} error={error} />
        <Submit>Save metadata</Submit>
      </form>
    </CardSection>
  </Writable>
);

/** Metadata, read-only: each member's name and value (and its type when it is not text). */
export const MetadataList: FC<{ metadata: Metadata | null }> = ({ metadata }) => {
  const members = Object.entries(metadata ?? {});
  return members.length === 0 ? (
    <span class="hint">None</span>
  ) : (
    <ul class="plain">
      {members.map(([name, value]) => (
        <li>
          <span class="mono">{name}:</span> {typeof value === "string" ? <Name>{value}</Name> : <span class="mono">{String(value)}</span>}
          {typeof value === "string" ? null : <span class="hint"> ({TYPE_LABEL[typeof value === "number" ? "number" : "boolean"].toLowerCase()})</span>}
        </li>
      ))}
    </ul>
  );
};

/** An API's claims, read-only: each claim's name and its source. */
export const ClaimList: FC<{ tokenClaims: Record<string, string> | null }> = ({ tokenClaims }) => {
  const claims = Object.entries(tokenClaims ?? {});
  return claims.length === 0 ? (
    <span class="hint">None</span>
  ) : (
    <ul class="plain">
      {claims.map(([name, source]) => (
        <li>
          <span class="mono">{name}</span> <span class="hint">from</span> <span class="mono">{source}</span>
        </li>
      ))}
    </ul>
  );
};

const OWNERS = ["organization", "account", "credential"] as const;

/** The token claims editor: a fieldset of rows `claim.<i>.name`, `claim.<i>.source`, sources offered by a datalist. */
export const ClaimsEditor: FC<{ rows: ClaimRow[]; error?: RowsError | undefined }> = ({ rows, error }) => (
  <fieldset class="kv" aria-describedby="claim-hint">
    <legend>Token claims</legend>
    <div class="hint" id="claim-hint">
      Claims every token for this API carries, at most {MAX_TOKEN_CLAIMS}: a claim name (a lower-case letter, then up to 39 of a-z, 0-9 and _; not one Keymint sets,
      such as <code>sub</code> or <code>scope</code>) and its source: {FIXED_SOURCES.map((source, i) => (
        <>
          {i ? ", " : ""}
          <code>{source}</code>
        </>
      ))}
      , or a metadata member: <code>organization.metadata.&lt;name&gt;</code>, <code>account.metadata.&lt;name&gt;</code> or{" "}
      <code>credential.metadata.&lt;name&gt;</code>. A source without a value leaves the claim out. Changes apply to tokens minted after you save.
    </div>
    <datalist id="claim-sources">
      {FIXED_SOURCES.map((source) => (
        <option value={source}></option>
      ))}
      {OWNERS.map((owner) => (
        <option value={`${owner}.metadata.`} label={`${owner}.metadata.<name>: add the member's name`}></option>
      ))}
    </datalist>
    <RowMessage prefix="claim" error={error} />
    <div class="kv-head kv-claims" aria-hidden="true">
      <span>Claim name</span>
      <span>Source</span>
    </div>
    {rows.map((row, i) => (
      <div class="kv-row kv-claims">
        <Cell id={`claim-${i}-name`} label={`Claim name ${i + 1}`}>
          <CodeInput prefix="claim" row={i} field="name" value={row.name} error={error} />
        </Cell>
        <Cell id={`claim-${i}-source`} label={`Source ${i + 1}`}>
          <CodeInput prefix="claim" row={i} field="source" value={row.source} error={error} list="claim-sources" />
        </Cell>
        <RowMessage prefix="claim" error={error} row={i} />
      </div>
    ))}
  </fieldset>
);
