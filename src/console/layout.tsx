import type { Child, FC } from "hono/jsx";

/** The frame of every console page. hono/jsx escapes every interpolated value. */

export type Section = "credentials" | "accounts" | "audit";

export const Layout: FC<{ title: string; section?: Section; actor?: string; children: Child }> = ({ title, section, actor, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>{`${title} · Keymint`}</title>
      <link rel="stylesheet" href="/console/assets/console.css" />
      <script src="/console/assets/copy.js" defer></script>
    </head>
    <body>
      <header class="top">
        <div class="bar">
          <a class="brand" href="/console/credentials">Keymint</a>
          {actor ? (
            <>
              <nav aria-label="Console">
                <a href="/console/credentials" aria-current={section === "credentials" ? "page" : undefined}>Credentials</a>
                <a href="/console/accounts" aria-current={section === "accounts" ? "page" : undefined}>Accounts</a>
                <a href="/console/audit" aria-current={section === "audit" ? "page" : undefined}>Audit log</a>
              </nav>
              <div class="who">
                {actor.startsWith("access:") ? (
                  <>
                    <span>Signed in as {actor.slice("access:".length)}</span>
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
      <main>{children}</main>
    </body>
  </html>
);

export const Notice: FC<{ kind?: "warn" | "error" | "ok"; children: Child }> = ({ kind, children }) => (
  <div class={`notice${kind ? ` ${kind}` : ""}`} role={kind === "error" ? "alert" : "status"}>
    {children}
  </div>
);

/** A date as people read it, with the exact UTC time in the markup. */
export const When: FC<{ at: string | null }> = ({ at }) =>
  at ? (
    <time datetime={at} title={`${at} (UTC)`}>
      {at.replace("T", " ").slice(0, 16)}
    </time>
  ) : (
    <span class="hint">Never</span>
  );

export const TrashIcon: FC = () => (
  <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
    <path
      fill="currentColor"
      d="M6.5 1h3a.5.5 0 0 1 .5.5V2h3a.5.5 0 0 1 0 1h-.54l-.8 10.4A1.5 1.5 0 0 1 10.17 15H5.83a1.5 1.5 0 0 1-1.5-1.6L3.54 3H3a.5.5 0 0 1 0-1h3v-.5a.5.5 0 0 1 .5-.5Zm-1.96 2 .79 10.32a.5.5 0 0 0 .5.46h4.34a.5.5 0 0 0 .5-.46L11.46 3H4.54ZM6.5 5.5a.5.5 0 0 1 .5.5v5a.5.5 0 0 1-1 0V6a.5.5 0 0 1 .5-.5Zm3 0a.5.5 0 0 1 .5.5v5a.5.5 0 0 1-1 0V6a.5.5 0 0 1 .5-.5Z"
    />
  </svg>
);

export const Pager: FC<{ next: string | null; base: string }> = ({ next, base }) => (
  <div class="pager">
    {next ? (
      <a class="button" href={`${base}${base.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(next)}`}>
        Older
      </a>
    ) : null}
  </div>
);
