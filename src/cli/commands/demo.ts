import { Command } from 'commander';

/** `sdrlink demo`: server + provider + consumer on one machine, one spectrum fetched. */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run everything on this machine: a server on a temporary database, a provider, a consumer, one spectrum fetched',
    )
    .option('--out <dir>', 'where the received file is saved', './downloads')
    .option('--type <type>', 'request type', 'spectrum')
    .option('--keep', 'keep the temporary server folder')
    .action(async (o: { out: string; type: string; keep?: boolean }) => {
      const { runDemo } = await import('../demo.js');
      process.exitCode = await runDemo(o);
    });
}
