// Size and speed of the page (a benchmark, not a test): wasm size with and without the shipped
// models, time to the first result and time per PGD step on each backend, in headless Chromium.
// Usage: node web/tests/bench.mjs [steps]   (after `trunk build`; prints a table)
import { readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, serve, launch, embedResult, announcedBackend } from './harness.mjs';

const STEPS = Number(process.argv[2] ?? 20);
const mb = (bytes) => (bytes / 1e6).toFixed(2) + ' MB';

function sizes(dir, filter) {
  let total = 0;
  let gzip = 0;
  for (const name of readdirSync(dir, { recursive: true })) {
    const path = join(dir, name);
    if (!statSync(path).isFile() || !filter(name)) continue;
    const bytes = readFileSync(path);
    total += bytes.length;
    gzip += gzipSync(bytes).length;
  }
  return { total, gzip };
}

const page = sizes(DIST, (n) => n.startsWith('robustdx-web'));
const worker = sizes(DIST, (n) => n.startsWith('robustdx-worker'));
const assets = sizes(join(DIST, 'assets'), () => true);
console.log('| what | size | gzipped |\n|---|---|---|');
console.log(`| page (Leptos UI: wasm + js) | ${mb(page.total)} | ${mb(page.gzip)} |`);
console.log(`| worker (core, burn-wgpu, flex: wasm + js) | ${mb(worker.total)} | ${mb(worker.gzip)} |`);
console.log(`| shipped models, generator, samples, example record | ${mb(assets.total)} | ${mb(assets.gzip)} |`);
console.log(`| everything | ${mb(page.total + worker.total + assets.total)} | ${mb(page.gzip + worker.gzip + assets.gzip)} |`);

const manifest = JSON.parse(readFileSync(join(DIST, 'assets', 'manifest.json'), 'utf8'));
const server = await serve();
console.log(`\n| backend | model | first result, PGD-${STEPS} (page load, model fetch, shader compilation) | per PGD step, first run | per PGD step, second run | Grad-CAM before and after |\n|---|---|---|---|---|---|`);
for (const webgpu of [true, false]) {
  for (const model of manifest.models.filter((m) => m.data === 'derm')) {
    const sample = manifest.samples.find((s) => s.data === model.data);
    const browser = await launch({ webgpu });
    try {
      const { page } = browser;
      const start = Date.now();
      await page.goto(`${server.origin}/?embed&model=${model.id}&image=${sample.id}&attack=pgd&eps=8&steps=${STEPS}`);
      const backend = await announcedBackend(page, 600_000);
      const cold = await embedResult(page, 600_000);
      const first = Date.now() - start;
      // The same attack twice in one page (one worker): the second run has its shaders compiled.
      await page.goto(`${server.origin}/`);
      await page.locator('[data-testid="model"]').selectOption(model.id);
      await page.locator('[data-testid="steps"]').fill(String(STEPS));
      const perStep = [];
      for (let run = 1; run <= 2; run++) {
        await page.locator('[data-testid="run"]').click();
        const verdict = page.locator(`[data-testid="outcome"][data-run="${run}"] [data-testid="verdict"]`);
        await verdict.waitFor({ timeout: 600_000 });
        perStep.push(Number((await verdict.textContent()).match(/([0-9.]+) ms per step/)[1]));
      }
      console.log(`| ${backend} | ${model.id} | ${(first / 1000).toFixed(1)} s | ${cold.timing.per_step_ms.toFixed(0)} ms | ${perStep[1].toFixed(0)} ms | ${cold.timing.cam_ms.toFixed(0)} ms |`);
    } finally {
      await browser.close();
    }
  }
}
await server.close();
