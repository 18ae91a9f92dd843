// Whose an id is, asked of the backend: against real MLflow servers (the routes and answer shapes
// of 2.16.2 and 3.17.2, the 2.x trace route when 3.x's is missing), then the cache's own behaviour
// against a backend the test controls: one call for concurrent askers, links kept, names trusted
// for lookups.nameSeconds and dropped by a change, a bound, and failures that refuse (503) instead
// of allowing.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startMlflow, venvPython } from '../support/mlflow.ts';
import type { Started } from '../support/processes.ts';
import { ownerLookups, LookupFailed, type OwnerLookups } from '../../src/scopes/owners.ts';
import { ownCalls } from '../../src/pipeline/own-calls.ts';
import { plainMlflowBackend } from '../../src/backends/mlflow.ts';

setDefaultTimeout(180_000);

const lookupsAt = (url: string, settings: Partial<Parameters<typeof ownerLookups>[1]> = {}) => {
  const built = plainMlflowBackend(url);
  if (!built.ok) throw new Error(built.problem);
  return ownerLookups(ownCalls(built.value, 5_000), { cacheEntries: 1000, nameMs: 30_000, ...settings });
};

for (const version of ['3.17.2', '2.16.2']) {
  describe(`against MLflow ${version}`, () => {
    let mlflow: Started & { url: string };
    let ids: Record<string, string>;
    let owners: OwnerLookups;
    beforeAll(async () => {
      mlflow = await startMlflow(version);
      const made = spawnSync(venvPython(version), [join(import.meta.dir, 'owners_fixture.py')], { env: { ...process.env, MLFLOW_TRACKING_URI: mlflow.url }, encoding: 'utf8', timeout: 120_000 });
      if (made.status !== 0) throw new Error(made.stderr.slice(-3000));
      ids = JSON.parse(made.stdout.trim().split('\n').pop()!);
      owners = lookupsAt(mlflow.url);
    });
    afterAll(() => mlflow?.stop());

    test('a run is in its experiment, with its artifact URI', async () => {
      expect(await owners.placement('run', ids.run_id!, 'r1')).toEqual({ experimentId: ids.experiment_id!, artifactUri: ids.artifact_uri! });
    });
    test(`a trace is in its experiment (${version.startsWith('2') ? 'the 2.x route, after 3.x\'s is missing' : 'GetTraceInfoV3'})`, async () => {
      expect(await owners.placement('trace', ids.trace_id!, 'r2')).toEqual({ experimentId: ids.experiment_id! });
    });
    test('an experiment id has its name', async () => {
      expect(await owners.experimentName(ids.experiment_id!, 'r3')).toBe('team-a/owners');
    });
    test('ids that name nothing are undefined, malformed ones too, never an error', async () => {
      expect(await owners.placement('run', '0123456789abcdef0123456789abcdef', 'r4')).toBeUndefined();
      expect(await owners.placement('trace', 'tr-00000000000000000000000000000000', 'r5')).toBeUndefined();
      expect(await owners.experimentName('999', 'r6')).toBeUndefined();
      expect(await owners.experimentName('abc', 'r7')).toBeUndefined();
      expect(await owners.isPrompt('no-such-model', 'r8')).toBeUndefined();
    });
    test('a registered model is not a prompt', async () => {
      expect(await owners.isPrompt('team-a-model', 'r9')).toBe(false);
    });
    if (version.startsWith('3')) {
      test('a prompt is one (3.x)', async () => {
        expect(await owners.isPrompt('team-a-prompt', 'r10')).toBe(true);
      });
      test('a logged model is in its experiment, with its artifact URI (3.x)', async () => {
        const where = await owners.placement('loggedModel', ids.logged_model_id!, 'r11');
        expect(where?.experimentId).toBe(ids.experiment_id!);
        expect(where?.artifactUri).toContain(ids.logged_model_id!);
        expect(await owners.placement('loggedModel', 'm-00000000000000000000000000000000', 'r12')).toBeUndefined();
      });
      test('a dataset is in its experiments, a lonely one in none (3.x)', async () => {
        expect(await owners.dataset(ids.dataset_id!, 'r13')).toEqual([ids.experiment_id!]);
        expect(await owners.dataset(ids.lonely_dataset_id!, 'r14')).toEqual([]);
        // MLflow answers an unknown dataset's experiment ids with an empty list: refused the same way.
        expect(await owners.dataset('d-00000000000000000000000000000000', 'r15')).toEqual([]);
      });
    }
  });
}

