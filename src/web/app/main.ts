/**
 * The page (README "In a browser"): sign in (or register, where the server allows it), what the providers
 * online offer, a request form per type, the transfer with its progress, the verified file saved and
 * shown, and the user's transfer history. The token lives in memory and sessionStorage (this tab only),
 * never in a URL.
 */
import type { CatalogType, ProviderWire, TransferWire } from '../../wire/index.js';
import { Api, ApiError } from './api.js';
import { byId, formatBytes, formatDuration, h } from './dom.js';
import { buildRequestForm, type RequestForm } from './form.js';
import { PushClient } from './push.js';
import { discardPartial, listPartials, openResumableTarget, type StoredRequest } from './resume.js';
import { RequestError, runRequest, type TransferResult, type TransportChoice } from './transfer.js';
import { viewDataset } from './viewer.js';

const TOKEN_KEY = 'sdrlink.token';

const api = new Api();
let push = new PushClient();
let current: { form: RequestForm; type: string; provider: string } | undefined;
let running: AbortController | undefined;
let objectUrl: string | undefined;

function show(id: string, on: boolean): void {
  byId(id).hidden = !on;
}

function errorText(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError || err instanceof RequestError) return { code: err.code, message: err.message };
  const code = (err as { code?: unknown }).code;
  return {
    code: typeof code === 'string' ? code : 'ERR_PAGE',
    message: err instanceof Error ? err.message : String(err),
  };
}

/** Shows `code: message` in `el` (text only), with the code as `data-code` for whoever reads the page. */
function showError(el: HTMLElement, err: unknown): void {
  const { code, message } = errorText(err);
  el.dataset['code'] = code;
  el.replaceChildren(h('strong', {}, code), `: ${message}`);
}

function clearError(el: HTMLElement): void {
  delete el.dataset['code'];
  el.replaceChildren();
}

// ---- sign in ----

async function signIn(token: string): Promise<void> {
  api.token = token;
  const me = await api.me();
  push.close();
  push = new PushClient();
  await push.connect(token);
  sessionStorage.setItem(TOKEN_KEY, token);
  byId('whoami').textContent = `${me.username} (${me.client_type === 2 ? 'consumer' : 'provider'})`;
  show('signout', true);
  show('signin-view', false);
  show('app-view', true);
  await Promise.all([refreshProviders(), refreshHistory(), refreshPartials()]);
}

function signOut(): void {
  running?.abort();
  push.close();
  api.token = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
  byId('whoami').textContent = '';
  show('signout', false);
  show('app-view', false);
  show('signin-view', true);
}

async function onSignIn(ev: Event): Promise<void> {
  ev.preventDefault();
  const err = byId('signin-error');
  clearError(err);
  const username = byId<HTMLInputElement>('signin-username').value.trim();
  const password = byId<HTMLInputElement>('signin-password').value;
  try {
    const login = await api.login(username, password);
    await signIn(login.token);
    byId<HTMLInputElement>('signin-password').value = '';
  } catch (e) {
    api.token = undefined;
    showError(err, e);
  }
}

async function onRegister(): Promise<void> {
  const err = byId('signin-error');
  clearError(err);
  const username = byId<HTMLInputElement>('signin-username').value.trim();
  const password = byId<HTMLInputElement>('signin-password').value;
  try {
    await api.register(username, password, 2);
    const login = await api.login(username, password);
    await signIn(login.token);
  } catch (e) {
    showError(err, e);
  }
}

// ---- what is on offer ----

async function refreshProviders(): Promise<void> {
  const holder = byId('providers');
  let list: ProviderWire[];
  try {
    list = await api.providers();
  } catch (e) {
    const p = h('p', { class: 'error' });
    showError(p, e);
    holder.replaceChildren(p);
    return;
  }
  if (list.length === 0) {
    holder.replaceChildren(h('p', {}, 'No provider is online.'));
    return;
  }
  holder.replaceChildren(...list.map(providerEntry));
}

function providerEntry(p: ProviderWire): HTMLElement {
  const types: CatalogType[] =
    p.catalog?.types ?? p.request_types.map((t) => ({ type: t, parameters: [] }) satisfies CatalogType);
  const recordings = p.catalog?.recordings ?? [];
  const el = h(
    'div',
    { class: 'provider', 'data-provider': p.username },
    h('span', { class: 'name' }, p.username),
    ' ',
    h(
      'span',
      { class: p.online ? 'online' : 'offline' },
      p.online ? 'online' : `offline (last seen ${p.last_seen || 'never'})`,
    ),
  );
  const buttons = h('div', { class: 'types' });
  for (const t of types) {
    const b = h(
      'button',
      { type: 'button', 'data-type': t.type, title: t.description ?? '' },
      `Request ${t.type}…`,
    );
    b.disabled = !p.online;
    b.addEventListener('click', () => openForm(p, t));
    buttons.append(b);
  }
  if (types.length === 0) buttons.append(h('span', {}, 'any request type (no catalog)'));
  el.append(buttons);
  if (recordings.length > 0) {
    const shown = recordings.slice(0, 20);
    el.append(
      h(
        'div',
        { class: 'recordings' },
        `Recordings: `,
        ...shown.map((r, i) =>
          h(
            'span',
            { title: `${r.datatype}, ${r.sample_rate} S/s, ${r.duration} s` },
            `${i > 0 ? ', ' : ''}${r.name} (${(r.center_frequency / 1e6).toFixed(3)} MHz, ${(r.span / 1e6).toFixed(3)} MHz span)`,
          ),
        ),
        recordings.length > shown.length ? ` … and ${recordings.length - shown.length} more` : '',
      ),
    );
  }
  return el;
}

