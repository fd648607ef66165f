/** The Hono environment every route and middleware shares: bindings and per-request values. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** Set by requestContext on every request; echoed as X-Request-Id and logged. */
    requestId: string;
    /** Who is acting on an admin route: `admin_token`, `client:<client_id>` or `access:<email>`. */
    actor: string;
    /** On an admin route: the one organization an organization admin manages; null for platform admins. */
    adminOrganization: string | null;
    /** On a console page: the signed-in person may only read (a viewer's console link). */
    adminReadOnly: boolean;
    /** On a console page of an organization's console (a link's session): the organization's name. */
    consoleOrganizationName: string | null;
    /** The credential a hot-path request resolved to, for the request log. */
    credentialId: string;
  };
}
