// The Admin UI in a real browser (Debian chromium via playwright-core) against the real platform on the
// embedded PostgreSQL, with the LLM upstream stand-in: what a person sees while signing in, creating a profile
// and copying its OpenAI base URL, sending a request through it with the openai SDK, blocking a tool with a
// policy, creating and using an API key, inviting a user who accepts in a second browser, and signing out.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import OpenAI from "openai";
import path from "node:path";
import { ADMIN_EMAIL, ADMIN_PASSWORD, repoRoot, startStack } from "../lib/harness.mjs";
import { clipboard, launchBrowser, newPage, screenshot, see, uiDir, until } from "./lib.mjs";

const execFileAsync = promisify(execFile);
const everythingJs = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const PROFILE = "Browser Agent";
const TOOLS = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } } },
  { type: "function", function: { name: "send_email", parameters: { type: "object", properties: { to: { type: "string" }, body: { type: "string" } } } } },
];

let stack;
let browser;
let origin;
let page;
let openaiBaseUrl;

before(async () => {
  // orchestrator.local runs catalog servers as local processes (the bundled plugins are found in the build tree).
  stack = await startStack({ env: { ARCHESTRA_UI_DIR: uiDir(), ARCHESTRA_ORCHESTRATOR: "local" } });
  origin = `http://127.0.0.1:${stack.platform.uiPort}`;
  browser = await launchBrowser();
  ({ page } = await newPage(browser, origin));
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const nav = (name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });

test("sign in: the default-password banner, the password form, then the Profiles page", async () => {
  await page.goto("/");
  await page.waitForURL(/\/auth\/sign-in/);
  await see(page, "still uses the default password");
  await screenshot(page, "01-sign-in");

  await page.getByLabel("Email").fill(ADMIN_EMAIL);
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: /invalid|incorrect|wrong/i }).waitFor();

  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Profiles" }).waitFor();
  await page.waitForURL(/\/profiles$/);
  await see(page, "The admin account still uses the default password");
  // The seeded default profile is listed and marked as the default.
  await see(page.getByRole("row").filter({ hasText: "default" }), "default");
  await screenshot(page, "02-profiles");
});

test("create a profile with a team and a label, then copy its OpenAI base URL from Connect", async () => {
  // Keyboard: the create button is reachable and opens the dialog with Enter; Escape closes it.
  await page.getByRole("button", { name: "Create profile" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Create profile" });
  await dialog.waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });

  await page.getByRole("button", { name: "Create profile" }).click();
  await dialog.getByLabel("Name").fill(PROFILE);
  await dialog.getByLabel("Default Team").check();
  await dialog.getByRole("button", { name: "Add label" }).click();
  await dialog.getByLabel("Label 1 key").fill("env");
  await dialog.getByLabel("Label 1 value").fill("browser");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.waitFor({ state: "hidden" });

  const row = page.getByRole("row").filter({ hasText: PROFILE });
  await see(row, "env: browser");
  await see(row, "Default Team");

  await row.getByRole("button", { name: "Connect" }).click();
  const connect = page.getByRole("dialog", { name: `Connect to ${PROFILE}` });
  await see(connect, "OpenAI base URL");
  const shown = (await connect.getByTestId("copy-OpenAI base URL").textContent()).trim();
  await connect.getByRole("button", { name: /^Copy OpenAI base URL/ }).click();
  await see(connect, "Copied");
  openaiBaseUrl = await clipboard(page);
  assert.equal(openaiBaseUrl, shown);

  const [[profileId]] = await stack.platform.psql(`SELECT id FROM agents WHERE name = '${PROFILE}'`);
  assert.equal(openaiBaseUrl, `http://localhost:${stack.platform.apiPort}/v1/openai/${profileId}`);
  // The other providers and the MCP gateway have their own tab, URL and snippet.
  await connect.getByRole("tab", { name: "Anthropic" }).click();
  await see(connect, `/v1/anthropic/${profileId}`);
  await connect.getByRole("tab", { name: "MCP gateway" }).click();
  await see(connect, `/v1/mcp/${profileId}`);
  await connect.getByRole("tab", { name: "OpenAI" }).click();
  await screenshot(page, "03-profile-connect");
  await page.keyboard.press("Escape");
  await connect.waitFor({ state: "hidden" });
});

