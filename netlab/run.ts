/**
 * `npm run netlab [-- --size-mib N] [-- --rows 1,3]`: the lab's whole matrix with bigger files than the
 * CI run, written to netlab/results.md and netlab/results.json (README "Across networks").
 */
import { cpus, totalmem } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanStale, labMissing } from './lab.js';
import { resultsTable, ROWS, runRow, type RowResult } from './rows.js';

const HERE = fileURLToPath(new URL('../../netlab/', import.meta.url));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sizeArg = args.indexOf('--size-mib');
  const sizeMib = sizeArg >= 0 ? Number(args[sizeArg + 1]) : 32;
  const rowsArg = args.indexOf('--rows');
  const only = rowsArg >= 0 ? (args[rowsArg + 1] ?? '').split(',') : undefined;
  const missing = labMissing();
  if (missing !== undefined) {
    process.stderr.write(`netlab: cannot run here: ${missing}\n`);
    process.exit(2);
  }
  const stale = cleanStale();
  if (stale.length > 0) process.stderr.write(`netlab: removed ${stale.length} stale namespaces\n`);
  const results: RowResult[] = [];
  for (const row of ROWS) {
    if (only !== undefined && !only.some((o) => row.id.startsWith(o))) continue;
    process.stderr.write(`netlab: ${row.id} (${row.title}) …\n`);
    const r = await runRow(row, sizeMib * 1024 * 1024, (s) => process.stderr.write(`  ${s}\n`));
    process.stderr.write(`  ${r.ok ? 'ok' : 'FAILED'}: ${r.path ?? '-'} ${r.note}\n`);
    results.push(r);
  }
  const machine = `${cpus().length} CPU (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`;
  const date = new Date().toISOString();
  const md = [
    '# Network lab results',
    '',
    `${date}, ${sizeMib} MiB signal file per row, ${machine}.`,
    'Written by `npm run netlab` (netlab/run.ts). Conditions really applied: NAT kinds, nftables drops,',
    '`tc tbf` rate. No delay emulation (no netem in this kernel). First byte: from the request to the first',
    'byte received; throughput: from the first byte to the verified file.',
    '',
    resultsTable(results),
    '',
  ].join('\n');
  await writeFile(join(HERE, 'results.md'), md);
  await writeFile(
    join(HERE, 'results.json'),
    JSON.stringify({ date, size_mib: sizeMib, machine, results }, null, 2) + '\n',
  );
  process.stdout.write(md);
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

await main();
