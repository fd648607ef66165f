import type { FC } from "hono/jsx";
import type { AuditEvent } from "../services/audit";
import { Layout, Pager, When } from "./layout";

export const AuditPage: FC<{ actor: string; events: AuditEvent[]; next: string | null; target: string }> = ({ actor, events, next, target }) => (
  <Layout title="Audit log" section="audit" actor={actor}>
    <h1>Audit log</h1>
    <p class="lead">Every change made through the management API and this console, newest first.</p>
    <form method="get" action="/console/audit" class="filters">
      <div>
        <label for="target_id">Target ID</label>
        <input id="target_id" name="target_id" type="text" value={target} placeholder="cred_… or acct_…" autocomplete="off" />
      </div>
      <button type="submit">Filter</button>
      {target ? <a class="button" href="/console/audit">Clear</a> : null}
    </form>
    <table>
      <thead>
        <tr>
          <th scope="col">When (UTC)</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">IP</th>
        </tr>
      </thead>
      <tbody>
        {events.length === 0 ? (
          <tr>
            <td colspan={5} class="empty">No events.</td>
          </tr>
        ) : (
          events.map((event) => (
            <tr>
              <td><When at={event.at} /></td>
              <td class="mono">{event.actor}</td>
              <td class="mono">{event.action}</td>
              <td>
                <a class="mono" href={`/console/audit?target_id=${encodeURIComponent(event.target_id)}`}>{event.target_id}</a>
              </td>
              <td class="mono">{event.ip ?? ""}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
    <Pager next={next} base={target ? `/console/audit?target_id=${encodeURIComponent(target)}` : "/console/audit"} />
  </Layout>
);
