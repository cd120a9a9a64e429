import { Command, Option } from 'commander';

/** `sdrlink batteries`: the lithium-ion batteries HTTP service (server B), a `battery-report` provider. */
export function batteriesCommand(): Command {
  return new Command('batteries')
    .description(
      'run the batteries service: /batteries with its own SQLite database; serves battery reports over WebRTC',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '8082')
    .option('--db <file>', 'SQLite database (or :memory:)', './.sdrlink/batteries.sqlite')
    .option('--tls', 'serve HTTPS with a self-signed certificate kept beside the database')
    .option(
      '--token <token>',
      'write token (default: SDRLINK_BATTERIES_TOKEN, else <db>.token, created at first start)',
    )
    .option(
      '--products-url <url>',
      'the products service, read when building reports',
      'http://127.0.0.1:8081',
    )
    .option(
      '--products-ca <file>',
      'trust this certificate (PEM) for an HTTPS products service (its <db>.cert.pem)',
    )
    .option('--server <url>', 'signaling server, to serve battery reports (default: SDRLINK_SERVER)')
    .option(
      '--provider-token <jwt>',
      'provider JWT for the signaling server (default: SDRLINK_PROVIDER_TOKEN)',
    )
    .option(
      '--data-dir <dir>',
      'where generated reports are cached (default: batteries-data/ beside the database; with --db :memory:, a private temporary folder removed on exit)',
    )
    .addOption(new Option('--transport <kind>', 'how reports travel').choices(['auto', 'p2p', 'relay']))
    .option('--log', 'request logs (JSON) on stdout')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const [{ runBatteries }, { parsePort }] = await Promise.all([
        import('../../services/batteries/main.js'),
        import('../../services/shared/run.js'),
      ]);
      await runBatteries(
        {
          host: String(o['host']),
          port: parsePort(String(o['port'])),
          db: String(o['db']),
          tls: o['tls'] === true,
          token: o['token'] as string | undefined,
          productsUrl: String(o['productsUrl']),
          productsCa: o['productsCa'] as string | undefined,
          server: o['server'] as string | undefined,
          providerToken: o['providerToken'] as string | undefined,
          dataDir: o['dataDir'] as string | undefined,
          transport: o['transport'] as 'auto' | 'p2p' | 'relay' | undefined,
          log: o['log'] === true,
        },
        (line) => process.stdout.write(`${line}\n`),
      );
    });
}
