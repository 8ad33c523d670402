// Starts the telemetry stand-ins (OTLP receiver, PostHog capture) as child processes for the telemetry tests.
import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "../lib/harness.mjs";

async function startNodeStandin(script, wantedPort = 0) {
  const child = spawn(process.execPath, [script, String(wantedPort)], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${output}`)), 10000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}:\n${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    get: async (p) => (await fetch(url + p)).json(),
    post: async (p) => (await fetch(url + p, { method: "POST" })).json(),
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 3000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/// `port` 0 picks a free one; a given port lets a test bring a receiver up where an exporter already points.
export const startOtlpReceiver = (port = 0) =>
  startNodeStandin(path.join(repoRoot, "test/standins/otlp-receiver/server.mjs"), port);
export const startPostHogCapture = () =>
  startNodeStandin(path.join(repoRoot, "test/standins/posthog-capture/server.mjs"));

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Polls `probe` until it returns a truthy value or the timeout passes (then returns the last value).
export async function waitFor(probe, timeout_ms = 15000, interval_ms = 200) {
  const deadline = Date.now() + timeout_ms;
  let value;
  while (Date.now() < deadline) {
    value = await probe();
    if (value) return value;
    await sleep(interval_ms);
  }
  return value;
}
