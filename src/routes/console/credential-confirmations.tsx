import type { Hono } from "hono";
import { DeleteCredentialPage, EndGracePage, ROLL_GRACE_CHOICES, RollCredentialPage } from "../../console/credential-confirmations";
import { listHref } from "../../console/credential-list";
import { isPrivateKeyJwt } from "../../console/lifecycle";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { endGrace } from "../../services/credential-grace";
import * as credentials from "../../services/credentials";
import { randomBase62 } from "../../services/secrets";
import { CREDENTIAL_LIST_KEYS, backOf } from "./credential-list";
import { ownerOf } from "./credential-page";
import { answerRoll } from "./credential-shown-once";
import { NONCE, andDone, consoleAudit, form, sanitizeBack } from "./forms";

/**
 * What cannot be undone on a credential, each a confirmation page and its post: delete it, roll
 * its secret (the answer shows the new one once), end the grace period of the previous secret.
 */

export function registerCredentialConfirmationRoutes(ui: Hono<AppEnv>) {
  // Confirm deleting a credential
  ui.get("/credentials/:id/delete", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    return c.html(<DeleteCredentialPage actor={c.get("actor")} credential={credential} account={await ownerOf(c, credential)} back={backOf(c)} />);
  });
  // Delete a credential
  ui.post("/credentials/:id/delete", async (c) => {
    const { back } = await form(c);
    await credentials.deleteCredential(c.env, consoleAudit(c), c.req.param("id"));
    return c.redirect(andDone(listHref(sanitizeBack(back, CREDENTIAL_LIST_KEYS)), "deleted"), 303);
  });

  // Form to roll the secret of a credential
  ui.get("/credentials/:id/roll", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    if (isPrivateKeyJwt(credential)) {
      throw new ApiError("invalid_request", "A private key JWT client has no secret to roll: replace its public keys on its page instead.");
    }
    return c.html(
      <RollCredentialPage actor={c.get("actor")} credential={credential} account={await ownerOf(c, credential)} nonce={randomBase62(32)} back={backOf(c)} />,
    );
  });
  // Roll the secret of a credential; the response shows the new one once
  ui.post("/credentials/:id/roll", async (c) => {
    const body = await form(c);
    const grace = ROLL_GRACE_CHOICES.find((choice) => String(choice.seconds) === body.expires_in);
    if (!grace || !NONCE.test(body.nonce ?? "")) throw new ApiError("invalid_request", "Choose a grace period.");
    // The service refuses to roll a private_key_jwt client (it has no secret).
    const result = await credentials.rollCredential(c.env, consoleAudit(c), c.req.param("id"), grace.seconds, `console:${body.nonce}`);
    return answerRoll(c, result);
  });

  // Confirm ending the grace period of a rolled secret
  ui.get("/credentials/:id/end-grace", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    if (!credential.previous_secret_expires_at) {
      throw new ApiError("invalid_request", "This credential has no previous secret in a grace period.");
    }
    return c.html(<EndGracePage actor={c.get("actor")} credential={credential} account={await ownerOf(c, credential)} back={backOf(c)} />);
  });
  // End the grace period: the previous secret stops working now
  ui.post("/credentials/:id/end-grace", async (c) => {
    const { back } = await form(c);
    const credential = await endGrace(c.env, consoleAudit(c), c.req.param("id"));
    const href = `/console/credentials/${credential.id}?${new URLSearchParams({ ...(back ? { back: sanitizeBack(back, CREDENTIAL_LIST_KEYS) } : {}), done: "grace-ended" })}`;
    return c.redirect(href, 303);
  });
}
