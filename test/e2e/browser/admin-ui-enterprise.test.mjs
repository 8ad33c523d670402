// The Admin UI with the enterprise licence on, in a real browser (Debian chromium via playwright-core): the admin
// registers a real OpenID provider (oidc-provider) under Settings → SSO providers, and a new user signs in through
// it from the sign-in page's button, getting the default role chosen in the dialog; as the admin, the Costs page
// (token prices, limits and optimization rules created and edited in dialogs, the platform's 400s shown next to
// the field they name, charts and a limit's usage after traffic sent with the openai SDK), the Roles editor and
// the Dual LLM settings (saved, then read back after a reload). A second platform with
// ARCHESTRA_AUTH_DISABLE_BASIC_AUTH=true shows only the single sign-on button.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, freePort, startPlatform, startStack } from "../lib/harness.mjs";
import { openAiClient } from "../lib/sdk-clients.mjs";
import { adminHeaders, startNodeServer } from "../sso/lib.mjs";
import { launchBrowser, newPage, screenshot, see, uiDir, until } from "./lib.mjs";

const PROVIDER = "TestIdP";
const CLIENT_ID = "archestra-ui-test";
const CLIENT_SECRET = "client-secret-for-ui-tests";
const PROFILE = "Costs Agent";

/// An OpenID provider whose only client redirects to `frontend`'s SSO callback, and the provider row for it.
async function startIdp(frontend) {
  return startNodeServer("oidc-idp.mjs", [CLIENT_ID, CLIENT_SECRET, `${frontend}/api/auth/sso/callback/${PROVIDER}`, "client_secret_basic"]);
}

async function registerIdp(frontend, idp) {
  const admin = await adminHeaders(frontend);
  const res = await fetch(`${frontend}/api/sso-providers`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify({
      providerId: PROVIDER,
      issuer: idp.url,
      domain: "example.com",
      oidcConfig: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scopes: ["openid", "email", "profile"], tokenEndpointAuthentication: "client_secret_basic" },
    }),
  });
  assert.equal(res.status, 200, await res.text());
  return admin;
}

/// From the sign-in page: click the provider's button, pass through the IdP (which signs `account` in without a
/// form), and land on the Profiles page signed in as that account.
async function signInWithSso(page, idp, account) {
  await fetch(`${idp.url}/__control`, { method: "POST", body: JSON.stringify({ account }) });
  await page.getByRole("button", { name: `Sign in with ${PROVIDER}` }).click();
  await page.waitForURL(/\/profiles$/, { timeout: 30000 });
  await page.getByRole("heading", { name: "Profiles" }).waitFor();
  await see(page.locator(".sidebar-user"), account.email);
}

