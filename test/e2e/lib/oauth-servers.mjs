// The remote side of the MCP OAuth tests, in the test process: an authorization server (the certified
// `oidc-provider` package: dynamic client registration, resource indicators with JWT access tokens, refresh
// tokens, PKCE, its own login and consent pages with a real password check) and a remote MCP server (the MCP
// SDK's streamable HTTP transport, stateless) that publishes protected resource metadata (RFC 9728) and only
// answers requests whose bearer token verifies against the authorization server's JWKS with itself as audience.
import http from "node:http";
import crypto from "node:crypto";
import Provider from "oidc-provider";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ListToolsRequestSchema, CallToolRequestSchema } from "@modelcontextprotocol/sdk/types.js";

export const USER = { login: "alice", password: "correct horse battery staple", sub: "alice-sub" };

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

const page = (title, body) => `<!doctype html><html><head><title>${title}</title></head><body>${body}</body></html>`;

/// Starts the authorization server. `staticClient`: {client_id, client_secret, redirect_uri} registered up front;
/// `accessTokenTtl_s`: the lifetime of access tokens for any resource. Refresh tokens rotate on every use (a
/// rotated-out one used again is refused with invalid_grant and revokes the grant, as oidc-provider does);
/// `tokenDelay_ms` holds every token request that long before answering (to make concurrent refreshes overlap).
/// Tokens can be revoked (RFC 7009) at <issuer>/token/revocation.
export async function startAuthorizationServer({ staticClient, accessTokenTtl_s = 6, tokenDelay_ms = 0 } = {}) {
  const server = http.createServer();
  const issuer = await listen(server);
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const grants = []; // grant_type of every successful token request
  const grantErrors = []; // {grant_type, error} of every refused token request
  const revocations = []; // HTTP status of every revocation request
  let delay_ms = tokenDelay_ms;
  let revocationDown = false; // answer 503 at the revocation endpoint
  const provider = new Provider(issuer, {
    clients: staticClient
      ? [
          {
            client_id: staticClient.client_id,
            client_secret: staticClient.client_secret,
            redirect_uris: [staticClient.redirect_uri],
            grant_types: ["authorization_code", "refresh_token"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
          },
        ]
      : [],
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "as-key-1", use: "sig", alg: "RS256" }] },
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    scopes: ["openid", "offline_access", "mcp:tools"],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => ({
          scope: "mcp:tools",
          audience: resource,
          accessTokenTTL: accessTokenTtl_s,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: () => true,
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["oauth-test-cookie-key"] },
  });
  provider.on("grant.success", (ctx) => grants.push(ctx.oidc.params.grant_type));
  provider.on("grant.error", (ctx, err) => grantErrors.push({ grant_type: ctx.oidc?.params?.grant_type, error: err.error }));
  provider.on("server_error", (ctx, err) => console.error("oidc-provider server_error", err));

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html" });
      if (details.prompt.name === "login") {
        res.end(page("Sign in", `<form method="post" action="/interaction/${uid}/login">
          <input name="login"><input name="password" type="password"><button>Sign in</button></form>`));
      } else {
        res.end(page("Consent", `<p>${details.params.client_id} asks for ${details.params.scope}</p>
          <form method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>`));
      }
      return;
    }
    const form = new URLSearchParams(await readBody(req));
    if (action === "login") {
      if (form.get("login") !== USER.login || form.get("password") !== USER.password) {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(page("Sign in", `<p>wrong password</p><form method="post" action="/interaction/${uid}/login"></form>`));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: USER.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    const { prompt, params, session } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  server.on("request", async (req, res) => {
    try {
      const m = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login|confirm))?/);
      if (m) return await interaction(req, res, m[1], m[2]);
      if (req.method === "POST" && req.url === "/token/revocation") {
        res.on("finish", () => revocations.push(res.statusCode));
        if (revocationDown) {
          res.writeHead(503, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "temporarily_unavailable" }));
          return;
        }
      }
      if (req.method === "POST" && req.url === "/token" && delay_ms) await new Promise((r) => setTimeout(r, delay_ms));
      provider.callback()(req, res);
    } catch (err) {
      console.error("authorization server error", err);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    }
  });
  return {
    issuer,
    grants,
    grantErrors,
    revocations,
    setTokenDelay: (ms) => (delay_ms = ms),
    setRevocationDown: (down) => (revocationDown = down),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/// Starts the remote MCP server at <url>/mcp with one tool, `whoami`, answering the token's subject and id.
/// `reject(jti)` makes it refuse that (still valid) token with 401 from then on, as a server would after a
/// revocation.
export async function startProtectedMcpServer(issuer) {
  const server = http.createServer();
  const base = await listen(server);
  const resource = `${base}/mcp`;
  const metadataUrl = `${base}/.well-known/oauth-protected-resource/mcp`;
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const rejected = new Set();
  const seen = []; // {status, jti, method}
  const challenge = `Bearer resource_metadata="${metadataUrl}"`;

  function mcpServer(claims) {
    const s = new Server({ name: "oauth-protected", version: "1.0.0" }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: "whoami", description: "Who the bearer token says you are", inputSchema: { type: "object", properties: {} } }],
    }));
    s.setRequestHandler(CallToolRequestSchema, async () => ({
      content: [{ type: "text", text: `sub=${claims.sub} jti=${claims.jti} scope=${claims.scope}` }],
    }));
    return s;
  }

  server.on("request", async (req, res) => {
    try {
      if (req.url === "/.well-known/oauth-protected-resource/mcp" || req.url === "/.well-known/oauth-protected-resource") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ resource, authorization_servers: [issuer], scopes_supported: ["mcp:tools"], bearer_methods_supported: ["header"] }));
        return;
      }
      if (!req.url.startsWith("/mcp")) {
        res.writeHead(404).end();
        return;
      }
      const text = await readBody(req);
      const body = text ? JSON.parse(text) : undefined;
      const method = body?.method ?? req.method;
      const header = req.headers.authorization || "";
      let claims;
      try {
        if (!header.startsWith("Bearer ")) throw new Error("no bearer token");
        ({ payload: claims } = await jwtVerify(header.slice(7), jwks, { issuer, audience: resource }));
        if (rejected.has(claims.jti)) throw new Error("token revoked");
      } catch (err) {
        seen.push({ status: 401, jti: claims?.jti ?? null, method, why: err.message });
        res.writeHead(401, { "www-authenticate": challenge, "content-type": "application/json" });
        res.end(JSON.stringify({ error: "invalid_token", error_description: err.message }));
        return;
      }
      seen.push({ status: 200, jti: claims.jti, method });
      if (req.method !== "POST") {
        res.writeHead(405).end();
        return;
      }
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      const s = mcpServer(claims);
      res.on("close", () => {
        transport.close();
        s.close();
      });
      await s.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (err) {
      console.error("MCP server error", err);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    }
  });
  return {
    url: resource,
    seen,
    reject: (jti) => rejected.add(jti),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/// A browser in miniature: follows `authorizationUrl` with a cookie jar, signs in with `credentials` on the
/// login page and allows on the consent page, and stops at the redirect to `redirectUri`. Returns the query
/// parameters the browser would bring to the Admin UI's /oauth-callback page, and the pages it saw.
export async function authorizeInBrowser(authorizationUrl, redirectUri, credentials = USER) {
  const jar = new Map();
  const pages = [];
  let url = authorizationUrl;
  let method = "GET";
  let body;
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(url, {
      method,
      redirect: "manual",
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get("location"), url).href;
      await res.arrayBuffer();
      if (next.startsWith(redirectUri)) return { params: Object.fromEntries(new URL(next).searchParams), pages };
      url = next;
      method = "GET";
      body = undefined;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`authorization: ${res.status} at ${url}: ${html.slice(0, 500)}`);
    const title = html.match(/<title>([^<]*)<\/title>/)?.[1] ?? "";
    pages.push(title);
    const action = html.match(/<form method="post" action="([^"]+)"/)?.[1];
    if (!action || title === "Sign in" && html.includes("wrong password")) {
      throw new Error(`authorization stopped at '${title}': ${html.slice(0, 300)}`);
    }
    url = new URL(action, url).href;
    method = "POST";
    body = title === "Sign in" ? new URLSearchParams({ login: credentials.login, password: credentials.password }).toString() : "";
  }
  throw new Error("authorization: too many redirects");
}
