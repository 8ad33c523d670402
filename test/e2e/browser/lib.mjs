// Browser helpers for the Admin UI tests: Debian's chromium driven by playwright-core (no downloaded browser),
// waiting for what a person would see, and screenshots for reviewers in test/browser/screenshots/.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { repoRoot } from "../lib/harness.mjs";

export const screenshotDir = path.join(repoRoot, "test/browser/screenshots");

/// The built UI the platform should serve: $ARCHESTRA_UI_DIR (CTest passes the build's ui-out).
export function uiDir() {
  const dir = process.env.ARCHESTRA_UI_DIR || path.join(repoRoot, "build/default/ui-out");
  if (!fs.existsSync(path.join(dir, "index.html"))) {
    throw new Error(`Admin UI not built at ${dir}; build the archestra_ui_web target or set ARCHESTRA_UI_DIR`);
  }
  return dir;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

export async function newPage(browser, origin, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, baseURL: origin });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { context, page };
}

/// Waits until `text` (string or RegExp) is visible somewhere inside `scope` (a page or locator).
export async function see(scope, text, timeout = 15000) {
  await scope.getByText(text).first().waitFor({ state: "visible", timeout });
}

export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}

export async function clipboard(page) {
  return page.evaluate(() => navigator.clipboard.readText());
}

/// Retries `check` (which throws while the state is not there yet), running `between` after each failure:
/// for things written in the background (the interaction log, discovered tools).
export async function until(check, between, timeout_ms = 20000) {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await between();
    }
  }
}