describe("Admin UI, enterprise: SSO sign-in, Costs, Roles, Dual LLM", () => {
  let stack, idp, browser, frontend, page, profileId;

  before(async () => {
    const uiPort = await freePort();
    frontend = `http://127.0.0.1:${uiPort}`;
    idp = await startIdp(frontend);
    stack = await startStack({
      env: {
        ARCHESTRA_UI_DIR: uiDir(),
        ARCHESTRA_UI_PORT: String(uiPort),
        ARCHESTRA_FRONTEND_URL: frontend,
        ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED: "true",
      },
    });
    const admin = await adminHeaders(frontend);
    const created = await fetch(`${frontend}/api/agents`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ name: PROFILE, teams: [] }),
    });
    assert.equal(created.status, 200, await created.clone().text());
    profileId = (await created.json()).id;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await idp?.stop();
  });

  test("admin signs in with the password", async () => {
    ({ page } = await newPage(browser, frontend));
    await page.goto("/auth/sign-in");
    await page.getByLabel("Email").fill(ADMIN_EMAIL);
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Profiles" }).waitFor();
  });

  test("SSO providers: added in Settings (a missing client id named under its field), then edited", async () => {
    await page.goto("/settings");
    await page.getByRole("tab", { name: "SSO providers" }).click();
    const section = page.getByRole("region", { name: "SSO providers" });
    await see(section, "No SSO providers");
    await section.getByRole("button", { name: "Add SSO provider" }).click();
    const dialog = page.getByRole("dialog", { name: "Add SSO provider" });
    await dialog.getByLabel("Provider ID").fill(PROVIDER);
    await dialog.getByLabel("Issuer").fill(idp.url);
    await dialog.getByLabel("Domain").fill("example.org");
    await dialog.getByLabel("Client secret").fill(CLIENT_SECRET);
    await dialog.getByLabel("Default role").selectOption("editor");
    await dialog.getByRole("button", { name: "Add", exact: true }).click();
    await see(dialog.locator(".field").filter({ has: page.getByLabel("Client ID") }).getByRole("alert"), /non-empty string/);
    await dialog.getByLabel("Client ID").fill(CLIENT_ID);
    await dialog.getByRole("button", { name: "Add", exact: true }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = section.getByRole("row").filter({ hasText: PROVIDER });
    await see(row, "example.org");
    await see(row, "editor");

    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: `Edit SSO provider ${PROVIDER}` });
    assert.equal(await edit.getByLabel("Client ID").inputValue(), CLIENT_ID);
    await edit.getByLabel("Domain").fill("example.com");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "hidden" });
    await see(row, "example.com");
    const [[config]] = await stack.platform.psql(`SELECT oidc_config FROM sso_provider WHERE provider_id = '${PROVIDER}'`);
    assert.equal(JSON.parse(config).clientId, CLIENT_ID);
    await screenshot(page, "ee-00-sso-providers");
  });

  test("sign-in page: the password form and the provider's button; the button signs in through the IdP", async () => {
    const visitor = await newPage(browser, frontend);
    try {
      await visitor.page.goto("/");
      await visitor.page.waitForURL(/\/auth\/sign-in/);
      await visitor.page.getByRole("button", { name: `Sign in with ${PROVIDER}` }).waitFor();
      assert.equal(await visitor.page.getByLabel("Password").count(), 1, "basic auth is on: the password form is shown");
      await screenshot(visitor.page, "ee-01-sign-in-sso");
      await signInWithSso(visitor.page, idp, { sub: "sso-user-1", email: "sso.user@example.com", email_verified: true, name: "Sso User", groups: [] });
      const [[role]] = await stack.platform.psql(
        `SELECT m.role FROM member m JOIN "user" u ON u.id = m.user_id WHERE u.email = 'sso.user@example.com'`,
      );
      assert.equal(role, "editor", "the IdP's user joined with the default role set in the dialog");
      await screenshot(visitor.page, "ee-02-signed-in-sso");
    } finally {
      await visitor.context.close();
    }
  });

  test("teams: a team's members are added and removed, and identity provider groups linked to it", async () => {
    await page.goto("/settings");
    await page.getByRole("tab", { name: "Teams & tokens" }).click();
    const teams = page.getByRole("region", { name: "Teams" });
    await teams.getByLabel("Team name").fill("Engineering");
    await teams.getByRole("button", { name: "Create team" }).click();
    const row = teams.getByRole("row").filter({ hasText: "Engineering" });
    await row.getByRole("button", { name: "Members" }).click();
    const dialog = page.getByRole("dialog", { name: "Team Engineering" });
    const members = dialog.getByRole("region", { name: "Team members" });
    await see(members, "No members in this team");
    await members.getByLabel("Organization member").selectOption({ label: "sso.user@example.com" });
    await members.getByRole("button", { name: "Add to team" }).click();
    const member = members.getByRole("row").filter({ hasText: "sso.user@example.com" });
    await see(member, "by hand");
    await see(member, "Sso User");

    const groups = dialog.getByRole("region", { name: "External groups" });
    await groups.getByRole("button", { name: "Link group" }).click();
    await see(groups.locator(".field").filter({ has: page.getByLabel("Group", { exact: true }) }).getByRole("alert"), /non-empty/);
    await groups.getByLabel("Group", { exact: true }).fill("  Eng-Team ");
    await groups.getByRole("button", { name: "Link group" }).click();
    await see(groups.getByRole("row").filter({ hasText: "eng-team" }), "eng-team");
    await screenshot(page, "ee-02b-team-members");

    await member.getByRole("button", { name: "Remove" }).click();
    await page.getByRole("dialog", { name: /^Remove sso.user@example.com from Engineering/ }).getByRole("button", { name: "Remove" }).click();
    await member.waitFor({ state: "detached" });
    const [[count]] = await stack.platform.psql(
      "SELECT count(*) FROM team_member tm JOIN team t ON t.id = tm.team_id WHERE t.name = 'Engineering'",
    );
    assert.equal(count, "0");
  });

  // Each test starts from its page's URL, so one that fails (a dialog left open) does not fail the next.
  const costsTab = async (name) => {
    await page.goto("/cost");
    await page.getByRole("tab", { name }).click();
  };

  test("token prices: a bad price is named next to its field; add, then edit", async () => {
    await costsTab("Token prices");
    const section = page.getByRole("region", { name: "Token prices" });
    await see(section, "No token prices");
    await section.getByRole("button", { name: "Add token price" }).click();
    const dialog = page.getByRole("dialog", { name: "Add token price" });
    await dialog.getByLabel("Model").fill("gpt-4o-mini");
    await dialog.getByLabel("Input price").fill("cheap");
    await dialog.getByLabel("Output price").fill("600");
    await dialog.getByRole("button", { name: "Add" }).click();
    // The platform's 400 names pricePerMillionInput: the message sits under that field, the dialog stays open.
    const inputField = dialog.locator(".field").filter({ has: page.getByLabel("Input price") });
    await see(inputField.getByRole("alert"), /decimal/);
    assert.equal(await dialog.locator(".field").filter({ has: page.getByLabel("Output price") }).getByRole("alert").count(), 0);
    await screenshot(page, "ee-03-token-price-error");
    await dialog.getByLabel("Input price").fill("300");
    await dialog.getByRole("button", { name: "Add" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = section.getByRole("row").filter({ hasText: "gpt-4o-mini" });
    await see(row, "$300");

    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit the price of gpt-4o-mini" });
    assert.equal(Number(await edit.getByLabel("Input price").inputValue()), 300);
    await edit.getByLabel("Input price").fill("400");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "hidden" });
    await see(row, "$400");
    await see(row, "$600");
    const [[input]] = await stack.platform.psql("SELECT price_per_million_input FROM token_price WHERE model = 'gpt-4o-mini'");
    assert.equal(Number(input), 400);
  });

  test("limits: a token-cost limit without models is refused next to Models; created for the profile, it shows its usage after traffic", async () => {
    await costsTab("Limits");
    const section = page.getByRole("region", { name: "Limits" });
    await see(section, "No limits");
    await section.getByRole("button", { name: "Create limit" }).click();
    const dialog = page.getByRole("dialog", { name: "Create limit" });
    await dialog.getByLabel("Applies to").selectOption("agent");
    await dialog.getByLabel(/^Profile/).selectOption({ label: PROFILE });
    await dialog.getByLabel("Limit type").selectOption("token_cost");
    await dialog.getByLabel("Limit value").fill("1");
    await dialog.getByRole("button", { name: "Create" }).click();
    await see(dialog.locator(".field").filter({ has: page.getByLabel("Models") }).getByRole("alert"), /needs a non-empty list of models/);
    await dialog.getByLabel("Models").fill("gpt-4o-mini");
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = section.getByRole("row").filter({ hasText: `Profile ${PROFILE}` });
    await see(row, "$0.000000 of $1");
    await see(row, "within");

    // Traffic through the profile with the openai SDK: 3 calls priced at $400/$600 per million tokens.
    const client = openAiClient(stack.platform, profileId, { apiKey: "sk-ui-costs" });
    for (let i = 0; i < 3; i++) {
      const answer = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: `Costs test ${i}` }] });
      assert.ok(answer.usage?.total_tokens > 0, "the stand-in reports token usage");
    }
    // The interaction log writes asynchronously (in batches): wait until all 3 calls are recorded before
    // reading the usage, or the page may show the first call's cost while the API already counts all three.
    await until(async () => {
      const [[rows]] = await stack.platform.psql(`SELECT count(*) FROM interactions WHERE profile_id = '${profileId}'`);
      assert.equal(Number(rows), 3, `interactions recorded: ${rows}`);
    }, () => new Promise((r) => setTimeout(r, 200)));
    const usage = row.getByTestId("limit-usage");
    await until(
      async () => {
        const text = await usage.textContent();
        assert.ok(Number(/\$([0-9.]+) of/.exec(text)?.[1] ?? 0) > 0, `usage still ${text}`);
      },
      () => section.getByRole("button", { name: "Refresh" }).click(),
    );
    const shown = Number(/\$([0-9.]+) of/.exec(await usage.textContent())[1]);
    // What the page shows is what the API computes for the limit.
    const [[limitId]] = await stack.platform.psql(`SELECT id FROM limits WHERE entity_id = '${profileId}'`);
    const api = await page.evaluate(async (id) => (await fetch(`/api/limits/${id}`)).json(), limitId);
    const apiCost = api.modelUsage.reduce((s, u) => s + Number(u.cost), 0);
    assert.ok(Math.abs(apiCost - shown) < 1e-6, `page ${shown} vs API ${apiCost}`);
    await screenshot(page, "ee-04-limits-usage");

    // Edit: raise the limit; the row shows the new ceiling.
    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit limit" });
    assert.equal(await edit.getByLabel("Models").inputValue(), "gpt-4o-mini");
    await edit.getByLabel("Limit value").fill("5");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "hidden" });
    await see(row, / of \$5$/);
  });

  test("statistics: the chart draws the profile's cost over time and the cards count the requests", async () => {
    await costsTab("Statistics");
    await page.getByLabel("Group by").selectOption("agents");
    const chart = page.getByRole("img", { name: /^Cost over time/ });
    await chart.waitFor();
    const label = await chart.getAttribute("aria-label");
    assert.match(label, new RegExp(`${PROFILE}: \\$0\\.0*[1-9]`), `the chart's series: ${label}`);
    // Chart.js drew on the canvas: some pixels are not transparent.
    const painted = await chart.evaluate((canvas) => {
      const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
    assert.ok(painted > 500, `painted pixels: ${painted}`);
    const requests = page.locator(".stat").filter({ hasText: "Requests" }).locator("strong");
    assert.ok(Number(await requests.textContent()) >= 3);
    const usage = page.getByRole("region", { name: "Usage" }).getByRole("row").filter({ hasText: PROFILE });
    await usage.waitFor();
    assert.equal((await usage.getByRole("cell").nth(1).textContent()).trim(), "3", "three requests of the profile");
    await screenshot(page, "ee-05-statistics");
  });

  test("optimization rules: a bad length is named next to it; create, then disable by editing", async () => {
    await costsTab("Optimization rules");
    const section = page.getByRole("region", { name: "Optimization rules" });
    await section.getByRole("button", { name: "Create rule" }).click();
    const dialog = page.getByRole("dialog", { name: "Create optimization rule" });
    await dialog.getByLabel("Target model").fill("gpt-4o-mini");
    await dialog.getByLabel("Maximum length (tokens)").fill("short");
    await dialog.getByRole("button", { name: "Create" }).click();
    await see(dialog.locator(".field").filter({ has: page.getByLabel("Maximum length (tokens)") }).getByRole("alert"), /maxLength/);
    await dialog.getByLabel("Maximum length (tokens)").fill("1000");
    await dialog.getByLabel("Tools in the request").selectOption("no");
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = section.getByRole("row").filter({ hasText: "gpt-4o-mini" });
    await see(row, "at most 1000 tokens and without tools");
    await see(row, "enabled");
    await see(row, "Organization");

    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit optimization rule" });
    assert.equal(await edit.getByLabel("Maximum length (tokens)").inputValue(), "1000");
    await edit.getByLabel("Enabled").uncheck();
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "hidden" });
    await see(row, "disabled");
    const [[enabled]] = await stack.platform.psql("SELECT enabled FROM optimization_rules WHERE target_model = 'gpt-4o-mini'");
    assert.equal(enabled, "f");
    await screenshot(page, "ee-06-optimization-rules");
  });

  test("roles: built-in roles are read-only; a custom role is created with permissions, edited, and deleted", async () => {
    await page.goto("/settings");
    await page.getByRole("tab", { name: "Roles" }).click();
    const section = page.getByRole("region", { name: "Roles" });
    const admin = section.getByRole("row").filter({ hasText: "admin" }).first();
    await see(admin, "built in");
    assert.equal(await admin.getByRole("button", { name: "Edit" }).count(), 0);

    await section.getByRole("button", { name: "Create role" }).click();
    const dialog = page.getByRole("dialog", { name: "Create role" });
    await dialog.getByLabel("Role name").fill("!");
    await dialog.getByLabel("interaction:read").check();
    await dialog.getByRole("button", { name: "Create" }).click();
    await see(dialog.locator(".field").filter({ has: page.getByLabel("Role name") }).getByRole("alert"), /2 to 50 characters/);
    await dialog.getByLabel("Role name").fill("Log Auditor");
    await dialog.getByLabel("tool:read").check();
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = section.getByRole("row").filter({ hasText: "log_auditor" });
    await see(row, "custom");
    assert.equal((await row.getByRole("cell").nth(3).textContent()).trim(), "2");
    const [[permission]] = await stack.platform.psql("SELECT permission FROM organization_role WHERE role = 'log_auditor'");
    assert.deepEqual(JSON.parse(permission), { interaction: ["read"], tool: ["read"] });

    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit role Log Auditor" });
    assert.equal(await edit.getByLabel("interaction:read").isChecked(), true);
    await edit.getByLabel("policy:read").check();
    await edit.getByLabel("tool:read").uncheck();
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "hidden" });
    const [[edited]] = await stack.platform.psql("SELECT permission FROM organization_role WHERE role = 'log_auditor'");
    assert.deepEqual(JSON.parse(edited), { interaction: ["read"], policy: ["read"] });
    await screenshot(page, "ee-07-roles");

    // The custom role can be given to members.
    await page.getByRole("tab", { name: "Members" }).click();
    const roleSelect = page.getByRole("region", { name: "Invitations" }).getByLabel("Role");
    await roleSelect.locator("option", { hasText: "log_auditor" }).waitFor({ state: "attached" });

    await page.getByRole("tab", { name: "Roles" }).click();
    await row.getByRole("button", { name: "Delete" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete role Log Auditor?" });
    await confirm.getByRole("button", { name: "Delete" }).click();
    await row.waitFor({ state: "detached" });
  });

  test("MCP gateway log: pages, sorting and the profile filter are the server's", async () => {
    // 25 calls of the profile and 3 of the default profile, as the gateway writes them (one minute apart).
    await stack.platform.psql(
      `INSERT INTO mcp_tool_calls (agent_id, mcp_server_name, method, tool_call, tool_result, created_at)
       SELECT '${profileId}', 'srv-' || lpad(n::text, 2, '0'), 'tools/call', jsonb_build_object('name', 'tool_' || lpad(n::text, 2, '0')),
              '{"content":[{"type":"text","text":"ok"}]}'::jsonb, now() - n * interval '1 minute'
       FROM generate_series(0, 24) n;
       INSERT INTO mcp_tool_calls (agent_id, mcp_server_name, method, created_at)
       SELECT a.id, 'other-server', 'tools/list', now() - interval '2 hours' - n * interval '1 second'
       FROM agents a, generate_series(1, 3) n WHERE a.is_default`,
    );
    await page.goto("/logs");
    await page.getByRole("tab", { name: "MCP gateway" }).click();
    await page.waitForURL(/\/logs\/mcp-gateway$/);
    const table = page.getByRole("region", { name: "MCP gateway calls" });
    const pager = table.getByRole("navigation", { name: "MCP gateway calls pages" });
    await see(pager, "1–20 of 28");
    const firstRow = () => table.getByRole("row").nth(1);
    await see(firstRow(), "srv-00"); // newest first
    await see(firstRow(), PROFILE);
    await pager.getByRole("button", { name: "Next" }).click();
    await see(pager, "21–28 of 28");
    await see(table, "other-server");
    await screenshot(page, "ee-08-logs-mcp");

    // Sorting goes back to the first page and asks the server: ascending server names start with other-server.
    await table.getByRole("button", { name: /^MCP server/ }).click();
    await see(pager, "1–20 of 28");
    await see(firstRow(), "other-server");
    await table.getByRole("button", { name: /^MCP server/ }).click();
    await see(firstRow(), "srv-24");

    await table.getByLabel("Profile filter").selectOption({ label: PROFILE });
    await see(pager, "1–20 of 25");
    assert.equal(await table.getByText("other-server").count(), 0);
    await firstRow().click();
    const detail = page.getByRole("region", { name: "MCP call detail" });
    await see(detail, "tools/call tool_24 on srv-24");
    await see(detail, '"text": "ok"');
  });

  test("dual LLM settings: edit, save, and the values are there after a reload", async () => {
    await page.goto("/settings");
    await page.getByRole("tab", { name: "Dual LLM" }).click();
    const section = page.getByRole("region", { name: "Dual LLM" });
    await section.getByLabel("Maximum rounds").fill("7");
    await section.getByLabel("Main agent prompt").fill("Ask the quarantined model only yes/no questions.");
    const enabled = await section.getByLabel("Enabled").isChecked();
    await section.getByLabel("Enabled").setChecked(!enabled);
    await section.getByRole("button", { name: "Save" }).click();
    await see(section, "Saved.");
    await page.reload();
    const again = page.getByRole("region", { name: "Dual LLM" });
    await again.getByLabel("Maximum rounds").waitFor();
    assert.equal(await again.getByLabel("Maximum rounds").inputValue(), "7");
    assert.equal(await again.getByLabel("Main agent prompt").inputValue(), "Ask the quarantined model only yes/no questions.");
    assert.equal(await again.getByLabel("Enabled").isChecked(), !enabled);
    await screenshot(page, "ee-09-dual-llm");
  });
});

