// Plugins that throw from every call, one of each kind (fixtures in test/fixtures/plugins: an orchestrator, the
// "otlp" telemetry exporter, the "db" secrets backend and the "oidc" SSO provider, throwing std::exception and
// non-standard types alike, against the SDK contract): the platform starts, the proxy and the API keep working
// (rows = requests acknowledged), an MCP install through the throwing orchestrator ends in status "error" naming
// the plugin, span exports are counted as failures with the reason in the log, secret reads and writes and SSO
// sign-ins fail with errors naming the plugin and the call (API response and log), /ready stays 200 and lists
// "secrets" under degraded with the reason, and SIGTERM still exits 0 (flush throws too).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

import { startStack, adminSession, eventually, installationStatus, platformBinary } from "../lib/harness.mjs";
import { chatOnce, metric } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const fixtureDir = path.resolve(path.dirname(platformBinary()), "..", "test/e2e/hardening/plugins");
let stack;
let session;

before(async () => {
  assert.ok(fs.existsSync(fixtureDir), `fixture plugins not built: ${fixtureDir}`);
  stack = await startStack({
    env: {
      ARCHESTRA_PLUGINS_DIR: fixtureDir,
      ARCHESTRA_ORCHESTRATOR: "local",
      ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/v1/traces",
      ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED: "true", // SSO
    },
  });
  session = await adminSession(stack.platform);
});

after(async () => {
  await stack?.stop();
});

async function api(method, p, body) {
  const res = await fetch(stack.platform.baseUrl + p, {
    method,
    headers: { ...session, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20000),
  });
  const text = await res.text();
  let json = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, body: json };
}

