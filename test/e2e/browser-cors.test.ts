/**
 * Browsers on other origins (docs/api.md §9), in a real Chromium (test/helpers/chromium.ts) against the
 * server as a real process: a page served from one port calls the API on another port — another origin —
 * with `fetch` (login, then `POST /api/ice/initiate` with a Bearer token) and opens the push WebSocket
 * with `?token=`.
 *
 * - Without `--cors-origin` (the default, and all there was before): the browser's preflight gets 404 and
 *   the call is blocked; the WebSocket is refused (403 before the upgrade). A same-origin page still opens it.
 * - With `--cors-origin <the page's origin>`: the preflight gets 204, both calls and the WebSocket work.
 * - A page of an origin not listed: the preflight grants nothing and the call is blocked; its WebSocket is
 *   refused, even with a valid token.
 *
 * What the browser saw (preflight statuses, CORS errors, WebSocket handshake statuses, console errors) is
 * read through the DevTools protocol and printed as test diagnostics.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { chromiumSkip, launchChromium, type Chromium } from '../helpers/chromium.js';
import { registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const PASSWORD = 'browser password 1';

/** A static server for the one page, on its own port: its own origin. */
interface PageServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  close(): Promise<void>;
}

async function startPageServer(): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>sdrlink CORS test page</title><p>page</p>');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
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

/** What the browser itself reported while a page was open. */
interface BrowserView {
  preflights: Array<{ url: string; status: number }>;
  corsErrors: Array<{ url: string; error: string }>;
  wsHandshakes: Array<{ url: string; status: number }>;
  console: string[];
}

/** Opens `url` in a new tab and records what the browser reports (DevTools protocol). */
async function visit(browser: Chromium, url: string): Promise<{ page: Page; view: BrowserView }> {
  const page = await browser.context.newPage();
  const view: BrowserView = { preflights: [], corsErrors: [], wsHandshakes: [], console: [] };
  const urls = new Map<string, string>();
  const cdp = await browser.context.newCDPSession(page);
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceived', (e) => {
    if (e.type === 'Preflight') view.preflights.push({ url: e.response.url, status: e.response.status });
  });
  cdp.on('Network.loadingFailed', (e) => {
    if (e.corsErrorStatus !== undefined)
      view.corsErrors.push({ url: urls.get(e.requestId) ?? '?', error: e.corsErrorStatus.corsError });
  });
  cdp.on('Network.webSocketCreated', (e) => urls.set(e.requestId, e.url));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) =>
    view.wsHandshakes.push({ url: urls.get(e.requestId) ?? '?', status: e.response.status }),
  );
  await cdp.send('Network.enable');
  page.on('console', (m) => {
    if (m.type() === 'error') view.console.push(m.text());
  });
  const res = await page.goto(url, { timeout: 15_000 });
  assert.equal(res?.status(), 200, `the page ${url} loads`);
  return { page, view };
}

type ApiOutcome =
  | { ok: true; login: number; token: string; initiate: number; session: Record<string, unknown> }
  | { ok: false; error: string };

/** In the page: log in, then `POST /api/ice/initiate` with the token, both with `fetch`. */
async function callApiFromPage(page: Page, api: string, username: string): Promise<ApiOutcome> {
  return page.evaluate(
    async ({ api, username, password }) => {
      const json = { 'content-type': 'application/json' };
      try {
        const login = await fetch(`${api}/api/auth/login`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ username, password }),
        });
        const { token } = (await login.json()) as { token: string };
        const init = await fetch(`${api}/api/ice/initiate`, {
          method: 'POST',
          headers: { ...json, authorization: `Bearer ${token}` },
          body: JSON.stringify({ request_type: 'spectrum', parameters: '{}' }),
        });
        return {
          ok: true as const,
          login: login.status,
          token,
          initiate: init.status,
          session: (await init.json()) as Record<string, unknown>,
        };
      } catch (err) {
        return { ok: false as const, error: String(err) };
      }
    },
    { api, username, password: PASSWORD },
  );
}

type WsOutcome =
  { opened: true; first: Record<string, unknown> } | { opened: false; code: number; reason: string };

