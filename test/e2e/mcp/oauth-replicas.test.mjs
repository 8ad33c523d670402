// MCP OAuth across replicas (issue 15): two platforms on one PostgreSQL share an installation whose
// authorization server (oidc-provider) rotates refresh tokens on every use and, like any careful server, refuses
// a rotated-out refresh token and then revokes the whole grant. Both replicas find the token due at the same
// moment (the token endpoint holds each request 1.5 s so the two refreshes surely overlap): the refresh is
// serialised through a PostgreSQL advisory lock on the secret, the second replica reads the secret again under
// the lock and takes the first one's tokens. The authorization server sees one refresh-token use, no refused
// grant, both calls succeed with the same new token, and the next refresh (with the rotated refresh token) works.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPlatform, adminSession, apiClient, sleep } from "../lib/harness.mjs";
import { startPostgres } from "../lib/postgres.mjs";
import { callGatewayTool } from "../lib/mcp-gateway.mjs";
import { startAuthorizationServer, startProtectedMcpServer, authorizeInBrowser } from "../lib/oauth-servers.mjs";

let pg;
let replicas = [];
let as;
let mcp;
let profileId;
let teamToken;

const ok = (platform, session, method, p, body) => apiClient(platform, session).ok(method, p, body);
const gatewayCall = (platform, name) => callGatewayTool(platform, profileId, teamToken, name);

const jtiOf = (text) => text.match(/jti=(\S+)/)?.[1];
const refreshes = () => as.grants.filter((g) => g === "refresh_token").length;

before(async () => {
  pg = await startPostgres();
  const env = { ARCHESTRA_DATABASE_URL: pg.url, ARCHESTRA_AUTH_SECRET: "oauth-replicas-test-secret-".padEnd(64, "x") };
  // One after the other: the first migrates and seeds, the second finds it done.
  replicas.push(await startPlatform({ env, readyTimeout_ms: 180000 }));
  replicas.push(await startPlatform({ env, readyTimeout_ms: 180000 }));
  as = await startAuthorizationServer({ accessTokenTtl_s: 10 });
  mcp = await startProtectedMcpServer(as.issuer);
});

after(async () => {
  for (const r of replicas) await r?.stop();
  await mcp?.stop();
  await as?.stop();
  await pg?.destroy();
});

test("two replicas refresh one rotating refresh token at the same moment: one refresh, both get the new token", async () => {
  const [a, b] = replicas;
  const admin = await adminSession(a);
  profileId = await pg.psql("SELECT id FROM agents WHERE is_default ORDER BY created_at LIMIT 1");
  assert.match(profileId, /^[0-9a-f-]{36}$/, "the seeded default profile");
  const tokens = await ok(a, admin, "GET", "/api/tokens");
  teamToken = (await ok(a, admin, "GET", `/api/tokens/${tokens.find((t) => !t.isOrganizationToken).id}/value`)).value;
  const redirectUri = `http://localhost:${a.uiPort}/oauth-callback`;
  const catalogId = (
    await ok(a, admin, "POST", "/api/internal_mcp_catalog", {
      name: "OAuth Replicated",
      serverType: "remote",
      serverUrl: mcp.url,
      oauthConfig: { name: "OAuth Replicated", server_url: mcp.url, redirect_uris: [redirectUri], scopes: [], default_scopes: [] },
    })
  ).id;
  const started = await ok(a, admin, "POST", "/api/oauth/initiate", { catalogId });
  const { params } = await authorizeInBrowser(started.authorizationUrl, redirectUri);
  const done = await ok(a, admin, "POST", "/api/oauth/callback", { code: params.code, state: params.state });
  const issuedAt = Date.now();
  assert.ok(done.refreshToken);
  const installed = await ok(a, admin, "POST", "/api/mcp_server", {
    name: "oauth-replicated",
    catalogId,
    secretId: done.secretId,
    agentIds: [profileId],
  });
  assert.equal(installed.localInstallationStatus, "success", JSON.stringify(installed));

  // Both replicas use the callback's token (each reads the secret once and caches it).
  const firstJti = JSON.parse(Buffer.from(done.accessToken.split(".")[1], "base64url").toString()).jti;
  for (const r of [a, b]) {
    const result = await gatewayCall(r, "oauth_replicated__whoami");
    assert.equal(result.isError, false, result.text);
    assert.equal(jtiOf(result.text), firstJti);
  }
  assert.equal(refreshes(), 0);

  // Past refresh_at (half of the 10 s lifetime) on both replicas, with refreshes that take 1.5 s each.
  await sleep(Math.max(0, issuedAt + 5500 - Date.now()));
  assert.ok(Date.now() < issuedAt + 9000, "still inside the token's lifetime (a slow machine would make this moot)");
  as.setTokenDelay(1500);
  const [ra, rb] = await Promise.all([gatewayCall(a, "oauth_replicated__whoami"), gatewayCall(b, "oauth_replicated__whoami")]);
  as.setTokenDelay(0);
  assert.equal(ra.isError, false, ra.text);
  assert.equal(rb.isError, false, rb.text);
  assert.deepEqual(as.grantErrors, [], "no refused token request (a reused rotated refresh token would be invalid_grant)");
  assert.equal(refreshes(), 1, "the authorization server saw one refresh-token use");
  const secondJti = jtiOf(ra.text);
  assert.notEqual(secondJti, firstJti, "a new access token");
  assert.equal(jtiOf(rb.text), secondJti, "the other replica took the first one's token");
  // (initiate's discovery probe without a token is the only 401 the server may have sent)
  assert.deepEqual(mcp.seen.filter((s) => s.status === 401 && s.jti !== null), [], "no token was refused");

  // The rotated refresh token that was stored is the valid one: the next refresh (from the other replica first)
  // works, once, and both replicas then use its token.
  await sleep(5500);
  const rb2 = await gatewayCall(b, "oauth_replicated__whoami");
  const ra2 = await gatewayCall(a, "oauth_replicated__whoami");
  assert.equal(rb2.isError, false, rb2.text);
  assert.equal(ra2.isError, false, ra2.text);
  assert.deepEqual(as.grantErrors, []);
  assert.equal(refreshes(), 2);
  const thirdJti = jtiOf(rb2.text);
  assert.ok(thirdJti && thirdJti !== secondJti);
  assert.equal(jtiOf(ra2.text), thirdJti, "replica A read the secret again (due) and took B's refresh");
});
