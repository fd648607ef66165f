import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { MAX_SECRET_SCANNING_BODY_BYTES } from "../config";
import { ApiError } from "../http/errors";
import { limitBody } from "../http/middleware";
import { documentedError, documentedErrors } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { clientIp, countFailure } from "../services/rate-limits";
import { sendWebhooksAfterChanges } from "./webhook-sender";
import { SECRET_SCANNING_ACTOR, handleReport, parseReport, verifyReportSignature } from "../services/secret-scanning";

/** GitHub's secret scanning partner program posts its reports here (contract "Leaked secrets"). */
export const SECRET_SCANNING_PATH = "/secret-scanning/github";

const LabelledToken = z
  .object({
    token_hash: z.string().regex(/^[0-9a-f]{64}$/).openapi({ description: "Hex SHA-256 of the reported token", example: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }),
    token_type: z.string().openapi({ description: "The reported `type`, echoed", example: "keymint_api_key" }),
    label: z.enum(["true_positive", "false_positive"]).openapi({
      description: "true_positive: a Keymint API key or client secret that exists (current, previous in its grace, or expired); anything else is false_positive",
    }),
  })
  .openapi("SecretScanningLabel");

const report = createRoute({
  method: "post",
  path: SECRET_SCANNING_PATH,
  tags: ["Secret scanning"],
  summary: "GitHub secret scanning: a report of leaked tokens, answered with a label each",
  description:
    "Signed by GitHub (ECDSA P-256 / SHA-256 over the raw body, DER, base64, with one of the keys at GITHUB_SECRET_SCANNING_KEYS_URL). " +
    "Each real Keymint secret reported is acted on per LEAKED_SECRET_ACTION: `revoke` deletes its credential (a previous secret in its grace only ends the grace), `flag` sets `leaked_at` and `leak_url`. " +
    `Bodies up to ${MAX_SECRET_SCANNING_BODY_BYTES} bytes.`,
  security: [{ githubKeyIdentifier: [], githubSignature: [] }],
  request: {
    // The report as GitHub sends it; checked by the service after the signature (which covers the
    // raw bytes), not by zod.
    body: {
      required: true,
      content: {
        "application/json": {
          schema: {
            type: "array",
            items: {
              type: "object",
              required: ["token", "type"],
              properties: {
                token: { type: "string", description: "The value GitHub found", example: "km_live_…" },
                type: { type: "string", description: "The token type Keymint registered with GitHub", example: "keymint_api_key" },
                url: { type: "string", description: "Where it was found", example: "https://github.com/octo-org/app/blob/3f2a9c1/config/.env" },
                source: { description: "Where on GitHub (content, commit, pull_request_comment, …): any value is accepted" },
              },
            },
          },
        },
      },
    },
  },
  responses: {
    200: { description: "One label per reported token, in order", content: { "application/json": { schema: z.array(LabelledToken) } } },
    400: documentedError(400, "invalid_request: a signed body that is not a JSON array of {token, type, url?}"),
    401: documentedError(401, "unauthorized: unsigned, badly signed, or signed by a key GitHub does not publish"),
    ...documentedErrors(413, 429, 503),
  },
});

export function registerSecretScanningRoute(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "githubKeyIdentifier", {
    type: "apiKey",
    in: "header",
    name: "Github-Public-Key-Identifier",
    description: "The `key_identifier` of the GitHub key that signed the body.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "githubSignature", {
    type: "apiKey",
    in: "header",
    name: "Github-Public-Key-Signature",
    description: "Base64 of the ASN.1 DER ECDSA P-256 / SHA-256 signature over the raw body.",
  });

  app.use(SECRET_SCANNING_PATH, limitBody(MAX_SECRET_SCANNING_BODY_BYTES), sendWebhooksAfterChanges());
  app.openapi(report, async (c) => {
    const ip = clientIp(c.req.raw.headers);
    const keyId = c.req.header("github-public-key-identifier");
    const signature = c.req.header("github-public-key-signature");
    const body = await (async () => {
      try {
        // Unsigned: refused before the body is read.
        if (!keyId || !signature) throw new ApiError("unauthorized", "The report must be signed by GitHub.");
        const bytes = new Uint8Array(await c.req.arrayBuffer());
        await verifyReportSignature(c.env, keyId, signature, bytes);
        return bytes;
      } catch (error) {
        // A forged report is a failed authentication: it counts against the caller's IP (429 once over).
        if (error instanceof ApiError && error.code === "unauthorized") await countFailure(c.env, ip, undefined);
        throw error;
      }
    })();
    const labels = await handleReport(c.env, { actor: SECRET_SCANNING_ACTOR, channel: "system", ip }, parseReport(body));
    c.header("Cache-Control", "no-store");
    return c.json(labels, 200);
  });
}
