// Costs end to end with the official `openai` client through archestra-platform to the upstream stand-in:
// an optimization rule changes the model that goes upstream (and the interaction records both models and the
// saving), and a token-cost limit trips (429 token_cost_limit_exceeded, OpenAI-shaped) and resets when the
// organisation's period is over; the Anthropic and Gemini routes refuse in their own shapes with the same code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startStack, adminSession, eventually, apiClient } from "../lib/harness.mjs";
import { openAiClient, anthropicClient } from "../lib/sdk-clients.mjs";

let stack;
let session;
let api;

const client = (profileId) => openAiClient(stack.platform, profileId);
const ask = (profileId, model) =>
  client(profileId).chat.completions.create({ model, messages: [{ role: "user", content: "Hello" }] });

before(async () => {
  stack = await startStack();
  session = await adminSession(stack.platform);
  api = apiClient(stack.platform, session).ok;
});

after(async () => {
  await stack?.stop();
});

test("an optimization rule's target model is what goes upstream; the interaction records both models and the saving", async () => {
  const profile = await api("POST", "/api/agents", { name: "optimized", teams: [] });
  const rule = await api("POST", "/api/optimization-rules", {
    entityType: "agent",
    entityId: profile.id,
    conditions: [{ maxLength: 1000 }, { hasTools: false }],
    provider: "openai",
    targetModel: "gpt-4o-mini",
  });
  const completion = await ask(profile.id, "gpt-4o");
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
  const upstream = await stack.standin.lastRequest();
  assert.equal(JSON.parse(upstream.body).model, "gpt-4o-mini");

  const row = await eventually(async () => {
    const rows = await stack.platform.psql(
      `SELECT model, original_model, optimized_model, baseline_cost::text, cost::text FROM interactions WHERE profile_id = '${profile.id}'`,
    );
    return rows[0];
  });
  assert.ok(row, "no interaction recorded");
  const [model, original, optimized, baseline, cost] = row;
  assert.equal(model, "gpt-4o-mini");
  assert.equal(original, "gpt-4o");
  assert.equal(optimized, "gpt-4o-mini");
  assert.ok(Number(baseline) > Number(cost), `baseline ${baseline} should exceed cost ${cost} ($50/M vs $30/M)`);
  const savings = await api("GET", "/api/statistics/cost-savings?timeframe=1h");
  assert.ok(savings.totalOptimizationSavings > 0, JSON.stringify(savings));

  // A request the rule does not match (a long prompt) and a disabled rule both leave the model alone.
  await client(profile.id).chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "x".repeat(8000) }],
  });
  assert.equal(JSON.parse((await stack.standin.lastRequest()).body).model, "gpt-4o");
  await api("PUT", `/api/optimization-rules/${rule.id}`, { enabled: false });
  await ask(profile.id, "gpt-4o");
  assert.equal(JSON.parse((await stack.standin.lastRequest()).body).model, "gpt-4o");
});

test("a token-cost limit trips with the OpenAI-shaped 429 and resets at the end of the organisation's period", async () => {
  const profile = await api("POST", "/api/agents", { name: "limited", teams: [] });
  const model = "e2e-expensive-model";
  await api("POST", "/api/token-prices", {
    provider: "openai",
    model,
    pricePerMillionInput: "99999999.99",
    pricePerMillionOutput: "99999999.99",
  });
  const limit = await api("POST", "/api/limits", {
    entityType: "agent",
    entityId: profile.id,
    limitType: "token_cost",
    limitValue: 1,
    model: [model],
  });

  await ask(profile.id, model); // under the limit: goes through and is counted
  let refused = await eventually(async () => {
    try {
      await ask(profile.id, model);
      return null;
    } catch (err) {
      return err;
    }
  }, 10000, 200);
  if (!refused) {
    const state = await stack.platform.psql(
      `SELECT 'usage', model, current_usage_tokens_in::text, current_usage_tokens_out::text FROM limit_model_usage
       UNION ALL SELECT 'interaction', model, COALESCE(input_tokens::text, '-'), COALESCE(cost::text, '-') FROM interactions
       WHERE profile_id = '${profile.id}'`,
    );
    assert.fail(`the limit never tripped: ${JSON.stringify(state)}`);
  }
  assert.equal(refused.status, 429);
  assert.ok(refused instanceof OpenAI.RateLimitError);
  const code = refused.code ?? refused.error?.code;
  assert.equal(code, "token_cost_limit_exceeded");
  assert.match(refused.message, /agent-level token cost limit has been exceeded/);
  assert.match(refused.message, /Limit: \$1\.00/);

  // The same profile on the other providers' routes: their own error shapes, plus the same code.
  const upstreamBefore = (await stack.standin.requests()).length;
  await assert.rejects(
    anthropicClient(stack.platform, profile.id).messages.create({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 8,
      messages: [{ role: "user", content: "Hello" }],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.RateLimitError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.error?.type, "error");
      assert.equal(err.error?.error?.type, "rate_limit_error");
      assert.equal(err.error?.error?.code, "token_cost_limit_exceeded");
      assert.match(err.error?.error?.message, /token cost limit has been exceeded/);
      return true;
    },
  );
  const gemini = await fetch(`${stack.platform.baseUrl}/v1/gemini/${profile.id}/models/gemini-2.5-flash:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] }),
  });
  assert.equal(gemini.status, 429);
  const geminiError = (await gemini.json()).error;
  assert.equal(geminiError.code, 429);
  assert.equal(geminiError.status, "RESOURCE_EXHAUSTED");
  assert.equal(geminiError.details?.[0]?.reason, "token_cost_limit_exceeded", JSON.stringify(geminiError));
  assert.equal((await stack.standin.requests()).length, upstreamBefore, "a refused request reached the upstream");

  const [listed] = await api("GET", `/api/limits?entityType=agent&entityId=${profile.id}`);
  assert.equal(listed.id, limit.id);
  assert.ok(listed.modelUsage[0].tokensIn > 0);
  assert.ok(listed.modelUsage[0].cost >= 1);

  // The period (the organisation's limitCleanupInterval, 1h by default) ends: the platform resets the usage by
  // itself and the next request goes through.
  await stack.platform.psql(`UPDATE limits SET last_cleanup = now() - interval '61 minutes' WHERE id = '${limit.id}'`);
  const passed = await eventually(async () => {
    try {
      return await ask(profile.id, model);
    } catch {
      return null;
    }
  }, 10000, 200);
  assert.ok(passed, "the limit did not reset");
  const [afterReset] = await api("GET", `/api/limits?entityType=agent&entityId=${profile.id}`);
  assert.ok(afterReset.lastCleanup > listed.lastCleanup);
});
