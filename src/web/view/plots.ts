/**
 * The plots: line plots with uPlot (zoom by dragging across, double-click to zoom out, the value under
 * the cursor read out beside the plot), the constellation as a scatter on a canvas (uPlot draws series
 * against one x axis; a scatter of many points is cheaper on a bare canvas), and the spectrogram as a
 * waterfall image on a canvas with its time and frequency axes and a colour bar.
 *
 * uPlot styles its elements through `element.style` (allowed by a strict Content-Security-Policy) and its
 * stylesheet, `uplot/dist/uPlot.min.css`, which the page must link as a file; nothing here injects a
 * `<style>` element.
 */
import uPlot from 'uplot';
import { colorAt, dbRange, evenIndices, waterfallPixels } from './dsp.js';
import { el, fmt } from './dom.js';

/** Series colours (the first two of matplotlib's palette: the constellation and spectrum are blue). */
export const COLORS = { blue: '#1f77b4', orange: '#ff7f0e', axis: '#999999', text: '#222222' } as const;

/** One line of a {@link linePlot}. */
export interface LineSeries {
  label: string;
  values: ArrayLike<number> & (Float32Array | Float64Array);
  color: string;
}

/** What a {@link linePlot} draws. */
export interface LinePlotOptions {
  /** Class of the wrapper, e.g. `sdv-spectrum`. */
  className: string;
  title: string;
  x: Float64Array;
  xLabel: string;
  xUnit: string;
  yLabel: string;
  yUnit: string;
  series: LineSeries[];
  width: number;
  height: number;
  /** Opens zoomed in on x ≤ this value (double-click shows everything). */
  initialXMax?: number;
}

/**
 * A line plot of `series` against `x` (uPlot): drag across to zoom, double-click to zoom back out. The
 * wrapper carries the visible x range in `data-x-min` / `data-x-max`, and an `<output>` reads out the
 * point under the cursor.
 */
