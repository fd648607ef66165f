import type { FC } from "hono/jsx";
import { Layout, Notice } from "./layout";
import { Submit } from "./parts";

export const LoginPage: FC<{ error?: string | undefined; signedOut?: boolean }> = ({ error, signedOut }) => (
  <Layout title="Sign in">
    <div class="login card">
      <h1>Sign in to Keymint</h1>
      <p class="lead">Use the admin token (ADMIN_TOKEN; locally it is in .dev.vars).</p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {signedOut ? <Notice kind="ok">You are signed out.</Notice> : null}
      <form method="post" action="/console/login" class="stack">
        <div>
          <label for="admin_token">Admin token</label>
          <input
            id="admin_token"
            name="admin_token"
            type="password"
            required
            autocomplete="current-password"
            {...(error ? { "aria-invalid": "true", autofocus: true } : {})}
          />
        </div>
        <Submit>Sign in</Submit>
      </form>
    </div>
  </Layout>
);

export const ErrorPage: FC<{ actor?: string | undefined; title: string; message: string; back?: { href: string; label: string } | undefined }> = ({
  actor,
  title,
  message,
  back,
}) => (
  <Layout title={title} actor={actor} focus="heading">
    <h1>{title}</h1>
    <Notice kind="error">{message}</Notice>
    <a class="button" href={back?.href ?? "/console/credentials"}>
      {back?.label ?? "Back to credentials"}
    </a>
  </Layout>
);

/**
 * A console link's landing page: the session cookie is set; this page moves on to the console by
 * itself (a same-site navigation, so the SameSite=Strict cookie goes with it), or by its link.
 */
export const LinkSignedInPage: FC<{ organization: string; role: "admin" | "viewer" }> = ({ organization, role }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <meta http-equiv="refresh" content="0;url=/console/credentials" />
      <title>Signed in · Keymint</title>
      <link rel="stylesheet" href="/console/assets/console.css" />
    </head>
    <body>
      <main id="main">
        <div class="login card">
          <h1>
            Signed in to <bdi>{organization}</bdi>
          </h1>
          <p class="lead">{role === "viewer" ? "You can look at its API credentials." : "You can manage its API credentials."}</p>
          <p>
            <a class="button primary" href="/console/credentials">
              Open the console
            </a>
          </p>
        </div>
      </main>
    </body>
  </html>
);
