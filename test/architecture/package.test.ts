/**
 * What `npm pack` ships: the compiled sources, the built browser client (dist/web/), the docs, the systemd units and the README — nothing test-only (no `*.test.js`,
 * no test helpers, no benchmark code), and the `sdrlink` command's entry point.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('the package', () => {
  it('ships the command and no test or benchmark code', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const files =
      (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path) ?? [];
    assert.ok(files.includes('dist/src/cli/main.js'), 'the bin entry point is missing');
    assert.ok(files.includes('docs/errors.md'));
    assert.ok(files.includes('deploy/systemd/sdrlink-server.service'), 'the systemd units are missing');
    // the browser client the server serves at / (src/server/routes/web.ts)
    for (const f of ['index.html', 'app.js', 'app.css', 'style.css'])
      assert.ok(files.includes(`dist/web/${f}`), `the web client's ${f} is missing`);
    const testOnly = files.filter(
      (f) =>
        /\.test\.js$|(^|\/)test(-support)?[/.]|(^|\/)(bench|netlab)[/.]|helpers\//.test(f) ||
        f.startsWith('dist/test') ||
        f.startsWith('dist/bench') ||
        f.startsWith('dist/netlab'),
    );
    assert.deepEqual(testOnly, []);
    const outside = files.filter(
      (f) => !/^(dist\/src\/|dist\/web\/|docs\/|deploy\/systemd\/|README\.md$|package\.json$)/.test(f),
    );
    assert.deepEqual(outside, []);
  });
});
