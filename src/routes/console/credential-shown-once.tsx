import type { Context, Hono } from "hono";
import { AlreadyShownPage, PrivateKeyClientReadyPage, SecretShownOncePage } from "../../console/credential-shown-once";
import { TestResultView } from "../../console/handoff";
import { isPrivateKeyJwt } from "../../console/lifecycle";
import { Layout } from "../../console/layout";
import type { AppEnv } from "../../http/types";
import * as credentials from "../../services/credentials";
import { handoff, testSecret } from "../../services/handoff";
import { form } from "./forms";

/**
 * The shown-once screen: what a create or roll answers (the new secret, once; a private_key_jwt
 * client's ID; or, for a form sent again, that the secret was already shown), and its Test now.
 */

/** The answer to a create. */
export function answerCreate(c: Context<AppEnv>, result: Awaited<ReturnType<typeof credentials.createCredential>>) {
  if ("replayed" in result) {
    // The same form sent twice: a private_key_jwt client has nothing shown once, so its page will do.
    if (isPrivateKeyJwt(result.credential)) return c.redirect(`/console/credentials/${result.credential.id}`, 303);
    return c.html(<AlreadyShownPage actor={c.get("actor")} />);
  }
  if (isPrivateKeyJwt(result)) return c.html(<PrivateKeyClientReadyPage actor={c.get("actor")} credential={result} urls={handoff(c.env)} />, 201);
  if (!("client_secret" in result || "api_key" in result)) return c.html(<AlreadyShownPage actor={c.get("actor")} />);
  return c.html(<SecretShownOncePage actor={c.get("actor")} credential={result} urls={handoff(c.env)} />, 201);
}

/** The answer to a roll. */
export function answerRoll(c: Context<AppEnv>, result: Awaited<ReturnType<typeof credentials.rollCredential>>) {
  if (!("client_secret" in result || "api_key" in result)) return c.html(<AlreadyShownPage actor={c.get("actor")} rolled />);
  return c.html(<SecretShownOncePage actor={c.get("actor")} credential={result} urls={handoff(c.env)} rolled />);
}

export function registerShownOnceRoutes(ui: Hono<AppEnv>) {
  // Test now: try the secret just shown (server side, never stored) and show the token's claims
  ui.post("/credentials/:id/test", async (c) => {
    const credential = await credentials.getCredential(c.env, c.req.param("id"));
    const { secret = "" } = await form(c);
    const result = await testSecret(c.env, c.executionCtx, credential, secret.slice(0, 512));
    return c.html(
      <Layout title="Test result" section="credentials" actor={c.get("actor")} focus="heading">
        <h1>Test of {credential.name}</h1>
        <TestResultView result={result} />
      </Layout>,
    );
  });
}
