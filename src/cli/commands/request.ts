import { Command, Option } from 'commander';
import { caOption, pinOption } from '../trust-flags.js';
import { collect } from '../format.js';

/** `sdrlink request`: ask for a dataset and receive it (Type2). */
export function requestCommand(): Command {
  return new Command('request')
    .description('request a dataset and receive it, verified, over WebRTC (or the relay)')
    .argument('<type>', 'request type, e.g. spectrum or signal')
    .option(
      '--server <url>',
      'signaling server URL, or several of one cluster separated by commas, tried in turn when one fails (env SDRLINK_SERVER; default: the stored login)',
    )
    .option(
      '--token <token>',
      'consumer JWT or API key, client_type 2 (env SDRLINK_TOKEN; default: the stored login)',
    )
    .option(
      '-p, --param <key=value>',
      'request parameter (repeatable; values parsed as JSON when possible)',
      collect,
      [],
    )
    .addOption(
      new Option(
        '--format <format>',
        'file format, passed as the format parameter: npz (NumPy archive) or sigmf (SigMF Archive, signal only)',
      ).choices(['npz', 'sigmf']),
    )
    .option(
      '--extract',
      'with --format sigmf: also write the .sigmf-meta / .sigmf-data pair next to the verified archive',
    )
    .option('--out <dir>', 'folder to save into', '.')
    .option('--provider <name>', 'ask this provider (user name or id) only')
    .addOption(
      new Option('--transport <kind>', 'how to carry the file')
        .choices(['auto', 'p2p', 'relay'])
        .default('auto'),
    )
    .option('--wait <ms>', 'how long to wait for a provider', '60000')
    .option('--idle-timeout <ms>', 'fail when no data arrives for this long', '30000')
    .option(
      '--peer-timeout <ms>',
      'fail (ERR_PEER_GONE, partial kept for a resume) when a provider that keeps alive sends nothing at all for this long',
      '5000',
    )
    .option(
      '--retries <n>',
      'ask again this many times when the provider dies midway (ERR_PEER_GONE, ERR_CHANNEL_CLOSED), resuming from the verified prefix',
      '2',
    )
    .option('--connect-timeout <ms>', "time for ICE before the relay (default: the server's relay_after_ms)")
    .option(
      '--max-size <bytes>',
      'largest file accepted: bytes or 512M, 20G (default 16G); checked, with the free space of --out, before any byte is written',
    )
    .option(
      '--allow-unverified',
      "accept a file in the seed's unverified format (no checksum), as a seed-style provider sends it; refused otherwise",
    )
    .option('--json', 'print the result as one JSON object')
    .option(
      '--events',
      'with --json: also print session, connected and progress event lines before the result (what the Python package reads)',
    )
    .option('--quiet', 'no progress output')
    .addOption(caOption())
    .addOption(pinOption())
    .action(async (type: string, o: Record<string, unknown>) => {
      const { runRequest } = await import('../request.js');
      process.exitCode = await runRequest(type, o);
    });
}
