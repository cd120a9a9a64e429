/**
 * The browser client (src/web/, README "In a browser") in a real Chromium (test/helpers/chromium.ts)
 * against a real `sdrlink server` process and real `sdrlink provide` processes: the page the server
 * serves at `/` under its Content-Security-Policy, sign-in (a refusal shows the server's code), what is on
 * offer, a request form checked before sending, and transfers received by the browser's own WebRTC stack
 * (libwebrtc) from the provider's (libdatachannel) through src/protocol bundled into the page — verified
 * (the sha256 the page shows and the file it saves equal the provider's), over the WebSocket relay when
 * asked, and refused with its code when the provider corrupts a frame. Each view is screenshot into the
 * test's temporary folder, or `$SDRLINK_TEST_OUTPUT/browser/` (kept) when set — each path printed as a
 * diagnostic; `SDRLINK_DOCS_SCREENSHOT=1` also writes the spectrum view to docs/img/browser-spectrum.png.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import {
  createTransferFixture,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { readDataset } from '../../src/web/view/npz.js';
import { isBlue, pixels, topOfLine, xAt, xRange } from '../helpers/canvas.js';
import { chromiumSkip, launchChromium, type Chromium } from '../helpers/chromium.js';
import { runRequestProcess } from '../helpers/agents.js';
import { api, registerUser } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SPECTRUM = { frequency_start: '100e6', frequency_end: '102e6', sample_rate: '2e6' };

describe('the browser client in Chromium', { skip: chromiumSkip() }, () => {
  let fx: TransferFixture;
  let browser: Chromium;
  let page: Page;
  let shots: string;
  let good: ProviderProcess;
  let bad: ProviderProcess;
  let dropping: ProviderProcess;
  /** What the page reported as errors on its console. */
  const consoleErrors: string[] = [];

  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-1', consumer: 'alice' });
    const keep = process.env['SDRLINK_TEST_OUTPUT'];
    shots = keep !== undefined && keep !== '' ? join(keep, 'browser') : await fx.fresh('screenshots');
    await mkdir(shots, { recursive: true });
    good = await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('p1'),
      args: ['--recordings', join(ROOT, 'test/fixtures/sigmf')],
    });
    const badToken = (
      await registerUser(fx.srv.url, { username: 'radio-bad', password: 'provider-pass', client_type: 1 })
    ).token;
    bad = await startProviderProcess({
      url: fx.srv.url,
      token: badToken,
      dataDir: await fx.fresh('p2'),
      env: { SDRLINK_FAULT_CORRUPT_FRAME: '2' },
    });
    const dropToken = (
      await registerUser(fx.srv.url, { username: 'radio-drop', password: 'provider-pass', client_type: 1 })
    ).token;
    dropping = await startProviderProcess({
      url: fx.srv.url,
      token: dropToken,
      dataDir: await fx.fresh('p3'),
      env: { SDRLINK_FAULT_DROP_P2P_AFTER: String(3 * 1024 * 1024) },
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    // the page's own CSP reports (the test tsconfig has no DOM types: scripts as text)
    await page.addInitScript(
      "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    );
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await Promise.all([good?.stop(), bad?.stop(), dropping?.stop()]);
    await fx?.close();
  });

  /**
   * Waits until `expr` (page JavaScript, as text) is true. Polled from here: Playwright's waitForFunction
   * evaluates its predicate with eval, which the page's CSP refuses (and reports).
   */
  const waitUntil = async (expr: string, timeoutMs = 90_000) => {
    const until = Date.now() + timeoutMs;
    while (!(await page.evaluate<boolean>(expr))) {
      if (Date.now() > until) {
        const said = await page.evaluate<string>(
          "document.getElementById('transfer-status').textContent + ' | ' + document.getElementById('transfer-error').textContent + ' | ' + document.getElementById('transfer-rate').textContent",
        );
        throw new Error(`not true within ${timeoutMs} ms: ${expr} (the page says: ${said})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  /** The viewer (src/web/view/) drew the file: `kind` when it says what it drew (the built viewer does). */
  const viewed = async (kind: string) => {
    await page.waitForSelector('#viewer-view:not([hidden]) #viewer > *');
    const state = await page.getAttribute('#viewer', 'data-view-state');
    assert.equal(state, 'ready', (await page.textContent('#viewer')) ?? '');
    assert.equal(await page.getAttribute('#viewer', 'data-view-kind'), kind);
  };

  const shot = async (t: TestContext, name: string) => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    t.diagnostic(`screenshot: ${path}`);
    return path;
  };

  it('serves the page at / with a strict CSP, every asset from the server', async () => {
    const res = await page.goto(fx.srv.url + '/', { timeout: 15_000 });
    assert.equal(res?.status(), 200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline script, no eval');
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.waitForSelector('body[data-ready="true"]');
    for (const asset of ['/app.js', '/style.css', '/app.css']) {
      const r = await fetch(fx.srv.url + asset);
      assert.equal(r.status, 200, asset);
      assert.equal(r.headers.get('content-security-policy'), csp, `${asset} carries the CSP`);
    }
    const hosts = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((e) => new URL(e.name).host),
    );
    assert.ok(
      hosts.every((h) => h === new URL(fx.srv.url).host),
      `only this server: ${hosts.join(', ')}`,
    );
  });

  it('says why a login failed, with the server’s code', async (t) => {
    await page.fill('#signin-username', 'alice');
    await page.fill('#signin-password', 'not the password');
    await page.click('#signin-submit');
    await page.waitForSelector('#signin-error[data-code]');
    assert.equal(await page.getAttribute('#signin-error', 'data-code'), 'ERR_CREDENTIALS');
    assert.match((await page.textContent('#signin-error')) ?? '', /wrong username or password/);
    await shot(t, '1-signin-refused');
    assert.equal(new URL(page.url()).search, '', 'nothing in the URL');
  });

  it('signs in and lists the providers online with their request types and parameters', async (t) => {
    await page.fill('#signin-password', 'consumer-pass');
    await page.click('#signin-submit');
    await page.waitForSelector('#app-view:not([hidden])');
    await page.waitForSelector('[data-provider="radio-1"] button[data-type="spectrum"]');
    assert.ok(await page.$('[data-provider="radio-1"] button[data-type="signal"]'));
    // its recordings, named and described, and offered as a list in the forms that take one
    const recordings = (await page.textContent('[data-provider="radio-1"] .recordings')) ?? '';
    assert.match(recordings, /two-tones-ci16 \(433\.900 MHz/);
    assert.match(recordings, /rtl-cu8/);
    const token = await page.evaluate<string | null>("sessionStorage.getItem('sdrlink.token')");
    assert.ok(token !== null && token.length > 20, 'the token is kept in sessionStorage');
    assert.ok(!page.url().includes(token), 'never in the URL');
    await shot(t, '2-providers');
  });

  it('checks the form before sending: errors beside the field, no session made', async (t) => {
    const sessions = async () =>
      ((await api(fx.srv.url, fx.consumerToken, 'GET', '/api/ice/sessions')).body as unknown[]).length;
    const before = await sessions();
    await page.click('[data-provider="radio-1"] button[data-type="spectrum"]');
    await page.waitForSelector('form[data-type="spectrum"]');
    await page.fill('#param-spectrum-frequency_start', 'abc');
    await page.fill('#param-spectrum-sample_rate', '-5');
    await page.click('#request-submit');
    assert.equal(await page.textContent('#param-spectrum-frequency_start-error'), 'must be a number');
    assert.match((await page.textContent('#param-spectrum-sample_rate-error')) ?? '', /must be above|below/);
    assert.match((await page.textContent('#param-spectrum-frequency_end-error')) ?? '', /required/);
    const options = await page.$$eval('#param-spectrum-recording option', (os) =>
      os.map((o) => o.textContent),
    );
    assert.ok(options.includes('two-tones-ci16') && options.includes('rtl-cu8'), options.join(', '));
    await shot(t, '3-form-errors');
    assert.equal(await sessions(), before, 'nothing was requested');
  });

  /** Fills the open form and runs the request; resolves when the page shows a result or an error. */
  async function request(type: string, values: Record<string, string>, transport = 'auto') {
    for (const [k, v] of Object.entries(values)) await page.fill(`#param-${type}-${k}`, v);
    await page.selectOption('#transport', transport);
    await page.click('#request-submit');
    await page.waitForSelector('#transfer-result[data-sha256], #transfer-error[data-code]', {
      timeout: 90_000,
    });
    return page.evaluate<{ result: Record<string, string | undefined>; error?: string; errorText: string }>(
      `({ result: { ...document.getElementById('transfer-result').dataset },
          error: document.getElementById('transfer-error').dataset.code,
          errorText: document.getElementById('transfer-error').textContent })`,
    );
  }

  it('receives a spectrum over WebRTC (libwebrtc ← libdatachannel), verified, saves it and shows it', async (t) => {
    const out = await request('spectrum', SPECTRUM);
    assert.equal(out.error, undefined, out.errorText);

    const sent = await good.waitFor(
      (e) => e['event'] === 'sent' && e['sha256'] === out.result['sha256'],
      10_000,
    );
    assert.equal(out.result['verified'], 'true');
    assert.equal(out.result['transport'], 'p2p');
    assert.match(out.result['path'] ?? '', /^(host|srflx|prflx)-(host|srflx|prflx)\/udp$/);
    assert.equal(sent['transport'], 'p2p');
    // the file the page saves is the provider's, byte for byte
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-link')]);
    const saved = join(await fx.fresh('saved'), download.suggestedFilename());
    await download.saveAs(saved);
    const bytes = await readFile(saved);
    assert.equal(bytes.length, Number(out.result['size']));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sent['sha256']);
    assert.match(download.suggestedFilename(), /\.npz$/);
    assert.match((await page.textContent('#transfer-result')) ?? '', /SHA-256 of the whole matched/);
    await viewed('spectrum');
    // the plot follows the data received: the drawn line's highest point is over the file's strongest bin
    const d = readDataset(new Uint8Array(bytes));
    assert.equal(d.kind, 'spectrum');
    if (d.kind === 'spectrum') {
      let k = 0;
      for (let i = 1; i < d.powerDb.length; i++)
        if ((d.powerDb[i] as number) > (d.powerDb[k] as number)) k = i;
      const [min, max] = await xRange(page, '#viewer .sdv-spectrum');
      const p = await pixels(page, '#viewer .sdv-spectrum');
      const tops = topOfLine(p);
      const drawn = tops.filter((y) => Number.isFinite(y)).length;
      assert.ok(drawn > 0.95 * tops.length, `the line covers ${drawn} of ${tops.length} columns`);
      const peakX = tops.indexOf(Math.min(...tops));
      const strongestX = xAt(p, (d.frequencies[k] as number) / 1e6, min, max);
      assert.ok(
        Math.abs(peakX - strongestX) <= 3,
        `highest point at x=${peakX}, strongest bin at x=${strongestX}`,
      );
    }
    const path = await shot(t, '4-spectrum');
    if (process.env['SDRLINK_DOCS_SCREENSHOT'] === '1') {
      await mkdir(join(ROOT, 'docs/img'), { recursive: true });
      await copyFile(path, join(ROOT, 'docs/img/browser-spectrum.png'));
    }
  });

  it('receives a signal (I/Q) request, verified', async (t) => {
    await page.click('[data-provider="radio-1"] button[data-type="signal"]');
    await page.waitForSelector('form[data-type="signal"]');
    // 112.3 kHz off centre at 1 MS/s: not a small fraction of the rate, so the tone's phase takes every angle
    const out = await request('signal', {
      frequency: '100.0123e6',
      center_frequency: '99.9e6',
      sample_rate: '1e6',
      duration: '0.25',
    });
    assert.equal(out.error, undefined, out.errorText);
    const sent = await good.waitFor(
      (e) => e['event'] === 'sent' && e['sha256'] === out.result['sha256'],
      10_000,
    );
    assert.equal(out.result['verified'], 'true');
    assert.equal(Number(out.result['size']), Number(sent['bytes']));
    await viewed('signal');
    await shot(t, '5-signal');
    // the constellation is drawn: a tone's points go all the way round
    const c = await pixels(page, '#viewer .sdv-constellation');
    const mid = c.width / 2;
    const sectors = new Set<number>();
    let points = 0;
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        if (!isBlue(c, x, y)) continue;
        points++;
        sectors.add(Math.floor(((Math.atan2(mid - y, x - mid) + Math.PI) / (2 * Math.PI)) * 72) % 72);
      }
    }
    assert.ok(points > 300, `${points} constellation pixels`);
    assert.ok(sectors.size >= 70, `the points take ${sectors.size} of 72 angle sectors`);
  });

  it('receives over the WebSocket relay when asked (the browser masks its frames)', async (t) => {
    await page.click('[data-provider="radio-1"] button[data-type="spectrum"]');
    await page.waitForSelector('form[data-type="spectrum"]');
    const out = await request('spectrum', { ...SPECTRUM, frequency_end: '103e6' }, 'relay');
    assert.equal(out.error, undefined, out.errorText);
    const sent = await good.waitFor(
      (e) => e['event'] === 'sent' && e['sha256'] === out.result['sha256'],
      10_000,
    );
    assert.equal(out.result['transport'], 'relay');
    assert.equal(out.result['path'], 'ws-relay');
    assert.equal(sent['transport'], 'relay');
    assert.match((await page.textContent('#transfer-result')) ?? '', /WebSocket relay/);
    await shot(t, '6-relay');
  });

  it('continues over the relay from the verified prefix when the direct channel dies midway', async (t) => {
    await page.click('[data-provider="radio-drop"] button[data-type="signal"]');
    await page.waitForSelector('form[data-type="signal"]');
    // 8 MiB; the provider closes its direct channel after 3 MiB
    const values = { frequency: '100e6', center_frequency: '99.9e6', sample_rate: '1048576', duration: '1' };
    const out = await request('signal', values);
    assert.equal(out.error, undefined, out.errorText);
    const sent = await dropping.waitFor(
      (e) => e['event'] === 'sent' && e['sha256'] === out.result['sha256'],
      10_000,
    );
    assert.equal(out.result['transport'], 'relay');
    assert.equal(out.result['path'], 'ws-relay');
    assert.equal(out.result['verified'], 'true');
    const from = Number(out.result['resumedFrom']);
    assert.ok(from > 0 && from <= 3 * 1024 * 1024, `resumed from ${from}`);
    assert.equal(sent['start_offset'], from, 'the provider sent only the rest, over the relay');
    assert.equal(sent['transport'], 'relay');
    assert.match((await page.textContent('#transfer-result')) ?? '', /direct channel lost midway/);
    await shot(t, '6b-failover');
  });

  it('refuses a corrupted frame with its code, and saves nothing', async (t) => {
    await page.click('[data-provider="radio-bad"] button[data-type="signal"]');
    await page.waitForSelector('form[data-type="signal"]');
    // 112.3 kHz off centre at 1 MS/s: not a small fraction of the rate, so the tone's phase takes every angle
    const out = await request('signal', {
      frequency: '100.0123e6',
      center_frequency: '99.9e6',
      sample_rate: '1e6',
      duration: '0.25',
    });
    assert.equal(out.error, 'ERR_FRAME_CRC', out.errorText);
    assert.equal(out.result['sha256'], undefined, 'no result');
    assert.equal(await page.$('#save-link'), null, 'nothing to save');
    assert.match((await page.textContent('#transfer-status')) ?? '', /nothing was saved/);
    await shot(t, '7-corrupt-refused');
  });

  it('resumes after a reload from the verified prefix kept in IndexedDB', async (t) => {
    // an earlier refused transfer may have kept its CRC-checked frames (§4): this one is the new entry
    const earlier = await page.$$eval('.partial', (els) => els.map((e) => e.getAttribute('data-sha256')));
    await page.click('[data-provider="radio-1"] button[data-type="signal"]');
    await page.waitForSelector('form[data-type="signal"]');
    // 32 MiB of I/Q: long enough to be cut midway
    const values = { frequency: '100e6', center_frequency: '99.9e6', sample_rate: '1048576', duration: '4' };
    for (const [k, v] of Object.entries(values)) await page.fill(`#param-signal-${k}`, v);
    await page.selectOption('#transport', 'auto');
    await page.click('#request-submit');
    await waitUntil(
      "(() => { const p = document.getElementById('transfer-progress'); return p.max > 1 && p.value / p.max > 0.2; })()",
    );
    const cut = good
      .events()
      .filter((e) => e['event'] === 'claimed')
      .pop()?.['session_id'];
    await page.reload(); // the transfer dies with the page
    // The provider goes on with the dead session until it gives it up (its peer timeout, then its wait at
    // the relay, docs/protocol.md §3.7), and serves the same file to a new session only after that.
    await good.waitFor((e) => e['event'] === 'failed' && e['session_id'] === cut, 90_000);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#partials-view:not([hidden]) .partial');
    const entries = await page.$$eval('.partial', (els) =>
      els.map((e) => ({
        sha: e.getAttribute('data-sha256') ?? '',
        kept: Number(e.getAttribute('data-kept')),
      })),
    );
    const entry = entries.find((e) => !earlier.includes(e.sha));
    assert.ok(entry !== undefined, JSON.stringify(entries));
    const { kept } = entry;
    const partial = `.partial[data-sha256="${entry.sha}"]`;
    const total = await page.textContent(partial);
    assert.ok(kept > 0, `a prefix was kept: ${total}`);
    await shot(t, '8-resume-offered');
    await page.click(`${partial} .resume`);
    await page.waitForSelector('#transfer-result[data-sha256], #transfer-error[data-code]', {
      timeout: 90_000,
    });
    const err = await page.getAttribute('#transfer-error', 'data-code');
    assert.equal(
      err,
      null,
      `${(await page.textContent('#transfer-error')) ?? ''}; the provider: ${JSON.stringify(good.events().slice(-12))}`,
    );
    const sha = await page.getAttribute('#transfer-result', 'data-sha256');
    assert.equal(sha, entry.sha);
    assert.equal(Number(await page.getAttribute('#transfer-result', 'data-resumed-from')), kept);
    const sent = await good.waitFor((e) => e['event'] === 'sent' && e['sha256'] === sha, 10_000);
    assert.equal(sent['start_offset'], kept, 'the provider sent only the rest');
    // the prefix is dropped once the file is verified
    await waitUntil(`document.querySelector('${partial}') === null`, 10_000);
    await shot(t, '9-resumed');
  });

  it('stops a request on Stop: the session is cancelled by the consumer, nothing is saved', async (t) => {
    // a provider that cannot answer (stopped): the request waits for its offer until the user stops it
    await page.click('[data-provider="radio-1"] button[data-type="spectrum"]');
    await page.waitForSelector('form[data-type="spectrum"]');
    for (const [k, v] of Object.entries({ ...SPECTRUM, frequency_end: '104e6' }))
      await page.fill(`#param-spectrum-${k}`, v);
    good.proc.kill('SIGSTOP');
    try {
      await page.click('#request-submit');
      await page.waitForSelector('#request-stop:not([hidden])');
      await page.click('#request-stop');
      await page.waitForSelector('#transfer-error[data-code]', { timeout: 10_000 });
      assert.equal(await page.getAttribute('#transfer-error', 'data-code'), 'ERR_CANCELLED');
      assert.equal(await page.$('#save-link'), null);
      const sessions = (await api(fx.srv.url, fx.consumerToken, 'GET', '/api/ice/sessions')).body as Array<{
        status: string;
        parameters: string;
      }>;
      const mine = sessions.find((x) => x.parameters.includes('104000000'));
      assert.equal(mine?.status, 'cancelled');
      await shot(t, '10-stopped');
    } finally {
      good.proc.kill('SIGCONT');
    }
  });

  it('lists the user’s transfers: path, size, sha256, transport, duration, outcome', async (t) => {
    await page.click('#history-refresh');
    await waitUntil("document.querySelectorAll('#history-table tbody tr').length >= 4", 10_000);
    const rows = await page.$$eval('#history-table tbody tr', (trs) =>
      trs.map((tr) => ({
        status: tr.getAttribute('data-status'),
        cells: [...tr.children].map((c) => c.textContent),
      })),
    );
    const completed = rows.filter((r) => r.status === 'completed');
    assert.ok(completed.length >= 3, JSON.stringify(rows));
    assert.ok(completed.some((r) => r.cells.includes('ws-relay')));
    assert.ok(completed.some((r) => r.cells.some((c) => /^(host|srflx|prflx)-/.test(c ?? ''))));
    // the refused one: failed, with the code of whichever side's report came first (the page's ERR_FRAME_CRC,
    // or the provider's word on our error)
    assert.ok(
      rows.some((r) => r.status === 'failed' && r.cells.some((c) => /failed: ERR_[A-Z_]+/.test(c ?? ''))),
    );
    await shot(t, '11-history');
  });

  // A measurement, not a check (no figure is asserted): SDRLINK_MEASURE_BROWSER=1 runs it.
  const measure = process.env['SDRLINK_MEASURE_BROWSER'] === '1';
  it(
    'measures: the browser and the CLI consumer on the same 64 MiB signal, in one run',
    { skip: measure ? false : 'a measurement: set SDRLINK_MEASURE_BROWSER=1' },
    async (t) => {
      const params = { frequency: 100e6, center_frequency: 99.9e6, sample_rate: 1_048_576, duration: 8 };
      const cli = async () => {
        const out = await fx.fresh('cli');
        const r = await runRequestProcess({
          url: fx.srv.url,
          token: fx.consumerToken,
          type: 'signal',
          params,
          out,
          args: ['--provider', 'radio-1'],
        });
        assert.equal(r.code, 0, r.stderr);
        return r.result;
      };
      const warm = await cli(); // the provider makes the file once and keeps it (dataset cache)
      await page.click('[data-provider="radio-1"] button[data-type="signal"]');
      await page.waitForSelector('form[data-type="signal"]');
      const rows: string[] = [];
      for (let i = 0; i < 2; i++) {
        const b = await request(
          'signal',
          Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
        );
        assert.equal(b.error, undefined, b.errorText);
        assert.equal(b.result['sha256'], warm['sha256']);
        const c = await cli();
        assert.equal(c['sha256'], warm['sha256']);
        const mib = (x: unknown) => (Number(x) / 1048576).toFixed(1);
        rows.push(
          `run ${i + 1}: browser ${mib(b.result['rate'])} MiB/s, first byte ${b.result['firstByteMs']} ms (${b.result['path']}); ` +
            `CLI ${mib(c['rate'])} MiB/s, first byte ${String(c['first_byte_ms'])} ms (${String(c['network_path'])})`,
        );
      }
      t.diagnostic(
        `64 MiB signal (${String(warm['size'])} bytes), from the provider's cache: ${rows.join(' | ')}`,
      );
    },
  );

  it('ran without a CSP violation or a console error', async () => {
    const csp = await page.evaluate<string[]>('window.__csp');
    assert.deepEqual(csp, []);
    assert.deepEqual(
      consoleErrors.filter((e) => !/401|Failed to load resource/.test(e)),
      [],
    );
  });
});
