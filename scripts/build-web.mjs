#!/usr/bin/env node
// Builds the browser client (src/web/, README "In a browser") into dist/web/: the page, its stylesheet and
// one bundled script, app.js (esbuild, ES2022, minified, with a source map). The bundle takes src/protocol
// and src/wire as they are — the code the agents run — with one build seam: TypeBox's TypeCompiler
// generates code with `new Function`, which the page's Content-Security-Policy forbids, so
// `@sinclair/typebox/compiler` resolves to src/web/app/typebox-compiler.ts, the same checks interpreted
// (`Value.Check`). `npm run build` runs this after tsc; `node scripts/build-web.mjs` alone rebuilds the page.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src/web');
const out = join(root, 'dist/web');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'app/main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  alias: { '@sinclair/typebox/compiler': join(src, 'app/typebox-compiler.ts') },
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(src, f), join(out, f));
// app.css: the data viewer's stylesheets (docs/web-view.md: uPlot's own and the viewer's), as files —
// the CSP allows no inline style. The page links it always; those not (yet) in the tree are left out.
const moduleStyles = [join(root, 'node_modules/uplot/dist/uPlot.min.css'), join(src, 'view/view.css')].filter(
  (f) => existsSync(f),
);
writeFileSync(
  join(out, 'app.css'),
  moduleStyles.map((f) => `/* ${relative(root, f)} */\n${readFileSync(f, 'utf8')}\n`).join('') ||
    '/* no module styles */\n',
);
