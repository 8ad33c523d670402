// The browser leaves in the middle of a streamed chat answer: the platform cancels the model call at once
// (the upstream stand-in sees its connection closed while it is still pausing mid-answer, long before it
// would have sent the rest), and the conversation keeps what had arrived: the user's message, then an
// assistant message with the text received so far and an error part saying the browser closed the stream.
// For Anthropic, OpenAI and Gemini models (all three stream through the platform's own LLM proxy).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, adminSession, defaultProfileId, eventually } from "../lib/harness.mjs";
import { client, script } from "./lib.mjs";

let stack;
let platform;
let admin;
let call;
let profileId;

before(async () => {
  stack = await startStack({
    env: {
      ARCHESTRA_CHAT_ANTHROPIC_API_KEY: "sk-ant-abort-e2e",
      ARCHESTRA_CHAT_OPENAI_API_KEY: "sk-openai-abort-e2e",
      ARCHESTRA_CHAT_GEMINI_API_KEY: "gemini-abort-e2e",
    },
  });
  platform = stack.platform;
  admin = await adminSession(platform);
  call = client(platform, admin);
  profileId = await defaultProfileId(platform);
});

after(async () => {
  await stack?.stop();
});

const PAUSE_MS = 20000;  // the stand-in's pause after the first word: the model "thinking" mid-answer

for (const model of ["claude-sonnet-4-5", "gpt-4o", "gemini-2.5-flash"]) {
  test(`${model}: closing the chat stream mid-answer cancels the upstream request and keeps the text received`, async () => {
    const created = await call("POST", "/api/chat/conversations", { agentId: profileId, selectedModel: model });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const conversationId = created.body.id;
    await stack.standin.reset();
    await script(stack.standin, [{ text: "First words, then a long pause before the rest.", pauseMs: PAUSE_MS }]);

    const abort = new AbortController();
    const res = await fetch(platform.baseUrl + "/api/chat", {
      method: "POST",
      headers: { cookie: admin.cookie, origin: admin.origin, "content-type": "application/json" },
      body: JSON.stringify({ id: conversationId, messages: [{ id: "m1", role: "user", parts: [{ type: "text", text: "talk slowly" }] }] }),
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    // Read until the first text delta, as a browser showing the answer would.
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let received = "";
    while (!/"type":"text-delta"/.test(received)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before a text delta: ${received}`);
      received += decoder.decode(value, { stream: true });
    }
    assert.equal((await stack.standin.lastRequest()).outcome, "answering", "the model is still mid-answer");
    const firstDelta = JSON.parse(received.split("\n\n").find((b) => b.includes('"text-delta"')).slice(6));
    assert.equal(firstDelta.delta, "First ");

    // The browser leaves (tab closed / navigation): the fetch is aborted and its connection closed.
    const leftAt = Date.now();
    abort.abort();
    await reader.cancel().catch(() => {});

    const upstream = await eventually(async () => {
      const last = await stack.standin.lastRequest();
      return last.outcome === "answering" ? null : last;
    }, 10000, 50);
    const cancelledAfter = Date.now() - leftAt;
    assert.equal(upstream.outcome, "peer closed", "the platform hung up on the model instead of reading the answer to its end");
    assert.ok(cancelledAfter < 5000, `the upstream call was cancelled ${cancelledAfter} ms after the browser left (pause ${PAUSE_MS} ms)`);

    // What arrived is kept, with the reason the answer stops there.
    const stored = await eventually(async () => {
      const r = await call("GET", `/api/chat/conversations/${conversationId}`);
      return r.body.messages?.length >= 2 ? r.body : null;
    }, 10000, 100);
    assert.equal(stored.messages.length, 2, JSON.stringify(stored.messages));
    assert.equal(stored.messages[0].role, "user");
    assert.deepEqual(stored.messages[0].parts, [{ type: "text", text: "talk slowly" }]);
    assert.equal(stored.messages[1].role, "assistant");
    const [text, error] = stored.messages[1].parts;
    assert.deepEqual(text, { type: "text", text: "First " });
    assert.equal(error.type, "error");
    assert.match(error.errorText, /browser closed the chat stream/);
    console.log(`${model}: upstream cancelled ${cancelledAfter} ms after the browser left (the model paused ${PAUSE_MS} ms)`);
  });
}
