import { claimJti } from "../storage/jti";

/**
 * Console forms that show a secret once (a webhook endpoint's create and roll) are sent once: a
 * form carries a one-time nonce, claimed in the JtiStore (strongly consistent everywhere) before
 * the change. A second send of the same form (a double click, a reload of the POST) finds it
 * claimed and changes nothing, so no secret is made that nobody sees.
 */

/** How long a form's nonce stays claimed: longer than anyone keeps a form open. */
const FORM_NONCE_SECONDS = 86_400;

/** True the first time this actor sends this form; false every time after. */
export function claimFormOnce(env: Env, actor: string, nonce: string): Promise<boolean> {
  return claimJti(env.JTI_STORE, `console-form:${actor}`, nonce, Math.floor(Date.now() / 1000) + FORM_NONCE_SECONDS);
}
