// telemetry.posthog: with ARCHESTRA_ANALYTICS=enabled the capture stand-in receives the anonymous start-up event
// (version, enabled features) and the usage counts, with nothing identifying in them; disabled sends nothing;
// an unreachable host stays quiet.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPlatform, freePort, ADMIN_EMAIL } from "../lib/harness.mjs";
import { startPostHogCapture, waitFor, sleep } from "./standins.mjs";

let capture;
const platforms = [];

before(async () => {
  capture = await startPostHogCapture();
});
after(async () => {
  for (const p of platforms) await p.stop();
  await capture?.stop();
});

test("enabled: start-up event with version and features, then usage counts; anonymous", async () => {
  const platform = await startPlatform({
    env: {
      ARCHESTRA_ANALYTICS: "enabled",
      ARCHESTRA_ANALYTICS_HOST: capture.url,
      ARCHESTRA_ANALYTICS_USAGE_DELAY_MS: "500",
      ARCHESTRA_AUTH_ADMIN_PASSWORD: "An4lytics-Admin-Pass",
    },
  });
  platforms.push(platform);
  const features = await (await fetch(`${platform.baseUrl}/api/features`)).json();
  assert.equal(features.analytics, true, "/api/features tells the UI analytics is on");
  const got = await waitFor(async () => {
    const { events } = await capture.get("/__events");
    const names = events.map((e) => e.event);
    return names.includes("platform_started") && names.includes("daily_usage") ? events : null;
  }, 20000);
  assert.ok(got, `events missing: ${JSON.stringify((await capture.get("/__events")).events)}`);
  const started = got.find((e) => e.event === "platform_started");
  assert.match(started.properties.version, /\d/);
  assert.equal(typeof started.properties.features, "object");
  assert.ok(Array.isArray(started.properties.features.plugins));
  assert.ok(started.properties.features.plugins.includes("telemetry.posthog"));
  assert.match(started.distinct_id, /^[0-9a-f-]{36}$/);
  assert.ok(started.api_key);
  const usage = got.find((e) => e.event === "daily_usage");
  assert.equal(typeof usage.properties.profiles, "number");
  assert.ok(usage.properties.profiles >= 1);
  assert.equal(typeof usage.properties.interactionsLastDay, "number");
  assert.equal(usage.distinct_id, started.distinct_id, "one anonymous installation id");
  const { bodies } = await capture.get("/__events");
  const everything = bodies.join("\n");
  for (const secret of [ADMIN_EMAIL, "An4lytics-Admin-Pass", "127.0.0.1", String(platform.apiPort), platform.dataDir]) {
    assert.ok(!everything.includes(secret), `analytics payload contains ${secret}`);
  }
});

test("disabled: nothing is sent", async () => {
  await capture.post("/__reset");
  const platform = await startPlatform({
    env: { ARCHESTRA_ANALYTICS: "disabled", ARCHESTRA_ANALYTICS_HOST: capture.url, ARCHESTRA_ANALYTICS_USAGE_DELAY_MS: "200" },
  });
  platforms.push(platform);
  const features = await (await fetch(`${platform.baseUrl}/api/features`)).json();
  assert.equal(features.analytics, false, "/api/features tells the UI to load no analytics code");
  await sleep(2500);
  const { events, bodies } = await capture.get("/__events");
  assert.equal(bodies.length, 0, JSON.stringify(events));
  assert.match(platform.logTail(400), /analytics: disabled/);
});

test("unreachable host: no warning or error lines about it", async () => {
  const dead = await freePort();
  const platform = await startPlatform({
    env: { ARCHESTRA_ANALYTICS: "enabled", ARCHESTRA_ANALYTICS_HOST: `http://127.0.0.1:${dead}`, ARCHESTRA_ANALYTICS_USAGE_DELAY_MS: "200" },
  });
  platforms.push(platform);
  await sleep(2500);
  const noisy = platform
    .logTail(400)
    .split("\n")
    .filter((l) => /\b(warn|error)\b/.test(l) && /analytics|posthog|capture/i.test(l));
  assert.deepEqual(noisy, []);
  assert.equal((await fetch(`${platform.baseUrl}/health`)).status, 200);
});
