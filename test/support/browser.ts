// Headless Chromium for the UI tests: Debian's `chromium` package (scripts/setup-tools.sh installs
// it), driven by playwright-core with an explicit executablePath, since playwright's own browser
// downloads cannot be reached here. Screenshots go to test-results/screenshots/ (kept by CI as
// artifacts; look at them after a change to the UI paths).
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

// The binary itself, not Debian's /usr/bin/chromium wrapper script (it only adds flags from /etc).
const CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string {
  const found = process.env.CHROMIUM_PATH ?? CANDIDATES.find((path) => existsSync(path));
  if (!found) throw new Error('Chromium not found: run scripts/setup-tools.sh (Debian package `chromium`) or set CHROMIUM_PATH');
  return found;
}

/** `extraArgs`: more Chromium switches, e.g. `--host-resolver-rules=MAP mlflow.test 127.0.0.1` to browse under a name. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // No sandbox: CI runs as root, where Chromium refuses its namespace sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', ...extraArgs],
  });
}

export const SCREENSHOT_DIR = join(import.meta.dir, '..', '..', 'test-results', 'screenshots');

/** Saves a full-page screenshot as test-results/screenshots/NAME.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A fresh context (own cookies and cache) with a desktop-sized viewport. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}) {
  return browser.newContext({ viewport: { width: 1400, height: 900 }, ...options });
}
