import { DEFAULT_MAX_OUTPUT_BYTES } from '../../datasets/limits.js';
import { Command } from 'commander';

/**
 * `sdrlink dataset`: make a dataset file locally (what a provider would send) and list SigMF recordings.
 * The datasets code is imported only when an action runs. docs/datasets.md describes the parameters.
 */
export function datasetCommand(): Command {
  const cmd = new Command('dataset').description('generate dataset files locally; list SigMF recordings');

  cmd
    .command('generate')
    .description('write one dataset (.npz) and print its path, size and SHA-256')
    .argument('<type>', 'request type: spectrum or signal')
    .option(
      '-p, --param <key=value>',
      'a parameter (repeatable); the value is read as JSON when it parses (1e6, true, "x"), else as a string',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--params <json>', 'all parameters as one JSON object (merged under --param)')
    .option('-o, --out <file>', 'output file (default: the dataset file name, in the current folder)')
    .option('--recordings <dir>', 'a folder of SigMF recordings, for requests with a `recording` parameter')
    .option('--max-output <bytes>', 'largest file to produce', String(DEFAULT_MAX_OUTPUT_BYTES))
    .option('--json', 'print one JSON object instead of text')
    .action(async (type: string, o: Record<string, string | string[] | boolean | undefined>) => {
      const params: Record<string, unknown> = {};
      if (typeof o['params'] === 'string') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(o['params']);
        } catch {
          throw new Error('--params must be a JSON object');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new Error('--params must be a JSON object');
        }
        Object.assign(params, parsed);
      }
      for (const kv of (o['param'] as string[] | undefined) ?? []) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`--param wants key=value, got ${JSON.stringify(kv)}`);
        const key = kv.slice(0, eq);
        const raw = kv.slice(eq + 1);
        try {
          params[key] = JSON.parse(raw);
        } catch {
          params[key] = raw;
        }
      }
      const maxOutputBytes = Number(o['maxOutput']);
      if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes <= 0) {
        throw new Error(`--max-output must be a positive integer, got ${String(o['maxOutput'])}`);
      }

      const [{ createDefaultDatasets, DatasetError }, fs, path, crypto] = await Promise.all([
        import('../../datasets/index.js'),
        import('node:fs'),
        import('node:path'),
        import('node:crypto'),
      ]);
      const registry = createDefaultDatasets({
        maxOutputBytes,
        ...(typeof o['recordings'] === 'string' ? { recordingsDir: o['recordings'] } : {}),
      });
      const dataset = registry.get(type);
      if (dataset === undefined)
        throw new Error(`unknown type ${JSON.stringify(type)} (known: ${registry.types().join(', ')})`);
      let validated: unknown;
      try {
        validated = dataset.validate(params);
      } catch (err) {
        if (err instanceof DatasetError) throw new Error(`${err.code}: ${err.message}`);
        throw err;
      }
      const out = path.resolve(typeof o['out'] === 'string' ? o['out'] : dataset.fileName(validated));
      const part = `${out}.part`;
      const started = performance.now();
      const { bytes } = await dataset.generate(validated, part);
      fs.renameSync(part, out);
      const seconds = (performance.now() - started) / 1000;
      const hash = crypto.createHash('sha256');
      const fd = fs.openSync(out, 'r');
      try {
        const buf = Buffer.alloc(1 << 20);
        for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
      } finally {
        fs.closeSync(fd);
      }
      const sha256 = hash.digest('hex');
      if (o['json'] === true) {
        process.stdout.write(`${JSON.stringify({ type, path: out, bytes, sha256, seconds })}\n`);
      } else {
        process.stdout.write(`${out}\n  ${bytes} bytes in ${seconds.toFixed(2)} s\n  sha256 ${sha256}\n`);
      }
    });

  cmd
    .command('recordings')
    .description('list the SigMF recordings (*.sigmf-meta + *.sigmf-data) in a folder')
    .argument('<dir>', 'folder of recordings')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { json?: boolean }) => {
      const { scanRecordings } = await import('../../datasets/sigmf.js');
      const scan = await scanRecordings(dir);
      if (o.json === true) {
        const recordings = scan.recordings.map((r) => ({
          name: r.name,
          datatype: r.datatype,
          sample_rate: r.sampleRate,
          center_frequency: r.centerFrequency,
          duration: r.duration,
          samples: r.samples,
          size: r.dataBytes,
          captures: r.captures.length,
          ...(r.datetime === undefined ? {} : { datetime: r.datetime }),
          ...(r.description === undefined ? {} : { description: r.description }),
        }));
        process.stdout.write(`${JSON.stringify({ recordings, invalid: scan.invalid })}\n`);
        return;
      }
      const rows = [
        ['name', 'datatype', 'sample rate (Hz)', 'center (Hz)', 'duration (s)', 'size (bytes)'],
        ...scan.recordings.map((r) => [
          r.name,
          r.datatype,
          String(r.sampleRate),
          String(r.centerFrequency),
          r.duration.toPrecision(6),
          String(r.dataBytes),
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
      for (const row of rows)
        process.stdout.write(
          `${row
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
        );
      for (const bad of scan.invalid) process.stderr.write(`skipped ${bad.name}: ${bad.reason}\n`);
    });

  return cmd;
}
