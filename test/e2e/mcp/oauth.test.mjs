// MCP OAuth for remote servers (issue 15, reference-api.md §1 "MCP OAuth"): a remote MCP server that only takes
// bearer tokens from its authorization server (oidc-provider). initiate -> discovery from the server's protected
// resource metadata, dynamic client registration, PKCE S256, resource indicator -> a real sign-in and consent on
// the authorization server's pages -> callback (code exchanged, tokens in a secret) -> install with secretId ->
// gateway tools/call reaches the server with the token -> the short-lived token is refreshed before it expires,
// and once after the server answers 401. Bad input: unknown, reused, expired and another user's state, a
// refused code, bad catalog ids.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPlatform, adminSession, apiClient, defaultProfileId, signUpMember, sleep } from "../lib/harness.mjs";
import { callGatewayTool } from "../lib/mcp-gateway.mjs";
import { startAuthorizationServer, startProtectedMcpServer, authorizeInBrowser } from "../lib/oauth-servers.mjs";

let platform;
let admin;
let member;
let as;
let mcp;
let profileId;
let teamToken;
let redirectUri;
let catalogId; // dynamic registration
let staticCatalogId; // pre-registered confidential client
const STATIC_CLIENT = { client_id: "archestra-static", client_secret: "static-client-secret-123" };

// The management API as `session` (the admin's or the member's): { status, body }, or the body of a 200.
const call = (session, method, p, body) => apiClient(platform, session)(method, p, body);
const ok = (session, method, p, body) => apiClient(platform, session).ok(method, p, body);

const gatewayCall = (name) => callGatewayTool(platform, profileId, teamToken, name);

const jtiOf = (text) => text.match(/jti=(\S+)/)?.[1];

before(async () => {
  platform = await startPlatform();
  admin = await adminSession(platform);
  member = (await signUpMember(platform, admin, "oauth-member@example.com")).session;
  redirectUri = `http://localhost:${platform.uiPort}/oauth-callback`;
  as = await startAuthorizationServer({ staticClient: { ...STATIC_CLIENT, redirect_uri: redirectUri }, accessTokenTtl_s: 10 });
  mcp = await startProtectedMcpServer(as.issuer);
  profileId = await defaultProfileId(platform);
  const tokens = await ok(admin, "GET", "/api/tokens");
  const team = tokens.find((t) => !t.isOrganizationToken);
  teamToken = (await ok(admin, "GET", `/api/tokens/${team.id}/value`)).value;

  catalogId = (
    await ok(admin, "POST", "/api/internal_mcp_catalog", {
      name: "OAuth Remote",
      serverType: "remote",
      serverUrl: mcp.url,
      requiresAuth: true,
      oauthConfig: { name: "OAuth Remote", server_url: mcp.url, redirect_uris: [redirectUri], scopes: [], default_scopes: [], supports_resource_metadata: true },
    })
  ).id;
  staticCatalogId = (
    await ok(admin, "POST", "/api/internal_mcp_catalog", {
      name: "OAuth Static Client",
      serverType: "remote",
      serverUrl: mcp.url,
      oauthConfig: {
        name: "OAuth Static Client",
        server_url: mcp.url,
        client_id: STATIC_CLIENT.client_id,
        client_secret: STATIC_CLIENT.client_secret,
        redirect_uris: [redirectUri],
        scopes: ["mcp:tools", "offline_access"],
        default_scopes: [],
        supports_resource_metadata: true,
      },
    })
  ).id;
});

after(async () => {
  await platform?.stop();
  await mcp?.stop();
  await as?.stop();
});

