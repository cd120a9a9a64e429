/** The benchmark's table and files: one row per figure, rendered as Markdown and written as JSON. */
import os from 'node:os';
import { round } from './stats.js';

export type Met = 'yes' | 'no' | '–' | 'skipped' | 'failed';

export interface Row {
  part: string;
  metric: string;
  ours: string;
  baseline: string;
  /** ours ÷ baseline, formatted (e.g. `87%`), or `–`. */
  ratio: string;
  target: string;
  met: Met;
  /** When a target is missed: by how much, in words. */
  miss?: string;
}

export interface PartOutcome {
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  seconds: number;
  data?: unknown;
}

export interface Machine {
  cpus: number;
  cpu_model: string;
  total_mem_bytes: number;
  node: string;
  platform: string;
  release: string;
  load_avg_at_start: number[];
}

export interface Results {
  date: string;
  quick: boolean;
  machine: Machine;
  duration_s: number;
  rows: Row[];
  parts: Record<string, PartOutcome>;
  notes: string[];
  /** With `--profile`: each child's CPU profile summarised (cpuprofile-top.ts). */
  profiles?: Record<string, unknown>;
}

export function machine(): Machine {
  return {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model.trim() ?? 'unknown',
    total_mem_bytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    release: os.release(),
    load_avg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** `x` as a percentage of `base` (`87%`). */
export function pct(x: number, base: number): string {
  if (!Number.isFinite(x) || !Number.isFinite(base) || base === 0) return '–';
  return `${Math.round((x / base) * 100)}%`;
}

export function fmt(x: number | null | undefined, unit: string, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${x.toFixed(digits)} ${unit}`;
}

export function fmtMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The Markdown table: metric, ours, baseline, ratio, target, met? */
export function markdownTable(rows: Row[]): string {
  const head =
    '| part | metric | ours | baseline | ratio | target | met? |\n| --- | --- | --- | --- | --- | --- | --- |';
  const body = rows.map(
    (r) => `| ${[r.part, r.metric, r.ours, r.baseline, r.ratio, r.target, r.met].map(cell).join(' | ')} |`,
  );
  return [head, ...body].join('\n');
}

/** Human summary of the machine, e.g. `2 CPUs (AMD EPYC …), 23.5 GiB RAM, Node v20.20.2, linux x64`. */
export function machineLine(m: Machine): string {
  return `${m.cpus} CPUs (${m.cpu_model}), ${(m.total_mem_bytes / 2 ** 30).toFixed(1)} GiB RAM, Node ${m.node}, ${m.platform}, load average at start ${m.load_avg_at_start.join(' / ')}`;
}

/** The whole Markdown report (results.md). */
export function markdownReport(r: Results): string {
  const lines = [
    `# Benchmark results${r.quick ? ' (quick)' : ''}`,
    '',
    `${r.date} · ${machineLine(r.machine)} · ${r.duration_s.toFixed(0)} s`,
    '',
    'Each baseline was measured in the same run as the figure next to it (`npm run bench`). What each row measures,',
    'and why a missed target was missed (from CPU profiles) and what would close it: [README.md](README.md).',
    '',
    markdownTable(r.rows),
    '',
  ];
  const parts = Object.entries(r.parts).filter(([, p]) => p.status !== 'ok');
  if (parts.length > 0) {
    lines.push('Parts not measured:', '');
    for (const [name, p] of parts) lines.push(`- ${name}: ${p.status}: ${p.reason ?? ''}`);
    lines.push('');
  }
  if (r.notes.length > 0) {
    lines.push('Notes:', '');
    for (const n of r.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Rows from src/datasets/bench.ts's DatasetBenchResult: ours next to NumPy (issue 7 sets no target). */
export function datasetRows(data: unknown): Row[] {
  const d = data as {
    environment?: { numpy?: string; numpyError?: string };
    signal?: { samples: number; oursMBps: number; numpyMBps?: number; oursFmMBps?: number };
    spectrum?: {
      fftSize: number;
      captures: number;
      averages: number;
      oursPointsPerSec: number;
      numpyPointsPerSec?: number;
    };
    fft?: Array<{
      size: number;
      fftjsPointsPerSec: number;
      radix2PointsPerSec: number;
      numpyPointsPerSec?: number;
    }>;
  } | null;
  if (d === null || typeof d !== 'object' || d.signal === undefined) return rowsFrom(data);
  const np =
    d.environment?.numpy === undefined
      ? `NumPy unavailable: ${d.environment?.numpyError ?? 'not found'}`
      : undefined;
  const row = (metric: string, ours: number, base: number | undefined, unit: string, scale = 1): Row => ({
    part: '',
    metric,
    ours: `${round(ours / scale)} ${unit}`,
    baseline: base === undefined ? (np ?? '–') : `${round(base / scale)} ${unit}`,
    ratio: base === undefined ? '–' : pct(ours, base),
    target: '–',
    met: '–',
  });
  const rows: Row[] = [
    row(
      `signal generation, ${d.signal.samples} complex64 samples (baseline: NumPy)`,
      d.signal.oursMBps,
      d.signal.numpyMBps,
      'MB/s',
    ),
  ];
  if (d.signal.oursFmMBps !== undefined)
    rows.push(row('signal generation, FM waveform', d.signal.oursFmMBps, undefined, 'MB/s'));
  if (d.spectrum !== undefined) {
    const s = d.spectrum;
    rows.push(
      row(
        `spectrum generation, ${s.captures} × ${s.averages} × ${s.fftSize}-point FFTs (baseline: NumPy)`,
        s.oursPointsPerSec,
        s.numpyPointsPerSec,
        'M FFT points/s',
        1e6,
      ),
    );
  }
  for (const f of d.fft ?? []) {
    rows.push(
      row(
        `FFT ${f.size} points, fft.js (baseline: np.fft.fft)`,
        f.fftjsPointsPerSec,
        f.numpyPointsPerSec,
        'M points/s',
        1e6,
      ),
    );
    rows.push(
      row(
        `FFT ${f.size} points, our radix-2 (baseline: np.fft.fft)`,
        f.radix2PointsPerSec,
        f.numpyPointsPerSec,
        'M points/s',
        1e6,
      ),
    );
  }
  return rows;
}

/**
 * Rows from a foreign bench result: `{rows: [...]}` or an array. A row is either ours already (`metric`,
 * `ours`, `baseline`, `ratio`, `target`, `met`) or src/protocol/bench.ts's `{name, mbPerS, cpuMsPerGiB}`,
 * where the row named `bare…` is the baseline of the others.
 */
export function rowsFrom(data: unknown): Row[] {
  const list = Array.isArray(data) ? data : (data as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(list)) return [];
  const s = (v: unknown) =>
    v === undefined || v === null ? '–' : typeof v === 'number' ? String(round(v)) : String(v);
  const items = list as Array<Record<string, unknown>>;
  const bare = items.find((x) => typeof x['mbPerS'] === 'number' && String(x['name']).startsWith('bare'));
  return items.map((x) => {
    if (typeof x['mbPerS'] === 'number') {
      const mb = x['mbPerS'];
      const cpu = typeof x['cpuMsPerGiB'] === 'number' ? `, ${Math.round(x['cpuMsPerGiB'])} CPU ms/GiB` : '';
      const isBare = x === bare;
      const bareMb = typeof bare?.['mbPerS'] === 'number' ? bare['mbPerS'] : Number.NaN;
      return {
        part: '',
        metric: s(x['name']),
        ours: isBare ? '–' : `${mb.toFixed(0)} MB/s${cpu}`,
        baseline: isBare
          ? `${mb.toFixed(0)} MB/s${cpu}`
          : bare === undefined
            ? '–'
            : `${bareMb.toFixed(0)} MB/s`,
        ratio: isBare ? '–' : pct(mb, bareMb),
        target: '–',
        met: '–' as const,
      };
    }
    const m = x['met'];
    return {
      part: '',
      metric: s(x['metric'] ?? x['name']),
      ours: s(x['ours']),
      baseline: s(x['baseline']),
      ratio: s(x['ratio']),
      target: s(x['target']),
      met:
        m === true || m === 'yes'
          ? ('yes' as const)
          : m === false || m === 'no'
            ? ('no' as const)
            : ('–' as const),
    };
  });
}