function openForm(p: ProviderWire, t: CatalogType): void {
  const form = buildRequestForm(t, p.catalog?.recordings ?? []);
  current = { form, type: t.type, provider: p.username };
  byId('request-title').textContent = `Request ${t.type} from ${p.username}`;
  form.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void startRequest();
  });
  byId('request-form-holder').replaceChildren(
    t.description === undefined ? '' : h('p', { class: 'hint' }, t.description),
    form.form,
  );
  show('request-view', true);
}

// ---- the transfer ----

async function startRequest(): Promise<void> {
  if (current === undefined || running !== undefined) return;
  const params = current.form.read();
  if (params === undefined) return; // the errors are beside the fields
  const transport = byId<HTMLSelectElement>('transport').value as TransportChoice;
  await run({ type: current.type, params, provider: current.provider, transport });
}

/** Runs one request (a new one, or one asked again to resume a kept prefix) and shows how it went. */
async function run(request: StoredRequest): Promise<void> {
  if (running !== undefined) return;
  const ac = new AbortController();
  running = ac;
  show('request-stop', true);
  byId<HTMLButtonElement>('request-submit').disabled = true;
  show('transfer-view', true);
  show('viewer-view', false);
  const status = byId('transfer-status');
  const bar = byId<HTMLProgressElement>('transfer-progress');
  const rate = byId('transfer-rate');
  const result = byId('transfer-result');
  const err = byId('transfer-error');
  clearError(err);
  result.replaceChildren();
  delete result.dataset['sha256'];
  bar.value = 0;
  rate.textContent = '';
  let firstAt = 0;
  let firstBytes = 0;
  try {
    const r = await runRequest(api, push, {
      ...request,
      signal: ac.signal,
      openTarget: (meta) => openResumableTarget(meta, request),
      onStatus: (s) => (status.textContent = s),
      onProgress: (p) => {
        bar.max = Math.max(1, p.total);
        bar.value = p.received;
        const now = performance.now();
        if (firstAt === 0 && p.received > p.startOffset) {
          firstAt = now;
          firstBytes = p.received;
        }
        const secs = (now - firstAt) / 1000;
        const bps = firstAt > 0 && secs > 0 ? (p.received - firstBytes) / secs : 0;
        const eta = bps > 0 ? ((p.total - p.received) / bps) * 1000 : NaN;
        rate.textContent = `${formatBytes(p.received)} of ${formatBytes(p.total)} · ${bps > 0 ? `${formatBytes(bps)}/s` : '–'} · ETA ${formatDuration(eta)} · ${p.transport === 'relay' ? 'WebSocket relay' : 'WebRTC'}`;
      },
    });
    status.textContent = `verified: ${r.fileName}`;
    status.className = 'ok';
    await showResult(r);
  } catch (e) {
    status.textContent = 'refused: nothing was saved';
    status.className = 'error';
    showError(err, e);
  } finally {
    running = undefined;
    show('request-stop', false);
    byId<HTMLButtonElement>('request-submit').disabled = false;
    void refreshHistory();
    void refreshPartials();
  }
}

// ---- resume ----

/** Lists the partial files kept from transfers that did not finish, each with Resume and Discard. */
async function refreshPartials(): Promise<void> {
  const holder = byId('partials');
  let list: Awaited<ReturnType<typeof listPartials>>;
  try {
    list = await listPartials();
  } catch {
    list = []; // no IndexedDB (a private window may refuse it): nothing to resume
  }
  show('partials-view', list.length > 0);
  holder.replaceChildren(
    ...list.map((f) => {
      const resume = h('button', { type: 'button', class: 'resume' }, 'Resume');
      const discard = h('button', { type: 'button', class: 'discard' }, 'Discard');
      resume.addEventListener('click', () => void run(f.request));
      discard.addEventListener('click', () => void discardPartial(f.sha256).then(refreshPartials));
      return h(
        'div',
        { class: 'partial', 'data-sha256': f.sha256, 'data-kept': f.kept },
        `${f.filename}: ${formatBytes(f.kept)} of ${formatBytes(f.size)} kept (${f.request.type} from ${f.request.provider ?? 'any provider'}) `,
        resume,
        ' ',
        discard,
      );
    }),
  );
}

