// Results of the hardening, fault and load tests, for docs/reliability.md. Each test records rows of
// {what, how, figure} under its own name; test/bench/reliability-report.mjs turns every recorded file into the
// document, so the figures in it are the ones the scripts measured, never typed by hand.
//
// Where: $ARCHESTRA_RELIABILITY_DIR, else <build dir>/reliability beside the platform binary CTest passes in
// (build/default/reliability), else <repo>/build/reliability.
import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "./harness.mjs";

export function reliabilityDir() {
  if (process.env.ARCHESTRA_RELIABILITY_DIR) return process.env.ARCHESTRA_RELIABILITY_DIR;
  if (process.env.ARCHESTRA_PLATFORM_BINARY) {
    return path.resolve(path.dirname(process.env.ARCHESTRA_PLATFORM_BINARY), "..", "reliability");
  }
  return path.join(repoRoot, "build", "reliability");
}

/// Writes (replacing any earlier run's) the rows of one test: [{ what, how, figure }], each a string.
export function recordReliability(test, rows) {
  for (const [i, row] of rows.entries()) {
    for (const key of ["what", "how", "figure"]) {
      if (typeof row[key] !== "string" || row[key].length === 0) {
        throw new Error(`recordReliability(${test}): rows[${i}].${key} must be a non-empty string`);
      }
    }
  }
  const dir = reliabilityDir();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${test}.json`);
  const body = { test, recordedAt: new Date().toISOString(), rows };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(body, null, 2));
  fs.renameSync(`${file}.tmp`, file);
  return file;
}