test("initiate discovers the authorization server, registers a client and asks for PKCE S256 with the resource", async () => {
  const started = await ok(admin, "POST", "/api/oauth/initiate", { catalogId });
  assert.match(started.state, /^[A-Za-z0-9]{40,}$/);
  const url = new URL(started.authorizationUrl);
  assert.equal(url.origin, as.issuer, "authorization endpoint from the AS metadata found through RFC 9728");
  const q = url.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.match(q.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(q.get("resource"), mcp.url);
  assert.equal(q.get("redirect_uri"), redirectUri);
  assert.equal(q.get("state"), started.state);
  assert.equal(q.get("scope"), "mcp:tools", "scopes_supported of the protected resource metadata");
  assert.ok(q.get("client_id") && q.get("client_id") !== STATIC_CLIENT.client_id, "a dynamically registered client");
  // The verifier never leaves the platform.
  assert.ok(!started.authorizationUrl.includes("code_verifier"));
});

let installedId;
let firstJti;

test("sign-in and consent, callback, install with secretId, a gateway call reaches the server with the token", async () => {
  const started = await ok(admin, "POST", "/api/oauth/initiate", { catalogId });
  const { params, pages } = await authorizeInBrowser(started.authorizationUrl, redirectUri);
  assert.deepEqual(pages, ["Sign in", "Consent"], "a real login and a consent page");
  assert.equal(params.state, started.state);
  assert.ok(params.code);

  const done = await ok(admin, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  assert.equal(done.success, true);
  assert.equal(done.catalogId, catalogId);
  assert.equal(done.name, "OAuth Remote");
  assert.match(done.secretId, /^[0-9a-f-]{36}$/);
  assert.ok(done.accessToken.split(".").length === 3, "a JWT access token for the resource");
  assert.ok(done.refreshToken, "a refresh token");
  assert.equal(done.expiresIn, 10);

  // Reused state: single use.
  const again = await call(admin, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  assert.equal(again.status, 400);
  assert.match(again.body.error.message, /state.*already used/);

  const installed = await ok(admin, "POST", "/api/mcp_server", {
    name: "oauth-remote",
    catalogId,
    secretId: done.secretId,
    agentIds: [profileId],
  });
  installedId = installed.id;
  assert.equal(installed.localInstallationStatus, "success", JSON.stringify(installed));
  assert.equal(installed.secretId, done.secretId);
  const tools = await ok(admin, "GET", `/api/mcp_server/${installed.id}/tools`);
  assert.deepEqual(tools.map((t) => t.name), ["oauth_remote__whoami"]);

  const result = await gatewayCall("oauth_remote__whoami");
  assert.equal(result.isError, false, result.text);
  assert.match(result.text, /sub=alice-sub /, "the server saw the signed-in user's token");
  firstJti = jtiOf(result.text);
  const tokenJti = JSON.parse(Buffer.from(done.accessToken.split(".")[1], "base64url").toString()).jti;
  assert.equal(firstJti, tokenJti, "the call carried the token from the callback");
});

test("the token is refreshed before it expires, and the refreshed tokens are stored", async () => {
  assert.ok(firstJti, "needs the previous test");
  const refreshesBefore = as.grants.filter((g) => g === "refresh_token").length;
  // 10 s tokens are refreshed half-way (refresh_at = expires_at - min(60 s, lifetime / 2)).
  await sleep(5500);
  const result = await gatewayCall("oauth_remote__whoami");
  assert.equal(result.isError, false, result.text);
  const secondJti = jtiOf(result.text);
  assert.notEqual(secondJti, firstJti, "a new access token");
  assert.equal(as.grants.filter((g) => g === "refresh_token").length, refreshesBefore + 1, "one refresh_token grant");
  assert.ok(!mcp.seen.some((s) => s.status === 401 && s.jti === firstJti), "the old token was never refused: refreshed ahead");
  // The next call within the new token's life reuses it.
  const third = await gatewayCall("oauth_remote__whoami");
  assert.equal(jtiOf(third.text), secondJti);
  firstJti = secondJti;
});

test("a 401 from the server refreshes once and repeats the call", async () => {
  const refreshesBefore = as.grants.filter((g) => g === "refresh_token").length;
  mcp.reject(firstJti); // the server revokes the current token before it expires
  const result = await gatewayCall("oauth_remote__whoami");
  assert.equal(result.isError, false, result.text);
  const newJti = jtiOf(result.text);
  assert.ok(newJti && newJti !== firstJti);
  assert.ok(mcp.seen.some((s) => s.status === 401 && s.jti === firstJti), "the server refused the old token");
  // The rotated refresh token from the previous refresh was stored: this refresh used it successfully.
  assert.equal(as.grants.filter((g) => g === "refresh_token").length, refreshesBefore + 1);
});

test("a pre-registered confidential client from oauthConfig (client_secret kept in the secrets backend)", async () => {
  const started = await ok(admin, "POST", "/api/oauth/initiate", { catalogId: staticCatalogId });
  const url = new URL(started.authorizationUrl);
  assert.equal(url.searchParams.get("client_id"), STATIC_CLIENT.client_id);
  assert.equal(url.searchParams.get("scope"), "mcp:tools offline_access");
  const { params } = await authorizeInBrowser(started.authorizationUrl, redirectUri);
  const done = await ok(admin, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  assert.equal(done.catalogId, staticCatalogId);
  assert.ok(done.refreshToken);
  // A token pasted at install (accessToken, no OAuth metadata in its secret) is sent as it is.
  const seenBefore = mcp.seen.length;
  const pasted = await ok(admin, "POST", "/api/mcp_server", { name: "oauth-pasted", catalogId: staticCatalogId, accessToken: done.accessToken });
  assert.equal(pasted.localInstallationStatus, "success", JSON.stringify(pasted));
  const jti = JSON.parse(Buffer.from(done.accessToken.split(".")[1], "base64url").toString()).jti;
  assert.ok(mcp.seen.slice(seenBefore).some((s) => s.status === 200 && s.method === "tools/list" && s.jti === jti));
  assert.deepEqual(await ok(admin, "DELETE", `/api/mcp_server/${pasted.id}`), { success: true });
});

test("bad input: unknown, another user's, expired state; a refused code; bad catalog ids", async () => {
  const unknown = await call(admin, "POST", "/api/oauth/callback", { code: "x", state: "no-such-state" });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.message, /state.*unknown/);

  // Another user's state: refused, and the flow stays usable by the user who started it.
  const started = await ok(admin, "POST", "/api/oauth/initiate", { catalogId });
  const { params } = await authorizeInBrowser(started.authorizationUrl, redirectUri);
  const stolen = await call(member, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  assert.equal(stolen.status, 400);
  assert.match(stolen.body.error.message, /state.*another user/);
  const secretsBefore = await platform.psql("SELECT count(*) FROM secret");
  // A code the authorization server refuses (the right state, a made-up code): its error is named.
  const refused = await call(admin, "POST", "/api/oauth/callback", { code: "made-up-code", state: params.state });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /code.*refused.*invalid_grant/);
  assert.deepEqual(await platform.psql("SELECT count(*) FROM secret"), secretsBefore, "no secret stored");

  // Expired (the 10-minute window passed).
  const late = await ok(admin, "POST", "/api/oauth/initiate", { catalogId });
  await platform.psql("UPDATE verification SET expires_at = now() - interval '1 second' WHERE identifier = 'mcp-oauth-state'");
  const expired = await call(admin, "POST", "/api/oauth/callback", { code: "x", state: late.state });
  assert.equal(expired.status, 400);
  assert.match(expired.body.error.message, /state.*expired/);

  for (const [body, field] of [
    [{}, "catalogId"],
    [{ catalogId: "not-a-uuid" }, "catalogId"],
    [{ catalogId: crypto.randomUUID() }, "catalogId"],
    [{ catalogId, serverId: crypto.randomUUID() }, "serverId"],
  ]) {
    const res = await call(admin, "POST", "/api/oauth/initiate", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.error.message, new RegExp(field), JSON.stringify(res.body));
  }
  const missing = await call(admin, "POST", "/api/oauth/callback", { state: "x" });
  assert.equal(missing.status, 400);
  assert.match(missing.body.error.message, /code/);
});

test("re-authorizing an installation (serverId) moves it to the new tokens", async () => {
  assert.ok(installedId, "needs the install test");
  const oldSecret = (await ok(admin, "GET", `/api/mcp_server/${installedId}`)).secretId;
  const started = await ok(admin, "POST", "/api/oauth/initiate", { catalogId, serverId: installedId });
  const { params } = await authorizeInBrowser(started.authorizationUrl, redirectUri);
  const done = await ok(admin, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  assert.equal(done.serverId, installedId);
  assert.equal((await ok(admin, "GET", `/api/mcp_server/${installedId}`)).secretId, done.secretId);
  assert.notEqual(done.secretId, oldSecret);
  const result = await gatewayCall("oauth_remote__whoami");
  const jti = JSON.parse(Buffer.from(done.accessToken.split(".")[1], "base64url").toString()).jti;
  assert.equal(jtiOf(result.text), jti, "the gateway uses the new token");
  // The replaced secret's refresh token was revoked at the authorization server (RFC 7009).
  assert.ok(as.revocations.includes(200), `revocations: ${JSON.stringify(as.revocations)}`);
  reauthorized = { refreshToken: done.refreshToken, clientId: new URL(started.authorizationUrl).searchParams.get("client_id") };
});

let reauthorized;

async function refreshAtServer(refreshToken, clientId) {
  const res = await fetch(`${as.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }).toString(),
  });
  return { status: res.status, body: await res.json() };
}

test("uninstalling revokes the tokens at the authorization server's revocation endpoint (RFC 7009)", async () => {
  assert.ok(reauthorized, "needs the re-authorization test");
  const before = as.revocations.length;
  const removed = await ok(admin, "DELETE", `/api/mcp_server/${installedId}`);
  assert.equal(removed.success, true);
  const answers = as.revocations.slice(before);
  // The refresh token is revoked (200); the JWT access token cannot be revoked at oidc-provider (structured
  // tokens are refused with 400 unsupported_token_type), which is logged and does not matter.
  assert.equal(answers[0], 200, `revocation answers: ${JSON.stringify(answers)}`);
  const refused = await refreshAtServer(reauthorized.refreshToken, reauthorized.clientId);
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, "invalid_grant", "the revoked refresh token is dead");
});

test("an uninstall succeeds when the revocation endpoint is down (logged)", async () => {
  const started = await ok(admin, "POST", "/api/oauth/initiate", { catalogId });
  const { params } = await authorizeInBrowser(started.authorizationUrl, redirectUri);
  const done = await ok(admin, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  const installed = await ok(admin, "POST", "/api/mcp_server", { name: "oauth-remote-2", catalogId, secretId: done.secretId });
  as.setRevocationDown(true);
  try {
    const before = as.revocations.length;
    const removed = await ok(admin, "DELETE", `/api/mcp_server/${installed.id}`);
    assert.equal(removed.success, true);
    assert.ok(as.revocations.slice(before).includes(503), "revocation was attempted");
    assert.equal((await call(admin, "GET", `/api/mcp_server/${installed.id}`)).status, 404);
    assert.match(platform.logTail(), /Revoking the OAuth refresh_token of secret .* temporarily_unavailable/);
  } finally {
    as.setRevocationDown(false);
  }
  // The refresh token was not revoked (the server was down) but the installation is gone.
  const stillValid = await refreshAtServer(done.refreshToken, new URL(started.authorizationUrl).searchParams.get("client_id"));
  assert.equal(stillValid.status, 200);
});
