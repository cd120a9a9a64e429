/**
 * The data viewer: shows a verified dataset file (`.npz` of a `spectrum`, `signal` or `spectrogram`,
 * docs/datasets.md) as plots and its metadata as tables. Browser code: the page links
 * `uplot/dist/uPlot.min.css` and `src/web/view/view.css` as files (docs/web-view.md).
 *
 * - spectrum: power against frequency (MHz), zoom by dragging, cursor readout;
 * - signal: I and Q against time, the constellation, and its spectrum (Welch, computed here);
 * - spectrogram: a waterfall with time and frequency axes and a colour bar.
 *
 * @example
 * showDataset(document.querySelector('#view')!, 'spectrum_100.npz', verifiedBytes);
 */
import { el, fmt } from './dom.js';
import { signalSpectrum } from './dsp.js';
import { ViewError } from './errors.js';
import { metaSection } from './meta-table.js';
import { readDataset, type Dataset, type DatasetMeta, type SignalData } from './npz.js';
import { COLORS, constellation, linePlot, waterfall } from './plots.js';

export { ViewError, VIEW_ERROR_CODES, type ViewErrorCode } from './errors.js';
export { readDataset, type Dataset } from './npz.js';

/** Most samples the time-domain plot holds (the first ones). */
export const MAX_TIME_SAMPLES = 20_000;
/** Samples the time-domain plot opens on (double-click shows all it holds). */
export const FIRST_VIEW_SAMPLES = 500;

const global = (meta: DatasetMeta): Record<string, unknown> => {
  const g = meta['global'];
  return g !== null && typeof g === 'object' && !Array.isArray(g) ? (g as Record<string, unknown>) : {};
};

/** The power unit the metadata states (`dBFS/Hz`, `dBm/Hz`), or plain `dB`. */
function powerUnits(meta: DatasetMeta): string {
  const u = global(meta)['sdrlink:units'];
  return typeof u === 'string' && /^[A-Za-z/]{1,16}$/.test(u) ? u : 'dB';
}

function mhz(frequencies: Float64Array): Float64Array {
  return frequencies.map((f) => f / 1e6);
}

function signalPlots(d: SignalData, width: number): HTMLElement[] {
  const samples = d.iq.length / 2;
  const n = Math.min(samples, MAX_TIME_SAMPLES);
  const t = new Float64Array(n);
  const i = new Float32Array(n);
  const q = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    t[k] = (k / d.sampleRate) * 1e3;
    i[k] = d.iq[2 * k] as number;
    q[k] = d.iq[2 * k + 1] as number;
  }
  const spec = signalSpectrum(d.iq, d.sampleRate, d.centerFrequency);
  return [
    linePlot({
      className: 'sdv-iq',
      title:
        (n < samples ? `I and Q (first ${n} of ${samples} samples)` : `I and Q (${samples} samples)`) +
        (n > FIRST_VIEW_SAMPLES ? `, opened on the first ${FIRST_VIEW_SAMPLES}: double-click for all` : ''),
      x: t,
      xLabel: 'time',
      xUnit: 'ms',
      yLabel: 'amplitude',
      yUnit: 'FS',
      series: [
        { label: 'I', values: i, color: COLORS.blue },
        { label: 'Q', values: q, color: COLORS.orange },
      ],
      width,
      height: 260,
      ...(n > FIRST_VIEW_SAMPLES ? { initialXMax: t[FIRST_VIEW_SAMPLES - 1] as number } : {}),
    }),
    constellation(d.iq, Math.min(width, 420)),
    linePlot({
      className: 'sdv-signal-spectrum',
      title: `Spectrum (${spec.frequencies.length}-point FFT, Hann, averaged)`,
      x: mhz(spec.frequencies),
      xLabel: 'frequency',
      xUnit: 'MHz',
      yLabel: 'power',
      yUnit: 'dBFS',
      series: [{ label: 'power', values: spec.powerDb, color: COLORS.blue }],
      width,
      height: 300,
    }),
  ];
}

function summary(fileName: string, d: Dataset): string {
  switch (d.kind) {
    case 'spectrum':
      return (
        `spectrum · ${d.frequencies.length} bins · ${fmt((d.frequencies[0] as number) / 1e6, 9)} … ` +
        `${fmt((d.frequencies[d.frequencies.length - 1] as number) / 1e6, 9)} MHz · ${fileName}`
      );
    case 'signal':
      return (
        `signal · ${d.iq.length / 2} samples at ${fmt(d.sampleRate)} Hz · centre ` +
        `${fmt(d.centerFrequency / 1e6, 9)} MHz · ${fileName}`
      );
    case 'spectrogram':
      return `spectrogram · ${d.rows} rows × ${d.bins} bins · ${fileName}`;
  }
}

function render(root: HTMLElement, fileName: string, d: Dataset): void {
  const width = Math.max(320, Math.min(1200, root.clientWidth > 0 ? root.clientWidth - 16 : 800));
  const plots = el('section', 'sdv-plots');
  if (d.kind === 'spectrum') {
    plots.appendChild(
      linePlot({
        className: 'sdv-spectrum',
        title: 'Spectrum',
        x: mhz(d.frequencies),
        xLabel: 'frequency',
        xUnit: 'MHz',
        yLabel: 'power',
        yUnit: powerUnits(d.meta),
        series: [{ label: 'power', values: d.powerDb, color: COLORS.blue }],
        width,
        height: 360,
      }),
    );
  } else if (d.kind === 'signal') {
    plots.append(...signalPlots(d, width));
  } else {
    plots.appendChild(waterfall(d, powerUnits(d.meta), width, 420));
  }
  root.append(
    el('h2', 'sdv-file', fileName),
    el('p', 'sdv-summary', summary(fileName, d)),
    plots,
    metaSection(d.meta),
  );
}

/**
 * Renders a verified dataset file (npz: spectrum / signal / spectrogram) into `root`: plots + meta table.
 * A file it cannot read is shown as an error in `root` (`.sdv-error`, with the {@link ViewError} code) and
 * nothing else; this function does not throw for bad input. When it returns, `root.dataset.viewState` is
 * `ready` or `error` (and `root.dataset.viewError` holds the code).
 */
export function showDataset(root: HTMLElement, fileName: string, bytes: Uint8Array): void {
  root.replaceChildren();
  root.classList.add('sdv-root');
  delete root.dataset['viewError'];
  try {
    const d = readDataset(bytes);
    root.dataset['viewKind'] = d.kind;
    render(root, fileName, d);
    root.dataset['viewState'] = 'ready';
  } catch (err) {
    const code = err instanceof ViewError ? err.code : 'internal';
    const message = err instanceof Error ? err.message : String(err);
    root.replaceChildren();
    const box = el('div', 'sdv-error');
    box.setAttribute('role', 'alert');
    box.append(
      el('strong', undefined, `Cannot show ${fileName}: `),
      el('code', undefined, code === 'internal' ? 'error' : code),
      el('span', undefined, ` ${message}`),
    );
    root.appendChild(box);
    root.dataset['viewState'] = 'error';
    root.dataset['viewError'] = code;
  }
}
