import type { FC } from "hono/jsx";
import { BUCKET_MS, type DailyUsage, type UsageBucket } from "../services/usage-reports";

/**
 * Usage, drawn on the server as SVG: no charting script, so the CSP stays strict. The SVG is
 * what the eye reads; the table under it is what a screen reader (and a careful admin) reads,
 * with the same numbers.
 */

const QUIET_AFTER_DAYS = 30;

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
/** "Mon 30 Nov", in UTC. */
const dayLabel = (start: string) => new Date(start).toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
const requestsOf = (bucket: UsageBucket) => bucket.tokens_issued + bucket.verifications;

/** The chart's top: the tallest bar, rounded up to 1, 2 or 5 times a power of ten. */
function scaleTop(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= max)!;
}

/** One day's totals (a day is 24 hourly buckets). */
function byDay(buckets: UsageBucket[]): UsageBucket[] {
  const days = new Map<string, UsageBucket>();
  for (const bucket of buckets) {
    const start = `${bucket.start.slice(0, 10)}T00:00:00.000Z`;
    const day = days.get(start) ?? { start, tokens_issued: 0, verifications: 0, failures: 0, failures_by_reason: { ...bucket.failures_by_reason } };
    if (days.has(start)) for (const [reason, n] of Object.entries(bucket.failures_by_reason)) day.failures_by_reason[reason as keyof typeof day.failures_by_reason] += n;
    day.tokens_issued += bucket.tokens_issued;
    day.verifications += bucket.verifications;
    day.failures += bucket.failures;
    days.set(start, day);
  }
  return [...days.values()];
}