test("plugins that throw from every call: contained, reported, everything else keeps working", { timeout: 200000 }, async () => {
  const { platform } = stack;
  const agent = `throwing-${Date.now()}`;
  const alive = () => platform.child.exitCode === null && platform.child.signalCode === null;

  // The proxy and the API, with the throwing exporter receiving every span.
  let acknowledged = 0;
  for (let i = 0; i < 30; i++) {
    const r = await chatOnce(platform.baseUrl, { agentId: agent, stream: i % 2 === 0 });
    assert.ok(r.ok, r.reason);
    acknowledged++;
  }
  const features = await api("GET", "/api/features");
  assert.equal(features.status, 200);

  // MCP install through the throwing orchestrator: an answer, then status error naming the plugin.
  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Throwing Runtime Test",
    serverType: "local",
    localConfig: { command: process.execPath, arguments: ["-e", "setInterval(() => {}, 1000)"] },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await api("POST", "/api/mcp_server", { name: "throwing", catalogId: catalog.body.id, localInstallationError: null, ownerId: null });
  assert.ok(installed.status < 500 || installed.status === 503, `install answered ${installed.status} ${JSON.stringify(installed.body)}`);
  let installStatus = null;
  if (installed.status === 200) {
    installStatus = await installationStatus(api, installed.body.id, { wanted: ["error"], timeout_ms: 30000 });
    assert.match(installStatus.localInstallationError, /throw/i);
    const logs = await api("GET", `/api/mcp_server/${installed.body.id}/logs?lines=10`);
    assert.ok(logs.status < 600 && logs.status !== 0, "logs answered");
    const restart = await api("POST", `/api/mcp_server/${installed.body.id}/restart`);
    assert.ok([200, 409, 500, 502, 503].includes(restart.status), `restart answered ${restart.status}`);
    const removed = await api("DELETE", `/api/mcp_server/${installed.body.id}`);
    assert.ok(removed.status < 600, "uninstall answered");
  }
  assert.ok(alive(), "the platform died");

  // Span exports: each throw is a counted failure with the plugin and the reason in the log.
  const failures = await eventually(async () => {
    const f = await metric(platform, "archestra_telemetry_span_export_failures_total");
    return f > 0 ? f : null;
  }, 20000, 250);
  assert.ok(failures > 0, "no span export failure counted");
  const log = platform.logTail(400);
  assert.match(log, / warn .*span export via telemetry.otlp failed: plugin 'telemetry.throwing-telemetry' threw from exportSpans: fixture exporter/);

  // Secrets backend (secrets.throwing-secrets in place of secrets.db): each call is an error naming the plugin
  // and the call, in the response and the log; nothing is changed.
  const type = await api("GET", "/api/secrets/type");
  assert.equal(type.status, 200, JSON.stringify(type.body));
  assert.match(type.body.meta.Error, /plugin 'secrets\.throwing-secrets' threw a non-standard exception from describe/);
  const connectivity = await api("POST", "/api/secrets/check-connectivity");
  assert.equal(connectivity.status, 503, JSON.stringify(connectivity.body));
  assert.match(JSON.stringify(connectivity.body), /plugin 'secrets\.throwing-secrets' threw from checkConnectivity: fixture secrets: checkConnectivity throws/);
  const chatKey = await api("PATCH", "/api/chat-settings", { anthropicApiKey: "sk-ant-fixture-key" });
  assert.equal(chatKey.status, 503, JSON.stringify(chatKey.body));
  assert.match(JSON.stringify(chatKey.body), /secrets backend is unavailable.*plugin 'secrets\.throwing-secrets' threw from create: fixture secrets: create throws/);
  assert.doesNotMatch(JSON.stringify(chatKey.body), /sk-ant-fixture-key/);
  const chatSettings = await api("GET", "/api/chat-settings");
  assert.equal(chatSettings.status, 200, JSON.stringify(chatSettings.body));
  assert.equal(chatSettings.body.hasAnthropicApiKey, false, "a key was recorded although the backend failed");
  const readyWithSecrets = await eventually(async () => {
    const r = await fetch(`${platform.baseUrl}/ready`);
    const body = await r.json();
    return body.degraded.includes("secrets") ? { status: r.status, body } : null;
  }, 15000, 250);
  assert.ok(readyWithSecrets, "/ready never listed the throwing secrets backend");
  assert.equal(readyWithSecrets.status, 200, JSON.stringify(readyWithSecrets.body));
  assert.equal(readyWithSecrets.body.status, "degraded");
  assert.match(readyWithSecrets.body.checks.secrets.detail, /failing: .*plugin 'secrets\.throwing-secrets' threw from checkConnectivity/);
  assert.match(platform.logTail(2000), / warn .*plugin 'secrets\.throwing-secrets' threw/);

  // SSO (sso.throwing-sso in place of sso.oidc): the sign-in start is a 503 naming the plugin and the call; the
  // callback (reached with the fixture's one non-throwing beginLogin) redirects with the error.
  const provider = await api("POST", "/api/sso-providers", {
    providerId: "ThrowingIdP",
    issuer: "https://idp.invalid",
    domain: "throwing.example",
    oidcConfig: { clientId: "c", clientSecret: "s", tokenEndpointAuthentication: "client_secret_basic" },
  });
  assert.equal(provider.status, 200, JSON.stringify(provider.body));
  const signIn = (loginHint) =>
    fetch(`${platform.baseUrl}/api/auth/sign-in/sso`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ providerId: "ThrowingIdP", callbackURL: "/", ...(loginHint ? { loginHint } : {}) }),
    });
  const ssoStart = await signIn();
  const ssoStartBody = await ssoStart.text();
  assert.equal(ssoStart.status, 503, ssoStartBody);
  assert.match(ssoStartBody, /SSO provider 'ThrowingIdP' cannot start a login: plugin 'sso\.throwing-sso' threw from beginLogin: fixture sso: beginLogin throws/);
  const begun = await signIn("begin-ok");
  assert.equal(begun.status, 200, await begun.clone().text());
  const stateCookie = (begun.headers.getSetCookie?.() ?? [begun.headers.get("set-cookie")]).map((c) => c.split(";")[0]).join("; ");
  const callback = await fetch(`${platform.baseUrl}/api/auth/sso/callback/ThrowingIdP?code=x&state=y`, {
    headers: { cookie: stateCookie },
    redirect: "manual",
  });
  assert.equal(callback.status, 302, await callback.text());
  const location = decodeURIComponent(callback.headers.get("location") || "");
  assert.match(location, /invalid_response/);
  assert.match(location, /plugin 'sso\.throwing-sso' threw a non-standard exception from completeLogin/);
  assert.match(platform.logTail(2000), /single sign-on refused \(invalid_response\): plugin 'sso\.throwing-sso' threw a non-standard exception from completeLogin/);
  assert.ok(alive(), "the platform died");

  // More traffic after all that, then rows = requests.
  for (let i = 0; i < 10; i++) {
    const r = await chatOnce(platform.baseUrl, { agentId: agent, stream: i % 2 === 1 });
    assert.ok(r.ok, r.reason);
    acknowledged++;
  }
  await eventually(async () => (Number((await platform.psql(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`))[0][0]) === acknowledged ? true : null), 20000, 200);
  const rows = Number((await platform.psql(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`))[0][0]);
  assert.equal(rows, acknowledged);
  const ready = await fetch(`${platform.baseUrl}/ready`);
  const readyBody = await ready.json();
  assert.equal(ready.status, 200, JSON.stringify(readyBody));
  assert.deepEqual(readyBody.failing, []);

  // SIGTERM: flush() throws a non-standard type too; still exit 0.
  const exited = new Promise((resolve) => platform.child.once("exit", (code) => resolve(code)));
  const t0 = Date.now();
  platform.child.kill("SIGTERM");
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 30000))]);
  assert.equal(code, 0, platform.logTail(20));

  console.log({ acknowledged, rows, failures, installStatus, plugins: readyBody.checks.plugins });
  recordReliability("e2e_hardening_throwing_plugins", [
    { what: "orchestrator plugin whose every call throws (std::exception and int)", how: "MCP install: API answer; final status", figure: `${installed.status}; ${installStatus ? `error: ${installStatus.localInstallationError}` : "refused at install"}` },
    { what: "telemetry exporter (otlp) whose every call throws", how: "span exports counted as failed; process alive", figure: `${failures}; yes` },
    { what: "secrets backend (db) whose every call throws", how: "check-connectivity / chat key write: status and error; /ready", figure: `${connectivity.status} / ${chatKey.status}, naming the plugin and call; ${readyWithSecrets.status} ${readyWithSecrets.body.status} [${readyWithSecrets.body.degraded.join(", ")}]` },
    { what: "SSO provider (oidc) whose calls throw", how: "sign-in start; callback", figure: `${ssoStart.status} naming the plugin and beginLogin; 302 to the error URL naming completeLogin` },
    { what: "everything else with all four plugins throwing", how: "proxy rows = requests acknowledged; /ready", figure: `${rows} = ${acknowledged}; ${ready.status}` },
    { what: "SIGTERM with a flush() that throws", how: "exit code, time", figure: `${code}, ${Date.now() - t0} ms` },
  ]);
});
