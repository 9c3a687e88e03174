// Shared by the browser tests and the benchmark: a static server for the built page (dist/),
// Debian's Chromium driven by playwright-core, and a record of every request the page makes.
import { createServer } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, extname, normalize, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = process.env.ROBUSTDX_DIST ?? join(ROOT, 'dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.bpk': 'application/octet-stream',
  '.css': 'text/css',
};

/** Serves `DIST` on 127.0.0.1 at a free port; resolves to { origin, close }. */
export async function serve() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(DIST, path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(DIST)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end(`${path}: not found`);
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

/**
 * Launches headless Chromium. `webgpu: true` adds --enable-unsafe-webgpu, which offers
 * SwiftShader's software WebGPU adapter; without it the browser offers no adapter and the page
 * must fall back to its CPU backend.
 */
export async function launch({ webgpu }) {
  const profile = await mkdtemp(join(tmpdir(), 'robustdx-chromium-'));
  const args = [
    '--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic',
  ];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  // A fresh profile each launch (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args, viewport: { width: 1280, height: 1000 },
  });
  await context.addInitScript(() => { Error.stackTraceLimit = 100; });
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const logs = [];
  context.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => logs.push(`worker ${m.type()}: ${m.text()}`)));
  return {
    page,
    requests,
    logs,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Requests that left the page's origin (data: and blob: URLs stay in the browser). */
export function offOrigin(requests, origin) {
  return requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
}

/** Waits for the embed widget's result (or its error) and returns the parsed JSON. */
export async function embedResult(page, timeout) {
  const done = page.locator('[data-testid="result"], [data-testid="error"]');
  await done.first().waitFor({ state: 'attached', timeout });
  const error = page.locator('[data-testid="error"]');
  if (await error.count()) throw new Error(`the page reported: ${await error.first().textContent()}`);
  return JSON.parse(await page.locator('[data-testid="result"]').textContent());
}

/** The backend the page announced ("webgpu" or "cpu"). */
export async function announcedBackend(page, timeout) {
  const notice = page.locator('[data-testid="backend"]:not([data-backend=""])');
  await notice.first().waitFor({ timeout });
  return notice.first().getAttribute('data-backend');
}

/**
 * Runs `body(browser)` in a fresh browser; on failure prints what the page and its worker said,
 * then rethrows. Always checks that no request left `origin`.
 */
export async function withBrowser(options, origin, body) {
  const browser = await launch(options);
  try {
    await body(browser);
    const away = offOrigin(browser.requests, origin);
    if (away.length) throw new Error(`requests left the page's origin: ${away.join(', ')}`);
  } catch (e) {
    console.log(browser.logs.join('\n'));
    throw e;
  } finally {
    await browser.close();
  }
}
