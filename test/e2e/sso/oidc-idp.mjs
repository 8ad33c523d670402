// A real OpenID Provider for the SSO tests: the certified `oidc-provider` package on 127.0.0.1 with one
// confidential client, accounts the test chooses per login, and a control endpoint. The login "form" is
// automatic (browser-less): the interaction route signs in the account named by the last POST /__control.
// Control: {account: {sub, email, email_verified, name, groups}} picks who signs in next; {rotateKeys: true}
// restarts the provider with a new signing key first in the JWKS (the old one still published);
// {tamper: {aud?, expOffset_s?}} re-signs the next ID token (with the provider's current key) with a wrong
// audience or an expiry in the past, as a misbehaving or stale IdP would.
import http from "node:http";
import crypto from "node:crypto";
import Provider from "oidc-provider";

const [clientId, clientSecret, redirectUri, authMethod = "client_secret_basic"] = process.argv.slice(2);

function newKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
}

let keys = [newKey("key-1")];
let nextAccount = { sub: "user-1", email: "user1@example.com", email_verified: true, name: "User One", groups: [] };
let tamper = null;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

function makeProvider() {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: authMethod,
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    jwks: { keys },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ ...accounts.get(id) }),
    }),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
    scopes: ["openid", "email", "profile", "groups"],
    conformIdTokenClaims: false, // put email/groups into the ID token itself
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["test-cookie-key"] },
  });
  provider.on("server_error", (ctx, err) => console.error("oidc-provider server_error", err));
  return provider;
}

const accounts = new Map();
let provider = makeProvider();

async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const account = nextAccount;
  accounts.set(account.sub, account);
  const grant = new provider.Grant({ accountId: account.sub, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.sub }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

function signRs256(claims, jwk) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${b64({ alg: "RS256", typ: "JWT", kid: jwk.kid })}.${b64(claims)}`;
  const key = crypto.createPrivateKey({ key: jwk, format: "jwk" });
  return `${input}.${crypto.sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

/// Re-signs the token endpoint's ID token when a tamper rule is set (one use).
async function tamperedTokenResponse(req, res) {
  const rule = tamper;
  tamper = null;
  const chunks = [];
  const originalWrite = res.write.bind(res);
  const originalEnd = res.end.bind(res);
  res.write = (chunk) => {
    chunks.push(Buffer.from(chunk));
    return true;
  };
  res.end = async (chunk) => {
    if (chunk) chunks.push(Buffer.from(chunk));
    let body = Buffer.concat(chunks).toString("utf8");
    try {
      const json = JSON.parse(body);
      if (json.id_token) {
        const claims = JSON.parse(Buffer.from(json.id_token.split(".")[1], "base64url").toString("utf8"));
        const now = Math.floor(Date.now() / 1000);
        if (rule.aud) claims.aud = rule.aud;
        if (rule.expOffset_s !== undefined) {
          claims.iat = now + rule.expOffset_s - 3600;
          claims.exp = now + rule.expOffset_s;
        }
        json.id_token = signRs256(claims, keys[0]);
        body = JSON.stringify(json);
        res.setHeader("content-length", Buffer.byteLength(body));
      }
    } catch (err) {
      console.error("tamper failed", err);
    }
    originalWrite(body);
    originalEnd();
  };
  return provider.callback()(req, res);
}

server.on("request", async (req, res) => {
  try {
    if (req.url === "/__control" && req.method === "POST") {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      if (body.account) nextAccount = body.account;
      if (body.tamper) tamper = body.tamper;
      if (body.rotateKeys) {
        keys = [newKey(`key-${keys.length + 1}`), ...keys];
        provider = makeProvider();
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, kids: keys.map((k) => k.kid) }));
      return;
    }
    if (req.url.startsWith("/interaction/")) {
      await finishInteraction(req, res);
      return;
    }
    if (tamper && req.url.startsWith("/token")) {
      await tamperedTokenResponse(req, res);
      return;
    }
    provider.callback()(req, res);
  } catch (err) {
    console.error("idp error", err);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(err));
  }
});

console.log(`oidc-idp listening on ${issuer}`);
