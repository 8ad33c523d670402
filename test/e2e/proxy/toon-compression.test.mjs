// Tool-result compression end to end: the official `openai` and `@anthropic-ai/sdk` clients send a JSON tool
// result through archestra-platform to the upstream stand-in. Off by default (migration 0003); once the
// organisation turns it on the stand-in sees TOON (exact text), every other byte of the body is unchanged, the
// interaction records the token estimate before/after and the money saved, and /api/statistics/cost-savings
// reports it; the same for streamed requests (stream:true). With compressionScope "team" the profile's teams
// decide.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, adminSession, eventually, apiClient } from "../lib/harness.mjs";
import { openAiClient, anthropicClient } from "../lib/sdk-clients.mjs";

let stack;
let session;
let api;

const toolResult = {
  orders: [
    { id: 1, item: "keyboard", qty: 2, price: 49.5 },
    { id: 2, item: "mouse", qty: 1, price: 19.99 },
    { id: 3, item: "usb-c hub", qty: 3, price: 25 },
  ],
  status: "shipped",
};
const toolResultJson = JSON.stringify(toolResult);
const expectedToon = "orders[3]{id,item,qty,price}:\n  1,keyboard,2,49.5\n  2,mouse,1,19.99\n  3,usb-c hub,3,25\nstatus: shipped";

const openAiMessages = (content) => [
  { role: "user", content: "What did I order?" },
  {
    role: "assistant",
    content: null,
    tool_calls: [{ id: "call_orders", type: "function", function: { name: "list_orders", arguments: "{}" } }],
  },
  { role: "tool", tool_call_id: "call_orders", content },
];
const openAiTools = [{ type: "function", function: { name: "list_orders", parameters: { type: "object", properties: {} } } }];

const openai = (profileId) => openAiClient(stack.platform, profileId, { apiKey: "sk-test" });
const anthropic = (profileId) => anthropicClient(stack.platform, profileId, { apiKey: "sk-ant-test" });

async function interaction(profileId, count) {
  return eventually(async () => {
    const rows = await stack.platform.psql(
      `SELECT COALESCE(toon_tokens_before::text, '-'), COALESCE(toon_tokens_after::text, '-'),
              COALESCE(toon_cost_savings::text, '-'), model FROM interactions
       WHERE profile_id = '${profileId}' ORDER BY created_at`,
    );
    return rows.length >= count ? rows[count - 1] : null;
  });
}

async function inputPrice(model) {
  const prices = await api("GET", "/api/token-prices");
  const row = prices.find((p) => p.model === model);
  return row ? Number(row.pricePerMillionInput) : /-mini|-nano|-haiku/.test(model) ? 30 : 50;
}

before(async () => {
  stack = await startStack();
  session = await adminSession(stack.platform);
  api = apiClient(stack.platform, session).ok;
});

after(async () => {
  await stack?.stop();
});

test("off by default: the JSON tool result goes upstream as it came and nothing is recorded", async () => {
  const org = await api("GET", "/api/organization");
  assert.equal(org.convertToolResultsToToon, false);
  assert.equal(org.compressionScope, "organization");
  const profile = await api("POST", "/api/agents", { name: "toon-off", teams: [] });
  await openai(profile.id).chat.completions.create({ model: "gpt-4o", messages: openAiMessages(toolResultJson), tools: openAiTools });
  const upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.messages[2].content, toolResultJson);
  const [before, after, savings] = await interaction(profile.id, 1);
  assert.deepEqual([before, after, savings], ["-", "-", "-"]);
});

