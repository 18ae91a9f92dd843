// The whole project (src, test, bench) type-checks under tsconfig.json's strict settings.
import { expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './support/processes.ts';

test('tsc --noEmit reports no type error', () => {
  const run = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', REPO], { encoding: 'utf8', timeout: 120_000 });
  expect(`${run.stdout}${run.stderr}`).toBe('');
  expect(run.status).toBe(0);
}, 120_000);
