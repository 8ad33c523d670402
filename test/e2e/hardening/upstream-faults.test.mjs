// Upstream faults the other suites do not cover, through the real SDKs: an upstream that sends its headers
// and first events and then stalls, for OpenAI and Anthropic streams. The client must get a provider-style
// error event or the end of the stream within the idle timeout, never a hang, and the platform keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

import { startStack, defaultProfileId } from "../lib/harness.mjs";
import { openAiClient, anthropicClient } from "../lib/sdk-clients.mjs";
import { recordReliability } from "../lib/reliability.mjs";

let stack;
let profileId;
const idleTimeout_ms = 1500;

before(async () => {
  stack = await startStack({ env: { ARCHESTRA_UPSTREAM_IDLE_TIMEOUT_MS: String(idleTimeout_ms) } });
  profileId = await defaultProfileId(stack.platform);
});

const figures = []; // for docs/reliability.md, pushed once a test's checks passed

after(async () => {
  await stack?.stop();
  if (figures.length) recordReliability("hardening-upstream-faults", figures);
});

/// Drains an SDK stream; returns {events, error, elapsed_ms}.
async function drain(streamPromise) {
  const started = Date.now();
  const events = [];
  let error = null;
  try {
    const stream = await streamPromise;
    for await (const event of stream) events.push(event);
  } catch (err) {
    error = err;
  }
  return { events, error, elapsed_ms: Date.now() - started };
}

test("OpenAI stream that stalls after its first events ends with an error event within the idle timeout", async () => {
  const client = openAiClient(stack.platform, profileId, { timeout: 30000 });
  // slow-stream-600000: the stand-in sends the status line and headers, then waits 10 minutes per event.
  const { events, error, elapsed_ms } = await drain(
    client.chat.completions.create({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "Hi scenario:slow-stream-600000" }] }),
  );
  console.log(`stream ended after ${elapsed_ms} ms with ${events.length} events: ${error?.message}`);
  assert.ok(elapsed_ms < idleTimeout_ms + 5000, `the stream took ${elapsed_ms} ms to end`);
  assert.ok(error, `the SDK saw a normal end after ${events.length} events: a stalled upstream must read as an error`);
  assert.ok(error instanceof OpenAI.APIError, `got ${error.constructor.name}: ${error.message}`);
  assert.match(error.message, /timeout|timed out|idle/i);
  figures.push({
    what: "OpenAI stream that stalls after its headers",
    how: `e2e_hardening_upstream_faults, official OpenAI SDK, ARCHESTRA_UPSTREAM_IDLE_TIMEOUT_MS=${idleTimeout_ms}`,
    figure: `the SDK got an APIError (${error.message.slice(0, 60)}) after ${elapsed_ms} ms`,
  });
});

test("Anthropic stream that stalls ends with an error event within the idle timeout", async () => {
  const client = anthropicClient(stack.platform, profileId, { timeout: 30000 });
  const { events, error, elapsed_ms } = await drain(
    client.messages.create({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 64,
      stream: true,
      messages: [{ role: "user", content: "Hi scenario:slow-stream-600000" }],
    }),
  );
  console.log(`stream ended after ${elapsed_ms} ms with ${events.length} events: ${error?.message}`);
  assert.ok(elapsed_ms < idleTimeout_ms + 5000, `the stream took ${elapsed_ms} ms to end`);
  assert.ok(error, `the SDK saw a normal end after ${events.length} events`);
  assert.ok(error instanceof Anthropic.APIError, `got ${error.constructor.name}: ${error.message}`);
  figures.push({
    what: "Anthropic stream that stalls after its headers",
    how: `e2e_hardening_upstream_faults, official Anthropic SDK, ARCHESTRA_UPSTREAM_IDLE_TIMEOUT_MS=${idleTimeout_ms}`,
    figure: `the SDK got an APIError after ${elapsed_ms} ms`,
  });
});

test("the platform keeps serving after the stalls", async () => {
  const client = openAiClient(stack.platform, profileId);
  const answer = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hi" }] });
  assert.equal(typeof answer.choices[0].message.content, "string");
});
