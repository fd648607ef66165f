import { tryGetContext } from "hono/context-storage";
import type { Child, FC } from "hono/jsx";
import type { AppEnv } from "../http/types";

/**
 * Who the page is for, from the request (the console app's contextStorage): an organization's
 * console names it and has no way out of it; a viewer's shows no control that changes anything.
 */
function signedIn(): { organizationName: string | null; readOnly: boolean } {
  const c = tryGetContext<AppEnv>();
  return { organizationName: c?.get("consoleOrganizationName") ?? null, readOnly: c?.get("adminReadOnly") ?? false };
}

/** Controls only platform admins may use (APIs): left out of an organization's console. */
export const PlatformOnly: FC<{ children: Child }> = ({ children }) => (signedIn().organizationName !== null ? null : <>{children}</>);

/** Controls that change something: left out of a viewer's pages (the server refuses them anyway). */
export const Writable: FC<{ children: Child }> = ({ children }) => (signedIn().readOnly ? null : <>{children}</>);

/** The frame of every console page. hono/jsx escapes every interpolated value. */

export type Section = "credentials" | "apis" | "accounts" | "audit" | "organizations" | "webhooks";

export const Layout: FC<{ title: string; section?: Section | undefined; actor?: string | undefined; focus?: "heading" | undefined; children: Child }> = ({
  title,
  section,
  actor,
  focus,
  children,
}) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>{`${title} · Keymint`}</title>
      <link rel="stylesheet" href="/console/assets/console.css" />
      <script src="/console/assets/copy.js" defer></script>
    </head>
    <body data-focus={focus}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <div class="bar">
          <a class="brand" href="/console/credentials">Keymint</a>
          {signedIn().organizationName ? (
            <span class="organization">
              <bdi>{signedIn().organizationName}</bdi>
              {signedIn().readOnly ? " · view only" : ""}
            </span>
          ) : null}
          {actor ? (
            <>
              <nav aria-label="Console">
                <a href="/console/credentials" aria-current={section === "credentials" ? "page" : undefined}>Credentials</a>
                <a href="/console/apis" aria-current={section === "apis" ? "page" : undefined}>APIs</a>
                <a href="/console/accounts" aria-current={section === "accounts" ? "page" : undefined}>Accounts</a>
                <a href="/console/webhooks" aria-current={section === "webhooks" ? "page" : undefined}>Webhooks</a>
                <a href="/console/audit" aria-current={section === "audit" ? "page" : undefined}>Audit log</a>
                {signedIn().organizationName === null ? (
                  <a href="/console/organizations" aria-current={section === "organizations" ? "page" : undefined}>
                    Organizations
                  </a>
                ) : null}
              </nav>
              <div class="who">
                {actor.startsWith("link:") ? (
                  <>
                    <span>
                      Signed in as <bdi>{actor.slice("link:".length)}</bdi>
                    </span>
                    <form method="post" action="/console/logout">
                      <button type="submit" class="small">Sign out</button>
                    </form>
                  </>
                ) : actor.startsWith("access:") ? (
                  <>
                    <span>
                      Signed in as <bdi>{actor.slice("access:".length)}</bdi>
                    </span>
                    {/* Cloudflare Access owns the session: its logout URL ends it. */}
                    <a class="button small" href="/cdn-cgi/access/logout">Sign out</a>
                  </>
                ) : (
                  <>
                    <span>Signed in with the admin token</span>
                    <form method="post" action="/console/logout">
                      <button type="submit" class="small">Sign out</button>
                    </form>
                  </>
                )}
              </div>
            </>
          ) : null}
        </div>
      </header>
      <main id="main" tabindex={-1}>
        {children}
      </main>
      {/* Copy buttons and "Test now" announce what they did here (copy.js). */}
      <div id="announce" class="sr-only" role="status" aria-live="polite"></div>
    </body>
  </html>
);

export const Notice: FC<{ kind?: "warn" | "error" | "ok"; id?: string; children: Child }> = ({ kind, id, children }) => (
  <div id={id} class={`notice${kind ? ` ${kind}` : ""}`} role={kind === "error" ? "alert" : "status"}>
    {children}
  </div>
);

/** A name someone typed: isolated, so a right-to-left name does not reorder the text around it. */
export const Name: FC<{ children: Child }> = ({ children }) => <bdi dir="auto">{children}</bdi>;

/** A time as people read it, to the second, in UTC, with the exact value in the markup. */
export const When: FC<{ at: string | null; never?: string }> = ({ at, never }) =>
  at ? (
    <time datetime={at} title={`${at} (UTC)`}>
      {at.replace("T", " ").slice(0, 19)}
    </time>
  ) : (
    <span class="hint">{never ?? "Never"}</span>
  );

/** An account's or organization's status, in words. */
export const StatusBadge: FC<{ status: "active" | "deactivated" }> = ({ status }) =>
  status === "active" ? <span class="badge ok">Active</span> : <span class="badge off">Deactivated</span>;

export const TrashIcon: FC = () => (
  <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
    <path
      fill="currentColor"
      d="M6.5 1h3a.5.5 0 0 1 .5.5V2h3a.5.5 0 0 1 0 1h-.54l-.8 10.4A1.5 1.5 0 0 1 10.17 15H5.83a1.5 1.5 0 0 1-1.5-1.6L3.54 3H3a.5.5 0 0 1 0-1h3v-.5a.5.5 0 0 1 .5-.5Zm-1.96 2 .79 10.32a.5.5 0 0 0 .5.46h4.34a.5.5 0 0 0 .5-.46L11.46 3H4.54ZM6.5 5.5a.5.5 0 0 1 .5.5v5a.5.5 0 0 1-1 0V6a.5.5 0 0 1 .5-.5Zm3 0a.5.5 0 0 1 .5.5v5a.5.5 0 0 1-1 0V6a.5.5 0 0 1 .5-.5Z"
    />
  </svg>
);

