// The page in a real browser: headless Chromium loads the built page (dist/, from `trunk build`)
// from a local server and runs attacks on both backends — WebGPU (SwiftShader's software adapter,
// switched on by --enable-unsafe-webgpu) and the CPU fallback (no adapter offered). Each test
// checks the prediction flips, the numbers equal the native binary's on the same inputs, and the
// page never reaches outside its own origin.
//
// Needs: dist/ built, Chromium at /usr/bin/chromium (or $CHROMIUM), and the native binary in
// $ROBUSTDX_BIN for the reference numbers. Screenshots go to $ROBUSTDX_SCREENSHOTS (default
// web/tests/screenshots/).
import { test, before, after } from 'node:test';
// The reference numbers come from the native binary on burn's own convolution: the browser's CPU
// fallback runs our convolution kernels (cpu-kernels) with WebAssembly SIMD's separate multiply
// and add, the native ones with fused multiply-add, and a PGD trajectory can turn on that last
// bit (CI measured PGD-10's last loss 10.3729 in both browser backends and 10.3138 natively with
// our kernels). Our kernels are held to burn's op and PyTorch's in the native tests.
process.env.ROBUSTDX_BURN_CONV = '1';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, DIST, serve, withBrowser, embedResult, announcedBackend } from './harness.mjs';

const SHOTS = process.env.ROBUSTDX_SCREENSHOTS ?? join(ROOT, 'web', 'tests', 'screenshots');
// SwiftShader compiles every shader on first use: minutes, not seconds, on a small CPU.
const SLOW = 8 * 60_000;
const EPS = 8;
const STEPS = 10;

const manifest = JSON.parse(readFileSync(join(DIST, 'assets', 'manifest.json'), 'utf8'));
const model = manifest.models[0];
const sample = manifest.samples.find((s) => s.data === model.data);

let server;
before(async () => { server = await serve(); mkdirSync(SHOTS, { recursive: true }); });
after(async () => { await server?.close(); });

/** `robustdx attack --image` on the same model, image and PGD setting, on the CPU. */
function nativeReference() {
  const bin = process.env.ROBUSTDX_BIN;
  assert.ok(bin, 'set ROBUSTDX_BIN to the native robustdx binary (the reference numbers)');
  const out = join(mkdtempSync(join(tmpdir(), 'robustdx-native-')), 'reference.json');
  execFileSync(bin, [
    '--backend', 'cpu', 'attack', '--model', join(ROOT, 'web', 'assets', model.file),
    '--image', join(ROOT, 'web', 'assets', sample.file), '--attack', 'pgd',
    '--eps', String(EPS), '--steps', String(STEPS), '--json', out,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

function assertClose(actual, expected, tolerance, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    assert.ok(Math.abs(a - expected[i]) <= tolerance,
      `${what}[${i}]: browser ${a} vs native ${expected[i]} (tolerance ${tolerance})`);
  });
}

/** Clicks "Run attack" and waits for that run's verdict or error. */
async function runAttack(page) {
  const outcome = page.locator('[data-testid="outcome"]');
  // Every kind of job draws its id from one count: the attack's is new, not the next.
  const previous = await outcome.getAttribute('data-run');
  await page.locator('[data-testid="run"]').click();
  const done = `[data-testid="outcome"]:not([data-run="${previous}"])`;
  await page.locator(`${done} [data-testid="verdict"], ${done} [data-testid="error"]`).first().waitFor({ timeout: SLOW });
}

let reference;
function native() {
  reference ??= nativeReference();
  return reference;
}

for (const backend of ['webgpu', 'cpu']) {
  test(`embed mode on ${backend}: PGD flips the prediction with the native binary's numbers`, { timeout: SLOW + 60_000 }, async () => {
    await withBrowser({ webgpu: backend === 'webgpu' }, server.origin, async ({ page }) => {
      const url = `${server.origin}/?embed&model=${model.id}&image=${sample.id}&attack=pgd&eps=${EPS}&steps=${STEPS}`;
      await page.goto(url);
      const announced = await announcedBackend(page, SLOW);
      console.log(`# backend that ran: ${announced} (${await page.locator('[data-testid="backend"]').textContent()})`);
      assert.equal(announced, backend);
      const result = await embedResult(page, SLOW);
      assert.equal(result.backend, backend);
      assert.equal(result.loss.length, STEPS + 1);
      assert.notEqual(result.adversarial.label, result.clean.label, 'PGD at 8/255 flips the prediction');
      assert.ok(result.loss.at(-1) > result.loss[0], 'the loss rises under attack');
      assert.ok(result.linf <= EPS + 1e-3, `‖δ‖∞ = ${result.linf} stays within ε = ${EPS}`);
      const expected = native();
      assert.equal(result.clean.label, expected.clean.label);
      assert.equal(result.adversarial.label, expected.adversarial.label);
      assertClose(result.clean.probs, expected.clean.probs, 1e-4, 'clean probabilities');
      assertClose(result.adversarial.probs, expected.adversarial.probs, 2e-3, 'adversarial probabilities');
      assertClose(result.loss, expected.loss, 2e-3 * Math.max(1, ...expected.loss), 'loss per step');
      // Grad-CAM before and after, drawn, and the maps equal the native binary's.
      assert.equal(await page.locator('[data-testid="cam-clean"] img').count(), 1);
      assert.equal(await page.locator('[data-testid="cam-adversarial"] img').count(), 1);
      assert.equal(result.grad_cam.clean.length, result.grad_cam.height * result.grad_cam.width);
      assertClose(result.grad_cam.clean, expected.grad_cam.clean, 1e-3, 'Grad-CAM before');
      assertClose(result.grad_cam.adversarial, expected.grad_cam.adversarial, 1e-3, 'Grad-CAM after');
      const camDiff = Math.max(...result.grad_cam.clean.map((v, i) => Math.abs(v - expected.grad_cam.clean[i])),
        ...result.grad_cam.adversarial.map((v, i) => Math.abs(v - expected.grad_cam.adversarial[i])));
      console.log(`# ${backend}: largest |Δ Grad-CAM| vs native ${camDiff.toExponential(2)}`);
      console.log(`# ${backend}: ${result.clean.label} → ${result.adversarial.label}, loss ${result.loss[0].toFixed(4)} → ${result.loss.at(-1).toFixed(4)}, ` +
        `largest |Δp| vs native ${Math.max(...result.adversarial.probs.map((p, i) => Math.abs(p - expected.adversarial.probs[i]))).toExponential(2)}, ` +
        `${result.timing.per_step_ms.toFixed(1)} ms/step, Grad-CAM ${result.timing.cam_ms.toFixed(0)} ms`);
      assert.ok(result.timing.cam_ms > 0 && result.timing.cam_ms < result.timing.total_ms, 'Grad-CAM timed');
      await page.screenshot({ path: join(SHOTS, `embed-${backend}.png`), fullPage: true });
    });
  });
}

test('APGD from the core\'s registry, on the CPU fallback, equals the native binary', { timeout: SLOW }, async () => {
  const bin = process.env.ROBUSTDX_BIN;
  const out = join(mkdtempSync(join(tmpdir(), 'robustdx-apgd-')), 'apgd.json');
  execFileSync(bin, [
    '--backend', 'cpu', 'attack', '--model', join(ROOT, 'web', 'assets', model.file),
    '--image', join(ROOT, 'web', 'assets', sample.file), '--attack', 'apgd', '--eps', '4', '--steps', '12', '--json', out,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  const expected = JSON.parse(readFileSync(out, 'utf8'));
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    await page.goto(`${server.origin}/?embed&model=${model.id}&image=${sample.id}&attack=apgd&eps=4&steps=12`);
    const result = await embedResult(page, SLOW);
    assert.equal(result.attack, 'apgd');
    assert.ok(result.linf <= 4 + 1e-3, `‖δ‖∞ = ${result.linf}`);
    assert.equal(result.adversarial.label, expected.adversarial.label);
    assertClose(result.adversarial.probs, expected.adversarial.probs, 1e-4, 'APGD adversarial probabilities');
    // The attack list is the core's registry: every registered attack is offered.
    await page.goto(`${server.origin}/?tab=attack`);
    await page.locator('[data-testid="attack"] option[value="apgd"]').waitFor({ state: 'attached', timeout: 60_000 });
    const offered = await page.locator('[data-testid="attack"] option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(offered, ['fgsm', 'pgd', 'apgd', 'apgd-t', 'square', 'gap']);
  });
});

test('a defended model keeps the prediction that a small PGD flips on the clean one (CPU fallback)', { timeout: SLOW }, async () => {
  const bin = process.env.ROBUSTDX_BIN;
  const defended = manifest.models.find((m) => m.training === 'pgd-at');
  assert.ok(defended, 'the page ships a PGD-AT model');
  const eps = 2;
  const dir = mkdtempSync(join(tmpdir(), 'robustdx-defended-'));
  const nativeAttack = (m, s) => {
    const out = join(dir, `${m.id}-${s.id}.json`);
    execFileSync(bin, [
      '--backend', 'cpu', 'attack', '--model', join(ROOT, 'web', 'assets', m.file),
      '--image', join(ROOT, 'web', 'assets', s.file), '--attack', 'pgd', '--eps', String(eps), '--steps', '10', '--json', out,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    return JSON.parse(readFileSync(out, 'utf8'));
  };
  const flipped = (r) => r.adversarial.label !== r.clean.label;
  // The shipped samples the native binary finds flipped on the clean model and standing on the defended one.
  const measured = manifest.samples.filter((s) => s.data === defended.data)
    .map((s) => ({ sample: s, clean: nativeAttack(model, s), defended: nativeAttack(defended, s) }));
  for (const m of measured) {
    const drop = (r) => Math.max(...r.clean.probs) - r.adversarial.probs[r.class_names.indexOf(r.clean.label)];
    console.log(`# ${m.sample.id} at ε = ${eps}/255: clean model ${m.clean.clean.label} → ${m.clean.adversarial.label} ` +
      `(drop ${drop(m.clean).toFixed(3)}), PGD-AT model ${m.defended.clean.label} → ${m.defended.adversarial.label} (drop ${drop(m.defended).toFixed(3)})`);
  }
  const shown = measured.find((m) => flipped(m.clean) && !flipped(m.defended));
  assert.ok(shown, 'some shipped sample flips on the clean model and stands on the defended one (margins above)');
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    for (const [m, expected, flips] of [[model, shown.clean, true], [defended, shown.defended, false]]) {
      await page.goto(`${server.origin}/?embed&model=${m.id}&image=${shown.sample.id}&attack=pgd&eps=${eps}&steps=10`);
      const result = await embedResult(page, SLOW);
      assert.equal(result.clean.label, expected.clean.label, `${m.id}: clean prediction`);
      assert.equal(result.adversarial.label, expected.adversarial.label, `${m.id}: prediction after PGD`);
      assert.equal(result.adversarial.label !== result.clean.label, flips, `${m.id}: flipped = ${flips}`);
    }
    // The picker says how each model was trained, defended ones apart from clean ones.
    await page.goto(`${server.origin}/?tab=attack`);
    await page.locator('[data-testid="model"] optgroup[label="Defended models"] option').first().waitFor({ state: 'attached', timeout: 60_000 });
    const defendedIds = await page.locator('[data-testid="model"] optgroup[label="Defended models"] option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(defendedIds, manifest.models.filter((m) => m.training !== 'clean').map((m) => m.id));
    await page.locator('[data-testid="model"]').selectOption(defended.id);
    assert.match(await page.locator('[data-testid="model-training"]').textContent(), /Defended: pgd-at eps=4/);
    await page.screenshot({ path: join(SHOTS, 'page-defended-model.png'), fullPage: true });
  });
});

test('attention maps of AttnVGG before and after, on the CPU fallback', { timeout: SLOW }, async () => {
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    const attn = manifest.models.find((m) => m.attention);
    await page.goto(`${server.origin}/?embed&model=${attn.id}&attack=fgsm&eps=4`);
    const result = await embedResult(page, SLOW);
    assert.equal(result.backend, 'cpu');
    assert.equal(result.loss.length, 2);
    assert.ok(result.loss[1] > result.loss[0], 'FGSM raises the loss');
    assert.equal(await page.locator('[data-testid="attention-clean"]').count(), 2, 'two attention gates');
    assert.equal(await page.locator('[data-testid="attention-adversarial"]').count(), 2);
    await page.screenshot({ path: join(SHOTS, 'embed-attention.png'), fullPage: true });
    // A wrong parameter is a message naming it, not a blank widget.
    await page.goto(`${server.origin}/?embed&model=no-such-model`);
    await page.locator('[data-testid="error"]').waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-testid="error"]').textContent(), /model=no-such-model/);
    // An empty asset manifest is a message on the page, not a crashed one.
    await page.route('**/assets/manifest.json', (route) => route.fulfill({ contentType: 'application/json', body: '{"models": [], "samples": []}' }));
    await page.goto(`${server.origin}/?tab=attack`);
    await page.locator('[data-testid="error"]').first().waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-testid="error"]').first().textContent(), /lists no models/);
  });
});

