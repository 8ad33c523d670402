// The chat and the MCP installation requests in a real browser (Debian chromium via playwright-core) against the
// real platform: the Anthropic key set under Settings → Chat, a conversation whose model (the llm-upstream
// stand-in, scripted) calls server-everything's echo through the MCP gateway, with the tool call and its result
// shown, the title generated, then rename and delete; text that streams into the page while the model is still
// answering, and a call blocked by an invocation policy shown as blocked; a member requests a server, the admin
// approves it with a response, and the catalog gets the entry.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, adminSession, defaultProfileId, signUpMember, startStack } from "../lib/harness.mjs";
import { launchBrowser, newPage, screenshot, see } from "./lib.mjs";
import { uiDir } from "./lib.mjs";
import { client, script, setupEcho, ECHO } from "../chat/lib.mjs";

let stack;
let browser;
let origin;
let page;
let call;
let admin;

before(async () => {
  stack = await startStack({ env: { ARCHESTRA_UI_DIR: uiDir(), ARCHESTRA_ORCHESTRATOR: "local", ARCHESTRA_CHAT_GEMINI_API_KEY: "gemini-browser-key" } });
  origin = `http://127.0.0.1:${stack.platform.uiPort}`;
  admin = await adminSession(stack.platform);
  call = client(stack.platform, admin);
  await setupEcho(stack.platform, call, await defaultProfileId(stack.platform));
  browser = await launchBrowser();
  ({ page } = await newPage(browser, origin));
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function signIn(p, email, password) {
  await p.goto("/auth/sign-in");
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password").fill(password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(/\/profiles$/);
}

test("Settings → Chat: provider keys are saved (into the secrets backend), shown as set, and reset; the environment's Gemini key", async () => {
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await page.goto("/settings/chat");
  await see(page.getByTestId("chat-key-status"), "not set");
  // Gemini's key comes from the environment in this run; OpenAI's is not set anywhere.
  await see(page.getByTestId("chat-key-status-gemini"), "Gemini key: from ARCHESTRA_CHAT_GEMINI_API_KEY");
  await see(page.getByTestId("chat-key-status-openai"), "OpenAI key: not set");
  await page.getByLabel("Anthropic API key").fill("sk-ant-browser-key");
  await page.getByRole("button", { name: "Save Anthropic key" }).click();
  await see(page, "Anthropic key saved");
  await see(page.getByTestId("chat-key-status"), "set here");

  await page.getByLabel("OpenAI API key").fill("sk-openai-browser-key");
  await page.getByRole("button", { name: "Save OpenAI key" }).click();
  await see(page, "OpenAI key saved");
  await see(page.getByTestId("chat-key-status-openai"), "OpenAI key: set here");
  let settings = await call("GET", "/api/chat-settings");
  assert.equal(settings.body.anthropicApiKeySource, "settings");
  assert.equal(settings.body.openAiApiKeySource, "settings");
  const secretId = settings.body.openAiApiKeySecretId;
  assert.deepEqual(await stack.platform.psql(`SELECT count(*) FROM secret WHERE id = '${secretId}'`), [["1"]]);
  await screenshot(page, "chat-01-settings");

  await page.getByRole("button", { name: "Reset OpenAI key" }).click();
  await see(page, "OpenAI key removed");
  await see(page.getByTestId("chat-key-status-openai"), "OpenAI key: not set");
  settings = await call("GET", "/api/chat-settings");
  assert.equal(settings.body.openAiApiKeySource, null);
  assert.equal(settings.body.anthropicApiKeySource, "settings", "resetting one provider's key leaves the others");
  assert.deepEqual(await stack.platform.psql(`SELECT count(*) FROM secret WHERE id = '${secretId}'`), [["0"]]);
});

test("a conversation that calls an MCP tool through the gateway shows the call and its result; rename and delete", async () => {
  await page.goto("/");
  await page.waitForURL(/\/chat$/);
  await page.getByRole("button", { name: "New conversation" }).click();
  const dialog = page.getByRole("dialog", { name: "New conversation" });
  await dialog.getByLabel("Model").selectOption("claude-sonnet-4-5");
  await dialog.getByRole("button", { name: "Start" }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationId = page.url().split("/").pop();

  await script(stack.standin, [
    { toolCall: { name: ECHO, arguments: { message: "hello browser" } } },
    { text: "The echo tool returned hello browser." },
    { text: "Browser echo test" },
  ]);
  await page.getByLabel("Message").fill("Use the echo tool with hello browser");
  await page.getByRole("button", { name: "Send" }).click();

  const toolCall = page.getByTestId("tool-call").first();
  await see(toolCall, ECHO);
  await see(toolCall, "hello browser");
  const toolResult = page.getByTestId("tool-result").first();
  await see(toolResult, "Echo: hello browser");
  await see(toolResult, "Tool result");
  await see(page, "The echo tool returned hello browser.");
  // The title comes from the model after the first answer.
  await see(page.getByRole("heading", { name: "Browser echo test" }), "Browser echo test");
  await see(page.getByRole("navigation", { name: "Conversations" }), "Browser echo test");
  await screenshot(page, "chat-02-tool-call");

  // After a reload the stored steps show the same.
  await page.reload();
  await see(page.getByTestId("tool-result").first(), "Echo: hello browser");
  const stored = await call("GET", `/api/chat/conversations/${conversationId}`);
  assert.deepEqual(stored.body.messages.map((m) => m.role), ["user", "assistant", "tool", "assistant"]);

  await page.getByRole("button", { name: "Rename" }).click();
  const rename = page.getByRole("dialog", { name: "Rename conversation" });
  await rename.getByLabel("Title").fill("Renamed in the browser");
  await rename.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { name: "Renamed in the browser" }).waitFor();
  await see(page.getByRole("navigation", { name: "Conversations" }), "Renamed in the browser");

  await page.getByRole("button", { name: "Delete" }).first().click();
  await page.getByRole("dialog", { name: "Delete this conversation?" }).getByRole("button", { name: "Delete" }).click();
  await page.waitForURL(/\/chat$/);
  await see(page, "Pick a conversation or start a new one");
  await page.getByRole("navigation", { name: "Conversations" }).getByText("Renamed in the browser").waitFor({ state: "detached" });
  assert.equal((await call("GET", `/api/chat/conversations/${conversationId}`)).status, 404);
});

test("streamed text shows while the model is still answering; a blocked tool call is shown as blocked", async () => {
  await page.goto("/chat");
  await page.getByRole("button", { name: "New conversation" }).click();
  const dialog = page.getByRole("dialog", { name: "New conversation" });
  await dialog.getByLabel("Model").selectOption("claude-sonnet-4-5");
  await dialog.getByRole("button", { name: "Start" }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationId = page.url().split("/").pop();

  // The stand-in sends the first word, then waits 4 s before the rest.
  await stack.standin.reset();
  await script(stack.standin, [
    { text: "Streaming into the page word by word.", pauseMs: 4000 },
    { text: "Streaming title" },
  ]);
  await page.getByLabel("Message").fill("Stream something");
  await page.getByRole("button", { name: "Send" }).click();
  const thread = page.locator(".chat-thread");
  await see(thread, "Streaming");
  // Still answering: the spinner is up, the rest of the sentence has not arrived, the upstream is mid-stream.
  assert.equal(await page.getByText("The model is answering…").isVisible(), true);
  assert.ok(!(await thread.innerText()).includes("word by word."), "the end of the answer is not there yet");
  assert.equal((await stack.standin.lastRequest()).outcome, "answering");
  await screenshot(page, "chat-03-streaming");
  await see(thread, "Streaming into the page word by word.");
  await see(page.getByRole("heading", { name: "Streaming title" }), "Streaming title");

  // A call the invocation policy blocks (echo with "forbidden"): shown as blocked with the policy's reason, not run.
  await script(stack.standin, [{ toolCall: { name: ECHO, arguments: { message: "a forbidden word" } } }]);
  await page.getByLabel("Message").fill("Echo a forbidden word");
  await page.getByRole("button", { name: "Send" }).click();
  const blocked = page.getByTestId("tool-blocked").first();
  await see(blocked, "Blocked");
  await see(blocked, ECHO);
  await see(blocked, "No forbidden words through echo");
  await screenshot(page, "chat-04-blocked");
  await page.reload();
  await see(page.getByTestId("tool-blocked").first(), "No forbidden words through echo");
  assert.ok(!(await page.locator(".chat-thread").innerText()).includes("I tried to invoke"), "the refusal text is not shown as the model's words");
  const stored = await call("GET", `/api/chat/conversations/${conversationId}`);
  assert.deepEqual(stored.body.messages.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
  assert.equal(stored.body.messages[3].parts[0].type, "tool-blocked");
});

test("installation requests: a member asks for a server, the admin approves it, the catalog gets it", async () => {
  await signUpMember(stack.platform, admin, "requester@example.com", { name: "Requester", password: "requester-password-1" });

  const member = await newPage(browser, origin);
  try {
    await signIn(member.page, "requester@example.com", "requester-password-1");
    await member.page.goto("/mcp-catalog/installation-requests");
    await member.page.getByRole("button", { name: "Request a server" }).click();
    const dialog = member.page.getByRole("dialog", { name: "Request an MCP server" });
    await dialog.getByLabel("Server name", { exact: true }).fill("requested-echo");
    await dialog.getByLabel("Description", { exact: true }).fill("echo for the team");
    await dialog.getByLabel("Command", { exact: true }).fill("node");
    await dialog.getByLabel("Arguments", { exact: true }).fill("server.js stdio");
    await dialog.getByLabel("Why do you need it?", { exact: true }).fill("the demo needs echo");
    await dialog.getByRole("button", { name: "Send request" }).click();
    await member.page.waitForURL(/\/mcp-catalog\/installation-requests\/[0-9a-f-]{36}$/);
    await see(member.page, "pending");
    await see(member.page, "the demo needs echo");
    // A member cannot decide.
    assert.equal(await member.page.getByRole("button", { name: "Approve" }).count(), 0);
    await screenshot(member.page, "chat-03-installation-request-member");
  } finally {
    await member.context.close();
  }

  await page.goto("/mcp-catalog/installation-requests");
  await page.getByRole("link", { name: "requested-echo" }).click();
  await page.waitForURL(/\/mcp-catalog\/installation-requests\/[0-9a-f-]{36}$/);
  await page.getByLabel("Add a note").fill("looking at it");
  await page.getByRole("button", { name: "Add note" }).click();
  await see(page, "looking at it");
  await page.getByLabel("Response to the requester").fill("Approved for the demo");
  await page.getByRole("button", { name: "Approve" }).click();
  await see(page.getByTestId("admin-response"), "Approved for the demo");
  await see(page, "approved");
  await screenshot(page, "chat-04-installation-request-approved");

  const catalog = await call("GET", "/api/internal_mcp_catalog");
  const entry = catalog.body.find((c) => c.name === "requested-echo");
  assert.ok(entry, catalog.body.map((c) => c.name).join(","));
  assert.deepEqual(entry.localConfig.arguments, ["server.js", "stdio"]);
  await page.getByRole("tab", { name: "Registry" }).click();
  await page.waitForURL(/\/mcp-catalog\/registry$/);
  await see(page.getByRole("table").first(), "requested-echo");
});