/** The browser's WebSocket, as far as these tests use it (the test tsconfig has no DOM types). */
interface PageWebSocket {
  onopen: (() => void) | null;
  onmessage: ((ev: { data: string }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  close(code?: number): void;
}

/** In the page: open the push WebSocket with `?token=`; its first message, or how it closed. */
async function openPushFromPage(page: Page, api: string, token: string): Promise<WsOutcome> {
  return page.evaluate(
    ({ url }) =>
      new Promise<WsOutcome>((resolve) => {
        const Ws = (globalThis as unknown as { WebSocket: new (url: string) => PageWebSocket }).WebSocket;
        const ws = new Ws(url);
        const timer = setTimeout(() => {
          ws.close();
          resolve({ opened: false, code: -1, reason: 'no message and no close within 10 s' });
        }, 10_000);
        ws.onmessage = (ev) => {
          clearTimeout(timer);
          resolve({ opened: true, first: JSON.parse(ev.data) as Record<string, unknown> });
          ws.close(1000);
        };
        ws.onclose = (ev) => {
          clearTimeout(timer);
          resolve({ opened: false, code: ev.code, reason: ev.reason });
        };
      }),
    { url: `${api.replace(/^http/, 'ws')}/api/ws?token=${encodeURIComponent(token)}` },
  );
}

/**
 * A refused handshake gives the page only a close with 1006 and raises no DevTools handshake event; the
 * status is in the browser's own console error (`… failed: Error during WebSocket handshake: Unexpected
 * response code: 403`).
 */
function assertHandshakeRefused(view: BrowserView, status: number): void {
  assert.deepEqual(view.wsHandshakes, [], 'no handshake completed');
  const line = view.console.find((l) => /^WebSocket connection to 'ws:\/\/[^']*\/api\/ws\?/.test(l));
  assert.ok(line !== undefined, `the browser reports the refused WebSocket: ${JSON.stringify(view.console)}`);
  assert.match(line, new RegExp(`\\b${status}$`));
}

/** Tokens are long and say nothing: shortened in diagnostics. */
function redact(text: string): string {
  return text.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '<token>');
}

function report(t: TestContext, what: string, outcome: unknown, view: BrowserView): void {
  t.diagnostic(redact(`${what}: ${JSON.stringify(outcome)}`));
  t.diagnostic(redact(`${what}, as the browser saw it: ${JSON.stringify(view)}`));
}

