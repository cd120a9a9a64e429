#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's own test runner.
// Node 20's `node --test DIR` also treats every file under a `test/` folder as a test, helpers included,
// so the file list is given explicitly. Extra arguments pass through (e.g. a name filter:
// `npm test -- --test-name-pattern=relay`); plain words filter files by path substring.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const words = args.filter((a) => !a.startsWith('--'));
let files = walk(dist, []).sort();
if (words.length > 0) files = files.filter((f) => words.some((w) => relative(root, f).includes(w)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const timeout = process.env.SDRLINK_TEST_TIMEOUT_MS ?? '300000';
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', `--test-timeout=${timeout}`, ...flags, ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
