/**
 * Install anywhere (issue 11): the tarball `npm pack` makes, installed with `npm install -g` into a
 * temporary prefix, gives an `sdrlink` command that works from any folder — nothing here runs this
 * checkout's `dist/`. From a folder outside the repository, with HOME a fresh temporary folder, the installed
 * command prints the package's version, creates users, runs a server on a free port and a provider, and
 * fetches a spectrum whose SHA-256 is checked on disk.
 *
 * The install takes about a minute here: better-sqlite3's install script first tries to download its
 * prebuilt binary from GitHub (unreachable on this network) and then compiles SQLite from source. npm reads
 * every package from its cache (`--prefer-offline`; `npm ci` filled it) and asks the registry only for what
 * is missing. Without the registry and without those packages in the cache the install fails with npm's
 * message (and the time limit below), instead of hanging.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
} from '../helpers/agents.js';
import { startServerProcess, type CliCommand, type ServerProcess } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../..' : '../../..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const INSTALL_TIMEOUT_MS = Number(process.env['SDRLINK_INSTALL_TIMEOUT_MS'] ?? 480_000);
/** Where the shipped units expect the command: `npm install -g` with the default prefix. */
const UNIT_BIN = '/usr/local/bin/sdrlink';

/** The `skip` option of the systemd check: a reason without systemd-analyze, unless SDRLINK_REQUIRE_SYSTEMD=1. */
function systemdSkip(): string | false {
  if (process.env['SDRLINK_REQUIRE_SYSTEMD'] === '1') return false;
  if (spawnSync('systemd-analyze', ['--version']).status === 0) return false;
  return 'needs systemd-analyze (Debian: apt-get install systemd); set SDRLINK_REQUIRE_SYSTEMD=1 to make this a failure';
}

/** The words of a unit's ExecStart= line (ours hold no quotes). */
function execStart(unit: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='));
  assert.ok(line !== undefined, 'no ExecStart=');
  return line.slice('ExecStart='.length).trim().split(/\s+/);
}

/**
 * The environment of everything this test starts: without the `npm_*` variables `npm test` sets (they would
 * point npm at this checkout) and without c8's NODE_V8_COVERAGE (the installed copy is not ours to measure).
 */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) {
    if (/^npm_/i.test(k) || k === 'NODE_V8_COVERAGE' || k === 'INIT_CWD') env[k] = undefined;
  }
  return { ...env, ...extra };
}

interface Run {
  code: number | string | null;
  stdout: string;
  output: string;
}

/** Runs a command to its end (its whole process group killed after `timeoutMs`). */
function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string | undefined>; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout also ends npm's node-gyp and compilers
    });
    let stdout = '';
    let output = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (c: string) => {
      stdout += c;
      output = (output + c).slice(-16_384);
    });
    proc.stderr.on('data', (c: string) => (output = (output + c).slice(-16_384)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(proc.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new Error(`${command} ${args.join(' ')}: no result within ${opts.timeoutMs} ms, killed\n${output}`),
        );
      } else resolve({ code: code ?? signal, stdout, output });
    });
  });
}

