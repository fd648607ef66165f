import type { Child, FC } from "hono/jsx";
import { Notice, Writable } from "./layout";

/** Pieces of markup the console's pages share: a page's head, its sections and the ends of its forms. */

/** A page's head: the way back to its list, its heading and lead, and (left out for viewers) its actions. */
export const PageHead: FC<{ back: { href: string; label: string }; heading: Child; headingClass?: string; lead: Child; children: Child }> = ({
  back,
  heading,
  headingClass,
  lead,
  children,
}) => (
  <>
    <p>
      <a href={back.href}>← {back.label}</a>
    </p>
    <div class="page-head">
      <div>
        <h1 class={headingClass}>{heading}</h1>
        <p class="lead">{lead}</p>
      </div>
      <Writable>
        <div class="confirm-actions">{children}</div>
      </Writable>
    </div>
  </>
);

/** A card with a heading that names it (`id`-heading). */
export const CardSection: FC<{ id: string; heading: Child; children: Child }> = ({ id, heading, children }) => (
  <section class="card" aria-labelledby={`${id}-heading`}>
    <h2 id={`${id}-heading`}>{heading}</h2>
    {children}
  </section>
);

/** The error of a refused form, over it (`#form-error`). */
export const FormError: FC<{ error: { message: string } | undefined }> = ({ error }) =>
  error ? (
    <Notice kind="error" id="form-error">
      {error.message}
    </Notice>
  ) : null;

/** A form's one button. */
export const Submit: FC<{ children: Child }> = ({ children }) => (
  <div>
    <button type="submit" class="primary">
      {children}
    </button>
  </div>
);

/** A form's Cancel (back to `cancelHref`; `escape`: also on Escape, through copy.js) and its button. */
export const CancelOrSubmit: FC<{ cancelHref: string; escape?: boolean; children: Child }> = ({ cancelHref, escape, children }) => (
  <div class="confirm-actions">
    <a class="button" href={cancelHref} data-cancel={escape || undefined}>
      Cancel
    </a>
    <button type="submit" class="primary">
      {children}
    </button>
  </div>
);

/** Values that read as code, one a line. */
export const MonoList: FC<{ items: readonly string[] }> = ({ items }) => (
  <ul class="plain">
    {items.map((item) => (
      <li class="mono">{item}</li>
    ))}
  </ul>
);

/** The grace periods a roll offers the old secret besides none at all (which each page words its own way). */
export const GRACE_PERIODS = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 86_400, label: "24 hours" },
  { seconds: 604_800, label: "7 days" },
] as const;

/** A roll's form: the grace period for the old secret (24 hours unless changed), Cancel and Roll secret. */
export const RollForm: FC<{ action: string; choices: readonly { seconds: number; label: string }[]; cancelHref: string; children?: Child }> = ({
  action,
  choices,
  cancelHref,
  children,
}) => (
  <form method="post" action={action} class="stack card">
    {children}
    <div>
      <label for="expires_in">Grace period for the old secret</label>
      <select id="expires_in" name="expires_in">
        {choices.map((choice) => (
          <option value={String(choice.seconds)} selected={choice.seconds === 86_400}>
            {choice.label}
          </option>
        ))}
      </select>
    </div>
    <CancelOrSubmit cancelHref={cancelHref} escape>
      Roll secret
    </CancelOrSubmit>
  </form>
);