export function linePlot(o: LinePlotOptions): HTMLElement {
  const wrap = el('figure', `sdv-plot ${o.className}`);
  wrap.appendChild(el('figcaption', 'sdv-title', o.title));
  const readout = el('output', 'sdv-readout', 'move the cursor over the plot; drag across to zoom');
  const target = el('div', 'sdv-uplot');
  wrap.append(target, readout);
  const showRange = (u: uPlot): void => {
    const { min, max } = u.scales['x'] ?? {};
    if (min !== undefined && min !== null) wrap.dataset['xMin'] = String(min);
    if (max !== undefined && max !== null) wrap.dataset['xMax'] = String(max);
  };
  const opts: uPlot.Options = {
    width: o.width,
    height: o.height,
    scales: { x: { time: false } },
    cursor: { drag: { x: true, y: false, setScale: true } },
    legend: { show: true, live: true },
    axes: [
      { label: `${o.xLabel} (${o.xUnit})`, stroke: COLORS.text },
      { label: `${o.yLabel} (${o.yUnit})`, stroke: COLORS.text, size: 60 },
    ],
    series: [
      { label: o.xLabel, value: (_u, v) => (v === null ? '—' : `${fmt(v, 9)} ${o.xUnit}`) },
      ...o.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1,
        points: { show: false },
        value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${fmt(v, 5)} ${o.yUnit}`),
      })),
    ],
    hooks: {
      setCursor: [
        (u) => {
          const i = u.cursor.idx;
          if (i === null || i === undefined) return;
          const parts = [`${o.xLabel} ${fmt(o.x[i] as number, 9)} ${o.xUnit}`];
          for (const s of o.series) parts.push(`${s.label} ${fmt(s.values[i] as number, 5)} ${o.yUnit}`);
          readout.textContent = parts.join(' · ');
        },
      ],
      setScale: [(u, key) => (key === 'x' ? showRange(u) : undefined)],
      ready: [showRange],
    },
  };
  const data: uPlot.AlignedData = [o.x, ...o.series.map((s) => gaps(s.values))];
  const plot = new uPlot(opts, data, target);
  if (o.initialXMax !== undefined) plot.setScale('x', { min: o.x[0] as number, max: o.initialXMax });
  return wrap;
}

/**
 * The values as uPlot takes them: a typed array as it is when every value is finite; otherwise an array
 * with `null` (a gap in the line) for each NaN or infinity, which would otherwise spoil the axis range.
 */
export function gaps(
  values: Float32Array | Float64Array,
): Float32Array | Float64Array | Array<number | null> {
  if (values.every((v) => Number.isFinite(v))) return values;
  return Array.from(values, (v) => (Number.isFinite(v) ? v : null));
}

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over `span`. */
export function tickStep(span: number, count: number): number {
  const raw = Math.abs(span) / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

/** Ticks of `step` within [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const step = tickStep(hi - lo, count);
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

function canvas(
  width: number,
  height: number,
  className: string,
): [HTMLCanvasElement, CanvasRenderingContext2D] {
  const c = el('canvas', className);
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d');
  if (ctx === null) throw new Error('the browser gave no 2D canvas context');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  return [c, ctx];
}

/** Most points a constellation draws (spread evenly over the signal). */
export const MAX_CONSTELLATION_POINTS = 20_000;

/**
 * The constellation: each sample as a point at (I, Q), on a square canvas whose centre is (0, 0) and whose
 * half-width is 1.1 × the largest |I| or |Q| drawn. At most {@link MAX_CONSTELLATION_POINTS} samples,
 * spread over the whole signal.
 */
export function constellation(iq: Float32Array | Float64Array, size: number): HTMLElement {
  const wrap = el('figure', 'sdv-plot sdv-constellation');
  const samples = Math.floor(iq.length / 2);
  const idx = evenIndices(samples, MAX_CONSTELLATION_POINTS);
  const shown = idx.length < samples ? `${idx.length} of ${samples} samples` : `${samples} samples`;
  wrap.appendChild(el('figcaption', 'sdv-title', `Constellation (${shown})`));
  const [c, ctx] = canvas(size, size, 'sdv-canvas');
  let m = 0;
  for (const k of idx) m = Math.max(m, Math.abs(iq[2 * k] as number), Math.abs(iq[2 * k + 1] as number));
  const half = m > 0 && Number.isFinite(m) ? 1.1 * m : 1;
  const mid = size / 2;
  const px = (v: number): number => mid + (v / half) * (mid - 4);
  ctx.strokeStyle = COLORS.axis;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, mid + 0.5);
  ctx.lineTo(size, mid + 0.5);
  ctx.moveTo(mid + 0.5, 0);
  ctx.lineTo(mid + 0.5, size);
  ctx.stroke();
  ctx.fillStyle = COLORS.text;
  ctx.font = '11px sans-serif';
  ctx.fillText('I', size - 10, mid - 4);
  ctx.fillText('Q', mid + 4, 11);
  ctx.fillText(`±${fmt(half, 3)}`, 4, size - 4);
  ctx.fillStyle = COLORS.blue;
  ctx.globalAlpha = idx.length > 2000 ? 0.5 : 1;
  for (const k of idx)
    ctx.fillRect(px(iq[2 * k] as number) - 1, size - px(iq[2 * k + 1] as number) - 1, 2, 2);
  ctx.globalAlpha = 1;
  c.dataset['scale'] = String(half);
  wrap.appendChild(c);
  return wrap;
}

/** Layout of a waterfall canvas: the image's box inside it. */
export const WATERFALL_MARGIN = { left: 64, right: 70, top: 8, bottom: 40 } as const;

/**
 * The spectrogram as a waterfall: time down (first row at the top), frequency across (MHz), power as
 * colour (scale from the 2nd percentile to the peak, shown in a colour bar). The value under the cursor
 * is read out below. The image is drawn at the data's resolution (or below, taking the maximum of the
 * cells each pixel covers) and stretched to the plot box without smoothing.
 */
export function waterfall(
  d: {
    frequencies: Float64Array;
    times: Float64Array;
    powerDb: Float32Array | Float64Array;
    rows: number;
    bins: number;
  },
  units: string,
  width: number,
  height: number,
): HTMLElement {
  const wrap = el('figure', 'sdv-plot sdv-waterfall');
  wrap.appendChild(el('figcaption', 'sdv-title', `Spectrogram (${d.rows} × ${d.bins})`));
  const [c, ctx] = canvas(width, height, 'sdv-canvas');
  const M = WATERFALL_MARGIN;
  const plotW = width - M.left - M.right;
  const plotH = height - M.top - M.bottom;
  const range = dbRange(d.powerDb);
  const imgW = Math.max(1, Math.min(d.bins, plotW));
  const imgH = Math.max(1, Math.min(d.rows, plotH));
  const off = document.createElement('canvas');
  off.width = imgW;
  off.height = imgH;
  const octx = off.getContext('2d');
  if (octx === null) throw new Error('the browser gave no 2D canvas context');
  const pixels = waterfallPixels(d.powerDb, d.rows, d.bins, imgW, imgH, range);
  const image = octx.createImageData(imgW, imgH);
  image.data.set(pixels);
  octx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, M.left, M.top, plotW, plotH);

  // Axes: frequency (MHz) along the bottom at bin centres, time (s) down the left at row centres.
  const f0 = (d.frequencies[0] as number) / 1e6;
  const f1 = (d.frequencies[d.bins - 1] as number) / 1e6;
  const binMHz = d.bins > 1 ? (f1 - f0) / (d.bins - 1) : 1;
  const t0 = d.times[0] as number;
  const t1 = d.times[d.rows - 1] as number;
  const rowS = d.rows > 1 ? (t1 - t0) / (d.rows - 1) : 1;
  const xOf = (f: number): number => M.left + ((f - f0 + binMHz / 2) / (binMHz * d.bins)) * plotW;
  const yOf = (t: number): number => M.top + ((t - t0 + rowS / 2) / (rowS * d.rows)) * plotH;
  ctx.strokeStyle = COLORS.text;
  ctx.fillStyle = COLORS.text;
  ctx.font = '11px sans-serif';
  ctx.strokeRect(M.left - 0.5, M.top - 0.5, plotW + 1, plotH + 1);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const f of ticks(f0, f1, Math.max(2, Math.floor(plotW / 110)))) {
    const x = Math.round(xOf(f)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, M.top + plotH);
    ctx.lineTo(x, M.top + plotH + 4);
    ctx.stroke();
    ctx.fillText(fmt(f, 9), x, M.top + plotH + 6);
  }
  ctx.fillText('frequency (MHz)', M.left + plotW / 2, height - 14);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of ticks(t0, t1, Math.max(2, Math.floor(plotH / 50)))) {
    const y = Math.round(yOf(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(M.left - 4, y);
    ctx.lineTo(M.left, y);
    ctx.stroke();
    ctx.fillText(fmt(t, 6), M.left - 6, y);
  }
  ctx.save();
  ctx.translate(12, M.top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('time (s)', 0, 0);
  ctx.restore();

  // Colour bar.
  const barX = width - M.right + 12;
  for (let y = 0; y < plotH; y++) {
    const [r, g, b] = colorAt(1 - y / Math.max(1, plotH - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(barX, M.top + y, 12, 1);
  }
  ctx.fillStyle = COLORS.text;
  ctx.textAlign = 'left';
  ctx.fillText(fmt(range.hi, 4), barX + 16, M.top + 6);
  ctx.fillText(fmt(range.lo, 4), barX + 16, M.top + plotH - 6);
  ctx.fillText(units, barX - 4, M.top + plotH + 14);

  const readout = el('output', 'sdv-readout', 'move the cursor over the image');
  c.addEventListener('mousemove', (ev) => {
    const rect = c.getBoundingClientRect();
    const x = ((ev.clientX - rect.left) * c.width) / Math.max(1, rect.width) - M.left;
    const y = ((ev.clientY - rect.top) * c.height) / Math.max(1, rect.height) - M.top;
    if (x < 0 || y < 0 || x >= plotW || y >= plotH) return;
    const j = Math.min(d.bins - 1, Math.floor((x / plotW) * d.bins));
    const r = Math.min(d.rows - 1, Math.floor((y / plotH) * d.rows));
    readout.textContent =
      `time ${fmt(d.times[r] as number, 6)} s · frequency ${fmt((d.frequencies[j] as number) / 1e6, 9)} MHz · ` +
      `power ${fmt(d.powerDb[r * d.bins + j] as number, 5)} ${units}`;
  });
  Object.assign(c.dataset, {
    plotLeft: String(M.left),
    plotTop: String(M.top),
    plotWidth: String(plotW),
    plotHeight: String(plotH),
  });
  wrap.append(c, readout);
  return wrap;
}
