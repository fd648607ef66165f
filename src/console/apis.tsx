import type { FC } from "hono/jsx";
import { MAX_IDENTIFIER_LENGTH, MAX_NAME_LENGTH, MAX_SCOPES } from "../config";
import { type Api, isDefaultApi } from "../services/apis";
import { ColumnHeads, ConfirmForm, errorMarks, Field, FieldError, Layout, Name, Notice, PlatformOnly, When } from "./layout";
import { ClaimList, type ClaimRow, ClaimsEditor, type RowsError } from "./metadata-editor";
import { CancelOrSubmit, FormError, Submit } from "./parts";

/**
 * The APIs screen (list, create, edit with its token claims, delete with a confirmation), and the
 * grant editor that the credential pages use: one fieldset per API, its declared scopes as checkboxes.
 */

/** What the create and edit forms hold, as typed (scopes as one line of text). */
export interface ApiFormValues {
  name: string;
  identifier: string;
  scopes: string;
}

export interface ApiFormError {
  field: "name" | "identifier" | "scopes" | "form";
  message: string;
}

/** aria-invalid, a pointer to the message and autofocus, for the field the error is about. */
function invalid(error: { field: string } | undefined, field: string, id: string) {
  return error?.field === field ? { "aria-invalid": "true", "aria-describedby": `${id}-error`, autofocus: true } : {};
}

const ScopeList: FC<{ scopes: string[] | null }> = ({ scopes }) =>
  scopes === null ? <span>Any scope</span> : scopes.length ? <span class="mono">{scopes.join(" ")}</span> : <span class="hint">None</span>;

