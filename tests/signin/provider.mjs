// The upstream OpenID Provider of the sign-in tests: oidc-provider (OpenID
// Certified) on 127.0.0.1, an ephemeral port, printed as `listening <port>`.
//
//   REDIRECT_URI=http://127.0.0.1:P/signin/callback node provider.mjs
//
// One registered client (`digital-id`, client_secret_basic), two accounts,
// RS256 ID tokens. The login interaction is a one-field HTML form (the
// account id) posted back here; it signs the account in with its `amr` and
// grants `openid snils`, so no separate consent prompt follows.
import http from "node:http";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import Provider from "oidc-provider";

const redirectUri = process.env.REDIRECT_URI;
if (!redirectUri) throw new Error("REDIRECT_URI is required");

// `amr` values (RFC 8176): `sc` is the passport chip read by NFC.
const ACCOUNTS = {
  ivanov: { snils: "768-151-884 44", amr: ["sc"], acr: "urn:example:loa:high" },
  stranger: { snils: "112-233-445 95", amr: ["face"], acr: "urn:example:loa:high" },
};

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "op-" + randomUUID(), alg: "RS256", use: "sig" };

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "digital-id",
        client_secret: "signin-test-secret",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ["signin-test-cookie-key"] },
    scopes: ["openid", "snils"],
    // `amr` and `acr` ride with `openid`, so they are in the ID token; `snils`
    // is read from userinfo (conformIdTokenClaims).
    claims: { openid: ["sub", "amr", "acr"], snils: ["snils"] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const a = ACCOUNTS[id];
      if (!a) return undefined;
      return { accountId: id, async claims() { return { sub: id, snils: a.snils }; } };
    },
  });
  const oidc = provider.callback();
  server.on("request", async (req, res) => {
    const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
    if (!m) return oidc(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === "GET" && !m[2]) {
        res.setHeader("content-type", "text/html");
        return res.end(`<form method="post" action="/interaction/${details.uid}/login"><input name="login"><button>Sign in</button></form>`);
      }
      const body = await new Promise((ok) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => ok(b)); });
      const accountId = new URLSearchParams(body).get("login");
      const account = ACCOUNTS[accountId];
      if (!account) { res.statusCode = 400; return res.end("unknown account"); }
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, {
        login: { accountId, amr: account.amr, acr: account.acr },
        consent: { grantId },
      }, { mergeWithLastSubmission: false });
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  });
  console.log(`listening ${server.address().port}`);
});