test("organisation on: OpenAI and Anthropic tool results go upstream as TOON; tokens and savings are recorded and reported", async () => {
  await api("PATCH", "/api/organization", { convertToolResultsToToon: true });
  const profile = await api("POST", "/api/agents", { name: "toon-on", teams: [] });
  const baseline = await api("GET", "/api/statistics/cost-savings?timeframe=1h");

  // openai SDK: string content, and the same result as text parts
  await openai(profile.id).chat.completions.create({ model: "gpt-4o", messages: openAiMessages(toolResultJson), tools: openAiTools });
  let upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.messages[2].content, expectedToon);
  assert.equal(upstream.messages[0].content, "What did I order?");
  assert.deepEqual(upstream.tools, openAiTools);
  const [before1, after1, saved1, model1] = await interaction(profile.id, 1);
  assert.ok(Number(after1) > 0 && Number(after1) < Number(before1), `tokens ${before1} -> ${after1}`);
  const price = await inputPrice(model1);
  assert.ok(Math.abs(Number(saved1) - ((Number(before1) - Number(after1)) * price) / 1e6) < 1e-9, `saved ${saved1} at $${price}/M`);

  await openai(profile.id).chat.completions.create({
    model: "gpt-4o",
    messages: openAiMessages([{ type: "text", text: toolResultJson }]),
    tools: openAiTools,
  });
  upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.messages[2].content, expectedToon);

  // byte for byte: only the content's bytes change (odd spacing and key order survive)
  const rawBody =
    '{ "messages" : [ {"role":"user","content":"What did I order?"}, {"role":"assistant","content":null,"tool_calls":[{"id":"call_orders","type":"function","function":{"name":"list_orders","arguments":"{}"}}]},\n' +
    '  {"tool_call_id":"call_orders", "role":"tool","content":' + JSON.stringify(toolResultJson) + '} ],  "model":"gpt-4o" }';
  const res = await fetch(`${stack.platform.baseUrl}/v1/openai/${profile.id}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
    body: rawBody,
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await stack.standin.lastRequest()).body, rawBody.replace(JSON.stringify(toolResultJson), JSON.stringify(expectedToon)));

  // Anthropic: tool_result content as a string and as text blocks
  for (const content of [toolResultJson, [{ type: "text", text: toolResultJson }]]) {
    await anthropic(profile.id).messages.create({
      model: "claude-3-5-sonnet-20241022",
      max_tokens: 100,
      messages: [
        { role: "user", content: "What did I order?" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_orders", name: "list_orders", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_orders", content }] },
      ],
    });
    const sent = JSON.parse((await stack.standin.lastRequest()).body);
    assert.equal(sent.messages[2].content[0].content, expectedToon);
    assert.equal(sent.messages[2].content[0].tool_use_id, "toolu_orders");
  }
  const [beforeA, afterA, savedA, modelA] = await interaction(profile.id, 5);
  assert.equal(modelA, "claude-3-5-sonnet-20241022");
  assert.ok(Number(afterA) < Number(beforeA) && Number(savedA) > 0, `${beforeA} -> ${afterA}, $${savedA}`);

  const rows = await stack.platform.psql(
    `SELECT COALESCE(sum(toon_cost_savings), 0)::text, count(toon_tokens_before) FROM interactions WHERE profile_id = '${profile.id}'`,
  );
  const [sum, counted] = rows[0];
  assert.equal(counted, "5");
  const report = await api("GET", "/api/statistics/cost-savings?timeframe=1h");
  const delta = report.totalToonSavings - baseline.totalToonSavings;
  assert.ok(Math.abs(delta - Number(sum)) < 1e-9, `cost-savings reports ${delta}, the interactions saved ${sum}`);
  assert.ok(Math.abs(report.totalSavings - (report.totalOptimizationSavings + report.totalToonSavings)) < 1e-9);
  assert.ok(Math.abs(report.totalBaselineCost - report.totalActualCost - report.totalSavings) < 1e-9, JSON.stringify(report));
  assert.ok(report.timeSeries.reduce((s, p) => s + p.toonSavings, 0) > 0);

  // a result that is not JSON is left alone
  await openai(profile.id).chat.completions.create({ model: "gpt-4o", messages: openAiMessages("3 orders, all shipped"), tools: openAiTools });
  assert.equal(JSON.parse((await stack.standin.lastRequest()).body).messages[2].content, "3 orders, all shipped");
});

test("stream:true: the streamed requests' JSON tool results go upstream as TOON and the interactions record tokens before/after", async () => {
  await api("PATCH", "/api/organization", { convertToolResultsToToon: true, compressionScope: "organization" });
  const profile = await api("POST", "/api/agents", { name: "toon-stream", teams: [] });

  // OpenAI, streamed: the answer arrives as SSE chunks, the request upstream carries TOON and stream:true.
  const stream = await openai(profile.id).chat.completions.create({
    model: "gpt-4o",
    messages: openAiMessages(toolResultJson),
    tools: openAiTools,
    stream: true,
  });
  let chunks = 0;
  for await (const chunk of stream) if (chunk.choices) chunks++;
  assert.ok(chunks > 1, `a streamed answer (${chunks} chunks)`);
  let upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.stream, true, "the request went upstream as a streamed one");
  assert.equal(upstream.messages[2].content, expectedToon);
  const [before1, after1, saved1] = await interaction(profile.id, 1);
  assert.ok(Number(after1) > 0 && Number(after1) < Number(before1), `tokens ${before1} -> ${after1}`);
  assert.ok(Number(saved1) > 0, `saved ${saved1}`);

  // Anthropic, streamed.
  const events = [];
  const anthropicStream = anthropic(profile.id).messages.stream({
    model: "claude-3-5-sonnet-20241022",
    max_tokens: 100,
    messages: [
      { role: "user", content: "What did I order?" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_orders", name: "list_orders", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_orders", content: toolResultJson }] },
    ],
  });
  for await (const event of anthropicStream) events.push(event.type);
  assert.ok(events.includes("message_stop"), `streamed events: ${events.join(",")}`);
  upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.stream, true);
  assert.equal(upstream.messages[2].content[0].content, expectedToon);
  const [beforeA, afterA, savedA, modelA] = await interaction(profile.id, 2);
  assert.equal(modelA, "claude-3-5-sonnet-20241022");
  assert.ok(Number(afterA) > 0 && Number(afterA) < Number(beforeA) && Number(savedA) > 0, `${beforeA} -> ${afterA}, $${savedA}`);
  // The same result gives the same estimate whichever the provider and whether streamed or not.
  assert.equal(beforeA, before1);
  assert.equal(afterA, after1);
});

test("team scope: a profile's requests are compressed when one of its teams has the setting on", async () => {
  await api("PATCH", "/api/organization", { compressionScope: "team", convertToolResultsToToon: true });
  const team = await api("POST", "/api/teams", { name: "toon-team" });
  const profile = await api("POST", "/api/agents", { name: "toon-team-profile", teams: [team.id] });
  const send = async () => {
    await openai(profile.id).chat.completions.create({ model: "gpt-4o", messages: openAiMessages(toolResultJson), tools: openAiTools });
    return JSON.parse((await stack.standin.lastRequest()).body).messages[2].content;
  };
  assert.equal(await send(), toolResultJson, "the team's flag is off (the default): not compressed");
  await api("PUT", `/api/teams/${team.id}`, { convertToolResultsToToon: true });
  assert.equal(await send(), expectedToon);
  await api("PATCH", "/api/organization", { compressionScope: "organization", convertToolResultsToToon: false });
  assert.equal(await send(), toolResultJson);
});