export const ApisPage: FC<{
  actor: string;
  apis: Api[];
  /** false: there are more APIs than the page shows. */
  complete: boolean;
  values: ApiFormValues;
  flash?: string | undefined;
  error?: ApiFormError | undefined;
}> = ({ actor, apis, complete, values, flash, error }) => (
  <Layout title="APIs" section="apis" actor={actor} focus={flash ? "heading" : undefined}>
    <h1>APIs</h1>
    <p class="lead">
      Each API is one audience: a token is for exactly one API, and its <code>aud</code> is the API's identifier. A credential reaches an API other
      than the default one only through a grant, set on the credential's page.
    </p>
    {flash ? <Notice kind="ok">{flash}</Notice> : null}
    <FormError error={error} />
    <PlatformOnly>
      <form method="post" action="/console/apis" class="card stack">
        <h2>Create API</h2>
        <ApiFields values={values} error={error} />
        <Submit>Create API</Submit>
      </form>
    </PlatformOnly>
    {complete ? null : <Notice kind="warn">There are more APIs than this page shows ({apis.length}); the admin API lists them all.</Notice>}
    <table class="cards">
      <caption class="sr-only">APIs</caption>
      <ColumnHeads columns={["Name", "Identifier", "Scopes", "Token claims", "Created (UTC)"]} />
      <tbody>
        {apis.map((api) => (
          <tr>
            <td data-label="Name">
              <Name>{api.name}</Name>
              {isDefaultApi(api.id) ? (
                <>
                  {" "}
                  <span class="badge">Default</span>
                </>
              ) : null}
              <div class="hint mono">{api.id}</div>
            </td>
            <td data-label="Identifier" class="mono">
              {api.identifier}
            </td>
            <td data-label="Scopes">
              <ScopeList scopes={api.scopes} />
            </td>
            <td data-label="Token claims">
              <ClaimList tokenClaims={api.token_claims} />
            </td>
            <td data-label="Created (UTC)">
              <When at={api.created_at} />
            </td>
            <td class="actions">
              <PlatformOnly>
                <a class="button small" href={`/console/apis/${api.id}/edit`} aria-label={`Edit ${api.name}`}>
                  Edit
                </a>
                {isDefaultApi(api.id) ? null : (
                  <>
                    {" "}
                    <a class="button small danger" href={`/console/apis/${api.id}/delete`} aria-label={`Delete ${api.name}`}>
                      Delete
                    </a>
                  </>
                )}
              </PlatformOnly>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </Layout>
);

/** Name, identifier and scopes of a new API. */
const ApiFields: FC<{ values: ApiFormValues; error: ApiFormError | undefined }> = ({ values, error }) => (
  <>
    <div>
      <label for="api-name">API Name</label>
      <input id="api-name" name="name" type="text" required maxlength={MAX_NAME_LENGTH} autocomplete="off" dir="auto" value={values.name} {...invalid(error, "name", "api-name")} />
      <FieldError error={error} field="name" id="api-name" />
    </div>
    <div>
      <label for="identifier">Identifier</label>
      <input
        id="identifier"
        name="identifier"
        type="text"
        inputmode="url"
        required
        maxlength={MAX_IDENTIFIER_LENGTH}
        autocomplete="off"
        spellcheck={false}
        dir="auto"
        value={values.identifier}
        {...errorMarks(error?.field === "identifier", "identifier", "identifier-hint")}
      />
      <FieldError error={error} field="identifier" id="identifier" />
      <div class="hint" id="identifier-hint">
        An absolute https URI (http only for localhost), such as https://billing.example.com. It becomes the <code>aud</code> of this API's tokens,
        exactly as typed, and never changes.
      </div>
    </div>
    <ScopesField values={values} error={error} />
  </>
);

const ScopesField: FC<{ values: ApiFormValues; error: ApiFormError | undefined; warning?: string }> = ({ values, error, warning }) => (
  <div>
    <label for="api-scopes">Scopes</label>
    <input
      id="api-scopes"
      name="scopes"
      type="text"
      autocomplete="off"
      spellcheck={false}
      dir="auto"
      value={values.scopes}
      {...errorMarks(error?.field === "scopes", "api-scopes", "api-scopes-hint")}
    />
    <FieldError error={error} field="scopes" id="api-scopes" />
    <div class="hint" id="api-scopes-hint">
      The scopes this API understands, separated by spaces or commas (such as <code>invoices:read invoices:write</code>), at most {MAX_SCOPES}.
      {warning ? ` ${warning}` : ""}
    </div>
  </div>
);

export const EditApiPage: FC<{ actor: string; api: Api; values: ApiFormValues; error?: ApiFormError | undefined; claimRows: ClaimRow[]; claimsError?: RowsError | undefined }> = ({
  actor,
  api,
  values,
  error,
  claimRows,
  claimsError,
}) => (
  <Layout title={`Edit ${api.name}`} section="apis" actor={actor}>
    <p>
      <a href="/console/apis">← APIs</a>
    </p>
    <h1>
      Edit <Name>{api.name}</Name>
    </h1>
    <FormError error={error ?? claimsError} />
    <dl class="fields card">
      <Field label="Identifier">
        <span class="mono">{api.identifier}</span>
        <div class="hint">Never changes: it is the {"aud"} of every token for this API.</div>
      </Field>
      {isDefaultApi(api.id) ? (
        <Field label="Scopes">
          Any scope <div class="hint">The default API takes any scope: a credential's own scopes are its grant on it.</div>
        </Field>
      ) : null}
    </dl>
    <form method="post" action={`/console/apis/${api.id}`} class="card stack">
      <div>
        <label for="api-name">API Name</label>
        <input id="api-name" name="name" type="text" required maxlength={MAX_NAME_LENGTH} autocomplete="off" dir="auto" value={values.name} {...invalid(error, "name", "api-name")} />
        <FieldError error={error} field="name" id="api-name" />
      </div>
      {isDefaultApi(api.id) ? null : (
        <ScopesField
          values={values}
          error={error}
          warning="A scope you remove is removed from every credential's grant on this API, and tokens minted after the change no longer carry it."
        />
      )}
      <ClaimsEditor rows={claimRows} error={claimsError} />
      <CancelOrSubmit cancelHref="/console/apis">Save</CancelOrSubmit>
    </form>
  </Layout>
);

export const DeleteApiPage: FC<{ actor: string; api: Api; grantCount: number }> = ({ actor, api, grantCount }) => (
  <Layout title={`Delete ${api.name}`} section="apis" actor={actor}>
    <h1>
      Delete <Name>{api.name}</Name>?
    </h1>
    <Notice kind="error">
      Deletion is permanent.{" "}
      {grantCount === 0 ? (
        "No credential has a grant on it."
      ) : (
        <strong>
          {grantCount} credential{grantCount === 1 ? "" : "s"} will lose access to it.
        </strong>
      )}{" "}
      Every token minted for it stops working at once, and no new token for it is issued. Creating an API with the same identifier later does not
      bring those tokens back. Its audit history stays.
    </Notice>
    <dl class="fields card">
      <Field label="Identifier">
        <span class="mono">{api.identifier}</span>
      </Field>
      <Field label="Scopes">
        <ScopeList scopes={api.scopes} />
      </Field>
      <Field label="Credentials with access">{grantCount === 0 ? "None" : String(grantCount)}</Field>
      <Field label="Created (UTC)">
        <When at={api.created_at} />
      </Field>
    </dl>
    <ConfirmForm action={`/console/apis/${api.id}/delete`} cancelHref="/console/apis" kind="danger">
      Delete permanently
    </ConfirmForm>
  </Layout>
);

// ---- grants on a credential ------------------------------------------------------------------

/**
 * What the grant editor holds: the default API's scopes as typed, and per other API (by id) the
 * scopes checked, or access with no scope. Form fields: `scopes` (text), `s.<api id>.<scope>`
 * (one checkbox per declared scope) and `a.<api id>` ("grant access", for an API without scopes).
 */
export interface GrantSelection {
  scopes: string;
  picked: Map<string, Set<string>>;
  access: Set<string>;
}

export interface AccessError {
  /** `scopes`: the default API's field; `api:<id>`: that API's fieldset; `grants`: the whole set. */
  field: "scopes" | "grants" | `api:${string}`;
  message: string;
}

export const emptySelection = (): GrantSelection => ({ scopes: "", picked: new Map(), access: new Set() });

/**
 * The grant editor: the default API's scopes as free text (it accepts any scope), then one
 * fieldset per other API with a checkbox per declared scope. An API becomes a grant when at least
 * one of its scopes is checked, or, for an API that declares none, when "Grant access" is.
 */
export const GrantFields: FC<{ apis: Api[]; selection: GrantSelection; error?: AccessError | undefined }> = ({ apis, selection, error }) => {
  const defaultApi = apis.find((api) => isDefaultApi(api.id));
  const others = apis.filter((api) => !isDefaultApi(api.id));
  return (
    <>
      <fieldset class="grant">
        <legend>
          {defaultApi ? <Name>{defaultApi.name}</Name> : "Default API"} <span class="badge">Default</span>
          {defaultApi ? <span class="legend-id mono">{defaultApi.identifier}</span> : null}
        </legend>
        <label for="scopes">Scopes</label>
        <input
          id="scopes"
          name="scopes"
          type="text"
          autocomplete="off"
          spellcheck={false}
          dir="auto"
          value={selection.scopes}
          {...errorMarks(error?.field === "scopes", "scopes", "scopes-hint")}
        />
        <FieldError error={error} field="scopes" id="scopes" />
        <div class="hint" id="scopes-hint">
          Tokens requested without a <code>resource</code> are for this API. It takes any scope: separate them with spaces or commas.
        </div>
      </fieldset>
      {others.map((api) => {
        const checked = selection.picked.get(api.id) ?? new Set<string>();
        const errorHere = error?.field === `api:${api.id}`;
        const scopes = api.scopes ?? [];
        // The first control of the fieldset carries the error, so focus lands on it.
        const mark = (first: boolean) => (errorHere && first ? { "aria-invalid": "true", "aria-describedby": `grant-${api.id}-error`, autofocus: true } : {});
        return (
          <fieldset class="grant">
            <legend>
              <Name>{api.name}</Name>
              <span class="legend-id mono">{api.identifier}</span>
            </legend>
            <FieldError error={error} field={`api:${api.id}`} id={`grant-${api.id}`} />
            {scopes.length ? (
              <div class="scope-list">
                {scopes.map((scope, i) => (
                  <label>
                    <input type="checkbox" name={`s.${api.id}.${scope}`} value="1" checked={checked.has(scope)} {...mark(i === 0)} />
                    <span class="mono">{scope}</span>
                  </label>
                ))}
                {selection.access.has(api.id) ? (
                  <label>
                    <input type="checkbox" name={`a.${api.id}`} value="1" checked /> Access with no scope
                  </label>
                ) : null}
              </div>
            ) : (
              <>
                <label>
                  <input type="checkbox" name={`a.${api.id}`} value="1" checked={selection.access.has(api.id)} {...mark(true)} /> Grant access
                </label>
                <div class="hint">This API declares no scopes: its tokens carry none.</div>
              </>
            )}
          </fieldset>
        );
      })}
      {others.length === 0 ? (
        <p class="hint">
          No other APIs yet. <a href="/console/apis">Add an API</a> to give credentials access to it.
        </p>
      ) : null}
    </>
  );
};
