import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';

// `pnpm demo -- --dashboard` as a newcomer runs it: a child process from the repository root, its URL
// read from what it prints, the dashboard loaded over HTTP and in Debian's Chromium (apt), then Ctrl-C.
// Chromium must be installed (.ci/run installs it): this test fails rather than skips without it.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

interface DashboardState {
  spend: { by_tenant: { key: string; amount: number }[] };
  activity: { kind: string; scope?: string }[];
}

let demo: ChildProcess | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  // The test stops it itself; this only cleans up after a failure (its whole process group).
  if (demo?.exitCode === null && demo.pid !== undefined) process.kill(-demo.pid, 'SIGKILL');
});

/** Resolves with the first match of `pattern` in the child's stderr (all of it so far). */
function waitForOutput(
  child: ChildProcess,
  output: { text: string },
  pattern: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output.text);
      if (match === null) return;
      child.stderr?.off('data', check);
      child.off('exit', exited);
      resolve(match);
    };
    const exited = (code: number | null) =>
      reject(new Error(`the demo exited (${code}) before printing ${pattern}:\n${output.text}`));
    child.stderr?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

async function state(url: string, adminKey: string): Promise<DashboardState> {
  const response = await fetch(new URL('/v1/x-cycles-guard/dashboard/state', url), {
    headers: { 'X-Admin-API-Key': adminKey },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as DashboardState;
}

describe('pnpm demo -- --dashboard', () => {
  it('serves the dashboard, where spend appears and the runaway loop hits the wall, and stops on Ctrl-C', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
      );
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    // Its own process group, so Ctrl-C reaches pnpm and the node process under it, as in a terminal.
    demo = spawn('pnpm', ['demo', '--', '--dashboard', '--port', '0'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const output = { text: '' };
    demo.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output.text += chunk;
    });
    const [, url, adminKey] = await waitForOutput(
      demo,
      output,
      /Dashboard: (http:\/\/\S+\/dashboard) {2}\(admin key ([0-9a-f]+)\)/,
    );
    if (url === undefined || adminKey === undefined) throw new Error('no dashboard URL printed');

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');

    browser = await chromium.launch({ executablePath: CHROMIUM });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript({
      content: `sessionStorage.setItem('cycles-admin-key', ${JSON.stringify(adminKey)})`,
    });
    const tab = await context.newPage();
    await tab.goto(url);
    await tab.waitForSelector('body[data-updated]');

    // The loop starts 5 s after the URL is printed and meets the $1 budget within about 15 s more.
    await waitForOutput(demo, output, /The dashboard stays up: Ctrl-C to stop\./);
    const final = await state(url, adminKey);
    const spent = final.spend.by_tenant.filter((point) => point.key === 'acme');
    expect(spent.reduce((sum, point) => sum + point.amount, 0)).toBeGreaterThan(0);
    expect(final.activity.some((item) => item.kind === 'denial')).toBe(true);
    await tab.locator('#activity .kind.denial').first().waitFor({ timeout: 10_000 });
    // The budget bar of the demo's tenant shows the wall: nearly all of its $1 used.
    const bar = tab.locator('tr[data-scope="tenant:acme"] [role=progressbar]');
    await bar.waitFor({ timeout: 10_000 });
    expect(Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(90);
    await tab.screenshot({ path: `${ARTIFACTS}demo-dashboard.png`, fullPage: true });
    await context.close();

    const exited = new Promise<number | null>((resolve) => demo?.once('exit', resolve));
    process.kill(-(demo.pid as number), 'SIGINT');
    expect(await exited).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  }, 120_000);
});
