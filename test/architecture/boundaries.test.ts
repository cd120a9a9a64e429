/**
 * The dependency rules of docs/architecture.md, checked over the real source tree — and, first, over planted
 * violations, so a rule that stopped matching anything would fail here rather than pass silently.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  checkImports,
  checkMessageBranching,
  checkSql,
  formatViolations,
  importsOf,
  readSources,
  type SourceFile,
} from './rules.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('architecture rules catch planted violations', () => {
  it('reads imports, re-exports, dynamic and side-effect imports', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "export { c } from './c.js';",
      "const d = await import('../d/d.js');",
      "import './side.js';",
      '/**',
      " * import { createHash } from 'node:crypto';",
      ' */',
      "// import { y } from './commented.js';",
      'import {',
      '  e,',
      "} from 'pkg/sub';",
    ].join('\n');
    assert.deepEqual(
      importsOf(text).map((i) => i.spec),
      ['./a.js', '../b/b.js', './c.js', '../d/d.js', './side.js', 'pkg/sub'],
    );
  });

  it('a protocol file importing a Node API or a package', () => {
    const v = checkImports([
      { path: 'src/protocol/x.ts', text: "import { createHash } from 'node:crypto';" },
      { path: 'src/protocol/y.ts', text: "import WebSocket from 'ws';" },
      { path: 'src/wire/z.ts', text: "import { Type } from '@sinclair/typebox';" },
    ]);
    assert.deepEqual(
      v.map((x) => [x.rule, x.path]),
      [
        ['isomorphic', 'src/protocol/x.ts'],
        ['isomorphic', 'src/protocol/y.ts'],
      ],
    );
  });

  it('an import across a forbidden boundary', () => {
    const files: SourceFile[] = [
      {
        path: 'src/server/signaling/x.ts',
        text: "import { startProvider } from '../../agents/provider.js';",
      },
      { path: 'src/datasets/x.ts', text: "import type { Channel } from '../protocol/channel.js';" },
      {
        path: 'src/agents/x.ts',
        text: "import { SqliteStorage } from '../storage/sqlite/sqlite-storage.js';",
      },
      { path: 'src/agents/ok.ts', text: "import { sendFile } from '../protocol/sender.js';" },
      { path: 'src/nowhere/x.ts', text: '' },
      { path: 'src/server/x.test.ts', text: "import '../agents/provider.js';" },
    ];
    assert.deepEqual(
      checkImports(files).map((x) => [x.rule, x.path]),
      [
        ['boundary', 'src/server/signaling/x.ts'],
        ['boundary', 'src/datasets/x.ts'],
        ['boundary', 'src/agents/x.ts'],
        ['boundary', 'src/nowhere/x.ts'],
      ],
    );
  });

  it('production code reaching into tests or benchmarks', () => {
    const v = checkImports([
      { path: 'src/server/x.ts', text: "import { startTestServer } from '../../test/helpers/server.js';" },
      { path: 'src/server/y.ts', text: "import { x } from './test-support.js';" },
      { path: 'src/agents/z.ts', text: "import { it } from 'node:test';" },
    ]);
    assert.deepEqual(
      v.map((x) => x.rule),
      ['test-only', 'test-only', 'test-only'],
    );
  });

  it('SQL outside src/storage', () => {
    const v = checkSql([
      {
        path: 'src/services/products/routes.ts',
        text: "const r = await db.selectFrom('products').selectAll().execute();",
      },
      {
        path: 'src/services/batteries/x.ts',
        text: "raw.prepare('SELECT count(*) AS n FROM lithium_ion_batteries');",
      },
      { path: 'src/server/x.ts', text: 'await sql`select 1`.execute(db);' },
      { path: 'src/agents/cache.ts', text: 'const file = await cache.prepare(dataset, params, signal);' },
      { path: 'src/storage/sqlite/users.ts', text: "db.selectFrom('users')" },
      { path: 'src/services/x.test.ts', text: "db.prepare('SELECT 1 FROM t')" },
      { path: 'src/server/doc.ts', text: ' * SELECT x FROM y is what storage does' },
    ]);
    assert.deepEqual(
      v.map((x) => x.path),
      ['src/services/products/routes.ts', 'src/services/batteries/x.ts', 'src/server/x.ts'],
    );
  });

  it('branching on an error message', () => {
    const v = checkMessageBranching([
      { path: 'src/agents/a.ts', text: "if (e.message.startsWith('no provider')) retry();" },
      { path: 'src/agents/b.ts', text: 'const m = /ERR_SESSION_STATE: (\\w+)/.exec(message);' },
      { path: 'src/agents/c.ts', text: 'if (/timeout/.test(err.message)) x();' },
      { path: 'src/agents/d.ts', text: "if (e.code === 'ERR_ICE_FAILED') retry();" },
    ]);
    assert.deepEqual(
      v.map((x) => x.path),
      ['src/agents/a.ts', 'src/agents/b.ts', 'src/agents/c.ts'],
    );
  });
});

describe('the source tree keeps the architecture', () => {
  const files = readSources(root);

  it('finds the sources', () => {
    assert.ok(files.length > 50, `only ${files.length} files under ${root}src`);
  });

  it('imports follow the dependency rules; isomorphic areas use no Node API', () => {
    const v = checkImports(files);
    assert.equal(v.length, 0, `\n${formatViolations(v)}`);
  });

  it('only src/storage writes SQL', () => {
    const v = checkSql(files);
    assert.equal(v.length, 0, `\n${formatViolations(v)}`);
  });

  it('no code branches on error message text', () => {
    const v = checkMessageBranching(files);
    assert.equal(v.length, 0, `\n${formatViolations(v)}`);
  });
});
