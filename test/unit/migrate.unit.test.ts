import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkOrder, pendingMigrations, readMigrations, type Migration } from '../../services/common/index.js';
import { tempDir } from '../support/temp.js';

const m = (version: number, checksum = `c${version}`): Migration => ({ version, name: `m${version}`, sql: '', checksum });

test('the shipped migrations are numbered and ordered', () => {
  const all = readMigrations();
  assert.ok(all.length >= 1);
  assert.deepEqual(all.map((x) => x.version), [...all.map((x) => x.version)].sort((a, b) => a - b));
  assert.equal(all[0]!.version, 1);
});

test('pending are the unapplied ones, in version order', () => {
  assert.deepEqual(pendingMigrations(checkOrder([m(3), m(1), m(2)]), [{ version: 1, checksum: 'c1' }]).map((x) => x.version), [2, 3]);
  assert.deepEqual(pendingMigrations([m(1), m(2)], [{ version: 1, checksum: 'c1' }, { version: 2, checksum: 'c2' }]), []);
});

test('an applied migration that was edited or removed stops the run', () => {
  assert.throws(() => pendingMigrations([m(1, 'new')], [{ version: 1, checksum: 'old' }]), /m1\.sql was edited/);
  assert.throws(() => pendingMigrations([m(2)], [{ version: 1, checksum: 'c1' }]), /migration 1 is applied but its file is gone/);
});

test('duplicate versions and badly named files are refused', () => {
  assert.throws(() => checkOrder([m(1), m(1)]), /two migrations have version 1/);
  const dir = tempDir('mig-');
  writeFileSync(join(dir, 'add-table.sql'), 'SELECT 1');
  assert.throws(() => readMigrations(dir), /'add-table\.sql'.*must be named NNN_name\.sql/);
});
