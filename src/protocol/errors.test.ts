import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TRANSFER_ERROR_CODES, TransferError, isTransferErrorCode, toTransferError } from './errors.js';

/** The repository root: the nearest folder above this file holding docs/errors.md (works from src/ and dist/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'docs', 'errors.md'))) {
    const up = dirname(dir);
    assert.notEqual(up, dir, 'docs/errors.md not found above the test file');
    dir = up;
  }
  return dir;
}

function section(text: string, heading: string): string {
  const start = text.indexOf(heading);
  assert.notEqual(start, -1, `heading ${heading} not found`);
  const next = text.indexOf('\n## ', start + heading.length);
  return text.slice(start, next === -1 ? undefined : next);
}

describe('transfer error codes', () => {
  const root = repoRoot();

  it('lists every code in docs/errors.md, in the transfer protocol section', () => {
    const s = section(readFileSync(join(root, 'docs', 'errors.md'), 'utf8'), '## Transfer protocol');
    // Tolerant of column padding (Prettier aligns Markdown tables).
    const listed = [...s.matchAll(/^\|\s*`(ERR_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    assert.deepEqual(listed, [...TRANSFER_ERROR_CODES], 'docs/errors.md lists exactly the codes, in order');
  });

  it('matches the table of docs/protocol.md §5 exactly', () => {
    const s = section(readFileSync(join(root, 'docs', 'protocol.md'), 'utf8'), '## §5');
    const listed = [...s.matchAll(/^\|\s*`?(ERR_[A-Z_]+)`?\s*\|/gm)].map((m) => m[1]);
    assert.deepEqual(listed, [...TRANSFER_ERROR_CODES]);
  });

  it('carries code, message, cause and the peer’s report', () => {
    const cause = new Error('disk');
    const e = new TransferError('ERR_PEER', 'peer said so', {
      cause,
      peerCode: 'ERR_FRAME_CRC',
      peerMessage: 'bad',
    });
    assert.equal(e.name, 'TransferError');
    assert.equal(e.code, 'ERR_PEER');
    assert.equal(e.message, 'peer said so');
    assert.equal(e.cause, cause);
    assert.equal(e.peerCode, 'ERR_FRAME_CRC');
    assert.equal(e.peerMessage, 'bad');
    assert.ok(e instanceof Error);
    assert.equal(new TransferError('ERR_IO', 'x').peerCode, undefined);
  });

  it('wraps foreign errors with a fallback code and keeps TransferErrors as they are', () => {
    const t = new TransferError('ERR_FILENAME', 'bad name');
    assert.equal(toTransferError(t, 'ERR_IO', 'ctx'), t);
    const w = toTransferError(new Error('EACCES'), 'ERR_IO', 'writing');
    assert.equal(w.code, 'ERR_IO');
    assert.equal(w.message, 'writing: EACCES');
    assert.ok(w.cause instanceof Error);
    assert.equal(isTransferErrorCode('ERR_FRAME_CRC'), true);
    assert.equal(isTransferErrorCode('ERR_NOPE'), false);
  });
});
