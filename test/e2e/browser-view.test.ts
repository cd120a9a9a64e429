/**
 * The data viewer (src/web/view) in a real Chromium (test/helpers/chromium.ts): the viewer is bundled
 * for the test with esbuild, served with the uPlot and viewer stylesheets by a tiny local HTTP server
 * whose every answer carries `Content-Security-Policy: default-src 'self'`, and fed real `.npz` files made
 * by our datasets:
 *
 * - a spectrum with two known tones (a synthetic scene whose seed places two tones): the plotted line's
 *   highest point is at the stronger tone's x, the weaker one stands out at its own x; the cursor readout
 *   names the tone's frequency; dragging across zooms in (and the peak is then where the new scale puts it);
 * - a signal of one tone: I and Q drawn, the constellation's points form a ring (one radius, all angles),
 *   the signal's spectrum peaks at the tone;
 * - a spectrogram: the waterfall's brightness, column by column, follows the data's power;
 * - the meta tables show the parameters; hostile metadata is shown as text; damaged files show an error
 *   with the code, and nothing is drawn.
 *
 * No CSP violation is reported (a planted one proves the listener hears them). Screenshots of each view
 * go to the test's output folder (`SDRLINK_TEST_OUTPUT/browser-view` when set, else its temporary folder).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { zipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { createDefaultDatasets, type Dataset as DatasetModule } from '../../src/datasets/index.js';
import { encodeUnicodeArray, npyHeader } from '../../src/datasets/npy-header.js';
import { placeEmitters } from '../../src/datasets/scene.js';
import { dbRange } from '../../src/web/view/dsp.js';
import { readDataset } from '../../src/web/view/npz.js';
import { readZip } from '../../src/web/view/zip.js';
import {
  isBlue,
  isOrange,
  pixels,
  topOfLine,
  xAt,
  xRange,
  type PageWindow as CanvasWindow,
} from '../helpers/canvas.js';
import { chromiumSkip, launchChromium, type Chromium } from '../helpers/chromium.js';
import { repoPath } from '../helpers/numpy.js';

/** The page of this test: the viewer's hooks besides the DOM shapes the helpers use. */
interface PageWindow extends CanvasWindow {
  sdrlinkView?: (name: string) => Promise<string>;
  sdrlinkViolations: string[];
  __pwned?: number;
}

const CSP = "default-src 'self'";
const SPAN = { frequency_start: 100e6, frequency_end: 102e6, sample_rate: 1e6 };
const TONE = {
  frequency: 433.9234e6,
  center_frequency: 433.9e6,
  sample_rate: 200e3,
  duration: 0.05,
  amplitude: 0.8,
};
const HOSTILE = '<img src=x onerror="window.__pwned = 1">';

/** The first seed whose scene of two emitters over SPAN is two tones (so the spectrum's peaks are known). */
function twoToneSeed(): number {
  for (let seed = 0; seed < 1000; seed++) {
    const e = placeEmitters(seed, SPAN.frequency_start, SPAN.frequency_end, 2, SPAN.sample_rate);
    if (e.every((x) => x.kind === 'tone') && Math.abs((e[0]?.power_db ?? 0) - (e[1]?.power_db ?? 0)) > 3)
      return seed;
  }
  throw new Error('no seed places two tones');
}

async function generate(dir: string, type: string, params: Record<string, unknown>): Promise<string> {
  const ds = createDefaultDatasets().get(type) as DatasetModule;
  const p = ds.validate(params);
  const name = ds.fileName(p);
  await ds.generate(p, join(dir, name));
  return name;
}

