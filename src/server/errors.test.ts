import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { API_ERROR_STATUS, WS_CLOSE, formatValidationError } from './errors.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

async function section(): Promise<string> {
  const doc = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8').catch(() =>
    readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8'),
  );
  const start = doc.indexOf('## Signaling server');
  assert.ok(start >= 0, 'docs/errors.md has no "Signaling server" section');
  const next = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

function rows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) => l.split('|').map((c) => c.trim()));
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (/\.(ts|js)$/.test(e.name) && !/\.test\.|test-support|\.d\.ts$|\.map$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('signaling server error codes', () => {
  it('lists every HTTP code with its status in docs/errors.md "Signaling server"', async () => {
    const r = rows(await section());
    for (const [code, status] of Object.entries(API_ERROR_STATUS)) {
      const row = r.find((cells) => cells[1] === `\`${code}\`` && cells[2] === String(status));
      assert.ok(row !== undefined, `${code} (${status}) is not listed`);
    }
  });

  it('lists every WebSocket close code', async () => {
    const r = rows(await section());
    for (const [name, code] of Object.entries(WS_CLOSE)) {
      assert.ok(
        r.some((cells) => cells[1] === `\`${code}\``),
        `close ${code} (${name}) is not listed`,
      );
    }
  });

  it('lists every ERR_ code the server and storage sources use', async () => {
    const text = await section();
    const files = [...(await sources(HERE)), ...(await sources(join(HERE, '..', 'storage')))];
    const codes = new Set<string>();
    for (const f of files)
      for (const m of (await readFile(f, 'utf8')).matchAll(/\bERR_[A-Z_]*[A-Z]\b/g)) codes.add(m[0]);
    assert.ok(codes.size > 20, `found ${codes.size} codes`);
    for (const code of codes) assert.ok(text.includes(`\`${code}\``), `${code} is used but not listed`);
  });
});

describe('validation messages', () => {
  it('names the field and says what is wrong', () => {
    const cases: Array<[Parameters<typeof formatValidationError>[0], string, string]> = [
      [
        [{ keyword: 'required', instancePath: '', params: { missingProperty: 'password' } }],
        'body',
        'body.password is required',
      ],
      [
        [{ keyword: 'type', instancePath: '/file_size', params: { type: 'integer' } }],
        'body',
        'body.file_size must be an integer',
      ],
      [
        [{ keyword: 'type', instancePath: '/parameters', params: { type: ['string', 'object'] } }],
        'body',
        'body.parameters must be a string or a JSON object',
      ],
      [
        [
          {
            keyword: 'enum',
            instancePath: '/client_type',
            params: { allowedValues: [1, 2] },
            parentSchema: { errorMessage: 'must be 1 or 2' },
          },
        ],
        'body',
        'body.client_type must be 1 or 2',
      ],
      [
        [{ keyword: 'pattern', instancePath: '/request_types/0', params: { pattern: '^x$' } }],
        'body',
        'body.request_types[0] has an invalid format (must match ^x$)',
      ],
      [
        [{ keyword: 'maxItems', instancePath: '/request_types', params: { limit: 32 } }],
        'body',
        'body.request_types must have at most 32 items',
      ],
      [[], 'querystring', 'querystring is invalid'],
    ];
    for (const [errors, ctx, message] of cases) assert.equal(formatValidationError(errors, ctx), message);
  });
});
