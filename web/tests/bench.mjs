// Size and speed of the page (a benchmark, not a test): what a first visit downloads, gzipped as a
// server would send it; time to the first PGD result and per warm PGD step on each backend, in
// headless Chromium.
// Usage: node web/tests/bench.mjs [steps] [--sizes] [--cpu | --webgpu]   (after `trunk build`, or
// with ROBUSTDX_DIST=dist-release after web/release.sh; --sizes: the size tables only)
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { DIST, serve, launch, embedResult, announcedBackend } from './harness.mjs';

const args = process.argv.slice(2);
const sizesOnly = args.includes('--sizes');
// --cpu or --webgpu: that backend only (default: both).
const backends = args.includes('--cpu') ? [false] : args.includes('--webgpu') ? [true] : [true, false];
const STEPS = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const mb = (bytes) => (bytes / 1e6).toFixed(2) + ' MB';
const gzipped = (path) => gzipSync(readFileSync(path), { level: 9 }).length;

function sizes(dir, filter) {
  let total = 0;
  let gzip = 0;
  for (const name of readdirSync(dir, { recursive: true })) {
    const path = join(dir, name);
    if (!statSync(path).isFile() || !filter(name)) continue;
    total += statSync(path).size;
    gzip += gzipped(path);
  }
  return { total, gzip };
}

console.log(`dist: ${DIST}\n`);
const page = sizes(DIST, (n) => n.startsWith('robustdx-web'));
const worker = sizes(DIST, (n) => n.startsWith('robustdx-worker'));
const assets = sizes(join(DIST, 'assets'), () => true);
console.log('| what | size | gzipped |\n|---|---|---|');
console.log(`| page (Leptos UI: wasm + js) | ${mb(page.total)} | ${mb(page.gzip)} |`);
console.log(`| worker (core, burn-wgpu, flex: wasm + js) | ${mb(worker.total)} | ${mb(worker.gzip)} |`);
console.log(`| all shipped models, generator, samples, example record | ${mb(assets.total)} | ${mb(assets.gzip)} |`);

const manifest = JSON.parse(readFileSync(join(DIST, 'assets', 'manifest.json'), 'utf8'));
const server = await serve();

// A first visit: the page opens, its worker starts, one PGD attack runs on the first model. Every
// file the browser fetched, at its gzipped size.
{
  const browser = await launch({ webgpu: false });
  try {
    const { page: tab, requests } = browser;
    await tab.goto(`${server.origin}/?tab=attack`);
    await announcedBackend(tab, 600_000);
    await tab.locator('[data-testid="steps"]').fill(String(STEPS));
    await tab.locator('[data-testid="run"]').click();
    await tab.locator('[data-testid="outcome"][data-run="1"] [data-testid="verdict"]').waitFor({ timeout: 600_000 });
    const files = [...new Set(requests.filter((u) => u.startsWith(server.origin)))]
      .map((u) => new URL(u).pathname)
      .map((p) => (p.endsWith('/') ? p + 'index.html' : p));
    let total = 0;
    let gzip = 0;
    console.log('\n| a first visit downloads | size | gzipped |\n|---|---|---|');
    for (const file of files) {
      const path = join(DIST, decodeURIComponent(file));
      const [size, gz] = [statSync(path).size, gzipped(path)];
      total += size;
      gzip += gz;
      console.log(`| ${file} | ${mb(size)} | ${mb(gz)} |`);
    }
    console.log(`| **everything (page, worker, first model, samples)** | **${mb(total)}** | **${mb(gzip)}** |`);
  } finally {
    await browser.close();
  }
}

if (!sizesOnly) {
  console.log(`\n| backend | model | first result, PGD-${STEPS} (page load, model fetch, shader compilation) | per PGD step, first run | per PGD step, warm run | Grad-CAM before and after |\n|---|---|---|---|---|---|`);
  for (const webgpu of backends) {
    // The two architectures (the defended models are the small CNN again).
    for (const model of manifest.models.filter((m) => m.data === 'derm' && m.training === 'clean')) {
      const sample = manifest.samples.find((s) => s.data === model.data);
      const browser = await launch({ webgpu });
      try {
        const { page: tab } = browser;
        const start = Date.now();
        await tab.goto(`${server.origin}/?embed&model=${model.id}&image=${sample.id}&attack=pgd&eps=8&steps=${STEPS}`);
        const backend = await announcedBackend(tab, 600_000);
        const cold = await embedResult(tab, 600_000);
        const first = Date.now() - start;
        // The same attack twice in one page (one worker): the second run has its model loaded
        // and its shaders compiled.
        await tab.goto(`${server.origin}/?tab=attack`);
        await tab.locator('[data-testid="model"]').selectOption(model.id);
        await tab.locator('[data-testid="steps"]').fill(String(STEPS));
        const perStep = [];
        for (let run = 1; run <= 2; run++) {
          await tab.locator('[data-testid="run"]').click();
          const verdict = tab.locator(`[data-testid="outcome"][data-run="${run}"] [data-testid="verdict"]`);
          await verdict.waitFor({ timeout: 600_000 });
          perStep.push(Number((await verdict.textContent()).match(/([0-9.]+) ms per step/)[1]));
        }
        console.log(`| ${backend} | ${model.id} | ${(first / 1000).toFixed(1)} s | ${cold.timing.per_step_ms.toFixed(0)} ms | ${perStep[1].toFixed(0)} ms | ${cold.timing.cam_ms.toFixed(0)} ms |`);
      } finally {
        await browser.close();
      }
    }
  }
}
await server.close();
