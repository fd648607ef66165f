import type { FC } from "hono/jsx";
import type { AuditEvent } from "../services/audit";
import type { TwoWayPage } from "../services/search";
import { AuditTable } from "./credentials";
import { Layout, Pager } from "./layout";

export const AuditPage: FC<{ actor: string; page: TwoWayPage<AuditEvent>; target: string }> = ({ actor, page, target }) => (
  <Layout title="Audit log" section="audit" actor={actor}>
    <h1>Audit log</h1>
    <p class="lead">Every change made through the management API and this console, newest first. Times are UTC, to the second.</p>
    <form method="get" action="/console/audit" class="filters" role="search" aria-label="Filter the audit log">
      <div class="search">
        <label for="target_id">Target ID</label>
        <input id="target_id" name="target_id" type="search" value={target} placeholder="cred_… or acct_…" autocomplete="off" />
      </div>
      <button type="submit">Filter</button>
      {target ? (
        <a class="button" href="/console/audit">
          Clear
        </a>
      ) : null}
    </form>
    <AuditTable events={page.data} caption="Audit events" />
    <Pager path="/console/audit" filters={{ target_id: target }} newer={page.newer} older={page.older} />
  </Layout>
);
