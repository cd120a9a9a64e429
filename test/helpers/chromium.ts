/**
 * A real Chromium for tests, driven by playwright-core (which never downloads a browser): the system's
 * `/usr/bin/chromium` (Debian's `chromium` package), or `SDRLINK_CHROMIUM`.
 *
 * - `chromiumSkip()` is the `skip` option for a test that needs it: `false` when the browser is there, a
 *   reason string otherwise — except with `SDRLINK_REQUIRE_CHROMIUM=1`, where it returns `false` so the
 *   test runs and fails loudly in {@link launchChromium} instead of being skipped.
 * - `launchChromium()` starts it headless with a fresh profile in a temporary folder; `close()` ends the
 *   browser process and removes the folder (call it in a `finally`/`after`).
 *
 * @example
 * describe('in a browser', { skip: chromiumSkip() }, () => {
 *   let browser: Chromium;
 *   before(async () => (browser = await launchChromium()));
 *   after(() => browser?.close());
 * });
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** The browser executable used by tests. */
export const CHROMIUM = process.env['SDRLINK_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Flags for a quiet, offline, headless run as root: no sandbox (root has none), no GPU, no QUIC, and none
 * of the background traffic a first run makes (component updates, sync, field trials).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function usable(): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether browser tests must run (and fail) even without the browser: `SDRLINK_REQUIRE_CHROMIUM=1`. */
function required(): boolean {
  return process.env['SDRLINK_REQUIRE_CHROMIUM'] === '1';
}

/** The `skip` option of a test that needs Chromium (see the module comment). */
export function chromiumSkip(): string | false {
  if (usable() || required()) return false;
  return `needs Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set SDRLINK_CHROMIUM); set SDRLINK_REQUIRE_CHROMIUM=1 to make this a failure`;
}

/** A running browser with its own profile. */
export interface Chromium {
  context: BrowserContext;
  /** Closes the browser (its process ends) and removes its profile folder. Safe to call twice. */
  close(): Promise<void>;
}

/** Launches Chromium headless with a fresh profile in a temporary folder. */
export async function launchChromium(): Promise<Chromium> {
  if (!usable()) {
    throw new Error(`Chromium is required (SDRLINK_REQUIRE_CHROMIUM=1) but ${CHROMIUM} is not executable`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'sdrlink-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    close: () =>
      (closing ??= context
        .close()
        .catch(() => undefined)
        .then(() => rm(profile, { recursive: true, force: true }))),
  };
}