const reasonsText = (bucket: UsageBucket) =>
  Object.entries(bucket.failures_by_reason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason.replaceAll("_", " ")} ${n}`)
    .join(", ");

/**
 * Hourly bars for whole UTC days: tokens issued and verifications in one colour, failures stacked
 * on top in another. `id` keeps the ids of two charts on one page apart.
 */
export const UsageChart: FC<{ id: string; buckets: UsageBucket[]; heading: string }> = ({ id, buckets, heading }) => {
  const days = byDay(buckets);
  const total = days.reduce((sum, day) => ({ requests: sum.requests + requestsOf(day), failures: sum.failures + day.failures }), { requests: 0, failures: 0 });
  const top = scaleTop(Math.max(0, ...buckets.map((bucket) => requestsOf(bucket) + bucket.failures)));
  const height = 100;
  const y = (n: number) => (n / top) * height;
  const summary =
    total.requests + total.failures === 0
      ? "No traffic in these 7 days."
      : `${plural(days.reduce((n, day) => n + day.tokens_issued, 0), "token")} issued, ${plural(
          days.reduce((n, day) => n + day.verifications, 0),
          "verification",
        )} and ${plural(total.failures, "failure")}.`;
  return (
    <section class="card usage" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>{heading}</h2>
      <p class="hint" id={`${id}-summary`}>
        Hourly, in UTC. {summary}
      </p>
      <div class="chart">
        <div class="chart-scale" aria-hidden="true">
          <span>{top.toLocaleString("en-US")}</span>
          <span>0</span>
        </div>
        <svg
          class="chart-bars"
          viewBox={`0 0 ${buckets.length} ${height}`}
          preserveAspectRatio="none"
          role="img"
          aria-labelledby={`${id}-heading ${id}-summary`}
          data-chart={id}
        >
          {days.slice(1).map((_, i) => (
            <line class="chart-day" x1={(i + 1) * 24} x2={(i + 1) * 24} y1={0} y2={height} vector-effect="non-scaling-stroke" />
          ))}
          {buckets.map((bucket, i) => {
            const ok = y(requestsOf(bucket));
            const failed = y(bucket.failures);
            if (ok + failed === 0) return null;
            return (
              <g data-hour={bucket.start}>
                <title>{`${bucket.start.slice(0, 13).replace("T", " ")}:00 UTC: ${plural(bucket.tokens_issued, "token")} issued, ${plural(bucket.verifications, "verification")}, ${plural(bucket.failures, "failure")}`}</title>
                {ok > 0 ? <rect class="bar-ok" x={i + 0.1} width={0.8} y={height - ok} height={ok} /> : null}
                {failed > 0 ? <rect class="bar-failed" x={i + 0.1} width={0.8} y={height - ok - failed} height={failed} /> : null}
              </g>
            );
          })}
        </svg>
        <ol class="chart-days" aria-hidden="true">
          {days.map((day) => (
            <li>{dayLabel(day.start)}</li>
          ))}
        </ol>
      </div>
      <p class="chart-legend">
        <span class="swatch ok" aria-hidden="true"></span> Tokens issued and verifications <span class="swatch failed" aria-hidden="true"></span> Failures
      </p>
      <details>
        <summary>Numbers by day</summary>
        <table class="usage-table" data-usage-table={id}>
          <caption class="sr-only">{heading}, by UTC day</caption>
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              <th scope="col">Tokens issued</th>
              <th scope="col">Verifications</th>
              <th scope="col">Failures</th>
              <th scope="col">Why they failed</th>
            </tr>
          </thead>
          <tbody>
            {days.map((day) => (
              <tr>
                <th scope="row">
                  <time datetime={day.start.slice(0, 10)}>{dayLabel(day.start)}</time>
                </th>
                <td>{day.tokens_issued}</td>
                <td>{day.verifications}</td>
                <td>{day.failures}</td>
                <td>{reasonsText(day) || <span class="hint">None</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
};

/** The list's 7-day sparkline: one bar a day, failures stacked on top, and its numbers as its name. */
export const Sparkline: FC<{ usage: DailyUsage | undefined }> = ({ usage }) => {
  if (!usage) return null;
  const requests = usage.requests.reduce((a, b) => a + b, 0);
  const failures = usage.failures.reduce((a, b) => a + b, 0);
  const top = Math.max(1, ...usage.requests.map((n, i) => n + usage.failures[i]!));
  const height = 20;
  const label = `Last 7 days: ${plural(requests, "request")}, ${plural(failures, "failure")}`;
  return (
    <svg class="sparkline" viewBox={`0 0 ${usage.requests.length} ${height}`} preserveAspectRatio="none" role="img" aria-label={label} data-sparkline>
      <title>{label}</title>
      <line class="chart-day" x1={0} x2={usage.requests.length} y1={height} y2={height} vector-effect="non-scaling-stroke" />
      {usage.requests.map((n, i) => {
        const ok = (n / top) * height;
        const failed = (usage.failures[i]! / top) * height;
        return (
          <>
            {ok > 0 ? <rect class="bar-ok" x={i + 0.15} width={0.7} y={height - ok} height={ok} /> : null}
            {failed > 0 ? <rect class="bar-failed" x={i + 0.15} width={0.7} y={height - ok - failed} height={failed} /> : null}
          </>
        );
      })}
    </svg>
  );
};

/** Whole days since a credential was last used (or created, if never used). */
export function quietDays(credential: { last_used_at: string | null; created_at: string }, now = Date.now()): number {
  return Math.floor((now - Date.parse(credential.last_used_at ?? credential.created_at)) / BUCKET_MS.day);
}

/** "Quiet for N days" from 30 days on: the credentials a rotation can delete safely. */
export const QuietHint: FC<{ credential: { last_used_at: string | null; created_at: string }; now?: number }> = ({ credential, now }) => {
  const days = quietDays(credential, now);
  if (days < QUIET_AFTER_DAYS) return null;
  return (
    <div>
      <span class="badge warn" title="Unused for 30 days or more: a rotation can delete it safely">
        {credential.last_used_at ? `Quiet for ${days} days` : `Never used in ${days} days`}
      </span>
    </div>
  );
};