test('the page\'s own wasm links no tensor code (burn and its backends live in the worker only)', () => {
  const wasm = readFileSync(join(DIST, 'robustdx-web_bg.wasm')).toString('latin1');
  // A build that keeps function names (trunk's dev build, what CI tests) says what it links.
  assert.ok(wasm.includes('robustdx_web'), 'the page wasm has no name section to check');
  for (const crate of ['burn_autodiff', 'burn_flex', 'burn_cubecl', 'burn_tensor', 'cubecl_ir', 'cubecl_wgpu']) {
    assert.ok(!wasm.includes(crate), `the page wasm links ${crate}`);
  }
});

test('a running attack can be cancelled: a fresh worker starts and the next attack runs (CPU fallback)', { timeout: SLOW }, async () => {
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    await page.goto(`${server.origin}/?tab=attack`);
    await announcedBackend(page, SLOW);
    await page.locator(`[data-testid="sample-${sample.id}"]`).click();
    await page.locator('[data-testid="attack"]').selectOption('pgd');
    await page.locator('[data-testid="steps"]').fill('1000');
    await page.locator('[data-testid="run"]').click();
    await page.locator('[data-testid="progress"]').waitFor({ timeout: SLOW });
    await page.locator('[data-testid="cancel"]').click();
    assert.match(await page.locator('[data-testid="worker-notice"]').textContent(), /Cancelled/);
    assert.match(await page.locator('[data-testid="outcome"] [data-testid="error"]').textContent(), /Cancelled/);
    // The fresh worker says which backend it has, then runs the next attack to its end.
    await announcedBackend(page, SLOW);
    await page.locator('[data-testid="attack"]').selectOption('fgsm');
    await runAttack(page);
    assert.match(await page.locator('[data-testid="verdict"]').textContent(), /FGSM/);
    // Square reads scores only (no gradient): it runs, and says how many queries it spent.
    await page.locator('[data-testid="attack"]').selectOption('square');
    await page.locator('[data-testid="setting-queries"]').fill('200');
    await runAttack(page);
    assert.equal(await page.locator('[data-testid="outcome"] [data-testid="error"]').count(), 0);
    assert.match(await page.locator('[data-testid="queries"]').textContent(), /\d+ model queries/);
  });
});

