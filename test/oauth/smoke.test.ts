import { expect, it } from "vitest";
import { BASE, createAccount, createCredential, json } from "../support/http";
import { testAuth, tokenFor } from "../support/oauth";

it("mints a token that test-auth accepts", async () => {
  const account = await createAccount();
  const client = await createCredential(account.id, "oauth_client", ["a", "b"]);
  const token = await tokenFor(client);
  const response = await testAuth(token);
  expect(response.status).toBe(200);
  expect(await json(response)).toEqual({
    ok: true,
    account_id: account.id,
    organization_id: "org_default",
    credential_id: client.id,
    credential_type: "oauth_client",
    scopes: ["a", "b"],
    aud: BASE,
    grants: [{ api: BASE, scopes: ["a", "b"] }],
    claims: {},
  });
});
