import type { Hook } from "@hono/zod-openapi";
import { ApiError } from "./errors";
import type { AppEnv } from "./types";

/**
 * Turns a zod failure into 400 invalid_request. The description names the field and the rule,
 * never the value that was sent (it may be a secret pasted into the wrong field).
 */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const issues = result.error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.join(".");
    const message =
      issue.code === "unrecognized_keys"
        ? `unknown field(s): ${[...new Set(issue.keys.slice(0, 5).map((key) => (/^[a-z_]{1,32}$/.test(key) ? key : "(unnamed)")))].join(", ")}`
        : issue.message;
    return path ? `${path}: ${message}` : message;
  });
  throw new ApiError("invalid_request", issues.join("; "));
};
