import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/types";
import { Time, documentedErrors, idParam } from "../../http/schemas";
import { FAILURE_REASONS } from "../../services/usage";
import { type Granularity, MAX_RANGE_DAYS, accountUsage, credentialUsage, defaultRange, organizationUsage, rangeProblem } from "../../services/usage-reports";

const Count = z.int().min(0);

const UsageBucketSchema = z
  .object({
    start: Time.openapi({ description: "Start of the bucket (UTC hour or day)", example: "2026-11-29T14:00:00.000Z" }),
    tokens_issued: Count,
    verifications: Count.openapi({ description: "Test-auth, introspection and RPC checks that passed" }),
    failures: Count,
    failures_by_reason: z
      .object(Object.fromEntries(FAILURE_REASONS.map((reason) => [reason, Count])) as Record<(typeof FAILURE_REASONS)[number], typeof Count>)
      .openapi({ description: "`failures` by why; `wrong_secret` includes assertions that did not verify" }),
  })
  .openapi("UsageBucket");

const UsageReportSchema = z
  .object({ data: z.array(UsageBucketSchema).openapi({ description: "Every bucket in [from, to) once, ascending, zeros included" }) })
  .openapi("UsageReport");

const moment = (name: "from" | "to", description: string, example: string) =>
  z.iso.datetime({ offset: true }).optional().openapi({ param: { name, in: "query" }, description, example });

const UsageQuery = z
  .strictObject({
    from: moment("from", "Start of the range, on a bucket boundary (default: 7 days before `to`, 30 for `day`)", "2026-11-22T00:00:00Z"),
    to: moment("to", "End of the range, exclusive, on a bucket boundary (default: the end of the current bucket)", "2026-11-29T00:00:00Z"),
    granularity: z.enum(["hour", "day"]).optional().openapi({ param: { name: "granularity", in: "query" }, default: "hour" }),
  })
  .superRefine((query, ctx) => {
    const problem = rangeProblem(rangeOf(query));
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

function rangeOf(query: { from?: string | undefined; to?: string | undefined; granularity?: Granularity | undefined }) {
  const at = (value: string | undefined) => (value === undefined ? undefined : Date.parse(value));
  return defaultRange(query.granularity ?? "hour", at(query.from), at(query.to));
}

const OWNERS = {
  credential: { path: "/credentials/{id}/usage", tag: "Credentials", id: "cred", summary: "Usage of a credential per hour or day: tokens issued, verifications, failures by reason" },
  account: { path: "/accounts/{id}/usage", tag: "Accounts", id: "acct", summary: "Usage of an account: the sum over its credentials, per hour or day" },
  organization: { path: "/organizations/{id}/usage", tag: "Organizations", id: "org", summary: "Usage of an organization: the sum over its credentials, deleted ones included, per hour or day" },
} as const;

const report = (owner: keyof typeof OWNERS) =>
  createRoute({
    method: "get",
    path: OWNERS[owner].path,
    tags: [OWNERS[owner].tag],
    summary: `${OWNERS[owner].summary} (at most ${MAX_RANGE_DAYS} days)`,
    request: { params: idParam(OWNERS[owner].id), query: UsageQuery },
    responses: {
      200: { description: "One bucket per hour or day of [from, to)", content: { "application/json": { schema: UsageReportSchema } } },
      ...documentedErrors(400, 401, 403, 404, 503),
    },
  });

export function registerUsageRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(report("credential"), async (c) =>
    c.json({ data: await credentialUsage(c.env, c.req.valid("param").id, rangeOf(c.req.valid("query"))) }, 200),
  );
  app.openapi(report("account"), async (c) => c.json({ data: await accountUsage(c.env, c.req.valid("param").id, rangeOf(c.req.valid("query"))) }, 200));
  app.openapi(report("organization"), async (c) => c.json({ data: await organizationUsage(c.env, c.req.valid("param").id, rangeOf(c.req.valid("query"))) }, 200));
}
