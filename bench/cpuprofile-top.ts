/**
 * Where the time goes: a summary of a V8 `.cpuprofile` (written by `node --cpu-prof`), for the benchmark's
 * closing notes (`npm run bench -- --profile DIR` profiles every child process).
 *
 * - by module: self time grouped by package (`node_modules/<pkg>`), by our area (`src/<area>/<file>`), by
 *   Node internals, and V8's `(garbage collector)`, `(program)` (native code outside JS, e.g. libuv,
 *   libdatachannel's and SQLite's own threads are *not* sampled — only the JS thread is), `(idle)`;
 * - top functions by self time, and by inclusive time (each function counted once per stack).
 *
 * Run: `node dist/bench/cpuprofile-top.js FILE.cpuprofile [N]`.
 */
import { readFile } from 'node:fs/promises';
import { isMain } from './child.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  ms: number;
  /** Share of the sampled time, idle excluded. */
  share: number;
}

export interface ProfileSummary {
  /** Sampled time, idle excluded, in ms. */
  busyMs: number;
  idleMs: number;
  byModule: ProfileEntry[];
  selfTop: ProfileEntry[];
  inclusiveTop: ProfileEntry[];
}

/** `node_modules/fastify/lib/x.js` → `fastify`; `dist/src/server/app.js` → `src/server/app`; …. */
export function moduleOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return (rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : rest[0]) ?? url;
  }
  if (url.startsWith('node:')) return url.split('/')[0]?.replace(/^node:internal.*/, 'node:internal') ?? url;
  const src = /\/(src|bench|test)\/(.+?)(\.[jt]s)?$/.exec(url);
  if (src !== null) return `${src[1]}/${src[2]}`;
  return url;
}

function frameName(n: ProfileNode): string {
  const f = n.callFrame;
  const where = f.url === '' ? '' : ` ${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
}

/** Summarises a profile; `top` entries per list. */
export function summarizeProfile(p: CpuProfile, top = 12): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    // timeDeltas[i] is the time *before* sample i; attribute the next delta to this sample.
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  let idleUs = 0;
  let busyUs = 0;
  const mod = new Map<string, number>();
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n === undefined) continue;
    if (n.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const m = moduleOf(n.callFrame.url, n.callFrame.functionName);
    mod.set(m, (mod.get(m) ?? 0) + us);
    const name = frameName(n);
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cn = byId.get(cur);
      if (cn === undefined || cn.callFrame.functionName === '(root)') break;
      const k = frameName(cn);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 100) / 10,
        share: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0,
      }));
  return {
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    byModule: list(mod),
    selfTop: list(self),
    inclusiveTop: list(incl),
  };
}

export async function summarizeProfileFile(path: string, top = 12): Promise<ProfileSummary> {
  return summarizeProfile(JSON.parse(await readFile(path, 'utf8')) as CpuProfile, top);
}

/** One line per entry: `  41.2%  1234 ms  name`. */
export function formatEntries(xs: ProfileEntry[]): string {
  return xs
    .map((x) => `  ${x.share.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`)
    .join('\n');
}

if (isMain(import.meta.url)) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: cpuprofile-top.js FILE.cpuprofile [N]\n');
    process.exitCode = 2;
  } else {
    const s = await summarizeProfileFile(file, Number(process.argv[3] ?? 15));
    process.stdout.write(
      `busy ${s.busyMs} ms, idle ${s.idleMs} ms\n\nby module (self):\n${formatEntries(s.byModule)}\n\ntop self:\n${formatEntries(s.selfTop)}\n\ntop inclusive:\n${formatEntries(s.inclusiveTop)}\n`,
    );
  }
}
