import type { FC } from "hono/jsx";
import type { Credential } from "../services/credentials";
import { errorMarks, Notice, When, withQuery } from "./layout";

/**
 * The credential lifecycle in the console: expiry (with a badge for the last 7 days and after),
 * the IP allowlist, a reported leak, and how an OAuth client authenticates (secret or
 * private_key_jwt, DPoP required or not); and the expiry and JWK Set fields of its forms.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Credentials ending within this many days are flagged. */
export const EXPIRY_WARNING_DAYS = 7;

/** The assertion type a private_key_jwt client sends (RFC 7523 §2.2). */

/** "Expired", "Expires in 3 days" (within EXPIRY_WARNING_DAYS), or null. */
export function expiryWarning(expiresAt: string | null, now = Date.now()): { expired: boolean; text: string } | null {
  if (expiresAt === null) return null;
  const left = Date.parse(expiresAt) - now;
  if (left <= 0) return { expired: true, text: "Expired" };
  if (left > EXPIRY_WARNING_DAYS * DAY) return null;
  if (left < HOUR) return { expired: false, text: "Expires in less than an hour" };
  if (left < DAY) {
    const hours = Math.ceil(left / HOUR);
    return { expired: false, text: `Expires in ${hours} hour${hours === 1 ? "" : "s"}` };
  }
  const days = Math.ceil(left / DAY);
  return { expired: false, text: `Expires in ${days} day${days === 1 ? "" : "s"}` };
}

/** The badge for a credential that has ended or ends soon: words, not colour alone. */
export const ExpiryBadge: FC<{ expiresAt: string | null; now?: number }> = ({ expiresAt, now }) => {
  const warning = expiryWarning(expiresAt, now);
  if (!warning) return null;
  return <span class={`badge ${warning.expired ? "off" : "warn"}`}>{warning.text}</span>;
};

/** The expiry of a credential: the moment (UTC) and its badge, or "Never". */
export const Expiry: FC<{ expiresAt: string | null; never?: string; now?: number }> = ({ expiresAt, never, now }) =>
  expiresAt === null ? (
    <span class="hint">{never ?? "Never"}</span>
  ) : (
    <>
      <When at={expiresAt} />{" "}
      <ExpiryBadge expiresAt={expiresAt} now={now} />
    </>
  );

/** Whether a credential authenticates with a private key JWT (no secret at all). */
export const isPrivateKeyJwt = (credential: Pick<Credential, "token_endpoint_auth_method">) => credential.token_endpoint_auth_method === "private_key_jwt";

/** A leak URL is linked only when it is a web address; anything else is shown as text. */
const webUrl = (url: string) => /^https?:\/\//i.test(url);

/** The banner on a credential whose secret a scanner reported (LEAKED_SECRET_ACTION=flag). */
export const LeakBanner: FC<{ credential: Credential; back: string }> = ({ credential, back }) =>
  credential.leaked_at ? (
    <Notice kind="error" id="leak-banner">
      <strong>This secret was reported leaked.</strong> Reported leaked on <When at={credential.leaked_at} /> UTC
      {credential.leak_url ? (
        <>
          {" "}
          at{" "}
          {webUrl(credential.leak_url) ? (
            <a class="mono" href={credential.leak_url} rel="noreferrer">
              <bdi dir="auto">{credential.leak_url}</bdi>
            </a>
          ) : (
            <span class="mono">
              <bdi dir="auto">{credential.leak_url}</bdi>
            </span>
          )}
        </>
      ) : null}
      . Anyone who found it can use it until it is replaced.{" "}
      <a class="button danger small" href={withQuery(`/console/credentials/${credential.id}/roll`, { back })}>
        Roll the secret now
      </a>
    </Notice>
  ) : null;

/** What a key of a JWK Set is, for people: its type and curve. */
export function keyKind(key: Record<string, unknown>): string {
  if (key.kty === "EC") return `EC ${String(key.crv ?? "")}`.trim();
  if (key.kty === "OKP") return `OKP ${String(key.crv ?? "")}`.trim();
  if (key.kty === "RSA") return "RSA";
  return String(key.kty ?? "unknown");
}

