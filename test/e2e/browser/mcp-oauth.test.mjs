// Installing a remote MCP server with OAuth in a real browser (Debian chromium via playwright-core): Install on a
// catalog item with an oauthConfig sends the browser to the authorization server (oidc-provider, test/e2e/lib/
// oauth-servers.mjs), the person signs in and allows, the browser comes back to the Admin UI's /oauth-callback,
// which completes the flow and installs the server; its tool is discovered with the token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, adminSession, startPlatform } from "../lib/harness.mjs";
import { launchBrowser, newPage, screenshot, see, uiDir } from "./lib.mjs";
import { USER, startAuthorizationServer, startProtectedMcpServer } from "../lib/oauth-servers.mjs";

let platform;
let as;
let mcp;
let browser;
let page;
let admin;

before(async () => {
  platform = await startPlatform({ env: { ARCHESTRA_UI_DIR: uiDir() } });
  as = await startAuthorizationServer({ accessTokenTtl_s: 300 });
  mcp = await startProtectedMcpServer(as.issuer);
  admin = await adminSession(platform);
  const created = await fetch(`${platform.baseUrl}/api/internal_mcp_catalog`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Browser OAuth",
      serverType: "remote",
      serverUrl: mcp.url,
      oauthConfig: { name: "Browser OAuth", server_url: mcp.url, scopes: [], default_scopes: [], supports_resource_metadata: true },
    }),
  });
  assert.equal(created.status, 200, await created.clone().text());
  browser = await launchBrowser();
  // The redirect URI the platform registers is http://localhost:<ui port>/oauth-callback: the UI is used on that
  // origin so the session cookie comes back with the browser.
  ({ page } = await newPage(browser, `http://localhost:${platform.uiPort}`));
});

after(async () => {
  await browser?.close();
  await platform?.stop();
  await mcp?.stop();
  await as?.stop();
});

test("Install -> the authorization server's sign-in and consent -> /oauth-callback installs the server", async () => {
  await page.goto("/auth/sign-in");
  await page.getByLabel("Email").fill(ADMIN_EMAIL);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/profiles$/);

  await page.goto("/mcp-catalog");
  await page.getByRole("row").filter({ hasText: "Browser OAuth" }).getByRole("button", { name: "Install" }).click();
  const dialog = page.getByRole("dialog", { name: "Install Browser OAuth" });
  await see(dialog, "signs you in with OAuth");
  await dialog.getByRole("button", { name: "Continue to sign in" }).click();

  // The authorization server's own pages.
  await page.waitForURL((url) => url.href.startsWith(as.issuer));
  await page.locator('input[name="login"]').fill(USER.login);
  await page.locator('input[name="password"]').fill(USER.password);
  await screenshot(page, "mcp-oauth-01-authorization-server-sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();
  await see(page, "asks for mcp:tools");
  await page.getByRole("button", { name: "Allow" }).click();

  // Back in the Admin UI.
  await page.waitForURL(/\/oauth-callback\?/);
  await see(page.getByRole("status"), "Installed Browser OAuth", 30000);
  await see(page.getByRole("status"), "success");
  await screenshot(page, "mcp-oauth-02-installed");

  const servers = await (await fetch(`${platform.baseUrl}/api/mcp_server`, { headers: admin })).json();
  const server = servers.find((s) => s.catalogName === "Browser OAuth");
  assert.ok(server, JSON.stringify(servers));
  assert.equal(server.localInstallationStatus, "success");
  assert.ok(server.secretId);
  const tools = await (await fetch(`${platform.baseUrl}/api/mcp_server/${server.id}/tools`, { headers: admin })).json();
  assert.deepEqual(tools.map((t) => t.name), ["browser_oauth__whoami"]);
  assert.ok(mcp.seen.some((s) => s.status === 200 && s.method === "tools/list"), "the server listed its tools to a bearer token");

  // Reloading the callback page does not install twice: the state was single use.
  await page.reload();
  await see(page.getByRole("alert"), "already used");
  const after = await (await fetch(`${platform.baseUrl}/api/mcp_server`, { headers: admin })).json();
  assert.equal(after.filter((s) => s.catalogName === "Browser OAuth").length, 1);
});

test("Re-authorize on the installed server -> the authorization server -> /oauth-callback moves it to new tokens", async () => {
  const servers = await (await fetch(`${platform.baseUrl}/api/mcp_server`, { headers: admin })).json();
  const before = servers.find((s) => s.catalogName === "Browser OAuth");
  assert.ok(before, "needs the install test");
  const revocationsBefore = as.revocations.length;

  await page.goto("/mcp-catalog");
  const row = page.getByRole("row").filter({ has: page.getByRole("button", { name: "Re-authorize" }) });
  await see(row, "Browser OAuth");
  assert.equal(await row.count(), 1, "one installed OAuth server has the button");
  await row.getByRole("button", { name: "Re-authorize" }).click();

  // The authorization server remembers the sign-in and the consent from the first test; if it asks again,
  // answer its pages.
  await page.waitForURL((url) => url.href.startsWith(as.issuer) || url.pathname === "/oauth-callback");
  for (let i = 0; i < 2 && page.url().startsWith(as.issuer); i++) {
    if (await page.locator('input[name="login"]').count()) {
      await page.locator('input[name="login"]').fill(USER.login);
      await page.locator('input[name="password"]').fill(USER.password);
      await page.getByRole("button", { name: "Sign in" }).click();
    } else if (await page.getByRole("button", { name: "Allow" }).count()) {
      await page.getByRole("button", { name: "Allow" }).click();
    }
    await page.waitForURL((url) => url.href.startsWith(as.issuer) || url.pathname === "/oauth-callback");
  }
  await page.waitForURL(/\/oauth-callback\?/);
  await see(page.getByRole("status"), "Signed in again for Browser OAuth", 30000);
  await screenshot(page, "mcp-oauth-03-reauthorized");

  const afterList = await (await fetch(`${platform.baseUrl}/api/mcp_server`, { headers: admin })).json();
  const mine = afterList.filter((s) => s.catalogName === "Browser OAuth");
  assert.equal(mine.length, 1, "re-authorizing installs nothing new");
  assert.equal(mine[0].id, before.id);
  assert.ok(mine[0].secretId && mine[0].secretId !== before.secretId, "the installation moved to a new secret");
  assert.ok(as.revocations.slice(revocationsBefore).includes(200), "the old refresh token was revoked");
});