describe('the cache, against a backend the test controls', () => {
  let backend: ReturnType<typeof Bun.serve>;
  const calls: string[] = [];
  let names: Record<string, string> = {};
  let failWith: number | undefined;
  let release: (() => void) | undefined;
  beforeAll(() => {
    backend = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        const url = new URL(request.url);
        calls.push(`${url.pathname}${url.search}`);
        // The answer is what the backend knew when the request arrived, sent when the test releases it.
        const answer = (() => {
          if (failWith) return new Response('<html>oops</html>', { status: failWith });
          if (url.pathname === '/api/2.0/mlflow/runs/get') return Response.json({ run: { info: { experiment_id: '1' } } });
          const name = names[url.searchParams.get('experiment_id') ?? ''];
          return name ? Response.json({ experiment: { name } }) : Response.json({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no' }, { status: 404 });
        })();
        if (release) await new Promise<void>((done) => (release = done));
        return answer;
      },
    });
  });
  afterAll(() => backend.stop(true));
  const fresh = (settings: Partial<Parameters<typeof ownerLookups>[1]> = {}) => {
    calls.length = 0;
    failWith = undefined;
    return lookupsAt(`http://127.0.0.1:${backend.port}`, settings);
  };

  test('concurrent lookups of one id make one call', async () => {
    names = { '1': 'team-a/x' };
    const owners = fresh();
    let arrived!: () => void;
    const gate = new Promise<void>((done) => (arrived = done));
    release = () => {};
    const answers = Promise.all([1, 2, 3, 4, 5].map(() => owners.experimentName('1', 'r')));
    // Wait until the one call is at the backend, then let it answer.
    while (calls.length === 0) await Bun.sleep(5);
    const pending = release;
    release = undefined;
    pending();
    arrived();
    await gate;
    expect(await answers).toEqual(['team-a/x', 'team-a/x', 'team-a/x', 'team-a/x', 'team-a/x']);
    expect(calls).toEqual(['/api/2.0/mlflow/experiments/get?experiment_id=1']);
  });

  test('a run\'s experiment is kept for good; a name only for nameSeconds', async () => {
    names = { '1': 'team-a/x' };
    let clock = 0;
    const owners = fresh({ nameMs: 1000, now: () => clock });
    await owners.placement('run', 'abc', 'r');
    await owners.experimentName('1', 'r');
    clock = 10_000_000;
    await owners.placement('run', 'abc', 'r');
    await owners.experimentName('1', 'r');
    expect(calls).toEqual(['/api/2.0/mlflow/runs/get?run_id=abc', '/api/2.0/mlflow/experiments/get?experiment_id=1', '/api/2.0/mlflow/experiments/get?experiment_id=1']);
  });

  test('a rename through the gateway drops every name at once; an id that did not exist is asked again', async () => {
    names = { '1': 'team-a/x' };
    const owners = fresh();
    await owners.experimentName('1', 'r');
    owners.changed('UpdateExperiment');
    names = { '1': 'team-b/x', '2': 'team-a/new' };
    expect(await owners.experimentName('1', 'r')).toBe('team-b/x');
    owners.changed('LogMetric');
    expect(await owners.experimentName('1', 'r')).toBe('team-b/x');
    expect(calls.length).toBe(2);
    names = {};
    expect(await owners.experimentName('3', 'r')).toBeUndefined();
    names = { '3': 'team-a/late' };
    expect(await owners.experimentName('3', 'r')).toBe('team-a/late');
  });

  test('a name asked before a rename and answered after it is not kept', async () => {
    names = { '1': 'old' };
    const owners = fresh();
    release = () => {};
    const asked = owners.experimentName('1', 'r');
    while (calls.length === 0) await Bun.sleep(5);
    owners.changed('UpdateExperiment');
    names = { '1': 'new' };
    const pending = release;
    release = undefined;
    pending();
    expect(await asked).toBe('old');
    expect(await owners.experimentName('1', 'r')).toBe('new');
  });

  test('the cache holds at most cacheEntries, the least recently used go first', async () => {
    names = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [String(i), `n${i}`]));
    const owners = fresh({ cacheEntries: 100 });
    for (let i = 0; i < 150; i++) await owners.experimentName(String(i), 'r');
    expect(owners.size()).toBe(100);
    calls.length = 0;
    await owners.experimentName('149', 'r');
    await owners.experimentName('0', 'r');
    expect(calls).toEqual(['/api/2.0/mlflow/experiments/get?experiment_id=0']);
  });

  test('a backend that is down refuses with 503', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
    const url = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    const error = await lookupsAt(url).placement('run', 'abc', 'r').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(LookupFailed);
    expect((error as LookupFailed).status).toBe(503);
  });

  for (const [label, failure] of [['a 500', 500], ['a 502 page', 502], ['a 403 (the gateway\'s role may not read)', 403], ['a 429', 429]] as const) {
    test(`${label} refuses with 503 TEMPORARILY_UNAVAILABLE, never allows, and is not kept`, async () => {
      const owners = fresh();
      failWith = failure;
      const error = await owners.experimentName('1', 'r').then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(LookupFailed);
      expect((error as LookupFailed).status).toBe(503);
      failWith = undefined;
      names = { '1': 'team-a/x' };
      expect(await owners.experimentName('1', 'r')).toBe('team-a/x');
    });
  }

  test('a backend slower than timeoutSeconds refuses with 503', async () => {
    const built = plainMlflowBackend(`http://127.0.0.1:${backend.port}`);
    if (!built.ok) throw new Error(built.problem);
    const owners = ownerLookups(ownCalls(built.value, 200), { cacheEntries: 10, nameMs: 1000 });
    release = () => {};
    const error = await owners.experimentName('1', 'r').then(() => undefined, (e: unknown) => e);
    const pending = release;
    release = undefined;
    pending?.();
    expect(error).toBeInstanceOf(LookupFailed);
    expect((error as LookupFailed).detail).toMatch(/Timeout|abort/i);
  });
});
