import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { MODEL, OTHER_MODEL, type SeededServer, spend, startSeededServer } from './support/seeded-server.ts';

// The dashboard in a real browser: Debian's Chromium (apt), driven by playwright-core. It must be
// installed (.ci/run installs it): this test fails rather than skips without it.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const FIRST_LOAD_BUDGET_BYTES = 250 * 1024;

let seeded: SeededServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  seeded = await startSeededServer();
  await spend(seeded.acme, MODEL, 400);
  await spend(seeded.acme, OTHER_MODEL, 900, { app: 'chat' });
  await spend(seeded.globex, MODEL, 1500);
  browser = await chromium.launch({ executablePath: CHROMIUM });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await seeded?.close();
});

/** A page whose tab already holds the admin key, counting every byte it receives. */
async function signedInPage(): Promise<{ page: Page; bytes: () => Promise<number> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({
    content: `sessionStorage.setItem('cycles-admin-key', ${JSON.stringify(ADMIN_KEY)})`,
  });
  const page = await context.newPage();
  const sizes: Promise<number>[] = [];
  page.on('requestfinished', (request) => {
    sizes.push(request.sizes().then((size) => size.responseBodySize + size.responseHeadersSize));
  });
  return { page, bytes: async () => (await Promise.all(sizes)).reduce((sum, size) => sum + size, 0) };
}

/** The used-percent the dashboard shows for a budget, from its progress bar. */
async function shownPercent(page: Page, scope: string): Promise<number> {
  const value = await page
    .locator(`tr[data-scope="${scope}"] [role=progressbar]`)
    .getAttribute('aria-valuenow');
  return Number(value);
}

async function expectedPercent(scope: string): Promise<number> {
  const budget = await seeded.admin.getLedger(scope, 'USD_MICROCENTS');
  if (budget === undefined) throw new Error(`no budget ${scope}`);
  const used = budget.spent + budget.reserved + budget.debt;
  return Math.min(100, Math.round((used / (budget.allocated + budget.overdraftLimit)) * 1000) / 10);
}

describe('dashboard in Chromium', () => {
  it('loads small and fast, and shows the budgets the API reports', async () => {
    const { page, bytes } = await signedInPage();
    const started = performance.now();
    await page.goto(`${seeded.server.url}/dashboard`);
    await page.waitForSelector('body[data-updated]');
    const firstRenderMs = Number(await page.evaluate('window.firstRenderMs'));
    const loadedBytes = await bytes();
    console.log(
      `dashboard first load: ${loadedBytes} bytes; first render ${firstRenderMs.toFixed(0)} ms after navigation ` +
        `(${(performance.now() - started).toFixed(0)} ms from goto, loopback)`,
    );
    expect(loadedBytes).toBeLessThanOrEqual(FIRST_LOAD_BUDGET_BYTES);
    for (const budget of await seeded.admin.listLedgers()) {
      expect(await shownPercent(page, budget.scope)).toBe(await expectedPercent(budget.scope));
    }
    await expect(page.locator('#chart-tenant canvas').count()).resolves.toBe(1);
    await expect(page.locator('#chart-model .u-legend').textContent()).resolves.toContain(OTHER_MODEL);
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    await page.context().close();
  });

  it('updates live as spend lands and shows a denial', async () => {
    const { page } = await signedInPage();
    await page.goto(`${seeded.server.url}/dashboard`);
    await page.waitForSelector('body[data-updated]');
    const before = await shownPercent(page, 'tenant:globex');
    await expect(async () => {
      for (let index = 0; index < 5; index++) await spend(seeded.globex, MODEL, 2000);
    }).rejects.toThrow();
    const after = await expectedPercent('tenant:globex');
    expect(after).toBeGreaterThan(before);
    await page
      .locator(`tr[data-scope="tenant:globex"] [role=progressbar][aria-valuenow="${after}"]`)
      .waitFor({ timeout: 10_000 });
    await page.locator('#activity .kind.denial').first().waitFor({ timeout: 10_000 });
    await expect(page.locator('#activity li').first().textContent()).resolves.toContain('tenant:globex');
    await page.screenshot({ path: `${ARTIFACTS}dashboard-after-spend.png`, fullPage: true });
    await page.context().close();
  });

  it('signs in with the keyboard and refuses a wrong key with a message', async () => {
    const page = await browser.newPage();
    await page.goto(`${seeded.server.url}/dashboard`);
    await expect(page.evaluate('document.activeElement.id')).resolves.toBe('key');
    await page.keyboard.type('not-the-admin-key-000');
    await page.keyboard.press('Enter');
    await page.waitForFunction("document.querySelector('#login-error').textContent !== ''");
    await expect(page.locator('#login-error').textContent()).resolves.toContain('refused');
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-updated]');
    await expect(page.locator('#board').isVisible()).resolves.toBe(true);
    await expect(page.getByLabel('Admin API key').count()).resolves.toBe(1);
    await page.close();
  });
});
