// A full run's logs (debug level, text and JSON formats) never contain the admin password, an API key, a
// provider key or a session cookie, even though each of them passes through the platform; and every line has
// the documented shape: timestamp, level, component, and the request id on lines written for a request.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startStandin, startPlatform, ADMIN_EMAIL } from "../lib/harness.mjs";
import { openAiClient } from "../lib/sdk-clients.mjs";
import { sleep } from "./standins.mjs";

const ADMIN_PASSWORD = "Log-Secret-Admin-Pw-91";
const PROVIDER_KEY = "sk-proj-LOGSECRET0123456789abcdef";
const REQUEST_ID = "log-shape-request-42";
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];

/// Every line of the platform's output: `<RFC 3339 UTC ms> <level> [<component>] (req <id>)? <text>` or, in
/// JSON, one object per line with time, level, component, msg and requestId on request lines.
function checkLineShapes(logs, format) {
  const lines = logs.split("\n").filter((l) => l.length);
  const withRequest = [];
  for (const line of lines) {
    if (format === "json") {
      let entry;
      assert.doesNotThrow(() => (entry = JSON.parse(line)), `not one JSON object per line: ${line}`);
      assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
      assert.ok(LEVELS.includes(entry.level), `level in ${line}`);
      assert.ok(typeof entry.component === "string" && entry.component.length, `component in ${line}`);
      assert.equal(typeof entry.msg, "string", line);
      if (entry.requestId === REQUEST_ID) withRequest.push(line);
    } else {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\w+)\s+\[([^\]]+)\]( \(req ([^)]+)\))? /.exec(line);
      assert.ok(m, `line without timestamp, level and component: ${line}`);
      assert.ok(LEVELS.includes(m[2]), `level in ${line}`);
      if (m[5] === REQUEST_ID) withRequest.push(line);
    }
  }
  // At debug level the access log writes the request: its line carries the id the client sent.
  assert.ok(withRequest.some((l) => l.includes("/api/agents")), `no line of the /api/agents request has its id:\n${withRequest.join("\n")}`);
}
let upstream;
const platforms = [];
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-logs-"));

after(async () => {
  for (const p of platforms) await p.stop();
  await upstream?.stop();
  fs.rmSync(logDir, { recursive: true, force: true });
});

for (const format of ["text", "json"]) {
  test(`${format} logs keep secrets out`, async () => {
    upstream ??= await startStandin();
    process.env.E2E_LOG_DIR = logDir;  // the harness copies the platform's whole output there
    const platform = await startPlatform({
      upstream: upstream.url,
      env: {
        ARCHESTRA_LOGGING_LEVEL: "debug",
        ARCHESTRA_LOG_FORMAT: format,
        ARCHESTRA_AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
        ARCHESTRA_METRICS_SECRET: "metrics-secret-in-logs-check",
      },
    });
    delete process.env.E2E_LOG_DIR;
    platforms.push(platform);
    const origin = `http://localhost:${platform.apiPort}`;
    const signIn = await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    assert.equal(signIn.status, 200);
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const cookieValue = cookie.split("=").slice(1).join("=");
    assert.ok(cookieValue.length > 10);
    // A wrong password too (its text must not be echoed).
    await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: "Wrong-Password-Attempt-77" }),
    });
    const created = await fetch(`${platform.baseUrl}/api/auth/api-key/create`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, cookie },
      body: JSON.stringify({ name: "log test" }),
    });
    assert.equal(created.status, 200);
    const apiKey = (await created.json()).key;
    assert.ok(apiKey && apiKey.length > 10);
    assert.equal((await fetch(`${platform.baseUrl}/api/features`, { headers: { authorization: apiKey } })).status, 200);
    await fetch(`${platform.baseUrl}/api/agents`, { headers: { authorization: apiKey, "X-Request-Id": REQUEST_ID } });
    const openai = openAiClient(platform, undefined, { apiKey: PROVIDER_KEY });
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello" }] });
    await assert.rejects(
      openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "scenario:error-401" }] }),
    );
    await fetch(`http://127.0.0.1:${platform.metricsPort}/metrics`, { headers: { authorization: "Bearer wrong-metrics-token" } });
    await platform.stop();
    await sleep(200);
    const file = fs.readdirSync(logDir).map((f) => path.join(logDir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
    const logs = fs.readFileSync(file, "utf8");
    assert.ok(logs.split("\n").length > 10, "the log file holds the run");
    assert.match(logs, format === "json" ? /^\{"component":/m : /^\d{4}-\d\d-\d\dT[\d:.]+Z (info|debug)/m);
    checkLineShapes(logs, format);
    for (const [what, secret] of [
      ["admin password", ADMIN_PASSWORD],
      ["wrong password", "Wrong-Password-Attempt-77"],
      ["API key", apiKey],
      ["provider key", PROVIDER_KEY],
      ["session cookie", cookieValue],
      ["metrics secret", "metrics-secret-in-logs-check"],
    ]) {
      assert.ok(!logs.includes(secret), `${what} appears in the ${format} logs`);
    }
  });
}