describe('the packed package, installed with npm install -g', () => {
  let tmp = '';
  let prefix = '';
  let bin = '';
  /** A folder outside the repository: the working directory of every installed command. */
  let work = '';
  /** HOME of the installed commands. */
  let home = '';
  /** The systemd units as installed (the README copies them from there). */
  let units = '';
  let cli: CliCommand;
  let env: Record<string, string | undefined>;
  let installError: Error | undefined;
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    tmp = await realpath(await mkdtemp(join(tmpdir(), 'sdrlink-install-')));
    prefix = join(tmp, 'prefix');
    work = join(tmp, 'work');
    home = join(tmp, 'home');
    await Promise.all([mkdir(join(tmp, 'pack')), mkdir(work), mkdir(home)]);
    bin = join(prefix, 'bin', 'sdrlink');
    units = join(prefix, 'lib', 'node_modules', PKG.name, 'deploy', 'systemd');
    cli = { command: bin, args: [] };
    env = cleanEnv({ HOME: home });
    try {
      assert.ok(
        existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')),
        'dist/ is missing: build first (npm run build)',
      );
      // The build is done (`npm test` runs it): pack what it made, without running `prepare` again.
      const pack = await run(
        'npm',
        ['pack', '--ignore-scripts', '--json', '--pack-destination', join(tmp, 'pack')],
        {
          cwd: ROOT,
          env: cleanEnv(),
          timeoutMs: 60_000,
        },
      );
      assert.equal(pack.code, 0, `npm pack failed\n${pack.output}`);
      const filename = (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]?.filename;
      assert.equal(filename, `${PKG.name}-${PKG.version}.tgz`);
      const tgz = join(tmp, 'pack', filename);
      // The user's npm cache and configuration (HOME unchanged here), the working directory outside the repo.
      const install = await run(
        'npm',
        [
          'install',
          '--global',
          '--prefix',
          prefix,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--fetch-retries=1',
          '--fetch-timeout=30000',
          '--allow-scripts=better-sqlite3',
          tgz,
        ],
        { cwd: work, env: cleanEnv(), timeoutMs: INSTALL_TIMEOUT_MS },
      );
      assert.equal(
        install.code,
        0,
        `npm install -g of the packed tarball failed (it needs the npm registry, or npm's cache after ` +
          `\`npm ci\`, and a C++ toolchain when better-sqlite3's prebuilt binary cannot be downloaded)\n` +
          install.output,
      );
    } catch (err) {
      installError = err as Error;
    }
  });

  after(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  });

  const installed = () => {
    if (installError !== undefined) throw installError;
  };

  test('installs a command that is the installed copy, not this checkout', async () => {
    installed();
    const target = await realpath(bin);
    assert.equal(target, join(prefix, 'lib', 'node_modules', PKG.name, 'dist', 'src', 'cli', 'main.js'));
    assert.ok(!target.startsWith(ROOT), `${target} is inside the repository`);
  });

  test('sdrlink --version prints the package.json version, from any folder', async () => {
    installed();
    const r = await run(bin, ['--version'], { cwd: work, env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout.trim(), PKG.version);
  });

  test('users, a server, a provider and a request, all with the installed command, from another folder', async () => {
    installed();
    const db = join(work, '.sdrlink', 'sdrlink.sqlite');
    // `user add` with no --db writes the default database in the working directory.
    const add = async (name: string, type: '1' | '2') => {
      const r = await run(bin, ['user', 'add', name, '--type', type, '--json'], {
        cwd: work,
        env,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.output);
      return (JSON.parse(r.stdout) as { token: string }).token;
    };
    const providerToken = await add('radio-1', '1');
    const consumerToken = await add('alice', '2');
    assert.ok(existsSync(db), `user add did not create ${db}`);

    const srv: ServerProcess = await startServerProcess({
      cli,
      dir: work,
      env,
      args: ['--db', '.sdrlink/sdrlink.sqlite'],
    });
    stops.push(() => srv.stop());
    assert.equal(srv.dbPath, db);

    const pdata = join(work, 'provider-data');
    const provider: ProviderProcess = await startProviderProcess({
      cli,
      cwd: work,
      env,
      url: srv.url,
      token: providerToken,
      dataDir: pdata,
    });
    stops.push(() => provider.stop());

    const out = join(work, 'downloads');
    const r = await runRequestProcess({
      cli,
      cwd: work,
      env,
      url: srv.url,
      token: consumerToken,
      type: 'spectrum',
      params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
      out,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, `${r.stderr}\nprovider: ${provider.stderr()}\nserver: ${srv.stderr()}`);
    assert.equal(r.result['ok'], true);
    assert.equal(r.result['verified'], true);
    const path = r.result['path'] as string;
    assert.equal(path, join(out, 'spectrum_100000000_110000000_2000000.npz'));
    assert.match(r.result['sha256'] as string, /^[0-9a-f]{64}$/);
    assert.equal(await sha256Of(path), r.result['sha256']);
    // The same bytes as the provider's cached file.
    const [entry] = await readdir(join(pdata, 'cache'));
    assert.equal(
      await sha256Of(join(pdata, 'cache', entry as string, 'spectrum_100000000_110000000_2000000.npz')),
      r.result['sha256'],
    );
  });

  test(
    'the systemd units pass systemd-analyze verify, with ExecStart pointing at the installed command',
    { skip: systemdSkip() },
    async () => {
      installed();
      // verify insists that ExecStart's program exists: the units name /usr/local/bin/sdrlink (npm's
      // default global prefix), so they are checked with that one path replaced by this install's — the
      // edit the README asks of an operator whose prefix differs.
      const dir = join(tmp, 'units');
      await mkdir(dir, { recursive: true });
      const names = ['sdrlink-server.service', 'sdrlink-provider.service'];
      for (const name of names) {
        const text = await readFile(join(units, name), 'utf8');
        assert.equal(execStart(text)[0], UNIT_BIN, `${name}: ExecStart`);
        await writeFile(join(dir, name), text.replaceAll(UNIT_BIN, bin));
      }
      const paths = names.map((n) => join(dir, n));
      const verify = await run('systemd-analyze', ['verify', ...paths], {
        cwd: dir,
        env: {},
        timeoutMs: 60_000,
      });
      // verify exits 0 on an unknown key or a bad value too, and prints them: nothing printed is the pass.
      assert.equal(verify.code, 0, verify.output);
      assert.equal(verify.output.trim(), '', 'systemd-analyze verify complained');
      // The hardening stays: systemd's own exposure score (0–10, shown ×10 in --threshold) under 3.5.
      for (const path of paths) {
        const sec = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=35', path], {
          cwd: dir,
          env: {},
          timeoutMs: 60_000,
        });
        assert.equal(sec.code, 0, `${path}: exposure above 3.5\n${sec.output}`);
      }
    },
  );

  test("the units' command lines run: the server's listens, the provider's serves with its token from the environment", async () => {
    installed();
    const server = execStart(await readFile(join(units, 'sdrlink-server.service'), 'utf8'));
    const provide = execStart(await readFile(join(units, 'sdrlink-provider.service'), 'utf8'));
    assert.equal(server[1], 'server');
    assert.equal(provide[1], 'provide');
    // The unit's paths moved under a temporary folder, its port to a free one; the flags as written.
    const state = join(tmp, 'var-lib-sdrlink');
    const cache = join(tmp, 'var-cache-sdrlink-provider');
    await Promise.all([mkdir(state), mkdir(cache)]);
    const local = (words: string[]) =>
      words
        .slice(2)
        .map((w) => w.replace('/var/lib/sdrlink', state).replace('/var/cache/sdrlink-provider', cache))
        .map((w, i, all) => (all[i - 1] === '--port' ? '0' : w));
    const db = join(state, 'sdrlink.sqlite');
    // The README's step: the provider's account, made as the service user, on the unit's database.
    const add = await run(
      bin,
      ['user', 'add', 'radio-9', '--type', '1', '--token-ttl', '31536000', '--json', '--db', db],
      {
        cwd: state,
        env,
        timeoutMs: 30_000,
      },
    );
    assert.equal(add.code, 0, add.output);
    const providerToken = (JSON.parse(add.stdout) as { token: string }).token;
    const consumer = await run(bin, ['user', 'add', 'bob', '--type', '2', '--json', '--db', db], {
      cwd: state,
      env,
      timeoutMs: 30_000,
    });
    assert.equal(consumer.code, 0, consumer.output);
    const consumerToken = (JSON.parse(consumer.stdout) as { token: string }).token;

    const srv = await startServerProcess({ cli, dir: state, env, args: local(server) });
    stops.push(() => srv.stop());
    assert.equal(srv.dbPath, db);

    // As systemd runs it: the flags of ExecStart, SDRLINK_SERVER and SDRLINK_TOKEN from the environment file.
    const proc = spawn(bin, [provide[1] as string, ...local(provide)], {
      cwd: cache,
      env: { ...process.env, ...env, SDRLINK_SERVER: srv.url, SDRLINK_TOKEN: providerToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | string | null>((resolve) =>
      proc.once('exit', (code, sig) => resolve(code ?? sig)),
    );
    stops.push(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    proc.stdout.resume();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`provider not ready within 20 s\n${stderr}`)), 20_000);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`provider exited (${String(code)})\n${stderr}`));
      });
      // Without --json the provider logs lines on stderr (the journal, under systemd).
      createInterface({ input: proc.stderr }).on('line', (line) => {
        stderr = (stderr + line + '\n').slice(-16_384);
        if (line.startsWith('provider ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

    const out = join(tmp, 'unit-downloads');
    const r = await runRequestProcess({
      cli,
      cwd: work,
      env,
      url: srv.url,
      token: consumerToken,
      type: 'spectrum',
      params: { frequency_start: 100e6, frequency_end: 104e6, sample_rate: 2e6 },
      out,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, `${r.stderr}\nprovider: ${stderr}`);
    assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
    assert.ok((await readdir(cache)).includes('cache'), 'the provider caches in its --data-dir');

    // SIGTERM, as systemctl stop sends it: both exit 0, so Restart=on-failure leaves them stopped.
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.equal(await srv.kill('SIGTERM'), 0, srv.stderr());
  });
});
