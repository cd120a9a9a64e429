import { Command, Option } from 'commander';

/** `sdrlink products`: the products HTTP service (server A), which can ask for battery reports. */
export function productsCommand(): Command {
  return new Command('products')
    .description(
      'run the products service: /products with its own SQLite database, and /reports received over WebRTC',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '8081')
    .option('--db <file>', 'SQLite database (or :memory:)', './.sdrlink/products.sqlite')
    .option('--tls', 'serve HTTPS with a self-signed certificate kept beside the database')
    .option(
      '--token <token>',
      'write token (default: SDRLINK_PRODUCTS_TOKEN, else <db>.token, created at first start)',
    )
    .option('--server <url>', 'signaling server, to request battery reports (default: SDRLINK_SERVER)')
    .option(
      '--consumer-token <jwt>',
      'consumer JWT for the signaling server (default: SDRLINK_CONSUMER_TOKEN)',
    )
    .option(
      '--reports-dir <dir>',
      'where received reports are stored (default: reports/ beside the database; with --db :memory:, a private temporary folder removed on exit)',
    )
    .addOption(new Option('--transport <kind>', 'how reports travel').choices(['auto', 'p2p', 'relay']))
    .option(
      '--batteries-url <url>',
      'the batteries service making the reports: POST /reports checks it first, and answers 503 at once when it is down',
    )
    .option('--batteries-ca <pem>', "the batteries service's certificate, when it runs with --tls")
    .option('--report-wait <ms>', 'how long POST /reports waits for a provider', '60000')
    .option('--log', 'request logs (JSON) on stdout')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const [{ runProducts }, { parsePort }] = await Promise.all([
        import('../../services/products/main.js'),
        import('../../services/shared/run.js'),
      ]);
      const wait = Number(o['reportWait']);
      if (!Number.isInteger(wait) || wait < 1000)
        throw new Error(`--report-wait must be an integer ≥ 1000, got ${String(o['reportWait'])}`);
      await runProducts(
        {
          host: String(o['host']),
          port: parsePort(String(o['port'])),
          db: String(o['db']),
          tls: o['tls'] === true,
          token: o['token'] as string | undefined,
          server: o['server'] as string | undefined,
          consumerToken: o['consumerToken'] as string | undefined,
          reportsDir: o['reportsDir'] as string | undefined,
          transport: o['transport'] as 'auto' | 'p2p' | 'relay' | undefined,
          reportWaitMs: wait,
          batteriesUrl: o['batteriesUrl'] as string | undefined,
          batteriesCa: o['batteriesCa'] as string | undefined,
          log: o['log'] === true,
        },
        (line) => process.stdout.write(`${line}\n`),
      );
    });
}