describe("Admin UI with ARCHESTRA_AUTH_DISABLE_BASIC_AUTH=true", () => {
  let platform, idp, browser, frontend;

  before(async () => {
    const uiPort = await freePort();
    frontend = `http://127.0.0.1:${uiPort}`;
    idp = await startIdp(frontend);
    platform = await startPlatform({
      env: {
        ARCHESTRA_UI_DIR: uiDir(),
        ARCHESTRA_UI_PORT: String(uiPort),
        ARCHESTRA_FRONTEND_URL: frontend,
        ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED: "true",
        ARCHESTRA_AUTH_DISABLE_BASIC_AUTH: "true",
      },
    });
    await registerIdp(frontend, idp);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await platform?.stop();
    await idp?.stop();
  });

  test("the sign-in page has no password form, only the provider's button, which signs in", async () => {
    const { page } = await newPage(browser, frontend);
    await page.goto("/auth/sign-in");
    await page.getByRole("button", { name: `Sign in with ${PROVIDER}` }).waitFor();
    assert.equal(await page.getByLabel("Password").count(), 0, "no password field");
    assert.equal(await page.getByRole("button", { name: "Sign in", exact: true }).count(), 0, "no password submit");
    assert.equal(await page.getByText("or", { exact: true }).count(), 0, "no divider between methods");
    await screenshot(page, "ee-10-sign-in-sso-only");
    await signInWithSso(page, idp, { sub: "sso-user-2", email: "only.sso@example.com", email_verified: true, name: "Only Sso", groups: [] });
  });
});
