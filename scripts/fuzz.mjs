#!/usr/bin/env node
// `npm run fuzz`: the fuzz suite (test/fuzz/) with many more runs than `npm test` gives it.
// SDRLINK_FUZZ_RUNS (default 20000) is the number of runs of each codec property; the HTTP and WebSocket
// properties take a tenth of it per route. A failure prints fast-check's seed and path: replay it with
// SDRLINK_FUZZ_SEED=<seed> SDRLINK_FUZZ_PATH=<path> npm run fuzz. Extra arguments pass to run-tests.mjs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const env = {
  ...process.env,
  SDRLINK_FUZZ_RUNS: process.env.SDRLINK_FUZZ_RUNS ?? '20000',
  // long runs are long on purpose: an hour per test file before the runner gives up
  SDRLINK_TEST_TIMEOUT_MS: process.env.SDRLINK_TEST_TIMEOUT_MS ?? '3600000',
};
const runTests = fileURLToPath(new URL('./run-tests.mjs', import.meta.url));
const extra = process.argv.slice(2);
const child = spawn(process.execPath, [runTests, ...(extra.length > 0 ? extra : ['test/fuzz/'])], {
  stdio: 'inherit',
  env,
});
child.on('exit', (code, signal) => process.exit(code ?? (signal !== null ? 1 : 0)));