async function openLogs() {
  await nav("Logs").click();
  await page.getByRole("heading", { name: "Logs" }).waitFor();
}

test("a request sent with the openai SDK to the copied URL appears in the logs with its decision", async () => {
  const client = new OpenAI({ baseURL: openaiBaseUrl.replace("localhost", "127.0.0.1"), apiKey: "sk-browser-test", maxRetries: 0 });
  const answer = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Say hello" }],
  });
  assert.ok(answer.choices[0].message.content, "the stand-in's text answer reaches the SDK");

  await openLogs();
  const table = page.getByRole("region", { name: "LLM proxy interactions" });
  const row = table.getByRole("row").filter({ hasText: PROFILE });
  await until(
    () => row.first().waitFor({ timeout: 1000 }),
    () => table.getByRole("button", { name: "Refresh" }).click(),
  );
  await see(row.first(), "Allowed");
  await screenshot(page, "04-logs");
  await row.first().click();
  await page.waitForURL(/\/logs\/[0-9a-f-]{36}$/);
  await see(page, "Policy decisions");
  await see(page.getByRole("region", { name: "Summary" }), "Allowed");
  await see(page, "Say hello"); // the request as recorded
  await screenshot(page, "05-log-detail");
});

test("a tool invocation policy created on the Tools page blocks the tool call, and the logs show why", async () => {
  const client = new OpenAI({ baseURL: openaiBaseUrl.replace("localhost", "127.0.0.1"), apiKey: "sk-browser-test", maxRetries: 0 });
  const ask = () =>
    client.chat.completions.create({
      model: "gpt-4o-mini",
      tools: TOOLS,
      messages: [{ role: "user", content: "Weather in Paris and mail Bob. scenario:parallel-tools" }],
    });
  const first = await ask();
  assert.equal(first.choices[0].message.tool_calls?.length, 2, "without a policy both tool calls pass");

  await nav("Tools").click();
  await page.getByRole("heading", { name: "Tools" }).waitFor();
  const table = page.getByRole("region", { name: "Profile tools" });
  await until(
    async () => {
      await table.getByRole("row").filter({ hasText: "send_email" }).filter({ hasText: PROFILE }).waitFor({ timeout: 1000 });
    },
    () => page.reload(),
  );
  await table.getByLabel("Filter Profile tools").fill("send_email");
  const row = table.getByRole("row").filter({ hasText: "send_email" }).filter({ hasText: PROFILE });
  await row.getByRole("button", { name: /0 policies/ }).click();
  const panel = page.getByRole("region", { name: "Policies of send_email" });
  await panel.getByRole("button", { name: "Add invocation policy" }).click();
  const form = panel.getByRole("form", { name: "New policy" });
  await form.getByLabel("Argument name").fill("to");
  await form.getByLabel("Operator").selectOption("contains");
  await form.getByLabel("Value").fill("bob@");
  await form.getByLabel("Action").selectOption("block_always");
  await form.getByLabel("Reason").fill("No mail to Bob");
  await form.getByRole("button", { name: "Add" }).click();
  await see(row, "1 policy");
  await panel.getByRole("form", { name: "Policy" }).getByLabel("Value").waitFor();
  assert.equal(await panel.getByRole("form", { name: "Policy" }).getByLabel("Value").inputValue(), "bob@");
  await screenshot(page, "06-tools-policy");

  const second = await ask();
  const message = second.choices[0].message;
  assert.ok(!message.tool_calls?.some((c) => c.function.name === "send_email"), "send_email is not handed to the agent");
  assert.match(message.content ?? message.refusal ?? "", /No mail to Bob/);

  await openLogs();
  const logs = page.getByRole("region", { name: "LLM proxy interactions" });
  await logs.getByLabel("Decision filter").selectOption("yes");
  const blocked = logs.getByRole("row").filter({ hasText: "Blocked" });
  await until(
    () => blocked.first().waitFor({ timeout: 1000 }),
    () => logs.getByRole("button", { name: "Refresh" }).click(),
  );
  await blocked.first().click();
  const decisions = page.getByRole("region", { name: "Policy decisions" });
  const blockedCall = decisions.getByRole("row").filter({ hasText: "send_email" });
  await see(blockedCall, "Blocked");
  await see(blockedCall, "No mail to Bob");
  await screenshot(page, "07-log-blocked");
});