/** The viewer and a test hook, bundled for the browser (no inline script: the CSP forbids it). */
async function bundle(): Promise<string> {
  const out = await build({
    stdin: {
      contents: `
import { showDataset } from './index.ts';
const violations = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI));
window.sdrlinkViolations = violations;
window.sdrlinkView = async (name) => {
  const res = await fetch('/files/' + encodeURIComponent(name));
  const bytes = new Uint8Array(await res.arrayBuffer());
  const root = document.getElementById('view');
  showDataset(root, name, bytes);
  return root.dataset.viewState;
};`,
      resolveDir: repoPath('src/web/view'),
      sourcefile: 'view-test-entry.ts',
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]?.text ?? '';
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>sdrlink viewer test</title>
<link rel="stylesheet" href="/uPlot.min.css"><link rel="stylesheet" href="/view.css">
<script type="module" src="/view.js"></script></head>
<body><main id="view" style-free></main></body></html>`;

async function startPageServer(
  js: string,
  filesDir: string,
): Promise<{ origin: string; close(): Promise<void> }> {
  const assets: Record<string, [string, () => Promise<Buffer | string>]> = {
    '/': ['text/html; charset=utf-8', async () => PAGE],
    '/view.js': ['text/javascript', async () => js],
    '/uPlot.min.css': ['text/css', () => readFile(repoPath('node_modules/uplot/dist/uPlot.min.css'))],
    '/view.css': ['text/css', () => readFile(repoPath('src/web/view/view.css'))],
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, type: string, body: Buffer | string) => {
      res.writeHead(status, { 'content-type': type, 'content-security-policy': CSP });
      res.end(body);
    };
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    const asset = assets[url.pathname];
    const file = /^\/files\/([\w.-]+)$/.exec(url.pathname)?.[1];
    const answer = asset
      ? asset[1]().then((body) => send(200, asset[0], body))
      : file !== undefined
        ? readFile(join(filesDir, file)).then((body) => send(200, 'application/octet-stream', body))
        : Promise.resolve(send(404, 'text/plain', 'not found'));
    answer.catch(() => send(404, 'text/plain', 'not found'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function pearson(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += ((a[i] as number) - ma) * ((b[i] as number) - mb);
    saa += ((a[i] as number) - ma) ** 2;
    sbb += ((b[i] as number) - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('the data viewer in Chromium, under a strict CSP', { skip: chromiumSkip() }, () => {
  let dir: string;
  let shots: string;
  let browser: Chromium;
  let page: Page;
  let site: { origin: string; close(): Promise<void> };
  const consoleErrors: string[] = [];
  const names: Record<string, string> = {};
  let tones: Array<{ frequency: number; power_db: number }>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-browser-view-'));
    shots = process.env['SDRLINK_TEST_OUTPUT']
      ? join(process.env['SDRLINK_TEST_OUTPUT'], 'browser-view')
      : join(dir, 'screenshots');
    await mkdir(shots, { recursive: true });
    const seed = twoToneSeed();
    tones = placeEmitters(seed, SPAN.frequency_start, SPAN.frequency_end, 2, SPAN.sample_rate);
    names['spectrum'] = await generate(dir, 'spectrum', {
      ...SPAN,
      fft_size: 1024,
      averages: 8,
      emitters: 2,
      seed,
    });
    names['signal'] = await generate(dir, 'signal', TONE);
    names['sigmf'] = await generate(dir, 'signal', { ...TONE, format: 'sigmf' });
    names['spectrogram'] = await generate(dir, 'spectrogram', {
      frequency_start: 100e6,
      frequency_end: 101e6,
      sample_rate: 2e6,
      duration: 0.2,
      fft_size: 256,
      time_resolution: 0.004,
      emitters: 3,
      seed: 7,
    });
    const spectrum = new Uint8Array(await readFile(join(dir, names['spectrum'])));
    names['truncated'] = 'truncated.npz';
    await writeFile(join(dir, names['truncated']), spectrum.subarray(0, Math.floor(spectrum.length * 0.6)));
    // The same spectrum with hostile metadata (a key and a value that are HTML), rebuilt as a valid archive.
    const entries: Record<string, Uint8Array> = {};
    for (const e of readZip(spectrum)) entries[e.name] = e.data.slice();
    const meta = encodeUnicodeArray([
      JSON.stringify({
        global: { [HOSTILE]: HOSTILE, 'core:description': HOSTILE },
        captures: [{ [HOSTILE]: 1 }],
        annotations: [],
      }),
    ]);
    const header = npyHeader({ descr: meta.descr, shape: [] });
    entries['meta.npy'] = new Uint8Array([...header, ...meta.data]);
    names['hostile'] = 'hostile.npz';
    await writeFile(join(dir, names['hostile']), zipSync(entries, { level: 6 }));
    // The same spectrum with NaN and infinite powers (data a provider may send; drawn as gaps).
    const power = readDataset(spectrum);
    assert.ok(power.kind === 'spectrum');
    const holes = Float32Array.from(power.powerDb);
    holes.fill(Number.NaN, 100, 140);
    holes[300] = Number.POSITIVE_INFINITY;
    holes[301] = Number.NEGATIVE_INFINITY;
    entries['power_db.npy'] = new Uint8Array([
      ...npyHeader({ descr: '<f4', shape: [holes.length] }),
      ...new Uint8Array(holes.buffer),
    ]);
    names['holes'] = 'holes.npz';
    await writeFile(join(dir, names['holes']), zipSync(entries, { level: 0 }));
    // An array of a dtype the viewer refuses (big-endian float), in an otherwise valid archive.
    entries['power_db.npy'] = new Uint8Array([
      ...npyHeader({ descr: '>f4', shape: [4] }),
      ...new Uint8Array(16),
    ]);
    names['dtype'] = 'bigendian.npz';
    await writeFile(join(dir, names['dtype']), zipSync(entries, { level: 0 }));

    site = await startPageServer(await bundle(), dir);
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.setViewportSize({ width: 1000, height: 900 });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(`${site.origin}/`);
    await page.waitForFunction(() => typeof (globalThis as unknown as PageWindow).sdrlinkView === 'function');
  });

  after(async () => {
    await browser?.close();
    await site?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const show = (name: string): Promise<string> =>
    page.evaluate((n) => (globalThis as unknown as Required<PageWindow>).sdrlinkView(n), name);

  it('spectrum: the line peaks at the known tones; cursor readout; drag to zoom', async (t) => {
    assert.equal(await show(names['spectrum'] as string), 'ready');
    await page.locator('#view').screenshot({ path: join(shots, 'spectrum.png') });
    const d = readDataset(new Uint8Array(await readFile(join(dir, names['spectrum'] as string))));
    assert.equal(d.kind, 'spectrum');
    const [min, max] = await xRange(page, '.sdv-spectrum');
    assert.ok(
      Math.abs(min - (d.kind === 'spectrum' ? (d.frequencies[0] as number) : 0) / 1e6) < 1e-6,
      `x from ${min} MHz`,
    );
    const p = await pixels(page, '.sdv-spectrum');
    const tops = topOfLine(p);
    const drawn = tops.filter((y) => Number.isFinite(y)).length;
    assert.ok(drawn > 0.95 * tops.length, `the line covers ${drawn} of ${tops.length} columns`);
    const strong = tones[0]!.power_db > tones[1]!.power_db ? tones[0]! : tones[1]!;
    const weak = strong === tones[0] ? tones[1]! : tones[0]!;
    const peakX = tops.indexOf(Math.min(...tops));
    const strongX = xAt(p, strong.frequency / 1e6, min, max);
    t.diagnostic(`peak drawn at x=${peakX}, the ${strong.frequency} Hz tone is at x=${strongX.toFixed(1)}`);
    assert.ok(Math.abs(peakX - strongX) <= 3, `highest point at x=${peakX}, the stronger tone at ${strongX}`);
    // The weaker tone: a peak at its own x well above the median height of the line (the noise floor).
    const weakX = Math.round(xAt(p, weak.frequency / 1e6, min, max));
    const near = Math.min(...tops.slice(Math.max(0, weakX - 3), weakX + 4));
    const median = [...tops].sort((a, b) => a - b)[Math.floor(tops.length / 2)] as number;
    assert.ok(near < median - 0.2 * p.box.height, `weaker tone at x=${weakX}: top ${near}, median ${median}`);

    // The cursor over the stronger tone reads out its frequency.
    const over = page.locator('.sdv-spectrum .u-over');
    const box = await over.boundingBox();
    assert.ok(box !== null);
    // Canvas pixels → CSS pixels (1 unless the device pixel ratio says otherwise).
    const css = box.width / p.box.width;
    await page.mouse.move(box.x + strongX * css, box.y + box.height / 2);
    const readout = (await page.locator('.sdv-spectrum .sdv-readout').textContent()) ?? '';
    const f = Number(/frequency ([\d.]+) MHz/.exec(readout)?.[1]);
    const mhzPerPx = (max - min) / p.box.width;
    assert.ok(Math.abs(f - strong.frequency / 1e6) <= 2 * mhzPerPx, `readout "${readout}"`);
    assert.match(readout, /power -?[\d.]+ dBFS\/Hz/);

    // Drag across ±30 px around the tone: the x scale narrows to about that, and the peak follows.
    await page.mouse.move(box.x + (strongX - 30) * css, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + (strongX + 30) * css, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const [zmin, zmax] = await xRange(page, '.sdv-spectrum');
    t.diagnostic(`zoomed to ${zmin} … ${zmax} MHz`);
    assert.ok(zmax - zmin < ((max - min) * 80) / p.box.width, `zoomed range ${zmin} … ${zmax}`);
    assert.ok(zmin < strong.frequency / 1e6 && strong.frequency / 1e6 < zmax);
    const zp = await pixels(page, '.sdv-spectrum');
    const ztops = topOfLine(zp);
    const zpeak = ztops.indexOf(Math.min(...ztops));
    const zx = xAt(
      zp,
      d.kind === 'spectrum'
        ? (d.frequencies[argmaxNear(d.frequencies, d.powerDb, strong.frequency)] as number) / 1e6
        : 0,
      zmin,
      zmax,
    );
    assert.ok(Math.abs(zpeak - zx) <= 4, `zoomed peak at ${zpeak}, its bin at ${zx}`);
    await page.locator('#view').screenshot({ path: join(shots, 'spectrum-zoomed.png') });
  });

  it('spectrum: the meta table shows the parameters', async () => {
    await show(names['spectrum'] as string);
    const row = page.locator('.sdv-meta-block[data-meta-part="global"] tr', { hasText: 'sdrlink:fft_size' });
    assert.equal(await row.locator('td').textContent(), '1024');
    const params =
      (await page
        .locator('.sdv-meta-block[data-meta-part="global"] tr', { hasText: 'sdrlink:parameters' })
        .locator('td')
        .textContent()) ?? '';
    assert.match(params, /"frequency_start":100000000/);
    assert.match(params, /"emitters":2/);
  });

  it('signal: I/Q drawn, the constellation of a tone is a ring, its spectrum peaks at the tone', async (t) => {
    assert.equal(await show(names['signal'] as string), 'ready');
    await page.locator('#view').screenshot({ path: join(shots, 'signal.png') });
    const iq = await pixels(page, '.sdv-iq');
    let blue = 0;
    let orange = 0;
    for (let y = 0; y < iq.height; y++) {
      for (let x = 0; x < iq.width; x++) {
        if (isBlue(iq, x, y)) blue++;
        if (isOrange(iq, x, y)) orange++;
      }
    }
    assert.ok(blue > 500 && orange > 500, `I: ${blue} px, Q: ${orange} px`);
    // It opens on the first 500 samples (in ms), where single periods of the tone can be seen.
    const [t0, t1] = await xRange(page, '.sdv-iq');
    assert.equal(t0, 0);
    assert.ok(Math.abs(t1 - (499 / TONE.sample_rate) * 1e3) < 1e-9, `I/Q opens on 0 … ${t1} ms`);

    const c = await pixels(page, '.sdv-constellation');
    const mid = c.width / 2;
    const radii: number[] = [];
    const sectors = new Set<number>();
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        if (!isBlue(c, x, y)) continue;
        radii.push(Math.hypot(x + 0.5 - mid, y + 0.5 - mid));
        sectors.add(Math.floor(((Math.atan2(mid - y, x - mid) + Math.PI) / (2 * Math.PI)) * 72) % 72);
      }
    }
    const mean = radii.reduce((s, r) => s + r, 0) / radii.length;
    const sd = Math.sqrt(radii.reduce((s, r) => s + (r - mean) ** 2, 0) / radii.length);
    t.diagnostic(
      `constellation: ${radii.length} px, radius ${mean.toFixed(1)} ± ${sd.toFixed(2)}, ${sectors.size}/72 sectors`,
    );
    assert.ok(radii.length > 300, `${radii.length} points drawn`);
    assert.ok(sd / mean < 0.03, `a ring has one radius: ${mean} ± ${sd}`);
    assert.ok(sectors.size >= 70, `a tone's phase takes every angle: ${sectors.size} of 72 sectors`);
    // Amplitude 0.8, scale ±1.1·0.8: the ring's radius is (mid − 4)/1.1.
    assert.ok(Math.abs(mean - (mid - 4) / 1.1) < 2, `radius ${mean}`);

    const s = await pixels(page, '.sdv-signal-spectrum');
    const [min, max] = await xRange(page, '.sdv-signal-spectrum');
    const tops = topOfLine(s);
    const peakX = tops.indexOf(Math.min(...tops));
    const toneX = xAt(s, TONE.frequency / 1e6, min, max);
    assert.ok(Math.abs(peakX - toneX) <= 3, `signal spectrum peaks at x=${peakX}, the tone is at ${toneX}`);
    const rate = await page
      .locator('.sdv-meta-block[data-meta-part="global"] tr', { hasText: 'core:sample_rate' })
      .locator('td')
      .textContent();
    assert.equal(rate, String(TONE.sample_rate));
    const freq = await page.locator('.sdv-meta-block[data-meta-part="captures"] td').nth(2).textContent();
    assert.equal(freq, String(TONE.center_frequency));
    assert.equal(
      await page.locator('.sdv-meta-block[data-meta-part="annotations"] td', { hasText: /^tone$/ }).count(),
      1,
    );
  });

  it('signal as a SigMF Archive: the same views', async () => {
    assert.equal(await show(names['sigmf'] as string), 'ready');
    assert.equal(await page.locator('#view').getAttribute('data-view-kind'), 'signal');
    assert.equal(await page.locator('#view .sdv-constellation canvas').count(), 1);
    const s = await pixels(page, '.sdv-signal-spectrum');
    const [min, max] = await xRange(page, '.sdv-signal-spectrum');
    const tops = topOfLine(s);
    const peakX = tops.indexOf(Math.min(...tops));
    assert.ok(Math.abs(peakX - xAt(s, TONE.frequency / 1e6, min, max)) <= 3, `peak at x=${peakX}`);
    const datatype = page.locator('.sdv-meta-block[data-meta-part="global"] tr', {
      hasText: 'core:datatype',
    });
    assert.equal(await datatype.locator('td').textContent(), 'cf32_le');
  });

  it('spectrogram: the waterfall follows the power, column by column', async (t) => {
    assert.equal(await show(names['spectrogram'] as string), 'ready');
    await page.locator('#view').screenshot({ path: join(shots, 'spectrogram.png') });
    const d = readDataset(new Uint8Array(await readFile(join(dir, names['spectrogram'] as string))));
    assert.ok(d.kind === 'spectrogram');
    const p = await pixels(page, '.sdv-waterfall');
    const { lo, hi } = dbRange(d.powerDb);
    const width = Math.round(p.box.width);
    const drawn: number[] = [];
    const expected: number[] = [];
    for (let x = 0; x < width; x++) {
      let g = 0;
      for (let y = 0; y < p.box.height; y++)
        g += p.data[((p.box.top + y) * p.width + p.box.left + x) * 4 + 1] as number;
      drawn.push(g);
      const j = Math.min(d.bins - 1, Math.floor(((x + 0.5) / width) * d.bins));
      let s = 0;
      for (let r = 0; r < d.rows; r++)
        s += Math.min(1, Math.max(0, ((d.powerDb[r * d.bins + j] as number) - lo) / (hi - lo)));
      expected.push(s);
    }
    const rho = pearson(drawn, expected);
    t.diagnostic(
      `waterfall ${d.rows} × ${d.bins} drawn ${width} px wide; correlation with the data ${rho.toFixed(3)}`,
    );
    assert.ok(rho > 0.9, `the drawn brightness follows the power: r = ${rho}`);
    assert.ok(Math.max(...drawn) > 2 * Math.min(...drawn), 'not a flat image');
    // Rows too: where an emitter comes and goes, the brightness over time follows the power.
    const rowsDrawn: number[] = [];
    const rowsExpected: number[] = [];
    for (let y = 0; y < p.box.height; y++) {
      let g = 0;
      for (let x = 0; x < width; x++)
        g += p.data[((p.box.top + y) * p.width + p.box.left + x) * 4 + 1] as number;
      rowsDrawn.push(g);
      const r = Math.min(d.rows - 1, Math.floor(((y + 0.5) / p.box.height) * d.rows));
      let s = 0;
      for (let j = 0; j < d.bins; j++)
        s += Math.min(1, Math.max(0, ((d.powerDb[r * d.bins + j] as number) - lo) / (hi - lo)));
      rowsExpected.push(s);
    }
    const rhoRows = pearson(rowsDrawn, rowsExpected);
    t.diagnostic(`row correlation ${rhoRows.toFixed(3)}`);
    assert.ok(rhoRows > 0.9, `rows follow the power: r = ${rhoRows}`);
  });

  it('hostile metadata is shown as text, never as HTML', async () => {
    assert.equal(await show(names['hostile'] as string), 'ready');
    assert.equal(await page.locator('#view img').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).__pwned), undefined);
    assert.equal(
      await page.locator('.sdv-meta-block[data-meta-part="global"] th', { hasText: HOSTILE }).count(),
      1,
    );
    assert.equal(
      await page.locator('.sdv-meta-block[data-meta-part="global"] td', { hasText: HOSTILE }).count(),
      2,
    );
  });

  it("NaN and infinite powers: drawn with gaps, on the finite values' scale", async () => {
    assert.equal(await show(names['holes'] as string), 'ready');
    const p = await pixels(page, '.sdv-spectrum');
    const tops = topOfLine(p);
    const [min, max] = await xRange(page, '.sdv-spectrum');
    assert.ok(Number.isFinite(min) && Number.isFinite(max));
    const d = readDataset(new Uint8Array(await readFile(join(dir, names['holes'] as string))));
    assert.ok(d.kind === 'spectrum');
    // Columns well inside the NaN run are empty; the rest of the line is drawn.
    const x0 = Math.ceil(xAt(p, (d.frequencies[103] as number) / 1e6, min, max));
    const x1 = Math.floor(xAt(p, (d.frequencies[136] as number) / 1e6, min, max));
    assert.ok(x1 > x0 + 5);
    for (let x = x0; x <= x1; x++) assert.equal(tops[x], Infinity, `column ${x} in the gap`);
    const drawn = tops.filter((y) => Number.isFinite(y)).length;
    assert.ok(drawn > 0.9 * tops.length, `${drawn} of ${tops.length} columns drawn`);
  });

  it('damaged files: an error with the code, and nothing drawn', async () => {
    for (const [name, code] of [
      [names['truncated'], 'ERR_VIEW_ZIP'],
      [names['dtype'], 'ERR_VIEW_DTYPE'],
    ] as const) {
      assert.equal(await show(name as string), 'error');
      assert.equal(await page.locator('#view').getAttribute('data-view-error'), code);
      assert.equal(await page.locator('#view .sdv-error code').textContent(), code);
      assert.equal(await page.locator('#view canvas').count(), 0);
      assert.equal(await page.locator('#view .sdv-error').getAttribute('role'), 'alert');
    }
    await page.locator('#view').screenshot({ path: join(shots, 'error.png') });
  });

  it('no Content-Security-Policy violation, no console error (a planted violation is heard)', async (t) => {
    const violations = (): Promise<string[]> =>
      page.evaluate(() => [...(globalThis as unknown as PageWindow).sdrlinkViolations]);
    assert.deepEqual(await violations(), []);
    assert.deepEqual(consoleErrors, []);
    await page.evaluate(() => {
      const { document } = globalThis as unknown as PageWindow;
      const s = document.createElement('style');
      s.textContent = 'body { color: red }';
      document.head.appendChild(s);
    });
    await page.waitForFunction(() => (globalThis as unknown as PageWindow).sdrlinkViolations.length > 0);
    const v = await violations();
    assert.match(v[0] ?? '', /^style-src/);
    t.diagnostic(`screenshots in ${shots}`);
  });
});

/** Index of the largest power within ±3 bins of `f` (the drawn peak of a tone). */
function argmaxNear(freqs: Float64Array, power: ArrayLike<number>, f: number): number {
  let best = 0;
  let bestD = Infinity;
  freqs.forEach((x, j) => {
    if (Math.abs(x - f) < bestD) {
      bestD = Math.abs(x - f);
      best = j;
    }
  });
  let peak = best;
  for (let j = Math.max(0, best - 3); j <= Math.min(freqs.length - 1, best + 3); j++) {
    if ((power[j] as number) > (power[peak] as number)) peak = j;
  }
  return peak;
}