/** A private_key_jwt client's public keys: kid, then kty/crv. */
export const KeyList: FC<{ jwks: Credential["jwks"] }> = ({ jwks }) =>
  !jwks || jwks.keys.length === 0 ? (
    <span class="hint">None</span>
  ) : (
    <ul class="plain">
      {jwks.keys.map((key) => (
        <li>
          <span class="mono">
            <bdi dir="auto">{String(key.kid ?? "")}</bdi>
          </span>{" "}
          <span class="hint">{keyKind(key)}</span>
        </li>
      ))}
    </ul>
  );

export const AUTH_METHOD_LABEL = {
  client_secret_basic: "Client secret",
  private_key_jwt: "Private key JWT",
} as const;

/** An RFC 3339 time as a datetime-local value, in UTC (the console shows every time in UTC). */
export function toDateTimeInput(iso: string | null): string {
  if (iso === null) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const text = date.toISOString();
  return date.getUTCSeconds() === 0 && date.getUTCMilliseconds() === 0 ? text.slice(0, 16) : text.slice(0, 19);
}

const DATE_TIME_INPUT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A datetime-local value read as UTC: null for empty, an RFC 3339 string, or a problem. */
export function fromDateTimeInput(text: string): { value: string | null } | { problem: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { value: null };
  const match = DATE_TIME_INPUT.exec(trimmed);
  if (!match) return { problem: "enter a date and time as YYYY-MM-DD HH:MM (UTC)" };
  const iso = `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6] ?? "00"}.000Z`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || date.toISOString() !== iso) return { problem: "that date and time does not exist" };
  return { value: iso };
}

/** The allowlist as typed: one CIDR per line (blank lines ignored); empty is "anywhere". */
export const allowlistText = (cidrs: string[] | null) => (cidrs ?? []).join("\n");

/** The JWK Set textarea: checked in the page (copy.js) and on the server. */
export const JwksField: FC<{ value: string; error?: string | undefined; required: boolean; label?: string }> = ({ value, error, required, label }) => (
  <div>
    <label for="jwks">{label ?? "JWK Set (public keys, for private key JWT)"}</label>
    <textarea
      id="jwks"
      name="jwks"
      class="mono"
      rows={8}
      spellcheck={false}
      autocomplete="off"
      dir="ltr"
      required={required}
      data-jwks
      {...errorMarks(Boolean(error), "jwks", "jwks-hint")}
    >
      {value}
    </textarea>
    <div class="hint" id="jwks-hint">
      Paste <code>{'{"keys": [...]}'}</code> with 1 to 5 public keys (EC P-256, RSA of 2048 bits or more, or Ed25519), each with its own <code>kid</code>. Never
      paste a private key.
    </div>
    <div class="field-error" id="jwks-error">
      {error ?? ""}
    </div>
  </div>
);

/** The expiry field: a date and time in UTC, empty for never (unless a policy requires one). */
export const ExpiresAtField: FC<{ value: string; maxLifetimeDays: number | null; error?: string | undefined }> = ({ value, maxLifetimeDays, error }) => (
  <div>
    <label for="expires_at">Expires at (UTC)</label>
    <input
      id="expires_at"
      name="expires_at"
      type="datetime-local"
      step={1}
      value={value}
      {...errorMarks(Boolean(error), "expires_at", "expires_at-hint")}
    />
    <div class="hint" id="expires_at-hint">
      {maxLifetimeDays === null
        ? "Leave empty for a credential that works until it is deleted. After this moment it authenticates nowhere."
        : `Required here: at most ${maxLifetimeDays} days from now. After this moment it authenticates nowhere.`}
    </div>
    {error ? (
      <div class="field-error" id="expires_at-error">
        {error}
      </div>
    ) : null}
  </div>
);
