/** `sdrlink provide` implementation: see commands/provide.ts. */
import { createDefaultDatasets, DEFAULT_MAX_FFT_POINTS } from '../datasets/index.js';
import { createDatasetRegistry, type Dataset, type DatasetRegistry } from '../datasets/types.js';
import {
  AgentError,
  cleanupWebRtc,
  parseTransportChoice,
  startProvider,
  type ProviderEvent,
  type ProviderOptions,
} from '../agents/index.js';
import { parseByteSize } from '../agents/dataset-cache.js';
import { EXIT_AUTH, EXIT_CONFIG, credentialRefusedLine } from './account.js';
import { CredentialError, resolveTarget } from './credentials.js';
import { failoverLine, formatBytes, formatRate, jsonLine } from './format.js';

export async function runProvide(
  o: Record<string, string | boolean | undefined>,
  sources: { cacheMaxBytesFrom?: string } = {},
): Promise<void> {
  const json = o['json'] === true;
  let target;
  try {
    target = resolveTarget({
      server: str(o['server']),
      token: str(o['token']),
      ca: str(o['ca']),
      pin: str(o['pin']),
    });
  } catch (err) {
    if (!(err instanceof CredentialError || (err instanceof AgentError && err.code === 'ERR_CONFIG')))
      throw err;
    process.stderr.write(`sdrlink provide: ${err.code}: ${err.message}\n`);
    process.exitCode = EXIT_CONFIG;
    return;
  }
  // Checked first: a bad value stops the command before any disk or network work.
  const cacheMaxBytes = parseByteSize(
    String(o['cacheMaxBytes'] ?? '10G'),
    sources.cacheMaxBytesFrom ?? '--cache-max-bytes',
  );
  const maxOutputBytes = Number(o['maxOutput']);
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes <= 0)
    throw new AgentError(
      'ERR_CONFIG',
      `--max-output must be a positive integer, got ${JSON.stringify(o['maxOutput'])}`,
    );
  const datasetOpts: { recordingsDir?: string; maxOutputBytes?: number; calibrationDb?: number } = {
    maxOutputBytes,
  };
  if (typeof o['recordings'] === 'string') datasetOpts.recordingsDir = o['recordings'];
  if (o['calibrationDb'] !== undefined) {
    const cal = Number(o['calibrationDb']);
    if (!Number.isFinite(cal) || cal < -300 || cal > 300 || String(o['calibrationDb']).trim() === '')
      throw new AgentError(
        'ERR_CONFIG',
        `--calibration-db must be a number of dB from -300 to 300, got ${JSON.stringify(o['calibrationDb'])}`,
      );
    datasetOpts.calibrationDb = cal;
  }
  const files = createDefaultDatasets(datasetOpts);
  const all =
    typeof o['source'] === 'string'
      ? await liveRegistry(o, files, maxOutputBytes, datasetOpts.calibrationDb)
      : files;
  let registry = all;
  if (typeof o['types'] === 'string') {
    const wanted = o['types']
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    const modules: Dataset[] = [];
    for (const t of wanted) {
      const m = all.get(t);
      if (m === undefined)
        throw new AgentError(
          'ERR_CONFIG',
          `--types: unknown request type ${JSON.stringify(t)} (known: ${all.types().join(', ')})`,
        );
      modules.push(m);
    }
    registry = createDatasetRegistry(modules);
  }
  const opts: ProviderOptions = {
    server: target.server,
    token: target.token,
    trust: target.trust,
    datasets: registry,
    dataDir: String(o['dataDir']),
    cacheMaxBytes,
    transport: parseTransportChoice(String(o['transport'] ?? 'auto')),
    maxConcurrent: Number(o['maxConcurrent']),
    maxOutputBytes,
    log: json
      ? (e) => {
          process.stdout.write(jsonLine(e));
          // the failover also gets its human line on stderr, as without --json
          if (e.event === 'server-failover') printEvent(e);
        }
      : printEvent,
    faults: faultsFromEnv(),
  };
  if (o['connectTimeout'] !== undefined) opts.connectTimeoutMs = Number(o['connectTimeout']);
  const peerTimeout = Number(o['peerTimeout'] ?? 5000);
  if (!Number.isSafeInteger(peerTimeout) || peerTimeout < 100)
    throw new AgentError(
      'ERR_CONFIG',
      `--peer-timeout must be an integer ≥ 100 (ms), got ${JSON.stringify(o['peerTimeout'])}`,
    );
  opts.peerTimeoutMs = peerTimeout;
  if (datasetOpts.recordingsDir !== undefined) opts.recordingsDir = datasetOpts.recordingsDir;
  const catalogInterval = Number(o['catalogInterval'] ?? 10_000);
  if (!Number.isSafeInteger(catalogInterval) || catalogInterval < 100)
    throw new AgentError(
      'ERR_CONFIG',
      `--catalog-interval must be an integer ≥ 100 (ms), got ${JSON.stringify(o['catalogInterval'])}`,
    );
  opts.catalogIntervalMs = catalogInterval;
  let provider;
  try {
    provider = await startProvider(opts);
  } catch (err) {
    // a refused credential: one line saying what to do, and its own exit code (README "Exit codes")
    if (err instanceof AgentError && err.code === 'ERR_AUTH') {
      process.stderr.write(`${credentialRefusedLine('provide', err.serverCode)}\n`);
      process.exitCode = EXIT_AUTH;
      cleanupWebRtc();
      return;
    }
    // main.ts prints the message only: name the code
    if (err instanceof AgentError) throw new Error(`${err.code}: ${err.message}`, { cause: err });
    throw err;
  }
  let stop = () => undefined as void;
  const signalled = new Promise<void>((resolve) => {
    stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // Stopped by a signal, or by the server refusing the credential (revoked, expired): then no retrying.
  const refused = await Promise.race([signalled.then(() => undefined), provider.stopped]);
  stop();
  await provider.close();
  cleanupWebRtc();
  if (refused !== undefined) {
    process.stderr.write(`${credentialRefusedLine('provide', refused.serverCode)}\n`);
    process.exitCode = EXIT_AUTH;
  }
}

/**
 * The datasets of a provider with `--source`: `signal`, `spectrum` and `spectrogram` from the receiver (requests naming a
 * `recording` still go to `--recordings`). A SoapySDR device is probed for its ranges at start; one that
 * cannot be opened is logged, and its requests then fail with the device's error.
 */
async function liveRegistry(
  o: Record<string, string | boolean | undefined>,
  files: DatasetRegistry,
  maxOutputBytes: number,
  calibrationDb: number | undefined,
): Promise<DatasetRegistry> {
  const { createSource, createLiveDatasets, probeSoapy, CaptureError } = await import('../capture/index.js');
  const number = (key: string, flag: string): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n))
      throw new AgentError('ERR_CONFIG', `${flag} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const gain = number('gain', '--gain');
  const ppm = number('ppm', '--ppm');
  if (ppm !== undefined && !Number.isInteger(ppm))
    throw new AgentError('ERR_CONFIG', `--ppm must be a whole number, got ${String(ppm)}`);
  let source;
  try {
    source = await createSource(String(o['source']), {
      commandFormat: o['sourceFormat'] === 'cu8' ? 'cu8' : 'cf32',
    });
  } catch (err) {
    if (err instanceof CaptureError) throw new AgentError('ERR_CONFIG', err.message);
    throw err;
  }
  if (source.kind === 'soapy') {
    const probe = await probeSoapy(source, process.env['SDRLINK_SOAPY_PYTHON'] ?? 'python3');
    if (!probe.ok)
      process.stderr.write(
        `sdrlink provide: ${probe.code}: ${probe.message} (serving anyway; captures fail until the device is there)\n`,
      );
  }
  const live = createLiveDatasets({
    source,
    maxOutputBytes,
    maxFftPoints: DEFAULT_MAX_FFT_POINTS,
    files,
    ...(gain !== undefined ? { gain } : {}),
    ...(ppm !== undefined ? { ppm } : {}),
    ...(calibrationDb !== undefined ? { calibrationDb } : {}),
  });
  const liveTypes = new Set(live.map((d) => d.type));
  const rest = files
    .types()
    .filter((t) => !liveTypes.has(t))
    .map((t) => files.get(t) as Dataset);
  return createDatasetRegistry([...live, ...rest]);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Test faults, read from the environment (never set in normal use). */
function faultsFromEnv(): NonNullable<ProviderOptions['faults']> {
  const f: NonNullable<ProviderOptions['faults']> = {};
  const corrupt = process.env['SDRLINK_FAULT_CORRUPT_FRAME'];
  if (corrupt !== undefined) f.corruptFrame = Number(corrupt);
  if (process.env['SDRLINK_FAULT_WITHHOLD_CANDIDATES'] === '1') f.withholdCandidates = true;
  const drop = process.env['SDRLINK_FAULT_DROP_P2P_AFTER'];
  if (drop !== undefined) f.dropChannelAfterBytes = Number(drop);
  const kill = process.env['SDRLINK_FAULT_KILL_AFTER'];
  if (kill !== undefined) f.killAfterBytes = Number(kill);
  const names = process.env['SDRLINK_FAULT_FILE_NAMES'];
  if (names !== undefined) f.fileNames = JSON.parse(names) as string[];
  return f;
}

function printEvent(e: ProviderEvent) {
  const sid = 'session_id' in e && e.session_id !== undefined ? `[${e.session_id.slice(0, 8)}] ` : '';
  switch (e.event) {
    case 'ready':
      process.stderr.write(
        `provider ready (user ${e.user_id}, serving ${e.types.join(', ')}, ${e.push ? 'push' : 'polling'})\n`,
      );
      break;
    case 'progress':
    case 'preparing':
      break;
    case 'queued':
      process.stderr.write(`${sid}queued: position ${e.position} for the device\n`);
      break;
    case 'sent':
      process.stderr.write(
        `${sid}sent ${formatBytes(e.bytes)} over ${e.path ?? e.transport} in ${(e.duration_ms / 1000).toFixed(2)} s (${formatRate((e.bytes / Math.max(1, e.duration_ms)) * 1000)})${e.acked ? ', acknowledged' : ''}${e.start_offset > 0 ? `, resumed at ${e.start_offset}` : ''}\n`,
      );
      break;
    case 'refused':
    case 'failed':
      process.stderr.write(`${sid}${e.event}: ${e.code}: ${e.message}\n`);
      break;
    case 'session':
      process.stderr.write(`${sid}request ${e.request_type}\n`);
      break;
    case 'catalog':
      process.stderr.write(`catalog announced: ${e.types.join(', ')}; ${e.recordings} recordings\n`);
      break;
    case 'cache-evicted':
      process.stderr.write(
        `cache: evicted ${e.entries} ${e.entries === 1 ? 'entry' : 'entries'}, ${formatBytes(e.bytes)} freed (${formatBytes(e.cache_bytes)} kept, bound ${formatBytes(e.max_bytes)})\n`,
      );
      break;
    case 'cache-cleaned':
      process.stderr.write(
        `cache: removed ${e.entries} incomplete ${e.entries === 1 ? 'entry' : 'entries'} and ${e.files} temporary ${e.files === 1 ? 'file' : 'files'} left by a crash (${formatBytes(e.bytes)})\n`,
      );
      break;
    case 'stopped':
      break; // runProvide prints the one line that says why
    case 'server-failover':
      process.stderr.write(failoverLine(e));
      break;
    case 'claimed':
    case 'connected':
    case 'lost-claim':
    case 'log':
      process.stderr.write(
        `${sid}${e.event}${'transport' in e ? ` (${'path' in e && e.path !== undefined ? e.path : e.transport})` : ''}${'message' in e ? `: ${e.message}` : ''}\n`,
      );
      break;
  }
}
