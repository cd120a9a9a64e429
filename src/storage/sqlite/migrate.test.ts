import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { StorageError } from '../types.js';
import { migrate, type Migration } from './migrate.js';

const M: Migration[] = [
  { version: 1, name: '001-a', statements: ['CREATE TABLE a (x INTEGER)'] },
  { version: 2, name: '002-b', statements: ['CREATE TABLE b (y INTEGER)'] },
];

describe('migration runner', () => {
  it('applies each step once and refuses a newer schema', () => {
    const db = new BetterSqlite3(':memory:');
    try {
      assert.deepEqual(migrate(db, M.slice(0, 1)), [1]);
      assert.deepEqual(migrate(db, M), [2]);
      assert.deepEqual(migrate(db, M), []);
      assert.throws(
        () => migrate(db, M.slice(0, 1)),
        (e: unknown) => e instanceof StorageError && e.code === 'ERR_MIGRATION',
      );
    } finally {
      db.close();
    }
  });

  it("adopts a database Kysely's Migrator migrated, by migration name", () => {
    const db = new BetterSqlite3(':memory:');
    try {
      db.exec('CREATE TABLE kysely_migration (name TEXT PRIMARY KEY, timestamp TEXT NOT NULL)');
      db.exec('CREATE TABLE a (x INTEGER)');
      db.prepare('INSERT INTO kysely_migration VALUES (?, ?)').run('001-a', '2025-01-01T00:00:00.000Z');
      assert.deepEqual(migrate(db, M), [2]);
      assert.deepEqual(migrate(db, M), []);
    } finally {
      db.close();
    }
  });
});