/** A URL with a query: empty values are left out. */
export function withQuery(path: string, query: Record<string, string | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Newer and Older, keeping the filters of the list (`label`: the nav's, "Pages" unless named). */
export const Pager: FC<{ path: string; filters: Record<string, string | null | undefined>; newer: string | null; older: string | null; label?: string }> = ({
  path,
  filters,
  newer,
  older,
  label,
}) =>
  newer || older ? (
    <nav class="pager" aria-label={label ?? "Pages"}>
      {newer ? (
        <a class="button" href={withQuery(path, { ...filters, before: newer })} rel="prev">
          ← Newer
        </a>
      ) : null}
      {older ? (
        <a class="button" href={withQuery(path, { ...filters, cursor: older })} rel="next">
          Older →
        </a>
      ) : null}
    </nav>
  ) : null;

/** A value with a Copy button (copy.js; without script the field can be selected by hand). */
export const CopyField: FC<{ id: string; label: string; value: string; multiline?: boolean }> = ({ id, label, value, multiline }) => (
  <div class="copy-field">
    <label for={id}>{label}</label>
    <div class="secret">
      {multiline ? (
        <textarea id={id} readonly rows={value.split("\n").length} spellcheck={false} autocomplete="off">
          {value}
        </textarea>
      ) : (
        <input id={id} type="text" readonly value={value} autocomplete="off" spellcheck={false} />
      )}
      <button type="button" data-copy={id} data-label={label}>
        <span class="copy-state">Copy</span>
        <span class="sr-only"> {label}</span>
      </button>
    </div>
  </div>
);

/** A field's aria-describedby (its error's message when it has one, then its hint), and aria-invalid and autofocus when it has one. */
export function errorMarks(invalid: boolean, id: string, hint?: string) {
  const described = [invalid ? `${id}-error` : null, hint ?? null].filter(Boolean).join(" ");
  return {
    ...(described ? { "aria-describedby": described } : {}),
    ...(invalid ? { "aria-invalid": "true", autofocus: true } : {}),
  };
}

/** The message under a field, when the error is about it (`id`: the field's element, when not named as the field). */
export const FieldError: FC<{ error: { field: string; message: string } | undefined; field: string; id?: string }> = ({ error, field, id }) =>
  error?.field === field ? (
    <div class="field-error" id={`${id ?? field}-error`}>
      {error.message}
    </div>
  ) : null;

/** A table's column headings, then an unlabelled-to-the-eye column for its row actions. */
export const ColumnHeads: FC<{ columns: string[] }> = ({ columns }) => (
  <thead>
    <tr>
      {columns.map((column) => (
        <th scope="col">{column}</th>
      ))}
      <th scope="col">
        <span class="sr-only">Actions</span>
      </th>
    </tr>
  </thead>
);

/** A row of a definition list: a label and its value. */
export const Field: FC<{ label: string; mono?: boolean; children: Child }> = ({ label, mono, children }) => (
  <div class="field">
    <dt>{label}</dt>
    <dd class={mono ? "mono" : undefined}>{children}</dd>
  </div>
);

/** The row a table shows when it has none (its columns plus the actions column). */
export const EmptyRow: FC<{ columns: number; children: Child }> = ({ columns, children }) => (
  <tr>
    <td colspan={columns} class="empty">
      {children}
    </td>
  </tr>
);

/** A list's organization filter, for platform admins (an organization's console shows its own alone). */
export const OrganizationFilter: FC<{ value: string | null }> = ({ value }) => (
  <PlatformOnly>
    <div>
      <label for="organization_id">Organization ID</label>
      <input id="organization_id" name="organization_id" type="search" value={value ?? ""} placeholder="org_…" autocomplete="off" />
    </div>
  </PlatformOnly>
);

/** A list's search box (`q`), with the hint that says what it finds. */
export const SearchField: FC<{ value: string | null; hint: string }> = ({ value, hint }) => (
  <div class="search">
    <label for="q">Search</label>
    <input id="q" name="q" type="search" value={value ?? ""} dir="auto" autocomplete="off" aria-describedby="q-hint" />
    <div class="hint" id="q-hint">
      {hint}
    </div>
  </div>
);

/** A list's Filter button, and Clear (back to `clearHref`) when a filter is set. */
export const FilterButtons: FC<{ filtered: boolean; clearHref: string }> = ({ filtered, clearHref }) => (
  <>
    <button type="submit">Filter</button>
    {filtered ? (
      <a class="button" href={clearHref}>
        Clear
      </a>
    ) : null}
  </>
);

/**
 * A confirmation's form: Cancel (back to `cancelHref`, also on Escape through copy.js) and the
 * button that does it. `back` carries the list the admin came from.
 */
export const ConfirmForm: FC<{ action: string; back?: string; cancelHref: string; kind: "danger" | "primary"; children: Child }> = ({ action, back, cancelHref, kind, children }) => (
  <form method="post" action={action} class="confirm-actions">
    {back === undefined ? null : <input type="hidden" name="back" value={back} />}
    <a class="button" href={cancelHref} data-cancel>
      Cancel
    </a>
    <button type="submit" class={kind}>
      {children}
    </button>
  </form>
);
