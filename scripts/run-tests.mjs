#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's own test runner.
// Node 20's `node --test DIR` also treats every file under a `test/` folder as a test, helpers included,
// so the file list is given explicitly. Extra arguments pass through (e.g. a name filter:
// `npm test -- --test-name-pattern=relay`); plain words filter files by path substring.
//
// `--coverage` runs the suite under c8 (V8's own coverage, mapped back to src/*.ts through the source
// maps; child processes the tests start are covered too) and fails below the floor in .c8rc.json.
// The last line printed is the run's total, `tests: N passed, N failed, N skipped`, after the coverage
// summary, so whoever reads the closing line reads the tests' outcome.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

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
const coverage = args.includes('--coverage');
const flags = args.filter((a) => a.startsWith('--') && a !== '--coverage');
const words = args.filter((a) => !a.startsWith('--'));
let files = walk(dist, []).sort();
if (words.length > 0) files = files.filter((f) => words.some((w) => relative(root, f).includes(w)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const timeout = process.env.SDRLINK_TEST_TIMEOUT_MS ?? '300000';
const testArgs = ['--test', '--test-concurrency=2', `--test-timeout=${timeout}`, ...flags, ...files];
const [command, commandArgs] = coverage
  ? [process.execPath, [join(root, 'node_modules/c8/bin/c8.js'), process.execPath, ...testArgs]]
  : [process.execPath, testArgs];

const totals = { pass: 0, fail: 0, skipped: 0, seen: false };
const child = spawn(command, commandArgs, { stdio: ['inherit', 'pipe', 'inherit'], cwd: root });
let carry = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const lines = (carry + chunk.toString('utf8')).split('\n');
  carry = lines.pop() ?? '';
  for (const line of lines) {
    // TAP's `# pass 12` or the spec reporter's `ℹ pass 12`: the runner's own totals.
    const m = /^(?:#|ℹ) (pass|fail|skipped) (\d+)$/.exec(line.trim());
    if (m !== null) {
      totals[m[1]] = Number(m[2]);
      totals.seen = true;
    }
  }
});
child.on('exit', (code, signal) => {
  if (totals.seen)
    console.log(`tests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
  process.exit(code ?? (signal !== null ? 1 : 0));
});
