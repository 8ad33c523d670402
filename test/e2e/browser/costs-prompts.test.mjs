// The Costs → Compression page and the Prompts page in a real browser (Debian chromium via playwright-core)
// against the real platform: turning TOON compression on (organisation, then team scope) and seeing the savings
// of a request sent with the openai SDK; creating a prompt, editing it (a new version), rolling back and
// assigning it to a profile.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, adminSession, eventually, startStack, apiClient } from "../lib/harness.mjs";
import { openAiClient } from "../lib/sdk-clients.mjs";
import { launchBrowser, newPage, screenshot, see, uiDir, until } from "./lib.mjs";

let stack;
let browser;
let page;
let session;
let api;

before(async () => {
  stack = await startStack({ env: { ARCHESTRA_UI_DIR: uiDir() } });
  session = await adminSession(stack.platform);
  api = apiClient(stack.platform, session).ok;
  browser = await launchBrowser();
  ({ page } = await newPage(browser, `http://127.0.0.1:${stack.platform.uiPort}`));
  await page.goto("/");
  await page.waitForURL(/\/auth\/sign-in/);
  await page.getByLabel("Email").fill(ADMIN_EMAIL);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Profiles" }).waitFor();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const nav = (name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });

test("Compression: turn TOON on for the organisation, see a request's savings, then switch to team scope", async () => {
  await nav("Costs").click();
  await page.getByRole("tab", { name: "Compression" }).click();
  await page.waitForURL(/\/cost\/compression$/);
  const settings = page.getByRole("region", { name: "Tool-result compression" });
  const orgSwitch = settings.getByLabel(/Convert tool results to TOON/);
  await orgSwitch.waitFor();
  assert.equal(await orgSwitch.isChecked(), false, "off by default");
  // The switch shows the saved setting: a click saves it (PATCH), the box follows once the page reloaded it.
  await orgSwitch.click();
  await eventually(async () => (await api("GET", "/api/organization")).convertToolResultsToToon === true);
  await eventually(() => orgSwitch.isChecked());

  // A JSON tool result through the default profile: compressed, and its saving shows up on the page.
  const profiles = await api("GET", "/api/agents/all");
  const profile = profiles.find((p) => p.isDefault) ?? profiles[0];
  const client = openAiClient(stack.platform, profile.id, { apiKey: "sk-test" });
  const rows = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}`, stock: i * 3 }));
  await client.chat.completions.create({
    model: "gpt-4o",
    messages: [
      { role: "user", content: "stock?" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "stock", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c1", content: JSON.stringify({ rows }) },
    ],
  });
  const sent = JSON.parse((await stack.standin.lastRequest()).body);
  assert.match(sent.messages[2].content, /^rows\[20\]\{id,name,stock\}:\n {2}0,item 0,0\n/);

  const savingsRegion = page.getByRole("region", { name: "Savings" });
  await savingsRegion.getByRole("combobox").selectOption("1h");
  await until(
    async () => {
      const text = await savingsRegion.getByTestId("savings-toon-savings").textContent();
      assert.ok(/\$0\.0*[1-9]/.test(text), `TOON savings still ${text}`);
    },
    async () => {
      await savingsRegion.getByRole("combobox").selectOption("24h");
      await savingsRegion.getByRole("combobox").selectOption("1h");
    },
  );
  await screenshot(page, "costs-compression-organization");

  // Team scope: the teams table appears; switching a team on is saved through PUT /api/teams/:id.
  await settings.getByLabel("Compression scope").selectOption("team");
  await eventually(async () => (await api("GET", "/api/organization")).compressionScope === "team");
  const teams = page.getByRole("region", { name: "Team compression settings" });
  const teamSwitch = teams.getByLabel("TOON for team Default Team");
  await teamSwitch.waitFor();
  assert.equal(await teamSwitch.isChecked(), false);
  await teamSwitch.click();
  await eventually(async () => {
    const list = await api("GET", "/api/teams");
    return list.find((t) => t.name === "Default Team")?.convertToolResultsToToon === true;
  });
  await eventually(() => teamSwitch.isChecked());
  await see(teams, "on");
  await screenshot(page, "costs-compression-team");

  // The statistics tab carries the same savings figures.
  await page.getByRole("tab", { name: "Statistics" }).click();
  await page.getByTestId("savings-toon-savings").waitFor();
});

test("Prompts: create, edit (new version), roll back, assign to a profile", async () => {
  await api("POST", "/api/agents", { name: "Prompt Target", teams: [] });
  await nav("Prompts").click();
  await page.getByRole("heading", { name: "Prompts" }).waitFor();
  await page.getByRole("button", { name: "New prompt" }).click();
  let dialog = page.getByRole("dialog", { name: "New prompt" });
  await dialog.getByLabel("Name").fill("Support triage");
  await dialog.getByLabel("System prompt").fill("You triage support tickets.");
  await dialog.getByLabel("User prompt").fill("Ticket: {{ticket}}");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.waitFor({ state: "hidden" });
  const row = page.getByRole("row").filter({ hasText: "Support triage" });
  await see(row, "v1");

  // Edit: saves version 2 and makes it the active one.
  await row.getByRole("button", { name: "Edit" }).click();
  dialog = page.getByRole("dialog", { name: /Edit Support triage/ });
  await dialog.getByLabel("System prompt").fill("You triage support tickets by severity.");
  await dialog.getByRole("button", { name: "Save new version" }).click();
  await dialog.waitFor({ state: "hidden" });
  await see(row, "v2");
  const [active] = await api("GET", "/api/prompts").then((list) => list.filter((p) => p.name === "Support triage"));
  assert.equal(active.version, 2);
  assert.equal(active.systemPrompt, "You triage support tickets by severity.");

  // Versions: both listed, v2 active; roll back to v1.
  await row.getByRole("button", { name: "Versions" }).click();
  dialog = page.getByRole("dialog", { name: "Versions of Support triage" });
  await see(dialog, "You triage support tickets by severity.");
  await see(dialog.locator("tr[data-version='2']"), "active");
  await screenshot(page, "prompts-versions");
  await dialog.getByRole("button", { name: "Roll back to v1" }).click();
  await dialog.waitFor({ state: "hidden" });
  await see(row, "v1");
  const afterRollback = (await api("GET", "/api/prompts")).find((p) => p.name === "Support triage");
  assert.equal(afterRollback.version, 1);
  assert.equal(afterRollback.systemPrompt, "You triage support tickets.");

  // Assign to another profile.
  await row.getByRole("button", { name: "Assign" }).click();
  dialog = page.getByRole("dialog", { name: "Assign Support triage to a profile" });
  await dialog.getByLabel("Profile").selectOption({ label: "Prompt Target" });
  await dialog.getByRole("button", { name: "Assign" }).click();
  await dialog.waitFor({ state: "hidden" });
  await see(row, "Prompt Target");
  const target = (await api("GET", "/api/agents/all")).find((p) => p.name === "Prompt Target");
  const assigned = await api("GET", `/api/agents/${target.id}/prompts`);
  assert.deepEqual(
    assigned.map((p) => p.name),
    ["Support triage"],
  );
  await screenshot(page, "prompts-list");
});
