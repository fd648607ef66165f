import type { FC } from "hono/jsx";
import { Layout, Notice } from "./layout";

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
        <div>
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
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
