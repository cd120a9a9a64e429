/**
 * The version `sdrlink --version` prints: the `version` of the package.json this code ships in, so it is
 * the packed tarball's version wherever the package is installed. Found by walking up from this file (two
 * levels from `src/cli/` in the repository, three from `dist/src/cli/` in a build or an install).
 */
import { readFileSync } from 'node:fs';

export function packageVersion(from: URL = new URL('.', import.meta.url)): string {
  for (let dir = from; ;) {
    const file = new URL('package.json', dir);
    let pkg: unknown;
    try {
      pkg = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      pkg = undefined; // none here (or unreadable): look further up
    }
    const p = pkg as { name?: unknown; version?: unknown } | undefined;
    if (p?.name === 'sdrlink' && typeof p.version === 'string') return p.version;
    const up = new URL('..', dir);
    if (up.href === dir.href) throw new Error(`no sdrlink package.json above ${from.pathname}`);
    dir = up;
  }
}
