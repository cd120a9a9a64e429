/**
 * One registry of error codes, kept in step with docs/errors.md (STYLE.md "Errors"; fastify's errors test).
 *
 * Each area keeps its own registry next to its error class; this test gathers them, and checks in both
 * directions that each docs section lists exactly its area's codes: a code added in the source without a
 * line in the docs fails, and so does a line in the docs for a code no longer in the source. Any other
 * `ERR_…` literal in production code must be documented somewhere in docs/errors.md too.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AGENT_ERROR_CODES } from '../../src/agents/errors.js';
import { CAPTURE_ERROR_CODES } from '../../src/capture/errors.js';
import { CREDENTIAL_ERROR_CODES } from '../../src/cli/credentials.js';
import { DATASET_ERROR_CODES } from '../../src/datasets/types.js';
import { TRANSFER_ERROR_CODES } from '../../src/protocol/errors.js';
import { ADMIN_ERROR_CODES } from '../../src/server/admin.js';
import { ConfigError, ServerTlsError } from '../../src/server/config.js';
import { API_ERROR_STATUS } from '../../src/server/errors.js';
import { SERVICE_ERROR_STATUS } from '../../src/services/shared/errors.js';
import { STORAGE_ERROR_CODES } from '../../src/storage/types.js';
import { VIEW_ERROR_CODES } from '../../src/web/view/errors.js';
import { readSources } from './rules.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** docs/errors.md section heading (its start) → the codes the source defines for it. */
export const ERROR_REGISTRY: ReadonlyArray<{ section: string; codes: readonly string[] }> = [
  {
    section: 'Signaling server',
    codes: [
      ...Object.keys(API_ERROR_STATUS),
      ...ADMIN_ERROR_CODES,
      ...STORAGE_ERROR_CODES,
      new ConfigError('x').code,
      new ServerTlsError('x').code,
    ],
  },
  { section: 'Transfer protocol', codes: TRANSFER_ERROR_CODES },
  { section: 'Datasets', codes: DATASET_ERROR_CODES },
  { section: 'Capture', codes: CAPTURE_ERROR_CODES },
  { section: 'Data viewer', codes: VIEW_ERROR_CODES },
  { section: 'Agents', codes: AGENT_ERROR_CODES },
  { section: 'CLI credentials', codes: CREDENTIAL_ERROR_CODES },
  { section: 'Services', codes: Object.keys(SERVICE_ERROR_STATUS) },
  { section: 'Python package', codes: pythonErrorCodes() },
  { section: 'Browser client', codes: webErrorCodes() },
];

/** The codes of `WEB_ERROR_CODES` in src/web/errors.ts (the page is bundled, not compiled with the tests). */
export function webErrorCodes(): string[] {
  const text = readFileSync(`${root}src/web/errors.ts`, 'utf8');
  const list = /^export const WEB_ERROR_CODES = \[([^\]]*)\]/m.exec(text)?.[1];
  if (list === undefined) throw new Error('src/web/errors.ts has no WEB_ERROR_CODES array');
  return [...list.matchAll(/'(ERR_[A-Z0-9_]+)'/g)].map((m) => m[1] as string);
}

/** The codes of `PYTHON_ERROR_CODES` in python/sdrlink/_errors.py (the Python package's own). */
export function pythonErrorCodes(): string[] {
  const text = readFileSync(`${root}python/sdrlink/_errors.py`, 'utf8');
  const tuple = /^PYTHON_ERROR_CODES = \(([^)]*)\)/m.exec(text)?.[1];
  if (tuple === undefined) throw new Error('python/sdrlink/_errors.py has no PYTHON_ERROR_CODES tuple');
  return [...tuple.matchAll(/"(ERR_[A-Z0-9_]+)"/g)].map((m) => m[1] as string);
}

/** The `## ` sections of a markdown text, by heading. */
export function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = md.split(/^## /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    out.set(p.slice(0, nl).trim(), p.slice(nl + 1));
  }
  return out;
}

/** Codes in the first column of a section's tables (`| \`ERR_X\` | …`). */
export function tableCodes(section: string): Set<string> {
  const out = new Set<string>();
  for (const m of section.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|/gm)) out.add(m[1] as string);
  return out;
}

function sectionFor(all: Map<string, string>, start: string): string {
  for (const [heading, body] of all) if (heading.startsWith(start)) return body;
  throw new Error(`docs/errors.md has no section starting "${start}"`);
}

/** What differs between a registry and a section: codes missing from the docs, and stale lines. */
export function compare(codes: readonly string[], documented: ReadonlySet<string>) {
  const inSource = new Set(codes);
  return {
    undocumented: [...inSource].filter((c) => !documented.has(c)).sort(),
    stale: [...documented].filter((c) => !inSource.has(c)).sort(),
  };
}

describe('error codes and docs/errors.md', () => {
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  const all = sections(doc);

  it('catches a code missing from the docs and a stale line (planted)', () => {
    const planted = sections(
      '# x\n## Area\n\n| code | when |\n| --- | --- |\n| `ERR_A` | a |\n| `ERR_OLD` | b |\n',
    );
    const d = compare(['ERR_A', 'ERR_NEW'], tableCodes(sectionFor(planted, 'Area')));
    assert.deepEqual(d, { undocumented: ['ERR_NEW'], stale: ['ERR_OLD'] });
  });

  for (const { section, codes } of ERROR_REGISTRY) {
    it(`"${section}" lists exactly the area's codes`, () => {
      const d = compare(codes, tableCodes(sectionFor(all, section)));
      assert.deepEqual(d.undocumented, [], `codes in the source missing from docs/errors.md "${section}"`);
      assert.deepEqual(d.stale, [], `docs/errors.md "${section}" lists codes the source no longer has`);
    });
  }

  it('every ERR_ literal in production code is documented', () => {
    const documented = new Set([...doc.matchAll(/`(ERR_[A-Z0-9_]+)/g)].map((m) => m[1] as string));
    const missing: string[] = [];
    for (const f of readSources(root)) {
      if (f.path.endsWith('.test.ts')) continue;
      for (const m of f.text.matchAll(/['"`](ERR_[A-Z0-9_]+)/g)) {
        const code = m[1] as string;
        if (!documented.has(code)) missing.push(`${code} (${f.path})`);
      }
    }
    assert.deepEqual([...new Set(missing)], []);
  });
});
