// OpenID Connect sign-in through the real platform and the sso.oidc plugin against oidc-provider run locally:
// the full browser-less flow with cookie jars, role mapping, team sync, and the failure cases (wrong state,
// replayed callback, expired ID token, wrong audience, JWKS key rotation, unverified email, strict mode),
// plus the enterprise gate.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CookieJar, adminHeaders, api, follow, request, startNodeServer, startSsoPlatform } from "./lib.mjs";
import { sleep } from "../lib/harness.mjs";

const PROVIDER = "TestIdP";
const CLIENT_ID = "archestra-test";
const CLIENT_SECRET = "client-secret-for-tests";

describe("OIDC single sign-on (oidc-provider)", () => {
  let platform, frontend, idp, admin, providerRowId, engineeringTeam, opsTeam;

  before(async () => {
    ({ platform, frontend } = await startSsoPlatform());
    idp = await startNodeServer("oidc-idp.mjs", [
      CLIENT_ID,
      CLIENT_SECRET,
      `${frontend}/api/auth/sso/callback/${PROVIDER}`,
      "client_secret_basic",
    ]);
    admin = await adminHeaders(frontend);
    const created = await api(frontend, admin, "POST", "/api/sso-providers", {
      providerId: PROVIDER,
      issuer: idp.url,
      domain: "example.com",
      oidcConfig: {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        scopes: ["openid", "email", "profile", "groups"],
        tokenEndpointAuthentication: "client_secret_basic",
      },
      roleMapping: {
        rules: [{ expression: '{{#includes groups "admins"}}true{{/includes}}', role: "admin" }],
        defaultRole: "member",
      },
      teamSyncConfig: { enabled: true },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    providerRowId = created.body.id;
    assert.equal(created.body.oidcConfig.mapping.id, "sub");

    engineeringTeam = (await api(frontend, admin, "POST", "/api/teams", { name: "Engineering" })).body.id;
    opsTeam = (await api(frontend, admin, "POST", "/api/teams", { name: "Ops" })).body.id;
    const group = await api(frontend, admin, "POST", `/api/teams/${engineeringTeam}/external-groups`, {
      groupIdentifier: "Engineering",
    });
    assert.equal(group.status, 200, JSON.stringify(group.body));
    assert.equal(group.body.groupIdentifier, "engineering");
    const dup = await api(frontend, admin, "POST", `/api/teams/${engineeringTeam}/external-groups`, {
      groupIdentifier: "ENGINEERING",
    });
    assert.equal(dup.status, 409);
  });

  after(async () => {
    await idp?.stop();
    await platform?.stop();
  });

  async function control(body) {
    const res = await fetch(`${idp.url}/__control`, { method: "POST", body: JSON.stringify(body) });
    return res.json();
  }

  /// Runs a sign-in for `account`; `mutate` may rewrite the callback URL before the platform sees it.
  async function ssoLogin(account, { tamper, mutate } = {}) {
    await control({ account, ...(tamper ? { tamper } : {}) });
    const jar = new CookieJar();
    const start = await request(jar, `${frontend}/api/auth/sign-in/sso`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: frontend },
      body: JSON.stringify({ providerId: PROVIDER, callbackURL: "/after-login" }),
    });
    assert.equal(start.status, 200, await start.clone().text());
    const { url, redirect } = await start.json();
    assert.equal(redirect, true);
    assert.ok(url.startsWith(`${idp.url}/auth?`), url);
    assert.match(url, /code_challenge_method=S256/);
    const stateCookie = jar.get(frontend, "archestra.sso_state");
    assert.ok(stateCookie, "the sign-in start sets the state cookie");
    const { url: callback } = await follow(jar, url, (u) => u.startsWith(frontend));
    const finalCallback = mutate ? mutate(callback) : callback;
    const res = await request(jar, finalCallback);
    assert.equal(res.status, 302, await res.clone().text());
    const location = res.headers.get("location");
    return { location, jar, callback: finalCallback, stateCookie, session: jar.get(frontend, "archestra.session_token") };
  }

  async function sessionUser(jar) {
    const res = await request(jar, `${frontend}/api/auth/get-session`);
    return (await res.json())?.user ?? null;
  }

  async function roleOf(email) {
    const rows = await platform.psql(
      `SELECT m.role FROM member m JOIN "user" u ON u.id = m.user_id WHERE lower(u.email) = '${email}'`,
    );
    return rows[0]?.[0];
  }

  async function teamsOf(email) {
    const rows = await platform.psql(
      `SELECT t.name, tm.synced_from_sso FROM team_member tm JOIN team t ON t.id = tm.team_id JOIN "user" u ON u.id = tm.user_id WHERE lower(u.email) = '${email}' ORDER BY t.name`,
    );
    return rows.map(([name, synced]) => `${name}:${synced === "t" ? "sso" : "manual"}`);
  }

  test("a verified user signs in, is created with the default role and joins the mapped team", async () => {
    const login = await ssoLogin({
      sub: "alice-sub",
      email: "Alice@Example.com",
      email_verified: true,
      name: "Alice",
      groups: ["Engineering"],
    });
    assert.equal(login.location, "/after-login");
    assert.ok(login.session, "session cookie set");
    const user = await sessionUser(login.jar);
    assert.equal(user?.email, "alice@example.com");
    assert.equal(user?.name, "Alice");
    assert.equal(await roleOf("alice@example.com"), "member");
    assert.deepEqual(await teamsOf("alice@example.com"), ["Engineering:sso"]);
    // the same session as password sign-in: the API accepts it
    const me = await request(login.jar, `${frontend}/api/teams`);
    assert.equal(me.status, 200);
  });

  test("role mapping: first matching rule wins; team sync removes only synced memberships", async () => {
    const admins = await ssoLogin({
      sub: "alice-sub",
      email: "alice@example.com",
      email_verified: true,
      name: "Alice",
      groups: ["admins", "Engineering"],
    });
    assert.equal(admins.location, "/after-login");
    assert.equal(await roleOf("alice@example.com"), "admin");

    const userId = (await platform.psql(`SELECT id FROM "user" WHERE email = 'alice@example.com'`))[0][0];
    const manual = await api(frontend, admin, "POST", `/api/teams/${opsTeam}/members`, { userId });
    assert.equal(manual.status, 200, JSON.stringify(manual.body));
    assert.deepEqual(await teamsOf("alice@example.com"), ["Engineering:sso", "Ops:manual"]);

    const noGroups = await ssoLogin({ sub: "alice-sub", email: "alice@example.com", email_verified: true, groups: [] });
    assert.equal(noGroups.location, "/after-login");
    assert.equal(await roleOf("alice@example.com"), "member", "no rule matches: default role");
    assert.deepEqual(await teamsOf("alice@example.com"), ["Ops:manual"], "manual membership kept");
  });

  test("strict mode refuses a login no rule matches", async () => {
    const put = await api(frontend, admin, "PUT", `/api/sso-providers/${providerRowId}`, {
      roleMapping: {
        rules: [{ expression: '{{#includes groups "admins"}}true{{/includes}}', role: "admin" }],
        strictMode: true,
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    try {
      const login = await ssoLogin({ sub: "bob-sub", email: "bob@example.com", email_verified: true, groups: ["x"] });
      assert.match(login.location, /error=access_denied/);
      assert.match(decodeURIComponent(login.location), /strict mode/);
      assert.equal(login.session, undefined);
      assert.equal((await platform.psql(`SELECT count(*) FROM "user" WHERE email = 'bob@example.com'`))[0][0], "0");
    } finally {
      await api(frontend, admin, "PUT", `/api/sso-providers/${providerRowId}`, {
        roleMapping: { rules: [{ expression: '{{#includes groups "admins"}}true{{/includes}}', role: "admin" }] },
      });
    }
  });

  test("a bad role mapping expression is refused when saved", async () => {
    const put = await api(frontend, admin, "PUT", `/api/sso-providers/${providerRowId}`, {
      roleMapping: { rules: [{ expression: "{{#if groups}}", role: "admin" }] },
    });
    assert.equal(put.status, 400);
    assert.match(put.body.error.message, /roleMapping\.rules\[0\]\.expression/);
  });

  test("a callback whose state differs from the browser's is refused", async () => {
    const login = await ssoLogin(
      { sub: "carol-sub", email: "carol@example.com", email_verified: true },
      { mutate: (u) => u.replace(/state=[^&]+/, "state=forged-state") },
    );
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /state/);
    assert.equal(login.session, undefined);
  });

  test("a replayed callback (same code, same state cookie) is refused", async () => {
    const login = await ssoLogin({ sub: "dave-sub", email: "dave@example.com", email_verified: true });
    assert.equal(login.location, "/after-login");
    const replayJar = new CookieJar();
    replayJar.set(frontend, "archestra.sso_state", login.stateCookie);
    const replay = await request(replayJar, login.callback);
    assert.equal(replay.status, 302);
    assert.match(replay.headers.get("location"), /error=invalid_state/);
    assert.match(decodeURIComponent(replay.headers.get("location")), /already used/);
    assert.equal(replayJar.get(frontend, "archestra.session_token"), undefined);
  });

  test("a callback without the state cookie (another browser) is refused", async () => {
    await control({ account: { sub: "erin-sub", email: "erin@example.com", email_verified: true } });
    const jar = new CookieJar();
    const start = await request(jar, `${frontend}/api/auth/sign-in/sso`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: frontend },
      body: JSON.stringify({ providerId: PROVIDER }),
    });
    const { url } = await start.json();
    const { url: callback } = await follow(jar, url, (u) => u.startsWith(frontend));
    const res = await request(new CookieJar(), callback);
    assert.match(res.headers.get("location"), /error=invalid_state/);
  });

  test("an expired ID token is refused", async () => {
    const login = await ssoLogin(
      { sub: "frank-sub", email: "frank@example.com", email_verified: true },
      { tamper: { expOffset_s: -600 } },
    );
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /expired/);
    assert.equal(login.session, undefined);
  });

  test("an ID token for another audience is refused", async () => {
    const login = await ssoLogin(
      { sub: "gina-sub", email: "gina@example.com", email_verified: true },
      { tamper: { aud: "some-other-client" } },
    );
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /audience/);
    assert.equal(login.session, undefined);
  });

  test("an unverified email never signs into the existing account with that email", async () => {
    const login = await ssoLogin({ sub: "mallory", email: "admin@localhost.ai", email_verified: false });
    assert.match(login.location, /error=access_denied/);
    assert.match(decodeURIComponent(login.location), /not verified/);
    assert.equal(login.session, undefined);
    const accounts = await platform.psql(
      `SELECT count(*) FROM account a JOIN "user" u ON u.id = a.user_id WHERE u.email = 'admin@localhost.ai' AND a.provider_id = '${PROVIDER}'`,
    );
    assert.equal(accounts[0][0], "0");
  });

  test("JWKS rotation: a token signed with a new key is verified after the platform refetches the set", async () => {
    const rotated = await control({ rotateKeys: true });
    assert.deepEqual(rotated.kids.slice(0, 2), ["key-2", "key-1"]);
    await sleep(5200); // the plugin refetches the JWKS for an unknown kid at most every 5 s
    const login = await ssoLogin({ sub: "hank-sub", email: "hank@example.com", email_verified: true });
    assert.equal(login.location, "/after-login", decodeURIComponent(login.location));
    assert.equal((await sessionUser(login.jar))?.email, "hank@example.com");
  });

  test("provider CRUD: public list, secrets for admins, 404 and delete", async () => {
    const pub = await fetch(`${frontend}/api/sso-providers/public`);
    assert.equal(pub.status, 200);
    assert.deepEqual(await pub.json(), [{ id: providerRowId, providerId: PROVIDER }]);
    const list = await api(frontend, admin, "GET", "/api/sso-providers");
    assert.equal(list.body[0].oidcConfig.clientSecret, CLIENT_SECRET);
    const missing = await api(frontend, admin, "GET", "/api/sso-providers/00000000-0000-4000-8000-000000000000");
    assert.equal(missing.status, 404);
    const bad = await api(frontend, admin, "POST", "/api/sso-providers", {
      providerId: "Other",
      issuer: idp.url,
      domain: "example.com",
      oidcConfig: { clientSecret: "x" },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /oidcConfig\.clientId/);
    const dup = await api(frontend, admin, "POST", "/api/sso-providers", {
      providerId: PROVIDER,
      issuer: idp.url,
      domain: "example.com",
      oidcConfig: { clientId: "x" },
    });
    assert.equal(dup.status, 409);
  });
});

describe("SSO without the enterprise licence", () => {
  let platform, frontend;
  before(async () => {
    ({ platform, frontend } = await startSsoPlatform({ ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED: "false" }));
  });
  after(async () => platform?.stop());

  test("every /api/sso-providers path and team sync answer 403 with the enterprise message", async () => {
    const pub = await fetch(`${frontend}/api/sso-providers/public`);
    assert.equal(pub.status, 403);
    assert.equal(
      (await pub.json()).error.message,
      "SSO is an enterprise feature. Please contact sales@archestra.ai to enable it.",
    );
    const admin = await adminHeaders(frontend);
    const list = await api(frontend, admin, "GET", "/api/sso-providers");
    assert.equal(list.status, 403);
    const team = (await api(frontend, admin, "GET", "/api/teams")).body[0];
    const groups = await api(frontend, admin, "GET", `/api/teams/${team.id}/external-groups`);
    assert.equal(groups.status, 403);
    assert.match(groups.body.error.message, /^Team Sync is an enterprise feature/);
  });
});
