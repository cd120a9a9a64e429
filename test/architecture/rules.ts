/**
 * The shape of the codebase as rules a test can check (docs/architecture.md, DESIGN.md "Parts and the
 * direction of dependencies"): which area may import which, which areas stay isomorphic, where SQL may be
 * written, that production code never reaches into tests or benchmarks, and that no code decides what to do
 * from an error's message text. The rules are pure functions over (path, source) pairs, so the test can
 * prove each of them fails on a planted violation before it passes the real tree.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/** A source file: its path relative to the repository root (POSIX separators) and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

export interface Violation {
  rule: 'boundary' | 'isomorphic' | 'sql' | 'test-only' | 'message-text';
  path: string;
  line: number;
  detail: string;
}

/**
 * The areas under `src/` and the areas each may import. An area not listed here fails the check: a new
 * top-level folder is an architecture decision and belongs in this table and in docs/architecture.md.
 */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  protocol: [],
  wire: [],
  datasets: [],
  capture: ['datasets'],
  storage: [],
  http: ['wire'],
  server: ['protocol', 'wire', 'storage', 'http'],
  agents: ['protocol', 'wire', 'datasets'],
  services: ['protocol', 'wire', 'datasets', 'storage', 'http', 'agents'],
  web: ['protocol', 'wire'],
  cli: ['protocol', 'wire', 'datasets', 'capture', 'storage', 'http', 'server', 'agents', 'services'],
};

/**
 * Areas that must run in a browser as they are: no `node:` module, no Node-only package. They may import
 * only these packages (isomorphic ones).
 */
export const ISOMORPHIC: Readonly<Record<string, readonly string[]>> = {
  protocol: [],
  wire: ['@sinclair/typebox'],
  web: ['@sinclair/typebox', 'fflate', 'uplot', 'fft.js'],
};

/** Only files under this folder may write SQL (DESIGN.md: "Nothing but storage writes SQL"). */
export const SQL_AREA = 'storage';

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Every module specifier a file imports or re-exports, with its line. */
export function importsOf(text: string): Array<{ spec: string; line: number }> {
  const out: Array<{ spec: string; line: number }> = [];
  const code = stripComments(text);
  for (const m of code.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined) continue;
    out.push({ spec, line: lineAt(code, (m.index ?? 0) + m[0].indexOf(spec)) });
  }
  return out;
}

/** Blanks block comments and whole-line `//` comments, keeping line numbers (TSDoc examples hold imports). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/^\s*\/\/.*$/gm, '');
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

const isTest = (path: string) => path.endsWith('.test.ts');

/** `src/<area>/...` → area; anything else → undefined. */
export function areaOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** Where a relative specifier lands, as a repository path. */
function resolveSpec(from: string, spec: string): string {
  return posix.normalize(posix.join(posix.dirname(from), spec));
}

/** Bare package name of a specifier (`@scope/name/sub` → `@scope/name`). */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

/** Import rules for production files under src/ (tests may reach across areas to test them together). */
export function checkImports(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const area = areaOf(f.path);
    if (area === undefined || isTest(f.path)) continue;
    const allowed = ALLOWED_IMPORTS[area];
    if (allowed === undefined) {
      out.push({
        rule: 'boundary',
        path: f.path,
        line: 1,
        detail: `src/${area}/ is not an area of docs/architecture.md`,
      });
      continue;
    }
    const iso = ISOMORPHIC[area];
    for (const { spec, line } of importsOf(f.text)) {
      if (spec.startsWith('.')) {
        const target = resolveSpec(f.path, spec);
        const targetArea = areaOf(target);
        if (!target.startsWith('src/')) {
          out.push({
            rule: 'test-only',
            path: f.path,
            line,
            detail: `production code imports ${target} (outside src/)`,
          });
        } else if (targetArea !== undefined && targetArea !== area && !allowed.includes(targetArea)) {
          out.push({
            rule: 'boundary',
            path: f.path,
            line,
            detail: `${area} must not import ${targetArea} (${spec})`,
          });
        } else if (
          isTest(target) ||
          /(^|\/)test-support|\/bench\.ts$|(^|\/)netlab\//.test(target.replace(/\.js$/, '.ts'))
        ) {
          out.push({
            rule: 'test-only',
            path: f.path,
            line,
            detail: `production code imports test-only ${spec}`,
          });
        }
        continue;
      }
      if (spec === 'node:test' || spec === 'node:assert' || spec === 'node:assert/strict') {
        out.push({ rule: 'test-only', path: f.path, line, detail: `production code imports ${spec}` });
        continue;
      }
      if (iso !== undefined && (spec.startsWith('node:') || !iso.includes(packageOf(spec)))) {
        out.push({
          rule: 'isomorphic',
          path: f.path,
          line,
          detail: `${area} is isomorphic and may not import ${spec}`,
        });
      }
    }
  }
  return out;
}

// Kysely's builders, its `sql` template, schema DDL, and SQL text in a string literal.
const SQL_RES: readonly RegExp[] = [
  /\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\s*\(/,
  /\bsql(<[^>\n]*>)?`/,
  /\.schema\s*\.\s*(createTable|alterTable|dropTable|createIndex|dropIndex)\s*\(/,
  /['"`]\s*(SELECT\s[\s\S]{0,80}?\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|UNIQUE)|ALTER\s+TABLE|DROP\s+TABLE|PRAGMA\s)/,
];

/** SQL outside `src/storage/` in production code. */
export function checkSql(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const area = areaOf(f.path);
    if (area === undefined || area === SQL_AREA || isTest(f.path)) continue;
    const lines = f.text.split('\n');
    lines.forEach((l, i) => {
      if (/^\s*(\*|\/\/)/.test(l)) return; // comments may mention SQL
      for (const re of SQL_RES) {
        if (re.test(l)) {
          out.push({
            rule: 'sql',
            path: f.path,
            line: i + 1,
            detail: `SQL outside src/storage: ${l.trim().slice(0, 80)}`,
          });
          return;
        }
      }
    });
  }
  return out;
}

// `err.message.startsWith(...)`, `/re/.test(e.message)`, `.exec(message)`, `message.includes(...)`.
const MESSAGE_BRANCH_RE =
  /\bmessage\s*\)?\s*\.\s*(startsWith|endsWith|includes|match|search)\s*\(|\.(test|exec)\s*\(\s*[\w.]*\bmessage\s*\)/;

/** Decisions made on an error's message text instead of its code (STYLE.md "Errors"). */
export function checkMessageBranching(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    if (areaOf(f.path) === undefined || isTest(f.path)) continue;
    f.text.split('\n').forEach((l, i) => {
      if (/^\s*(\*|\/\/)/.test(l)) return;
      if (MESSAGE_BRANCH_RE.test(l)) {
        out.push({
          rule: 'message-text',
          path: f.path,
          line: i + 1,
          detail: `branches on message text: ${l.trim().slice(0, 80)}`,
        });
      }
    });
  }
  return out;
}

/** Everything under `src/` that is TypeScript, read from disk. */
export function readSources(root: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        out.push({ path: relative(root, p).split(sep).join('/'), text: readFileSync(p, 'utf8') });
      }
    }
  };
  walk(join(root, 'src'));
  return out;
}

/** One line per violation, for a failing assertion's message. */
export function formatViolations(v: readonly Violation[]): string {
  return v.map((x) => `${x.path}:${x.line}: [${x.rule}] ${x.detail}`).join('\n');
}