describe('browsers on other origins, in real Chromium', () => {
  // on each test rather than the suite, so that a skip shows in the run's totals
  const skip = chromiumSkip();
  let browser: Chromium | undefined;
  let allowedPage: PageServer | undefined;
  let otherPage: PageServer | undefined;
  /** Started with `--cors-origin <allowedPage.origin>`. */
  let cors: ServerProcess | undefined;
  /** Started without `--cors-origin`: what every server was before the flag. */
  let plain: ServerProcess | undefined;
  let corsUser: { token: string; user_id: string };
  let plainUser: { token: string; user_id: string };

  before(async () => {
    if (skip !== false) return;
    browser = await launchChromium();
    allowedPage = await startPageServer();
    otherPage = await startPageServer();
    cors = await startServerProcess({ args: ['--cors-origin', allowedPage.origin] });
    plain = await startServerProcess();
    corsUser = await registerUser(cors.url, { username: 'web', password: PASSWORD, client_type: 2 });
    plainUser = await registerUser(plain.url, { username: 'web', password: PASSWORD, client_type: 2 });
  });

  after(async () => {
    await browser?.close();
    await Promise.all([cors?.stop(), plain?.stop(), allowedPage?.close(), otherPage?.close()]);
  });

  it(
    'without --cors-origin: the preflight is a 404 and the call blocked; the WebSocket refused; same-origin works',
    { skip },
    async (t) => {
      assert.ok(browser && allowedPage && plain);
      const { page, view } = await visit(browser, `${allowedPage.origin}/`);
      try {
        const call = await callApiFromPage(page, plain.url, 'web');
        const push = await openPushFromPage(page, plain.url, plainUser.token);
        report(t, 'no --cors-origin, page on another origin', { call, push }, view);
        assert.deepEqual(call, { ok: false, error: 'TypeError: Failed to fetch' });
        assert.deepEqual(view.preflights, [{ url: `${plain.url}/api/auth/login`, status: 404 }]);
        assert.deepEqual(
          view.corsErrors.map((e) => e.error),
          ['PreflightMissingAllowOriginHeader'],
        );
        assert.deepEqual(push, { opened: false, code: 1006, reason: '' });
        assertHandshakeRefused(view, 403);
      } finally {
        await page.close();
      }

      // a page of the server's own origin needs no CORS, and its Origin is the server's: admitted
      const same = await visit(browser, `${plain.url}/healthz`);
      try {
        const push = await openPushFromPage(same.page, plain.url, plainUser.token);
        report(t, 'no --cors-origin, same-origin page', { push }, same.view);
        assert.equal(push.opened, true);
        if (push.opened) assert.deepEqual(push.first['type'], 'hello');
      } finally {
        await same.page.close();
      }
    },
  );

  it(
    'with --cors-origin <the page’s origin>: the preflight is a 204; login, initiate and the push WebSocket work',
    { skip },
    async (t) => {
      assert.ok(browser && allowedPage && cors);
      const { page, view } = await visit(browser, `${allowedPage.origin}/`);
      try {
        const call = await callApiFromPage(page, cors.url, 'web');
        report(t, '--cors-origin, listed page: fetch', call, view);
        assert.equal(call.ok, true, JSON.stringify(call));
        if (!call.ok) return;
        assert.equal(call.login, 200);
        assert.equal(call.initiate, 201);
        assert.equal(call.session['initiator_user_id'], corsUser.user_id);
        assert.equal(call.session['status'], 'pending');
        assert.deepEqual(
          view.preflights.map((p) => [p.url, p.status]),
          [
            [`${cors.url}/api/auth/login`, 204],
            [`${cors.url}/api/ice/initiate`, 204],
          ],
        );
        assert.deepEqual(view.corsErrors, []);

        const push = await openPushFromPage(page, cors.url, call.token);
        report(t, '--cors-origin, listed page: push WebSocket', push, view);
        assert.equal(push.opened, true, JSON.stringify(push));
        if (push.opened) {
          assert.equal(push.first['type'], 'hello');
          assert.equal(push.first['user_id'], corsUser.user_id);
        }
        assert.deepEqual(
          view.wsHandshakes.map((h) => h.status),
          [101],
        );
      } finally {
        await page.close();
      }
    },
  );

  it(
    'a page of an origin not listed: the call is blocked and the WebSocket refused, even with a valid token',
    { skip },
    async (t) => {
      assert.ok(browser && otherPage && cors);
      const { page, view } = await visit(browser, `${otherPage.origin}/`);
      try {
        const call = await callApiFromPage(page, cors.url, 'web');
        const push = await openPushFromPage(page, cors.url, corsUser.token);
        report(t, '--cors-origin, page of another origin', { call, push }, view);
        assert.deepEqual(call, { ok: false, error: 'TypeError: Failed to fetch' });
        assert.deepEqual(view.preflights, [{ url: `${cors.url}/api/auth/login`, status: 204 }]);
        assert.deepEqual(
          view.corsErrors.map((e) => e.error),
          ['PreflightMissingAllowOriginHeader'],
        );
        assert.deepEqual(push, { opened: false, code: 1006, reason: '' });
        assertHandshakeRefused(view, 403);
      } finally {
        await page.close();
      }
    },
  );

  it(
    'a client without Origin (an agent) still opens the WebSocket on a server with --cors-origin',
    { skip },
    async () => {
      assert.ok(cors);
      const ws = new WebSocket(`${cors.url.replace(/^http/, 'ws')}/api/ws`, {
        headers: { authorization: `Bearer ${corsUser.token}` },
      });
      try {
        const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
          ws.once('message', (d) =>
            resolve(JSON.parse((d as Buffer).toString('utf8')) as Record<string, unknown>),
          );
          ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${String(res.statusCode)}`)));
          ws.once('error', reject);
        });
        assert.equal(first['type'], 'hello');
      } finally {
        ws.terminate();
      }
    },
  );
});
