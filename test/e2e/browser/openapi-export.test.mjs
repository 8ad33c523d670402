// The UI's typed client is generated from `archestra-platform --print-openapi` (no server, no database): that
// document must be the one the running platform serves at /openapi.json, or the client would drift.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { platformBinary, startPlatform } from "../lib/harness.mjs";

const execFileAsync = promisify(execFile);
let platform;

before(async () => {
  platform = await startPlatform();
});
after(async () => {
  await platform?.stop();
});

test("--print-openapi prints the document /openapi.json serves, without touching a database", async () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "arch-openapi-"));
  try {
    const env = { ...process.env, ARCHESTRA_DATA_DIR: scratch, ARCHESTRA_API_BASE_URL: `http://localhost:${platform.apiPort}` };
    delete env.ARCHESTRA_DATABASE_URL;
    delete env.DATABASE_URL;
    const started = Date.now();
    const { stdout } = await execFileAsync(platformBinary(), ["--print-openapi"], { env, cwd: scratch, maxBuffer: 64 << 20 });
    assert.ok(Date.now() - started < 15000, "no database connection attempt delays it");
    const printed = JSON.parse(stdout);
    const served = await (await fetch(`${platform.baseUrl}/openapi.json`)).json();
    assert.ok(Object.keys(printed.paths).length > 20, "the document lists the API routes");
    assert.deepEqual(Object.keys(printed.paths).sort(), Object.keys(served.paths).sort());
    assert.deepEqual(printed, served);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
