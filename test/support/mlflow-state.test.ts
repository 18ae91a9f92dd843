// Which changes to MLflow's stores concern one team's data (mlflow-state.ts), the judge of "no write
// of B's reached MLflow" in the cross-team suite.
import { describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { changesBetween, StoreTables, touching, type Owner, type StoreSnapshot } from './mlflow-state.ts';
import { scratchTempDirs } from './processes.ts';

const tempDir = scratchTempDirs();

const owner: Owner = { strings: ['zzB01q', 'b0b0b0b0'], experimentIds: ['3'], artifactPrefixes: ['s3://bucket/root/3'] };
const row = (table: string, columns: Record<string, unknown>) => ({ where: table, change: 'added' as const, what: JSON.stringify(columns) });

describe('touching: a change is the owner\'s when it', () => {
  const cases: Array<[string, ReturnType<typeof row> | { where: string; change: 'added'; what: string }, boolean]> = [
    ['names one of its tokens anywhere in a row', row('tags', { key: 'k', value: 'x zzB01q y', run_uuid: 'a' }), true],
    ['names one of its ids (a model version made from its run)', row('model_versions', { name: 'team-a-m', source: 'runs:/b0b0b0b0/model', run_id: null }), true],
    ['has its experiment id in an experiment column', row('runs', { run_uuid: 'r', experiment_id: 3 }), true],
    ['lies under its artifact location', row('experiments', { experiment_id: 9, artifact_location: 's3://bucket/root/3/x' }), true],
    ['links a dataset to its experiment (entity_associations, lower-case types)', row('entity_associations', { source_type: 'evaluation_dataset', source_id: 'd-a', destination_type: 'experiment', destination_id: '3' }), true],
    ['is an object under its experiment in S3', { where: 's3', change: 'added', what: 's3://bucket/root/3/r/artifacts/x' }, true],
  ];
  for (const [name, change, theirs] of cases) test(name, () => expect(touching([change], owner).length).toBe(theirs ? 1 : 0));

  const others: Array<[string, ReturnType<typeof row> | { where: string; change: 'added'; what: string }]> = [
    ['not: another experiment whose id merely contains the digit', row('runs', { run_uuid: 'r', experiment_id: 13 })],
    ['not: a number 3 in a column that is no experiment', row('metrics', { key: 'k', value: 3, step: 3, run_uuid: 'a' })],
    ['not: another experiment\'s location that starts alike', row('experiments', { experiment_id: 31, artifact_location: 's3://bucket/root/31' })],
    ['not: an object of another experiment', { where: 's3', change: 'added', what: 's3://bucket/root/31/r/x' }],
  ];
  for (const [name, change] of others) test(name, () => expect(touching([change], owner)).toEqual([]));
});

test('changesBetween: rows and objects that appeared or went away; a changed row is one of each', () => {
  const before: StoreSnapshot = { rows: new Map([['t', new Set(['{"a":1}', '{"a":2}'])]]), objects: new Map([['s3://b/k', '1 "e1"']]) };
  const after: StoreSnapshot = { rows: new Map([['t', new Set(['{"a":1}', '{"a":3}'])]]), objects: new Map([['s3://b/k', '1 "e2"'], ['s3://b/new', '2 "e3"']]) };
  expect(changesBetween(before, after)).toEqual([
    { where: 't', change: 'added', what: '{"a":3}' },
    { where: 't', change: 'removed', what: '{"a":2}' },
    { where: 's3', change: 'added', what: 's3://b/k' },
    { where: 's3', change: 'added', what: 's3://b/new' },
    { where: 's3', change: 'removed', what: 's3://b/k' },
  ]);
});

test('StoreTables reads the tables again only after another connection committed', () => {
  const path = join(tempDir('store-tables'), 'mlflow.db');
  const writer = new Database(path);
  writer.run('CREATE TABLE runs (run_uuid TEXT, experiment_id INTEGER)');
  const tables = new StoreTables(path);
  const first = tables.read();
  expect(tables.read()).toBe(first);
  writer.run("INSERT INTO runs VALUES ('r1', 3)");
  const second = tables.read();
  expect(second).not.toBe(first);
  expect([...second.get('runs')!]).toEqual(['{"run_uuid":"r1","experiment_id":3}']);
  tables.close();
  writer.close();
});
