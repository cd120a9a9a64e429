import { DEFAULT_MAX_OUTPUT_BYTES } from '../../datasets/limits.js';
import { caOption, pinOption } from '../trust-flags.js';
import { Command, Option } from 'commander';

/** `sdrlink provide`: a long-running provider (Type1). */
export function provideCommand(): Command {
  return new Command('provide')
    .description('serve dataset requests: claim sessions, generate files, send them peer to peer')
    .option(
      '--server <url>',
      'signaling server URL, or several of one cluster separated by commas, tried in turn when one fails (env SDRLINK_SERVER; default: the stored login)',
    )
    .option(
      '--token <token>',
      'provider JWT or API key, client_type 1 (env SDRLINK_TOKEN; default: the stored login)',
    )
    .option('--types <list>', 'request types to serve (comma-separated; default: all this provider knows)')
    .option('--data-dir <dir>', 'where generated files are cached', './.sdrlink/provider-data')
    .addOption(
      new Option(
        '--cache-max-bytes <size>',
        'bound of the file cache in --data-dir, least recently used evicted first (bytes, or 512M, 20G…; 0: keep nothing after serving)',
      )
        .env('SDRLINK_CACHE_MAX_BYTES')
        .default('10G'),
    )
    .option('--recordings <dir>', 'a folder of SigMF recordings to serve from')
    .option(
      '--source <source>',
      'serve signal, spectrum and spectrogram live from a receiver: rtlsdr[:INDEX] (rtl_sdr), soapy[:ARGS] (SoapySDR), or command:CMD (docs/datasets.md "Live capture")',
    )
    .option('--gain <dB>', 'receiver gain when a request names none (default: automatic gain)')
    .option('--ppm <n>', "the receiver's frequency correction, parts per million (default 0)")
    .addOption(
      new Option('--source-format <format>', 'sample format a command: source writes on stdout')
        .choices(['cf32', 'cu8'])
        .default('cf32'),
    )
    .option(
      '--calibration-db <dB>',
      "the receiver's calibration: dB added to dBFS/Hz to give dBm/Hz in spectra and spectrograms (default: none, dBFS/Hz)",
    )
    .option('--max-concurrent <n>', 'sessions served at once', '4')
    .option('--max-output <bytes>', 'largest file to produce', String(DEFAULT_MAX_OUTPUT_BYTES))
    .addOption(
      new Option('--transport <kind>', 'how to carry files')
        .choices(['auto', 'p2p', 'relay'])
        .default('auto'),
    )
    .option('--connect-timeout <ms>', "time for ICE before the relay (default: the server's relay_after_ms)")
    .option(
      '--peer-timeout <ms>',
      'give up a session (ERR_PEER_GONE) when a consumer that keeps alive sends nothing at all for this long',
      '5000',
    )
    .option(
      '--catalog-interval <ms>',
      'rescan --recordings this often and announce the catalog again when it changed',
      '10000',
    )
    .option('--json', 'one JSON line per event on stdout')
    .addOption(caOption())
    .addOption(pinOption())
    .action(async (o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const { runProvide } = await import('../provide.js');
      // Errors name where the value came from: the flag or the environment.
      const env = cmd.getOptionValueSource('cacheMaxBytes') === 'env';
      await runProvide(o, { cacheMaxBytesFrom: env ? 'SDRLINK_CACHE_MAX_BYTES' : '--cache-max-bytes' });
    });
}
