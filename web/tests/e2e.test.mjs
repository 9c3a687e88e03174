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
  const next = Number(await outcome.getAttribute('data-run')) + 1;
  await page.locator('[data-testid="run"]').click();
  const done = `[data-testid="outcome"][data-run="${next}"]`;
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
    await page.goto(`${server.origin}/`);
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
    await page.goto(`${server.origin}/`);
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
    await page.goto(`${server.origin}/`);
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
    await page.goto(`${server.origin}/`);
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
    await page.goto(`${server.origin}/`);
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
      await page.goto(`${server.origin}/`);
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
