// The peer: oidc-provider (panva) on Node, set up for Keymint's job. Client credentials grant,
// client_secret_basic, ES256 JWT access tokens living 60 s (via resource indicators), the
// default in-memory adapter. One Node process, like one workerd isolate serving Keymint.
//
// Input: env PEER_CLIENT_ID, PEER_CLIENT_SECRET. Output: one JSON line on stdout,
// { "url": "http://127.0.0.1:<port>" }, once it serves. Stops when its stdin closes or on SIGTERM.
import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import Provider from "oidc-provider";

/** The audience of every access token (the resource indicator used when a client names none). */
const RESOURCE = "urn:keymint:bench";
/** Scopes the client may ask for (Keymint's seeded credential has the same one). */
const SCOPE = "events:write";
/** Access token lifetime, as Keymint's. */
const ACCESS_TOKEN_TTL_SECONDS = 60;

// Listen first: the issuer has to name the port.
const server = createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const signingKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.PEER_CLIENT_ID,
      client_secret: process.env.PEER_CLIENT_SECRET,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "ES256", // the only key is ES256 (the default is RS256)
      scope: SCOPE,
    },
  ],
  jwks: { keys: [{ ...signingKey, alg: "ES256", use: "sig", kid: "peer-es256" }] },
  scopes: [SCOPE],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 7662 is on, but oidc-provider refuses to introspect JWT-format (structured) access
    // tokens, so the benchmark does not measure it.
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: SCOPE,
        audience: RESOURCE,
        accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "ES256" } },
      }),
    },
  },
});
// Silence the "use a real adapter / set cookie keys" warnings meant for production setups.
provider.on("server_error", (_ctx, error) => console.error(`[peer] ${error}`));

server.on("request", provider.callback());
process.stdout.write(`${JSON.stringify({ url: issuer })}\n`);

const stop = () => server.close(() => process.exit(0));
process.stdin.on("end", stop).resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