async function showResult(r: TransferResult): Promise<void> {
  const result = byId('transfer-result');
  Object.assign(result.dataset, {
    sha256: r.sha256,
    size: String(r.size),
    transport: r.transport,
    path: r.path ?? '',
    verified: String(r.verified),
    fileName: r.fileName,
    resumedFrom: String(r.resumedFrom),
    firstByteMs: String(r.firstByteMs),
    rate: String(Math.round(r.rate)),
  });
  if (objectUrl !== undefined) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(r.file);
  const save = h('a', { id: 'save-link', href: objectUrl, download: r.fileName }, `Save ${r.fileName}`);
  const row = (k: string, v: string | Node) => [h('dt', {}, k), h('dd', {}, v)];
  result.replaceChildren(
    h(
      'dl',
      { class: 'result' },
      ...row('file', r.fileName),
      ...row('size', `${formatBytes(r.size)} (${r.size} bytes)`),
      ...row(
        'verified',
        h(
          'span',
          { class: 'ok' },
          r.verified
            ? 'yes — SHA-256 of the whole matched the provider’s; CRC-32 checked on every frame'
            : 'no',
        ),
      ),
      ...row('sha256', r.sha256),
      ...row(
        'path',
        `${r.route}${r.path !== undefined ? ` (${r.path})` : ''}${r.fallback !== undefined ? ` — fallback: ${r.fallback}` : ''}`,
      ),
      ...row(
        'time',
        `${formatDuration(r.durationMs)} in all, first byte after ${formatDuration(r.firstByteMs)}`,
      ),
      ...row('rate', `${formatBytes(r.rate)}/s`),
      ...(r.resumedFrom > 0 ? row('resumed', `from byte ${r.resumedFrom}`) : []),
    ),
    save,
  );
  show('viewer-view', true);
  viewDataset(byId('viewer'), r.fileName, new Uint8Array(await r.file.arrayBuffer()));
}

// ---- history ----

async function refreshHistory(): Promise<void> {
  const holder = byId('history');
  let rows: TransferWire[];
  try {
    rows = await api.transfers(50);
  } catch (e) {
    const p = h('p', { class: 'error' });
    showError(p, e);
    holder.replaceChildren(p);
    return;
  }
  if (rows.length === 0) {
    holder.replaceChildren(h('p', {}, 'No transfers yet.'));
    return;
  }
  const head = [
    'when',
    'type',
    'provider',
    'file',
    'size',
    'path',
    'transport',
    'duration',
    'outcome',
    'sha256',
  ];
  holder.replaceChildren(
    h(
      'table',
      { id: 'history-table' },
      h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))),
      h(
        'tbody',
        {},
        ...rows.map((t) =>
          h(
            'tr',
            { 'data-session': t.session_id, 'data-status': t.status },
            h('td', {}, t.created_at.replace('T', ' ').slice(0, 19)),
            h('td', {}, t.request_type),
            h('td', {}, t.provider_name ?? '–'),
            h('td', {}, t.file_name),
            h('td', { class: 'num' }, formatBytes(t.file_size)),
            h('td', {}, t.path ?? '–'),
            h('td', {}, t.transport ?? '–'),
            h('td', { class: 'num' }, t.duration_ms === null ? '–' : formatDuration(t.duration_ms)),
            h(
              'td',
              { class: t.status === 'completed' ? 'ok' : t.error_code ? 'error' : '' },
              t.status === 'completed'
                ? t.verified === true
                  ? 'completed, verified'
                  : 'completed'
                : `${t.status}${t.error_code ? `: ${t.error_code}` : ''}`,
            ),
            h('td', { class: 'hash' }, t.sha256 ?? '–'),
          ),
        ),
      ),
    ),
  );
}

// ---- start ----

async function start(): Promise<void> {
  byId('signin-form').addEventListener('submit', (ev) => void onSignIn(ev));
  byId('register-submit').addEventListener('click', () => void onRegister());
  byId('signout').addEventListener('click', signOut);
  byId('providers-refresh').addEventListener('click', () => void refreshProviders());
  byId('history-refresh').addEventListener('click', () => void refreshHistory());
  byId('request-submit').addEventListener('click', () => void startRequest());
  byId('request-stop').addEventListener('click', () => running?.abort(new Error('stopped by the user')));
  api
    .appConfig()
    .then((c) => show('register-submit', c.registration === 'open'))
    .catch(() => undefined);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved !== null) {
    try {
      await signIn(saved);
    } catch {
      signOut();
    }
  }
  document.body.dataset['ready'] = 'true';
}

void start();
