// GET /openapi.json on the real platform: the document and the routes the platform serves agree (every
// operation is routed, with the security it declares; every method a documented path answers to is
// documented), and `redocly lint` (test/e2e/redocly.yaml) reports no errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startPlatform, repoRoot } from "../lib/harness.mjs";

const execFileAsync = promisify(execFile);
const e2eDir = path.join(repoRoot, "test/e2e");
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

let platform;
let document;

before(async () => {
  platform = await startPlatform();
  const res = await fetch(`${platform.baseUrl}/openapi.json`);
  assert.equal(res.status, 200, "GET /openapi.json without credentials");
  assert.match(res.headers.get("content-type"), /^application\/json/);
  document = await res.json();
});

after(async () => {
  await platform?.stop();
});

/// The operations of the document as [method, template, operation].
function operations() {
  const out = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) if (item[method]) out.push([method, template, item[method]]);
  }
  return out;
}

/// A concrete path for a template: UUID parameters get a fresh UUID v4, others a plain word.
function concretePath(template, operation) {
  const uuids = new Set(
    (operation.parameters || []).filter((p) => p.in === "path" && p.schema?.format === "uuid").map((p) => p.name),
  );
  return template.replace(/\{([^}]+)\}/g, (_, name) => (uuids.has(name) ? crypto.randomUUID() : "sample"));
}

/// Whether a concrete path matches a template (a parameter matches one segment or part of one).
function templateMatches(template, concrete) {
  const pattern = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith("{") ? "[^/]+" : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${pattern}/?$`).test(concrete);
}

test("document header, components and unique operationIds", async () => {
  assert.equal(document.openapi, "3.0.0");
  assert.equal(document.info.title, "Archestra Platform API");
  const health = await (await fetch(`${platform.baseUrl}/health`)).json();
  assert.equal(document.info.version, health.version);
  assert.deepEqual(document.components.securitySchemes.sessionCookie, {
    type: "apiKey",
    in: "cookie",
    name: "archestra.session_token",
  });
  assert.equal(document.components.securitySchemes.apiKey.name, "Authorization");
  const ops = operations();
  const ids = ops.map(([, , op]) => op.operationId);
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  for (const id of ["getHealth", "getReadiness", "getOpenApiDocument"]) assert.ok(ids.includes(id), id);
  // Rest templates (proxy pass-through, "/*") cannot be described and are left out.
  assert.deepEqual(Object.keys(document.paths).filter((p) => p.includes("*")), []);
  for (const [method, template, op] of ops) {
    for (const status of ["200", "400", "401", "403", "404", "409", "500"]) {
      assert.ok(op.responses[status], `${method} ${template}: response ${status}`);
    }
  }
});

test("every documented operation is routed and enforces the security it declares", async () => {
  const ops = operations();
  assert.ok(ops.length >= 3);
  const failures = [];
  for (const [method, template, op] of ops) {
    const url = platform.baseUrl + concretePath(template, op);
    const init = { method: method.toUpperCase(), redirect: "manual" };
    if (op.requestBody) {
      init.headers = { "content-type": "application/json" };
      init.body = "{}";
    }
    const res = await fetch(url, init);
    const text = await res.text();
    const where = `${method.toUpperCase()} ${template} (${op.operationId}) -> ${res.status} ${text.slice(0, 200)}`;
    if (res.status === 405 || (res.status === 404 && /"message":"Route /.test(text))) {
      failures.push(`not routed: ${where}`);
    } else if (op.security.length > 0 && res.status !== 401) {
      failures.push(`declares credentials but answered without them: ${where}`);
    } else if (op.security.length === 0 && res.status === 401) {
      failures.push(`declared public but asked for credentials: ${where}`);
    }
  }
  assert.deepEqual(failures, []);
});

test("every method a documented path answers to is documented", async () => {
  const failures = [];
  const uncheckable = [];
  let checked = 0;
  for (const [template] of Object.entries(document.paths)) {
    const [, , op] = operations().find(([, t]) => t === template);
    const concrete = concretePath(template, op);
    // No route is declared for PROPFIND, so the router answers 405 listing every method it has for this
    // path, unless an any-method pass-through (the LLM proxy's /v1/<provider>/*) also covers the path.
    const res = await fetch(platform.baseUrl + concrete, { method: "PROPFIND" });
    await res.text();
    if (res.status !== 405) {
      assert.ok(!template.startsWith("/api/") && !template.startsWith("/health"), `PROPFIND ${concrete}: ${res.status}`);
      uncheckable.push(template);
      continue;
    }
    checked++;
    const allowed = (res.headers.get("allow") || "").split(",").map((m) => m.trim().toLowerCase()).filter(Boolean);
    assert.ok(allowed.length > 0, `Allow header for ${concrete}`);
    for (const method of allowed) {
      if (method === "*") continue;
      const documented = Object.entries(document.paths).some(
        ([other, otherItem]) => otherItem[method] && templateMatches(other, concrete),
      );
      if (!documented) failures.push(`${method.toUpperCase()} ${concrete} is routed but not documented`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(checked > uncheckable.length, `checked ${checked} paths, ${uncheckable.length} behind a pass-through`);
  if (uncheckable.length) console.log(`behind an any-method pass-through (Allow not visible): ${uncheckable.join(", ")}`);
});

test("redocly lint reports no errors", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-openapi-"));
  try {
    const file = path.join(dir, "openapi.json");
    fs.writeFileSync(file, JSON.stringify(document, null, 2));
    const cli = path.join(e2eDir, "node_modules/@redocly/cli/bin/cli.js");
    let stdout = "";
    let exitCode = 0;
    try {
      ({ stdout } = await execFileAsync(
        process.execPath,
        [cli, "lint", file, "--config", path.join(e2eDir, "redocly.yaml"), "--format", "json"],
        {
          cwd: dir,
          maxBuffer: 64 * 1024 * 1024,
          // No request may leave the machine: no telemetry, no update check.
          env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", CI: "true" },
        },
      ));
    } catch (err) {
      stdout = err.stdout || "";
      exitCode = err.code;
      if (!stdout.trim().startsWith("{")) throw err;
    }
    const report = JSON.parse(stdout);
    const errors = report.problems.filter((p) => p.severity === "error");
    const summary = errors.map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`).join("\n");
    assert.equal(report.totals.errors, 0, summary);
    assert.equal(exitCode, 0, "redocly lint exit code");
    if (report.totals.warnings > 0) {
      const rules = [...new Set(report.problems.map((p) => p.ruleId))].join(", ");
      console.log(`redocly lint: ${report.totals.warnings} warning(s): ${rules}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