test("create an API key (shown once, copied), call the API with it, revoke it", async () => {
  await nav("Settings").click();
  await page.getByRole("tab", { name: "Account" }).waitFor();
  const keys = page.getByRole("region", { name: "API keys" });
  await keys.getByRole("button", { name: "Create API key" }).click();
  const dialog = page.getByRole("dialog", { name: /API key/ });
  await dialog.getByLabel("Name").fill("browser-key");
  await dialog.getByLabel("Expires").selectOption({ label: "30 days" });
  await dialog.getByRole("button", { name: "Create" }).click();
  await see(dialog, "shown only once");
  const key = (await dialog.getByTestId("copy-API key").textContent()).trim();
  assert.match(key, /^archestra_[A-Za-z]{64}$/);
  await dialog.getByRole("button", { name: /^Copy API key/ }).click();
  assert.equal(await clipboard(page), key);
  await dialog.getByRole("button", { name: "Done" }).click();
  const row = keys.getByRole("row").filter({ hasText: "browser-key" });
  await see(row, key.slice(0, 6));
  await screenshot(page, "08-settings-account");

  const curl = (k) =>
    execFileAsync("curl", ["-s", "-w", "\n%{http_code}", "-H", `Authorization: ${k}`, `${stack.platform.baseUrl}/api/agents/all`]).then(
      ({ stdout }) => {
        const lines = stdout.trimEnd().split("\n");
        return { status: Number(lines.pop()), body: lines.join("\n") };
      },
    );
  const ok = await curl(key);
  assert.equal(ok.status, 200);
  assert.ok(JSON.parse(ok.body).some((p) => p.name === PROFILE), "the key sees the profile made in the browser");

  await row.getByRole("button", { name: "Revoke" }).click();
  const confirm = page.getByRole("dialog", { name: /Revoke API key/ });
  await see(confirm, "stops working");
  await confirm.getByRole("button", { name: "Revoke" }).click();
  await row.waitFor({ state: "detached" });
  await until(
    async () => assert.equal((await curl(key)).status, 401),
    () => new Promise((r) => setTimeout(r, 500)),
    15000,
  );
});

test("invite a user; they accept in a second browser context and land signed in", async () => {
  await page.getByRole("tab", { name: "Members" }).click();
  const invitations = page.getByRole("region", { name: "Invitations" });
  await invitations.getByLabel("Email").fill("new.user@example.com");
  await invitations.getByLabel("Role").selectOption("editor");
  await invitations.getByRole("button", { name: "Invite" }).click();
  await see(invitations, "Invitation created for new.user@example.com");
  const link = (await invitations.getByTestId("copy-Invitation link").textContent()).trim();
  assert.match(link, /\/auth\/sign-up-with-invitation\?invitationId=.+&email=new.user%40example.com$/);
  await see(invitations.getByRole("row").filter({ hasText: "new.user@example.com" }), "pending");
  await screenshot(page, "09-settings-members");

  const second = await newPage(browser, origin);
  try {
    await second.page.goto(link);
    await see(second.page, "Accept your invitation");
    await see(second.page, "new.user@example.com");
    await second.page.getByLabel("Name").fill("New User");
    await second.page.getByLabel("Password").fill("a-new-password-42");
    await second.page.getByRole("button", { name: "Create account" }).click();
    await second.page.getByRole("heading", { name: "Profiles" }).waitFor();
    await see(second.page, "new.user@example.com");
    await screenshot(second.page, "10-invited-user");
  } finally {
    await second.context.close();
  }

  await page.reload();
  const members = page.getByRole("region", { name: "Members" });
  const member = members.getByRole("row").filter({ hasText: "new.user@example.com" });
  await member.waitFor();
  assert.equal(await member.getByLabel("Role of new.user@example.com").inputValue(), "editor");
  await see(invitations.getByRole("row").filter({ hasText: "new.user@example.com" }), "accepted");
});

