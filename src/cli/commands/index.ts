import type { Command } from 'commander';
import { batteriesCommand } from './batteries.js';
import { datasetCommand } from './dataset.js';
import { dbCommand } from './db.js';
import { demoCommand } from './demo.js';
import { historyCommand } from './history.js';
import { loginCommand } from './login.js';
import { logoutCommand } from './logout.js';
import { productsCommand } from './products.js';
import { provideCommand } from './provide.js';
import { providersCommand } from './providers.js';
import { requestCommand } from './request.js';
import { serverCommand } from './server.js';
import { userCommand } from './user.js';

/**
 * Every verb of the CLI. A module here only declares options; its action imports the implementation.
 * Add one line per verb.
 */
export const commands: Array<() => Command> = [
  demoCommand,
  provideCommand,
  requestCommand,
  historyCommand,
  providersCommand,
  productsCommand,
  batteriesCommand,
  serverCommand,
  userCommand,
  dbCommand,
  loginCommand,
  logoutCommand,
  datasetCommand,
];
