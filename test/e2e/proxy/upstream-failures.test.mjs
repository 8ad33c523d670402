// Upstream failures seen through the SDKs: an unreachable upstream and an upstream that stays silent past the
// idle timeout give provider-style 502/504 errors (never a hang); a client that leaves mid-stream makes the
// platform cancel the upstream request, and the interaction is still recorded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startStandin, startPlatform, freePort, defaultProfileId, eventually } from "../lib/harness.mjs";
import { openAiClient, anthropicClient } from "../lib/sdk-clients.mjs";

let standin;
let platform;
let profileId;

before(async () => {
  standin = await startStandin();
  const closedPort = await freePort(); // nothing listens here
  platform = await startPlatform({
    upstream: standin.url,
    env: {
      ARCHESTRA_ANTHROPIC_BASE_URL: `http://127.0.0.1:${closedPort}`,
      ARCHESTRA_UPSTREAM_CONNECT_TIMEOUT_MS: "2000",
      ARCHESTRA_UPSTREAM_IDLE_TIMEOUT_MS: "1000",
    },
  });
  profileId = await defaultProfileId(platform);
});

after(async () => {
  await platform?.stop();
  await standin?.stop();
});

const openai = (options = {}) => openAiClient(platform, profileId, { timeout: 15000, ...options });

test("unreachable upstream: 502 with a provider-style error body, quickly", async () => {
  const anthropic = anthropicClient(platform, profileId, { timeout: 15000 });
  const started = Date.now();
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-4-5-20250929", max_tokens: 8, messages: [{ role: "user", content: "Hi" }] }),
    (err) => {
      assert.ok(err instanceof Anthropic.APIError && !(err instanceof Anthropic.APIConnectionError), `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 502);
      assert.equal(err.error?.type, "error");
      assert.equal(typeof err.error?.error?.message, "string");
      return true;
    },
  );
  assert.ok(Date.now() - started < 5000, "must not hang");
});

test("upstream silent past the idle timeout: 504 with an OpenAI-style error body", async () => {
  const started = Date.now();
  await assert.rejects(
    openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "scenario:slow-first-byte-4000" }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError && !(err instanceof OpenAI.APIConnectionError), `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 504);
      assert.equal(typeof err.error?.message, "string");
      return true;
    },
  );
  const elapsed = Date.now() - started;
  // The idle timeout once (it used to be twice: the wait for the first byte, then the read's own timeout).
  assert.ok(elapsed >= 900 && elapsed < 1700, `answered after ${elapsed} ms with a 1000 ms idle timeout`);
});

test("a stream silent past the idle timeout fails after that timeout, not twice it", async () => {
  const started = Date.now();
  await assert.rejects(async () => {
    const stream = await openai().chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "scenario:slow-stream-4000" }], // the head, then 4 s of silence
      stream: true,
    });
    for await (const _chunk of stream) {
      // nothing arrives before the failure
    }
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 1700, `the stream failed after ${elapsed} ms with a 1000 ms idle timeout`);
});

test("a client that leaves mid-stream cancels the upstream request; the interaction is still recorded", async () => {
  await standin.reset();
  const stream = await openai().chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "scenario:slow-stream-300" }],
    stream: true,
  });
  let received = 0;
  for await (const _chunk of stream) {
    if (++received === 2) break; // leaving the loop makes the SDK abort the HTTP request
  }
  assert.equal(received, 2);
  // The whole answer takes 13 x 300 ms; the upstream must see the proxy hang up long before that.
  const record = await eventually(async () => {
    const last = await standin.lastRequest();
    return last && last.outcome !== "answering" ? last : null;
  }, 2500);
  assert.ok(record, "the upstream request was still running 2.5 s after the client left");
  assert.equal(record.outcome, "peer closed");
  const rows = await eventually(async () => {
    const r = await platform.psql("SELECT count(*) FROM interactions WHERE request::text LIKE '%slow-stream-300%'");
    return Number(r[0][0]) === 1 ? r : null;
  }, 10000);
  assert.ok(rows, "the interrupted stream must be recorded");
});

test("a client that gives up on a non-streaming request cancels the upstream request", async () => {
  await standin.reset();
  await assert.rejects(
    openai({ timeout: 300 }).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "scenario:slow-first-byte-3000" }] }),
    (err) => err instanceof OpenAI.APIConnectionTimeoutError,
  );
  // The upstream would answer after 3 s; the proxy must hang up on it soon after the client left.
  const record = await eventually(async () => {
    const last = await standin.lastRequest();
    return last && last.outcome !== "answering" ? last : null;
  }, 1500);
  assert.ok(record, "the upstream request was still running 1.5 s after the client left");
  assert.equal(record.outcome, "peer closed");
  // Before the 1000 ms idle timeout would have ended it anyway: the hang-up follows the client's.
  const heldMs = Date.parse(record.closedAt) - Date.parse(record.receivedAt);
  assert.ok(heldMs < 800, `the upstream request was cancelled ${heldMs} ms after it started`);
});

test("the platform keeps serving after all of that", async () => {
  const completion = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello" }] });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
});