test('the full page: a sample attacked step by step, a non-image upload refused, a result file opened', { timeout: SLOW + 120_000 }, async () => {
  await withBrowser({ webgpu: true }, server.origin, async ({ page }) => {
    await page.goto(`${server.origin}/?tab=attack`);
    console.log(`# backend that ran: ${await announcedBackend(page, SLOW)}`);
    await page.locator(`[data-testid="sample-${sample.id}"]`).click();
    await page.locator('[data-testid="attack"]').selectOption('pgd');
    // The attack runs in the worker: while it runs, the page still answers clicks.
    const running = runAttack(page);
    await page.locator('[data-testid="progress"]').waitFor({ timeout: SLOW });
    await page.locator('[data-testid="tab-viewer"]').click();
    await page.locator('[data-testid="viewer-example"]').waitFor({ state: 'visible', timeout: 5_000 });
    await page.locator('[data-testid="tab-attack"]').click();
    await running;
    assert.match(await page.locator('[data-testid="verdict"]').textContent(), /flipped/);
    assert.equal(await page.locator('[data-testid="bars-clean"] .bar').count(), native().class_names.length);
    assert.equal(await page.locator('[data-testid="adversarial-image"]').count(), 1);
    assert.equal(await page.locator('[data-testid="loss-chart"] svg').count(), 1);
    await page.screenshot({ path: join(SHOTS, 'page-attack.png'), fullPage: true });

    // The visitor's own image (here: a fundus sample, as a stranger's file would be).
    const own = manifest.samples.find((s) => s.data !== model.data);
    await page.locator('[data-testid="upload"]').setInputFiles(join(ROOT, 'web', 'assets', own.file));
    await page.locator('[data-testid="drop"]', { hasText: own.file.split('/').pop() }).waitFor();
    await page.locator('[data-testid="attack"]').selectOption('fgsm');
    await runAttack(page);
    assert.equal(await page.locator('[data-testid="outcome"] [data-testid="error"]').count(), 0);
    assert.equal(await page.locator('[data-testid="adversarial-image"]').count(), 1);

    // A huge file is refused before it is read.
    await page.locator('[data-testid="upload"]').setInputFiles({ name: 'scan.png', mimeType: 'image/png', buffer: Buffer.alloc(21 * 1024 * 1024) });
    assert.match(await page.locator('[data-testid="upload-error"]').textContent(), /scan\.png.*too large/);

    // A file that is not an image gets a message naming it; the page keeps working.
    await page.locator('[data-testid="upload"]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    await page.locator('[data-testid="drop"]', { hasText: 'notes.txt' }).waitFor();
    await runAttack(page);
    assert.match(await page.locator('[data-testid="outcome"] [data-testid="error"]').textContent(), /notes\.txt.*not a readable image/);
    // DICOM is read by the command line; the page says so, naming the file.
    await page.locator('[data-testid="upload"]').setInputFiles(join(ROOT, 'tests', 'fixtures', 'dicom', 'mono16_rle.dcm'));
    await page.locator('[data-testid="drop"]', { hasText: 'mono16_rle.dcm' }).waitFor();
    await runAttack(page);
    assert.match(await page.locator('[data-testid="outcome"] [data-testid="error"]').textContent(), /mono16_rle\.dcm.*command line reads DICOM/);

    // A large photo (3000 × 2000, drawn by the browser's canvas) is shrunk to the model's input
    // as it is decoded, and attacked.
    const big = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(3000, 2000);
      const g = canvas.getContext('2d');
      g.fillStyle = '#b08060'; g.fillRect(0, 0, 3000, 2000);
      g.fillStyle = '#503020'; g.beginPath(); g.arc(1500, 1000, 600, 0, 2 * Math.PI); g.fill();
      const blob = await canvas.convertToBlob({ type: 'image/png' });
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    });
    await page.locator('[data-testid="upload"]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from(big) });
    await page.locator('[data-testid="drop"]', { hasText: 'photo.png' }).waitFor();
    await runAttack(page);
    assert.equal(await page.locator('[data-testid="outcome"] [data-testid="error"]').count(), 0);
    assert.match(await page.locator('[data-testid="verdict"]').textContent(), /FGSM/);

    await page.locator(`[data-testid="sample-${sample.id}"]`).click();
    await runAttack(page);
    assert.match(await page.locator('[data-testid="verdict"]').textContent(), /FGSM/);

    // The results viewer reads a native sweep record; a wrong file gets a message.
    await page.locator('[data-testid="tab-viewer"]').click();
    const record = JSON.parse(readFileSync(join(DIST, 'assets', 'reports', 'small-cnn-derm.json'), 'utf8'));
    await page.locator('[data-testid="viewer-file"]').setInputFiles(join(DIST, 'assets', 'reports', 'small-cnn-derm.json'));
    await page.locator('[data-testid="viewer-table"]').waitFor();
    assert.equal(await page.locator('[data-testid="viewer-table"] tr').count(), record.results.length + 1);
    assert.ok(await page.locator('[data-testid="viewer-charts"] svg').count() >= 2);
    // The shipped example names its model by hash, and its sanity checks ran.
    await page.locator('[data-testid="viewer-identity"]', { hasText: record.model.sha256 }).waitFor();
    assert.match(await page.locator('[data-testid="viewer-sanity"]').textContent(), /passed|⚠/);
    await page.screenshot({ path: join(SHOTS, 'page-viewer.png'), fullPage: true });
    // An AutoAttack cell shows what each member broke, as AutoAttack's log does.
    const suiteFile = join(DIST, 'assets', 'reports', 'small-cnn-derm-autoattack.json');
    const suite = JSON.parse(readFileSync(suiteFile, 'utf8')).results.find((r) => r.attack === 'autoattack');
    await page.locator('[data-testid="viewer-file"]').setInputFiles(suiteFile);
    await page.locator('[data-testid="viewer-contributions"]').waitFor();
    assert.equal(await page.locator('[data-testid="viewer-contributions"] tr').count(), suite.metrics.contributions.length + 2);
    assert.match(await page.locator('[data-testid="viewer-contributions"]').textContent(), /APGD-T.*FAB-T.*Square/);
    await page.screenshot({ path: join(SHOTS, 'page-viewer-autoattack.png'), fullPage: true });
    // A file written before result identities (schema 1) still opens, and says what it lacks.
    await page.locator('[data-testid="viewer-file"]').setInputFiles(join(ROOT, 'web', 'tests', 'fixtures', 'schema-1-sweep.json'));
    await page.locator('[data-testid="viewer-identity"]', { hasText: 'not recorded' }).waitFor();
    assert.match(await page.locator('[data-testid="viewer-sanity"]').textContent(), /No sanity checks recorded/);
    assert.equal(await page.locator('[data-testid="viewer-table"] tr').count(), 16);

    // A sweep written now: provenance (model hash, data, seed), sanity flags and APGD's row.
    const sweep = join(mkdtempSync(join(tmpdir(), 'robustdx-sweep-')), 'sweep.json');
    execFileSync(process.env.ROBUSTDX_BIN, [
      '--backend', 'cpu', 'attack', '--model', join(ROOT, 'web', 'assets', model.file), '--data', 'synth-derm:n=8,test=6',
      '--attack', 'pgd,apgd', '--eps', '0,4', '--steps', '3', '--json', sweep,
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    const fresh = JSON.parse(readFileSync(sweep, 'utf8'));
    await page.locator('[data-testid="viewer-file"]').setInputFiles(sweep);
    await page.locator('[data-testid="viewer-identity"]', { hasText: fresh.model.sha256 }).waitFor();
    assert.equal(await page.locator('[data-testid="viewer-table"] tr').count(), 5);
    assert.match(await page.locator('[data-testid="viewer-table"]').textContent(), /apgd/);
    assert.match(await page.locator('[data-testid="viewer-sanity"]').textContent(), fresh.sanity.length ? /⚠/ : /APGD-CE at least as strong as PGD/);
    await page.screenshot({ path: join(SHOTS, 'page-viewer-identity.png'), fullPage: true });
    await page.locator('[data-testid="viewer-file"]').setInputFiles({ name: 'other.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
    assert.match(await page.locator('[data-testid="viewer-error"]').textContent(), /other\.json/);

    // A certification written now (the shipped Gaussian-trained model, two noise levels): its
    // curves and its table, one row per σ with the binary's numbers.
    const smoothing = manifest.models.find((m) => m.training === 'gaussian');
    const certified = join(mkdtempSync(join(tmpdir(), 'robustdx-certify-')), 'certify.json');
    execFileSync(process.env.ROBUSTDX_BIN, [
      '--backend', 'cpu', 'certify', '--model', join(ROOT, 'web', 'assets', smoothing.file), '--data', 'synth-derm:n=8,test=4',
      '--sigma', '0.25,0.5', '--n0', '10', '--n', '40', '--json', certified,
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    const certification = JSON.parse(readFileSync(certified, 'utf8'));
    await page.locator('[data-testid="viewer-file"]').setInputFiles(certified);
    await page.locator('[data-testid="viewer-certified"]').waitFor();
    assert.equal(await page.locator('[data-testid="viewer-certified"] tr').count(), 1 + certification.results.length);
    const row = await page.locator('[data-testid="viewer-certified"] tr').nth(2).textContent();
    assert.ok(row.startsWith('0.5'), row);
    assert.ok(row.includes(certification.results[1].certified_accuracy[0].accuracy.toFixed(3)), row);
    assert.ok(await page.locator('[data-testid="viewer-charts"] svg').count() >= 1);
    await page.screenshot({ path: join(SHOTS, 'page-viewer-certify.png'), fullPage: true });
  });
});

/** `robustdx benchmark --image` on the lab's first model and sample `s`. */
function nativeSequence(s, kind, seed) {
  const out = join(mkdtempSync(join(tmpdir(), 'robustdx-sequence-')), `${kind}.json`);
  execFileSync(process.env.ROBUSTDX_BIN, [
    '--backend', 'cpu', 'benchmark', '--model', join(ROOT, 'web', 'assets', model.file),
    '--image', join(ROOT, 'web', 'assets', s.file), '--kinds', kind, '--seed', String(seed), '--json', out,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

for (const backend of ['webgpu', 'cpu']) {
  test(`perturbation view on ${backend}: every frame's decision equals the native benchmark's`, { timeout: SLOW }, async () => {
    // Gaussian noise: the frames come from seeded draws, so the browser and the native binary
    // must draw the same noise, not only run the same model.
    const kind = 'gaussian_noise';
    const seed = 3;
    // A shipped sample whose sequence flips (the native binary picks it): equal flips are a
    // stronger check than equal confident decisions.
    const picked = manifest.samples.filter((s) => s.data === model.data)
      .map((s) => ({ s, expected: nativeSequence(s, kind, seed) }))
      .find((p) => p.expected.flips > 0);
    assert.ok(picked, `some shipped sample flips under ${kind} (seed ${seed})`);
    const expected = picked.expected;
    await withBrowser({ webgpu: backend === 'webgpu' }, server.origin, async ({ page }) => {
      await page.goto(`${server.origin}/?tab=attack`);
      assert.equal(await announcedBackend(page, SLOW), backend);
      await page.locator(`[data-testid="sample-${picked.s.id}"]`).click();
      // The kinds are the core's registry.
      const offered = await page.locator('[data-testid="perturb-kind"] option').evaluateAll((os) => os.map((o) => o.value));
      assert.equal(offered.length, 14);
      await page.locator('[data-testid="perturb-kind"]').selectOption(kind);
      await page.locator('[data-testid="perturb-seed"]').fill(String(seed));
      await page.locator('[data-testid="perturb-run"]').click();
      await page.locator('[data-testid="sequence"], [data-testid="perturb-error"]').first().waitFor({ timeout: SLOW });
      assert.equal(await page.locator('[data-testid="perturb-error"]').count(), 0);
      const result = JSON.parse(await page.locator('[data-testid="sequence-json"]').textContent());
      assert.equal(result.backend, backend);
      assert.equal(result.perturbation, kind);
      assert.equal(result.frames.length, 10);
      assert.deepEqual(result.frames.map((f) => f.label), expected.frames.map((f) => f.label), 'decision per frame');
      result.frames.forEach((f, i) => assertClose(f.probs, expected.frames[i].probs, 1e-4, `frame ${i} probabilities`));
      assert.equal(result.flips, expected.flips);
      assert.equal(await page.locator('[data-testid="sequence"] figure').count(), 10);
      assert.match(await page.locator('[data-testid="sequence-summary"]').textContent(), new RegExp(`${expected.flips} of 9 frames flipped`));
      console.log(`# ${backend}: ${picked.s.id} under ${kind} seed ${seed}: ${result.flips} of 9 frames flipped, ` +
        `largest |Δp| vs native ${Math.max(...result.frames.flatMap((f, i) => f.probs.map((p, k) => Math.abs(p - expected.frames[i].probs[k])))).toExponential(2)}`);
      await page.locator('[data-testid="perturb-kind"]').selectOption('rotate');
      await page.locator('[data-testid="perturb-run"]').click();
      await page.locator('[data-testid="sequence-json"]', { hasText: '"rotate"' }).waitFor({ state: 'attached', timeout: SLOW });
      await page.locator('[data-testid="sequence"]').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, `page-perturbation-${backend}.png`), fullPage: true });
    });
  });
}

// Randomized smoothing's statistics, written again here from their definitions, to check the
// page's numbers independently of the core (which uses statrs).

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
function lnGamma(x) {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed term by term. */
function binomialUpperTail(k, n, p) {
  let total = 0;
  for (let j = k; j <= n; j++) {
    total += Math.exp(lnGamma(n + 1) - lnGamma(j + 1) - lnGamma(n - j + 1) + j * Math.log(p) + (n - j) * Math.log1p(-p));
  }
  return total;
}

/** The one-sided Clopper–Pearson lower bound: the p at which k or more of n has probability α. */
function clopperPearsonLower(k, n, alpha) {
  if (k === 0) return 0;
  let [lo, hi] = [0, 1];
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (binomialUpperTail(k, n, mid) < alpha) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Φ⁻¹(p): Acklam's rational approximation (relative error < 1.2e-9). */
function normalQuantile(p) {
  const a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
  const b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
  const c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
  const d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
  const tail = (q) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

test('the test\'s own Clopper–Pearson bound and normal quantile match known values', () => {
  // n of n: α^(1/n); Φ⁻¹(0.975) = 1.959964.
  assert.ok(Math.abs(clopperPearsonLower(100, 100, 0.001) - 0.001 ** 0.01) < 1e-9);
  assert.ok(Math.abs(clopperPearsonLower(1, 20, 0.01) - (1 - 0.99 ** (1 / 20))) < 1e-9);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.999) - 3.090232306167813) < 1e-8);
});

/** Clicks "Certify" and waits for that certificate or its error; returns the parsed record. */
async function runCertificate(page) {
  const previous = await page.locator('[data-testid="certify"]').getAttribute('data-run');
  await page.locator('[data-testid="certify-run"]').click();
  const done = `[data-testid="certify"]:not([data-run="${previous}"])`;
  await page.locator(`${done} [data-testid="certificate"], ${done} [data-testid="certify-error"]`).first().waitFor({ timeout: SLOW });
  const error = page.locator('[data-testid="certify-error"]');
  if (await error.count()) throw new Error(`the page reported: ${await error.textContent()}`);
  return JSON.parse(await page.locator('[data-testid="certify-json"]').textContent());
}

/** Checks a certificate's numbers against their definitions and against what the page shows. */
async function checkCertificate(page, cert, { n, n0, sigma, backend }) {
  const alpha = 0.001;
  assert.equal(cert.backend, backend);
  assert.equal(cert.n, n);
  assert.equal(cert.n0, n0);
  assert.equal(cert.sigma, sigma);
  assert.equal(cert.alpha, alpha);
  const sum = (xs) => xs.reduce((s, x) => s + x, 0);
  assert.equal(sum(cert.estimation.heads[0]), n, 'the estimation votes sum to n');
  assert.equal(sum(cert.selection.heads[0]), n0, 'the selection votes sum to n0');
  const head = cert.heads[0];
  const selection = cert.selection.heads[0];
  assert.equal(head.guess, selection.indexOf(Math.max(...selection)), 'the guess is the selection\'s most voted class');
  assert.equal(head.votes_for_guess, cert.estimation.heads[0][head.guess]);
  const pLower = clopperPearsonLower(head.votes_for_guess, n, alpha);
  assert.ok(Math.abs(head.p_lower - pLower) < 1e-7, `p̲_A ${head.p_lower} vs ${pLower} recomputed`);
  // What the page shows is the record's numbers.
  const bound = page.locator('[data-testid="certify-p-lower"]');
  assert.equal(Number(await bound.getAttribute('data-value')), head.p_lower);
  assert.match(await bound.textContent(), new RegExp(`p̲_A = ${head.p_lower.toFixed(4)}`));
  const bars = await page.locator('[data-testid="certify-votes"] .bar').evaluateAll((bs) => bs.map((b) => Number(b.dataset.votes)));
  assert.deepEqual(bars, cert.estimation.heads[0], 'one bar per class with its votes');
  const shown = page.locator('[data-testid="certify-decision"]');
  if (head.p_lower >= 0.5) {
    const radius = sigma * normalQuantile(head.p_lower);
    assert.ok(Math.abs(cert.radius - radius) < 1e-6, `R ${cert.radius} vs σ·Φ⁻¹(p̲_A) = ${radius}`);
    assert.equal(Number(await shown.getAttribute('data-radius')), cert.radius);
    assert.equal(cert.decision, cert.class_names[head.guess]);
    assert.match(await shown.textContent(), new RegExp(`Certified: ${cert.decision}, within R = ${cert.radius.toFixed(3)}`));
  } else {
    assert.equal(cert.radius, null);
    assert.equal(cert.decision, null);
    assert.match(await shown.textContent(), /Abstains: p̲_A = .* < ½/);
  }
  // The largest radius n copies allow, said on the page.
  const largest = sigma * normalQuantile(alpha ** (1 / n));
  assert.match(await page.locator('[data-testid="certify-largest"]').textContent(), new RegExp(`beyond R = ${largest.toFixed(3)}`));
  assert.ok(cert.radius === null || cert.radius <= largest + 1e-9, 'no certificate beyond the largest radius');
  assert.equal(await page.locator('[data-testid="certify-copy"] img').count(), 4, 'four noisy copies shown');
}

/** The ball drawing states inside / outside as the numbers say. */
async function checkBall(page, cert, eps) {
  const ball = page.locator('[data-testid="certify-ball"]');
  await ball.waitFor({ timeout: 10_000 });
  const delta = Number(await ball.getAttribute('data-delta'));
  const budget = Number(await ball.getAttribute('data-budget'));
  // The derm models take 64 × 64 RGB: d = 12 288.
  assert.ok(Math.abs(budget - (eps / 255) * Math.sqrt(3 * 64 * 64)) < 1e-9, `ε·√d = ${budget}`);
  assert.ok(delta <= budget + 1e-4, `‖δ‖₂ ${delta} within ε·√d ${budget}`);
  const words = await page.locator('[data-testid="certify-ball-words"]').textContent();
  const inside = await ball.getAttribute('data-inside');
  if (cert.radius === null) {
    assert.equal(inside, 'none');
    assert.match(words, /abstains/);
  } else {
    assert.equal(inside, String(delta < cert.radius));
    assert.match(words, delta < cert.radius ? /lies inside the certified ball/ : /lies outside the certified ball/);
    assert.match(words, budget < cert.radius ? /no attack of this ε can change/ : /does not cover every attack of this ε/);
  }
  assert.match(words, new RegExp(`‖δ‖₂ = ${delta.toFixed(3)}`));
  return { inside, delta };
}

/** `robustdx certify --image` on the CPU: the page's record, natively. */
function nativeCertificate(m, s, { sigma, n0, n, seed = 0 }) {
  const out = join(mkdtempSync(join(tmpdir(), 'robustdx-certify-')), 'certificate.json');
  execFileSync(process.env.ROBUSTDX_BIN, [
    '--backend', 'cpu', 'certify', '--model', join(ROOT, 'web', 'assets', m.file), '--image', join(ROOT, 'web', 'assets', s.file),
    '--sigma', String(sigma), '--n0', String(n0), '--n', String(n), '--seed', String(seed), '--json', out,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

/** The page's certificate against the native binary's: equal on the CPU fallback; on WebGPU the
 * decision equal and the votes within a few copies (float rounding can move a copy that sits at
 * the decision boundary). */
function assertNativeCertificate(cert, expected, backend) {
  assert.equal(cert.decision, expected.decision);
  assert.deepEqual(cert.class_names, expected.class_names);
  if (backend === 'cpu') {
    assert.deepEqual(cert.selection, expected.selection);
    assert.deepEqual(cert.estimation, expected.estimation);
    assert.deepEqual(cert.heads, expected.heads);
    assert.equal(cert.radius, expected.radius);
  } else {
    cert.estimation.heads[0].forEach((v, i) => assert.ok(Math.abs(v - expected.estimation.heads[0][i]) <= 3,
      `class ${i}: ${v} votes on WebGPU vs ${expected.estimation.heads[0][i]} natively on the CPU`));
  }
}

for (const backend of ['webgpu', 'cpu']) {
  test(`certify this image on ${backend}: votes, p̲_A and radius by their definitions, the ball against an attack`, { timeout: SLOW + 120_000 }, async () => {
    const n = 100;
    const n0 = backend === 'webgpu' ? 100 : 32;
    const sigma = 0.25;
    await withBrowser({ webgpu: backend === 'webgpu' }, server.origin, async ({ page }) => {
      await page.goto(`${server.origin}/?tab=attack`);
      assert.equal(await announcedBackend(page, SLOW), backend);
      await page.locator(`[data-testid="sample-${sample.id}"]`).click();
      // The backend's default n: 1 000 on WebGPU, 100 on the CPU fallback.
      assert.equal(await page.locator('[data-testid="certify-n"]').inputValue(), backend === 'webgpu' ? '1000' : '100');
      const sigmas = await page.locator('[data-testid="certify-sigma"] option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(sigmas, ['0.12', '0.25', '0.5', '1']);
      assert.equal(await page.locator('[data-testid="certify-sigma"]').inputValue(), '0.25');
      // Out of bounds: said, and nothing runs.
      await page.locator('[data-testid="certify-n"]').fill('5');
      assert.match(await page.locator('[data-testid="certify-plan"]').textContent(), /n must be 10 to 100000/);
      assert.ok(await page.locator('[data-testid="certify-run"]').isDisabled());
      await page.locator('[data-testid="certify-n"]').fill(String(n));
      const started = Date.now();
      const cert = await runCertificate(page);
      const seconds = (Date.now() - started) / 1000;
      await checkCertificate(page, cert, { n, n0, sigma, backend });
      assertNativeCertificate(cert, nativeCertificate(model, sample, { sigma, n0, n }), backend);
      console.log(`# ${backend}: ${sample.id} σ ${sigma} n0 ${n0} n ${n}: votes ${JSON.stringify(cert.estimation.heads[0])}, ` +
        `p̲_A ${cert.heads[0].p_lower.toFixed(4)}, R ${cert.radius}, ${seconds.toFixed(1)} s in the browser`);
      assert.equal(await page.locator('[data-testid="certify-ball-missing"]').count(), 1, 'no attack yet: no ball drawn');
      if (backend === 'cpu') {
        // The same seed gives the same votes (SwiftShader's WebGPU takes ~50 s a certificate).
        const again = await runCertificate(page);
        assert.deepEqual(again.estimation, cert.estimation);
        assert.deepEqual(again.selection, cert.selection);
      }

      // An attack on the same model and image: the ball is drawn against its change.
      await page.locator('[data-testid="attack"]').selectOption('pgd');
      await runAttack(page);
      const pgd = await checkBall(page, cert, EPS);
      // PGD at 8/255 moves nearly every value by ε: far outside any radius 100 copies allow.
      assert.equal(pgd.inside, cert.radius === null ? 'none' : 'false');
      // FGSM at ε = 1/255 on the same image: a change of ‖δ‖₂ ≤ 0.435.
      await page.locator('[data-testid="attack"]').selectOption('fgsm');
      await page.locator('[data-testid="eps"]').fill('1');
      await runAttack(page);
      const fgsm = await checkBall(page, cert, 1);
      console.log(`# ${backend}: PGD ε ${EPS} ‖δ‖₂ ${pgd.delta.toFixed(3)} (${pgd.inside}), FGSM ε 1 ‖δ‖₂ ${fgsm.delta.toFixed(3)} (${fgsm.inside}) against R ${cert.radius}`);
      await page.locator('[data-testid="certify"]').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, `page-certify-${backend}.png`), fullPage: true });
      await page.setViewportSize({ width: 360, height: 800 });
      await page.screenshot({ path: join(SHOTS, `page-certify-${backend}-phone.png`), fullPage: true });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than a 360 px phone`);
      await page.setViewportSize({ width: 1280, height: 1000 });
      if (backend === 'cpu') {
        // σ = 0.5 doubles every radius: the same FGSM change now lies inside the ball.
        await page.locator('[data-testid="certify-sigma"]').selectOption('0.5');
        const wider = await runCertificate(page);
        await checkCertificate(page, wider, { n, n0, sigma: 0.5, backend });
        const inside = await checkBall(page, wider, 1);
        console.log(`# cpu: σ 0.5: votes ${JSON.stringify(wider.estimation.heads[0])}, R ${wider.radius}, FGSM ε 1 ‖δ‖₂ ${inside.delta.toFixed(3)} (${inside.inside})`);
        assert.equal(inside.inside, 'true', 'FGSM at 1/255 lies inside the σ = 0.5 ball');
        // Any shipped model can be certified: the one trained with Gaussian noise for smoothing.
        const gaussian = manifest.models.find((m) => m.training === 'gaussian');
        assert.ok(gaussian, 'the page ships a Gaussian-trained model');
        await page.locator('[data-testid="model"]').selectOption(gaussian.id);
        await page.locator('[data-testid="certify-sigma"]').selectOption('0.25');
        const smoothed = await runCertificate(page);
        await checkCertificate(page, smoothed, { n, n0, sigma: 0.25, backend });
        assertNativeCertificate(smoothed, nativeCertificate(gaussian, sample, { sigma: 0.25, n0, n }), backend);
        assert.ok(smoothed.model.endsWith(gaussian.file));
        // That model's attack has not run yet: no ball drawn against another model's attack.
        assert.equal(await page.locator('[data-testid="certify-ball-missing"]').count(), 1);
        console.log(`# cpu: ${gaussian.id} σ 0.25: votes ${JSON.stringify(smoothed.estimation.heads[0])}, decision ${smoothed.decision}, R ${smoothed.radius}`);
        // A long certificate can be cancelled; a fresh worker runs the next one to its end.
        await page.locator('[data-testid="certify-n"]').fill('100000');
        await page.locator('[data-testid="certify-run"]').click();
        await page.locator('[data-testid="certify-progress"]').waitFor({ timeout: 60_000 });
        await page.locator('[data-testid="certify-cancel"]').click();
        assert.match(await page.locator('[data-testid="certify-error"]').textContent(), /Cancelled/);
        await announcedBackend(page, SLOW);
        await page.locator('[data-testid="certify-n"]').fill(String(n));
        assert.deepEqual((await runCertificate(page)).estimation, smoothed.estimation);
      }
    });
  });
}

// Robustness cards: the zoo's leaderboard, the card viewer and the card embed. Nothing here runs
// a model in the browser; the numbers are the card files'.
const zoo = manifest.cards ?? [];
const zooCard = (shipped) => JSON.parse(readFileSync(join(DIST, 'assets', shipped.file), 'utf8'));

/** The cells of `column` in the leaderboard table `table`, top to bottom. */
async function columnCells(table, column) {
  return table.locator('[data-testid="leaderboard-row"]').evaluateAll(
    (rows, c) => rows.map((r) => r.cells[c].textContent.trim()), column);
}

/** Fails when the page is wider than the window (a table that does not scroll on its own). */
async function assertNoOverflow(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what}: the page is ${overflow} px wider than the window`);
}

test('leaderboard tab: one row per zoo card, every column sorts by its numbers, a row opens its card', { timeout: 180_000 }, async () => {
  assert.ok(zoo.length >= 2, `the manifest ships ${zoo.length} cards; the leaderboard needs two to rank`);
  const cards = new Map(zoo.map((c) => [c.model, zooCard(c)]));
  await withBrowser({ webgpu: false }, server.origin, async ({ page, requests }) => {
    await page.goto(`${server.origin}/?tab=attack`);
    // The cards are fetched when the tab opens, not on a visit that never opens it.
    await announcedBackend(page, 60_000);
    assert.deepEqual(requests.filter((u) => u.includes('/assets/cards/')), []);
    await page.locator('[data-testid="tab-leaderboard"]').click();
    await page.locator('[data-testid="leaderboard-row"]').first().waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('[data-testid="leaderboard-error"]').count(), 0);
    assert.equal(await page.locator('[data-testid="leaderboard-row"]').count(), zoo.length);
    // One table per data fingerprint and level, never one ranking across them.
    const groups = new Set([...cards.values()].map((c) => `${c.provenance.data_fingerprint} ${c.level} ${c.battery_revision}`));
    assert.equal(await page.locator('[data-testid="leaderboard-table"]').count(), groups.size);

    // The biggest table: ranked 1, 2, … by robust accuracy at the budget its heading names.
    const tables = page.locator('[data-testid="leaderboard-table"]');
    let table = tables.first();
    for (let t = 0; t < groups.size; t++) {
      if (await tables.nth(t).locator('[data-testid="leaderboard-row"]').count() > await table.locator('[data-testid="leaderboard-row"]').count()) table = tables.nth(t);
    }
    const rows = table.locator('[data-testid="leaderboard-row"]');
    const models = await rows.evaluateAll((rs) => rs.map((r) => r.dataset.model));
    assert.ok(models.length >= 2, 'a table with at least two models to sort');
    assert.deepEqual(await columnCells(table, 0), models.map((_, i) => String(i + 1)));
    const head = await table.locator('th').allTextContents();
    const cleanColumn = head.indexOf('clean acc');
    assert.ok(cleanColumn > 0, `a clean accuracy column in ${head}`);
    const robust = (card, eps) => card.attacks.result.results.find((r) => r.attack === 'autoattack' && r.eps === eps);
    const budgets = head.map((h) => /^AA ε=(.+)\/255$/.exec(h)?.[1]).filter(Boolean).map(Number);
    const rankedAt = Math.max(...budgets.filter((e) => models.every((m) => robust(cards.get(m), e))));
    const robustAcc = (m) => robust(cards.get(m), rankedAt).metrics.accuracy;
    for (let i = 1; i < models.length; i++) {
      assert.ok(robustAcc(models[i - 1]) >= robustAcc(models[i]), `rank ${i} ${models[i - 1]} above ${models[i]} at ε ${rankedAt}`);
    }

    // Sorting by clean accuracy: the cards' own numbers, ascending, then descending.
    const sortButton = table.locator('th').nth(cleanColumn).locator('button');
    await sortButton.click();
    assert.equal(await table.locator('th').nth(cleanColumn).getAttribute('aria-sort'), 'ascending');
    const expected = models.map((m) => cards.get(m).clean.metrics.accuracy).sort((a, b) => a - b).map((v) => v.toFixed(3));
    assert.deepEqual(await columnCells(table, cleanColumn), expected);
    // From the keyboard too: the header is a button.
    await sortButton.focus();
    await page.keyboard.press('Enter');
    assert.equal(await table.locator('th').nth(cleanColumn).getAttribute('aria-sort'), 'descending');
    assert.equal(await table.locator('th').nth(0).getAttribute('aria-sort'), 'none');
    assert.deepEqual(await columnCells(table, cleanColumn), [...expected].reverse());
    // The rows moved whole: each row's model still has its own clean accuracy.
    const sorted = await rows.evaluateAll((rs) => rs.map((r) => r.dataset.model));
    assert.deepEqual(await columnCells(table, cleanColumn), sorted.map((m) => cards.get(m).clean.metrics.accuracy.toFixed(3)));
    // Every other column sorts by value: each numeric column, descending, never rises.
    for (const [c, name] of head.entries()) {
      if (!/^(AA|mean FP|rank)/.test(name)) continue;
      await table.locator('th').nth(c).locator('button').click();
      if (await table.locator('th').nth(c).getAttribute('aria-sort') === 'ascending') await table.locator('th').nth(c).locator('button').click();
      const values = (await columnCells(table, c)).filter((v) => v !== '–').map(Number);
      values.slice(1).forEach((v, i) => assert.ok(values[i] >= v, `${name} descending: ${values}`));
    }
    await page.screenshot({ path: join(SHOTS, 'page-leaderboard.png'), fullPage: true });

    // A row opens that model's card: its clean verdict is the file's.
    const chosen = sorted[sorted.length - 1];
    await table.locator(`[data-testid="leaderboard-row"][data-model="${chosen}"] button`).click();
    const view = page.locator('[data-testid="leaderboard-card"] [data-testid="card-view"]');
    await view.waitFor();
    assert.equal(await view.locator('[data-testid="card-clean-verdict"]').textContent(), cards.get(chosen).clean.verdict);
    assert.match(await view.locator('[data-testid="card-model"]').textContent(), new RegExp(cards.get(chosen).model.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await page.screenshot({ path: join(SHOTS, 'page-leaderboard-card.png'), fullPage: true });
    await page.setViewportSize({ width: 360, height: 800 });
    await assertNoOverflow(page, 'leaderboard with a card open at 360 px');
    await page.screenshot({ path: join(SHOTS, 'page-leaderboard-card-phone.png'), fullPage: true });
    await page.locator('.leaderboard-tab > h2').evaluate((e) => e.scrollIntoView());
    await page.screenshot({ path: join(SHOTS, 'page-leaderboard-phone.png') });
  });
});

test('card viewer: a card the native binary just wrote opens with its verdicts, tables and charts', { timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'robustdx-card-'));
  execFileSync(process.env.ROBUSTDX_BIN, [
    '--backend', 'cpu', 'card', '--level', 'quick', '--model', join(ROOT, 'web', 'assets', model.file),
    '--data', 'synth-derm:n=8,test=8', '--test-images', '4', '--out', out,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const file = join(out, 'card.json');
  const card = JSON.parse(readFileSync(file, 'utf8'));
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    await page.goto(`${server.origin}/?tab=attack`);
    await page.locator('[data-testid="tab-viewer"]').click();
    await page.locator('[data-testid="viewer-file"]').setInputFiles(file);
    const view = page.locator('[data-testid="card-view"]');
    await view.waitFor();
    assert.equal(await view.locator('[data-testid="card-clean-verdict"]').textContent(), card.clean.verdict);
    assert.equal(await view.locator('[data-testid="card-level"]').textContent(), 'quick');
    // The verdict box: every part's sentences, clean first.
    const verdicts = [card.clean.verdict, ...card.attacks.verdicts, ...card.benchmark.verdicts,
      ...(card.certification?.verdicts ?? []), ...card.inside.verdicts];
    assert.deepEqual(await view.locator('[data-testid="card-verdicts"] li').allTextContents(), verdicts);
    // One row per attack cell, with the file's robust accuracy; one per perturbation kind and the mean.
    const attackRows = view.locator('[data-testid="card-attacks"] tr');
    assert.equal(await attackRows.count(), 1 + card.attacks.result.results.length);
    for (const [i, r] of card.attacks.result.results.entries()) {
      assert.equal(await attackRows.nth(i + 1).locator('td').nth(2).textContent(), r.metrics.accuracy.toFixed(3));
    }
    assert.equal(await view.locator('[data-testid="card-benchmark"] tr').count(), 2 + card.benchmark.result.results.length);
    assert.equal(await view.locator('[data-testid="card-attack-chart"] svg').count(), 1);
    assert.equal(await view.locator('[data-testid="card-cams"] svg image').count(), 2 * card.cams.images.length);
    await view.locator('[data-testid="card-provenance"]', { hasText: card.model.sha256 }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'page-card-viewer.png'), fullPage: true });
    await page.setViewportSize({ width: 360, height: 800 });
    await assertNoOverflow(page, 'card viewer at 360 px');
    await page.screenshot({ path: join(SHOTS, 'page-card-viewer-phone.png'), fullPage: true });
    // Another robustdx result with a card's kind but another version: refused, naming the file.
    await page.locator('[data-testid="viewer-file"]').setInputFiles({
      name: 'future-card.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ ...card, schema_version: 99 })),
    });
    assert.match(await page.locator('[data-testid="viewer-error"]').textContent(), /future-card\.json.*schema version 99/);
  });
});

test('card embed: ?embed=card&src= shows a committed card\'s verdict and curve; a bad src is said', { timeout: 120_000 }, async () => {
  assert.ok(zoo.length >= 1, 'the manifest ships a card to embed');
  const card = zooCard(zoo[0]);
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    await page.goto(`${server.origin}/?embed=card&src=assets/${zoo[0].file}`);
    const embed = page.locator('[data-testid="card-embed"]');
    await embed.waitFor({ timeout: 60_000 });
    assert.equal(await embed.getAttribute('data-model'), card.model.file);
    assert.equal(await embed.getAttribute('data-level'), card.level);
    assert.equal(await embed.locator('[data-testid="card-verdicts"] li').first().textContent(), card.clean.verdict);
    assert.equal(await embed.locator('[data-testid="card-attack-chart"] svg').count(), 1);
    // Nothing is computed: no worker starts.
    assert.equal(await page.locator('[data-testid="backend"]').count(), 0);
    await page.screenshot({ path: join(SHOTS, 'page-card-embed.png'), fullPage: true });

    await page.goto(`${server.origin}/?embed=card&src=assets/cards/no-such-card.json`);
    assert.match(await page.locator('[data-testid="error"]').textContent({ timeout: 30_000 }), /no-such-card\.json.*404/);
    await page.goto(`${server.origin}/?embed=card&src=assets/${model.file}`);
    assert.match(await page.locator('[data-testid="error"]').textContent({ timeout: 30_000 }), /not JSON/);
    await page.goto(`${server.origin}/?embed=card`);
    assert.match(await page.locator('[data-testid="error"]').textContent({ timeout: 30_000 }), /needs src=URL/);
  });
});

// The Learn tab: the guided tour walked chapter by chapter on both backends, its numbers
// against the native binary, shared links, back / forward, presenter keys, axe-core, and
// screenshots of every chapter at phone, laptop and projector sizes.
const AXE = join(ROOT, 'web', 'tests', 'node_modules', 'axe-core', 'axe.min.js');
const SIZES = [['phone', 360, 740], ['laptop', 1280, 800], ['projector', 1920, 1080]];
const learn = (page, testid) => page.locator(`[data-testid="learn"] [data-testid="${testid}"]`);

/** `robustdx attack --image` on the CPU: one attack's record, the tour's reference. */
function nativeAttack(m, s, attack, eps, steps = 1) {
  const out = join(mkdtempSync(join(tmpdir(), 'robustdx-learn-')), 'attack.json');
  execFileSync(process.env.ROBUSTDX_BIN, [
    '--backend', 'cpu', 'attack', '--model', join(ROOT, 'web', 'assets', m.file),
    '--image', join(ROOT, 'web', 'assets', s.file), '--attack', attack, '--eps', String(eps),
    '--steps', String(steps), '--json', out,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

/** The record of the run shown in `scope` once it is finished at ε = `eps`. */
async function shownRecord(scope, eps) {
  const verdict = scope.locator(`[data-testid="verdict"]${eps === undefined ? '' : `[data-eps="${eps}"]`}, [data-testid="error"]`);
  await verdict.first().waitFor({ timeout: SLOW });
  const error = scope.locator('[data-testid="error"]');
  if (await error.count()) throw new Error(`the page reported: ${await error.first().textContent()}`);
  return JSON.parse(await scope.locator('[data-testid="report-json"]').first().textContent());
}

/** No serious or critical axe-core violation on the page as it is now. */
async function assertAccessible(page, what) {
  if (!await page.evaluate(() => 'axe' in window)) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => (await window.axe.run(document)).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`));
  assert.deepEqual(violations, [], `${what}: axe-core found serious or critical violations`);
}

/** Screenshots of the page as it is at the phone, laptop and projector sizes. */
async function shootSizes(page, name) {
  for (const [size, width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${size}: the page is ${overflow} px wider than the window`);
  }
  await page.setViewportSize({ width: 1280, height: 1000 });
}

for (const backend of ['webgpu', 'cpu']) {
  test(`learn: the whole tour on ${backend}, each chapter's numbers against the native binary`, { timeout: 2 * SLOW }, async () => {
    const defended = manifest.models.find((m) => m.training === 'pgd-at' && m.data === model.data);
    await withBrowser({ webgpu: backend === 'webgpu' }, server.origin, async ({ page }) => {
      // No tab in the address: the tour, chapter 1.
      await page.goto(`${server.origin}/`);
      assert.equal(await announcedBackend(page, SLOW), backend);
      const chapter = (n) => page.locator(`[data-testid="learn"][data-chapter="${n}"]`).waitFor({ timeout: 10_000 });
      const tolerance = backend === 'cpu' ? 1e-4 : 2e-3;
      const shoot = async (n) => {
        if (backend !== 'cpu') return;
        await assertAccessible(page, `chapter ${n}`);
        await shootSizes(page, `learn-${n}`);
      };

      // 1. The decision and its Grad-CAM.
      await chapter(1);
      const decision = await shownRecord(learn(page, 'chapter-view'));
      assert.match(await learn(page, 'verdict').textContent(), new RegExp(`The model says ${decision.clean.label}`));
      assert.equal(await learn(page, 'cam-clean').locator('img').count(), 1);
      assert.equal(await learn(page, 'adversarial-image').count(), 0, 'chapter 1 shows the clean decision only');
      const fgsm8 = nativeAttack(model, sample, 'fgsm', 8);
      assertClose(decision.clean.probs, fgsm8.clean.probs, tolerance, 'chapter 1: clean probabilities');
      await shoot(1);

      // 2. FGSM at the slider's ε; the arrow key walks there.
      await page.keyboard.press('ArrowRight');
      await chapter(2);
      assert.match(page.url(), /chapter=2/);
      let record = await shownRecord(learn(page, 'chapter-view'), 8);
      assert.equal(record.attack ?? record.settings.attack, 'fgsm');
      assert.equal(record.adversarial.label, fgsm8.adversarial.label);
      assertClose(record.adversarial.probs, fgsm8.adversarial.probs, tolerance, 'chapter 2 at ε 8: adversarial probabilities');
      // The slider moved: FGSM runs again at the new ε (while it moves on WebGPU, when let go on the CPU).
      await learn(page, 'learn-eps').fill('3');
      record = await shownRecord(learn(page, 'chapter-view'), 3);
      assert.match(page.url(), /eps=3/);
      const fgsm3 = nativeAttack(model, sample, 'fgsm', 3);
      assertClose(record.adversarial.probs, fgsm3.adversarial.probs, tolerance, 'chapter 2 at ε 3: adversarial probabilities');
      await learn(page, 'learn-eps').fill('8');
      await shownRecord(learn(page, 'chapter-view'), 8);
      await shoot(2);

      // 3. PGD step by step: the replay walks back, forward and plays to the end.
      await learn(page, 'chapter-next').click();
      await chapter(3);
      record = await shownRecord(learn(page, 'chapter-view'), 4);
      const pgd = nativeAttack(model, sample, 'pgd', 4, 10);
      assertClose(record.loss, pgd.loss, backend === 'cpu' ? 1e-3 : 2e-3 * Math.max(1, ...pgd.loss), 'chapter 3: loss per step');
      const step = async () => Number(await learn(page, 'replay-status').getAttribute('data-step'));
      assert.equal(await step(), 10);
      await learn(page, 'replay-back').click();
      assert.equal(await step(), 9);
      assert.equal(await learn(page, 'replay-chart').locator('circle, path').count() > 0, true);
      await learn(page, 'replay-step').click();
      assert.equal(await step(), 10);
      await learn(page, 'replay-play').click();
      await learn(page, 'replay-pause').waitFor({ timeout: 5_000 });
      await page.locator('[data-testid="learn"] [data-testid="replay-status"][data-step="10"]').waitFor({ timeout: 20_000 });
      assert.equal(await learn(page, 'replay-frame').count(), 1);
      await shoot(3);

      // 4. A perturbation sequence beside FGSM at 8/255.
      await learn(page, 'chapter-next').click();
      await chapter(4);
      record = await shownRecord(learn(page, 'chapter-view'), 8);
      assert.equal(record.adversarial.label, fgsm8.adversarial.label);
      await learn(page, 'sequence-summary').waitFor({ timeout: SLOW });
      assert.match(await learn(page, 'sequence-summary').textContent(), /of 9 frames flipped/);
      await shoot(4);

      // 5. The same PGD on the clean model and on the defended one.
      await learn(page, 'chapter-next').click();
      await chapter(5);
      const left = await shownRecord(learn(page, 'compare-left'), 2);
      const right = await shownRecord(learn(page, 'compare-right'), 2);
      assert.ok(left.model.endsWith(model.file) && right.model.endsWith(defended.file), `${left.model} beside ${right.model}`);
      const shownSample = manifest.samples.find((s) => left.image.endsWith(s.file));
      const [nativeLeft, nativeRight] = [model, defended].map((m) => nativeAttack(m, shownSample, 'pgd', 2, 10));
      assert.equal(left.adversarial.label, nativeLeft.adversarial.label);
      assert.equal(right.adversarial.label, nativeRight.adversarial.label);
      assert.ok(left.flipped && !right.flipped, 'the chapter opens on an image the clean model loses and the defended one keeps');
      await shoot(5);

      // 6. The certificate, run by its button.
      await learn(page, 'chapter-next').click();
      await chapter(6);
      // A certificate needs a model trained with noise: the chapter starts on one.
      assert.equal(await learn(page, 'learn-model').inputValue(), manifest.models.find((m) => m.training === 'gaussian').id);
      if (backend === 'cpu') {
        await learn(page, 'certify-run').click();
        await page.locator('[data-testid="learn"] [data-testid="certificate"], [data-testid="learn"] [data-testid="certify-error"]').first().waitFor({ timeout: SLOW });
        assert.equal(await learn(page, 'certify-error').count(), 0);
      }
      await shoot(6);
      // Walking back with the arrow key, and the colour scale for colour-blind viewers.
      await page.keyboard.press('ArrowLeft');
      await chapter(5);
      const turbo = await learn(page, 'compare-right').locator('[data-testid="outcome"]').getAttribute('data-run');
      await page.locator('[data-testid="colour-scale"]').selectOption('cividis');
      await page.locator(`[data-testid="learn"] [data-testid="compare-right"] [data-testid="outcome"]:not([data-run="${turbo}"]):not([data-run="0"]) [data-testid="verdict"]`).waitFor({ timeout: SLOW });
      assert.match(page.url(), /scale=cividis/);
      if (backend === 'cpu') await page.screenshot({ path: join(SHOTS, 'learn-5-cividis-laptop.png'), fullPage: true });
    });
  });
}

test('url: a shared link restores the same view and numbers; back and forward; presenter keys (CPU fallback)', { timeout: SLOW }, async () => {
  const other = manifest.samples.filter((s) => s.data === model.data).at(-1);
  const shared = `${server.origin}/?tab=learn&chapter=2&model=${model.id}&sample=${other.id}&eps=5`;
  await withBrowser({ webgpu: false }, server.origin, async ({ page }) => {
    await page.goto(shared);
    const first = await shownRecord(learn(page, 'chapter-view'), 5);
    assert.ok(first.image.endsWith(other.file), `${first.image} is the linked sample`);
    // A fresh page on the same link: the same view and the same numbers.
    const fresh = await page.context().newPage();
    await fresh.goto(shared);
    const again = await shownRecord(learn(fresh, 'chapter-view'), 5);
    assert.deepEqual(again.adversarial, first.adversarial);
    assert.deepEqual(again.loss, first.loss);
    assert.equal(await learn(fresh, 'learn-sample').inputValue(), other.id);
    assert.equal(await learn(fresh, 'learn-eps').inputValue(), '5');
    await fresh.close();

    // "Open in the lab" carries the chapter's settings; back returns to the chapter.
    await learn(page, 'open-lab').click();
    await page.locator('[data-testid="run"]').waitFor({ state: 'visible' });
    const lab = new URL(page.url()).searchParams;
    assert.equal(lab.get('tab'), 'attack');
    assert.equal(lab.get('eps'), '5');
    assert.equal(lab.get('sample'), other.id);
    assert.equal(await page.locator('[data-testid="eps"]').inputValue(), '5');
    assert.equal(await page.locator(`[data-testid="sample-${other.id}"].active`).count(), 1);
    // The lab's slider runs a one-step attack again once one has run (here when let go: CPU).
    await page.locator('[data-testid="run"]').click();
    await shownRecord(page.locator('[data-testid="outcome"]'), 5);
    await page.locator('[data-testid="eps"]').fill('6');
    const moved = await shownRecord(page.locator('[data-testid="outcome"]'), 6);
    assert.equal(moved.attack, 'fgsm');
    assert.match(page.url(), /eps=6/);
    await page.goBack();
    await page.locator('[data-testid="learn"][data-chapter="2"]').waitFor({ timeout: 10_000 });
    await page.goForward();
    await page.locator('[data-testid="run"]').waitFor({ state: 'visible' });
    assert.equal(await page.locator('[data-testid="learn"]').count(), 0);

    // A bad value in a link is said, and the rest of the link still applies.
    await page.goto(`${server.origin}/?tab=learn&chapter=2&eps=lots`);
    assert.match(await page.locator('[data-testid="link-problems"]').textContent(), /eps=lots: not a number/);
    await page.locator('[data-testid="learn"][data-chapter="2"]').waitFor();

    // Presenter mode from the link: large type; → walks, Space runs, Escape leaves.
    await page.goto(`${server.origin}/?chapter=1&present=1`);
    await shownRecord(learn(page, 'chapter-view'));
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('presenter')), true);
    const size = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
    assert.ok(size >= 20, `presenter type is ${size} px`);
    await page.keyboard.press('ArrowRight');
    await page.locator('[data-testid="learn"][data-chapter="2"]').waitFor({ timeout: 10_000 });
    await shownRecord(learn(page, 'chapter-view'), 8);
    const before = await learn(page, 'outcome').getAttribute('data-run');
    await page.keyboard.press('Space');
    await page.locator(`[data-testid="learn"] [data-testid="outcome"]:not([data-run="${before}"])`).waitFor({ timeout: 10_000 });
    await shownRecord(learn(page, 'chapter-view'), 8);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.screenshot({ path: join(SHOTS, 'learn-presenter-projector.png'), fullPage: true });
    await assertAccessible(page, 'presenter mode');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.documentElement.classList.contains('presenter'));
    assert.doesNotMatch(page.url(), /present=/);
  });
});