test("MCP registry: add a catalog entry, install it, see its tools and logs, uninstall", async () => {
  await nav("MCP Registry").click();
  await page.getByRole("heading", { name: "MCP Registry" }).waitFor();
  await page.getByRole("button", { name: "Add to catalog" }).click();
  const dialog = page.getByRole("dialog", { name: "Add to catalog" });
  await dialog.getByLabel("Name").fill("Everything");
  await dialog.getByLabel("Description", { exact: true }).fill("The MCP reference test server");
  await dialog.getByLabel("Command", { exact: true }).fill(process.execPath);
  await dialog.getByLabel("Arguments", { exact: true }).fill(`${everythingJs} stdio`);
  await dialog.getByRole("button", { name: "Add", exact: true }).click();
  await dialog.waitFor({ state: "hidden" });
  const item = page.getByRole("region", { name: "Catalog" }).getByRole("row").filter({ hasText: "Everything" });
  await see(item, "The MCP reference test server");

  await item.getByRole("button", { name: "Install" }).click();
  const install = page.getByRole("dialog", { name: "Install Everything" });
  await install.getByRole("button", { name: "Install" }).click();
  await install.waitFor({ state: "hidden" });
  const server = page.getByRole("region", { name: "Installed servers" }).getByRole("row").filter({ hasText: "everything" });
  // The page polls while the installation is pending or discovering tools.
  await see(server, "success", 45000);
  await server.getByRole("button", { name: "Details" }).click();
  const details = page.getByRole("region", { name: /^Server Everything/i });
  await see(details, /__echo/);
  await see(details.getByLabel("Server logs"), /started pid \d+/);
  // Following live re-reads the log as a stream (text/plain, follow=true) and shows it again.
  await details.getByLabel("Follow live").check();
  await see(details, /^live$/);
  await see(details.getByLabel("Server logs"), /started pid \d+/);
  await screenshot(page, "12-mcp-registry");

  await server.getByRole("button", { name: "Uninstall" }).click();
  const confirm = page.getByRole("dialog", { name: /Uninstall Everything/i });
  await confirm.getByRole("button", { name: "Uninstall" }).click();
  await server.waitFor({ state: "detached" });
  await see(page.getByRole("region", { name: "Installed servers" }), "No MCP servers installed");
});

test("the other pages render their content, and the layout works on a narrow window", async () => {
  await nav("Costs").click();
  await page.getByRole("heading", { name: "Costs" }).waitFor();
  await see(page, "Requests");
  await screenshot(page, "11-costs");

  await nav("Settings").click();
  // Without the enterprise licence there is no Roles or SSO providers tab.
  await page.getByRole("tab", { name: "Account" }).waitFor();
  assert.equal(await page.getByRole("tab", { name: "Roles" }).count(), 0);
  assert.equal(await page.getByRole("tab", { name: "SSO providers" }).count(), 0);
  await page.getByRole("tab", { name: "Teams & tokens" }).click();
  await see(page.getByRole("region", { name: "Teams" }), "Default Team");
  await screenshot(page, "13-settings-teams");
  await page.getByRole("tab", { name: "Secrets" }).click();
  await page.getByRole("region", { name: "Secrets backend" }).waitFor();
  await screenshot(page, "14-settings-secrets");

  // The profile's tool count: get_weather and send_email, discovered from its requests.
  await nav("Profiles").click();
  const profileRow = page.getByRole("row").filter({ hasText: PROFILE });
  await profileRow.waitFor();
  assert.equal((await profileRow.getByRole("cell").nth(3).textContent()).trim(), "2");

  await page.setViewportSize({ width: 390, height: 800 });
  await nav("Profiles").isHidden();
  assert.equal(await nav("Profiles").isVisible(), false, "the menu is collapsed on a narrow window");
  await page.getByRole("button", { name: "Menu" }).click();
  await nav("Profiles").click();
  await page.getByRole("heading", { name: "Profiles" }).waitFor();
  await see(page, PROFILE);
  await screenshot(page, "15-profiles-narrow");
  await page.setViewportSize({ width: 1280, height: 860 });
});

test("sign out returns to the sign-in page, and pages need a session again", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.goto("/logs/llm-proxy");
  await page.waitForURL(/\/auth\/sign-in\?next=/);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
});
