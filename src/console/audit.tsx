import type { FC } from "hono/jsx";
import type { AuditEvent } from "../services/audit";
import type { TwoWayPage } from "../services/search";
import { EmptyRow, FilterButtons, Layout, Name, OrganizationFilter, Pager, When, withQuery } from "./layout";

/** The audit log screen, and the table of events it shares with a credential's history. */

export const AuditPage: FC<{ actor: string; page: TwoWayPage<AuditEvent>; target: string; organization: string | null }> = ({ actor, page, target, organization }) => (
  <Layout title="Audit log" section="audit" actor={actor}>
    <h1>Audit log</h1>
    <p class="lead">Every change made through the management API and this console, newest first. Times are UTC, to the second.</p>
    <form method="get" action="/console/audit" class="filters" role="search" aria-label="Filter the audit log">
      <div class="search">
        <label for="target_id">Target ID</label>
        <input id="target_id" name="target_id" type="search" value={target} placeholder="cred_… or acct_…" autocomplete="off" />
      </div>
      <OrganizationFilter value={organization} />
      <FilterButtons filtered={Boolean(target || organization)} clearHref="/console/audit" />
    </form>
    <AuditTable events={page.data} caption="Audit events" />
    <Pager path="/console/audit" filters={{ target_id: target, organization_id: organization }} newer={page.newer} older={page.older} />
  </Layout>
);

/** Audit events as a table (the audit page and a credential's history). */
export const AuditTable: FC<{ events: AuditEvent[]; caption: string | null }> = ({ events, caption }) => (
  <table class="cards">
    {caption ? <caption class="sr-only">{caption}</caption> : null}
    <thead>
      <tr>
        <th scope="col">When (UTC)</th>
        <th scope="col">Who</th>
        <th scope="col">Action</th>
        <th scope="col">Target</th>
        <th scope="col">IP</th>
      </tr>
    </thead>
    <tbody>
      {events.length === 0 ? (
        <EmptyRow columns={5}>No events.</EmptyRow>
      ) : (
        events.map((event) => (
          <tr>
            <td data-label="When (UTC)">
              <When at={event.at} />
            </td>
            <td data-label="Who">
              <span class="mono">
                <bdi>{event.actor}</bdi>
              </span>
              <div class="hint">via {event.channel === "api" ? "the API" : event.channel === "console" ? "the console" : "Keymint itself"}</div>
            </td>
            <td data-label="Action" class="mono">
              {event.action}
            </td>
            <td data-label="Target">
              {event.target_name !== null ? <Name>{event.target_name}</Name> : <span class="hint">(name not recorded)</span>}
              <div>
                <a class="mono" href={withQuery("/console/audit", { target_id: event.target_id })}>
                  {event.target_id}
                </a>
              </div>
            </td>
            <td data-label="IP" class="mono">
              {event.ip ?? ""}
            </td>
          </tr>
        ))
      )}
    </tbody>
  </table>
);
