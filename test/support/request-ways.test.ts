// The spellings of one request that the cross-team suite sends (request-ways.ts): each is a way
// MLflow's handlers read the same ids (mlflow/server/handlers.py _get_request_message).
import { describe, expect, test } from 'bun:test';
import { camelIds, encodeEvery, spellingsOf } from './request-ways.ts';

describe('spellingsOf', () => {
  test('a GET by id: the query, encoded, repeated both ways, a JSON body without a query (both spellings), /ajax-api/', () => {
    const spellings = spellingsOf({ method: 'GET', path: '/api/2.0/mlflow/runs/get', fields: { theirs: { run_id: 'b1' }, own: { run_id: 'a1' } }, ids: ['run_id'], ajaxTwin: true });
    expect(spellings.map((s) => [s.way, s.method, s.target, s.body ?? null])).toEqual([
      ['query', 'GET', '/api/2.0/mlflow/runs/get?run_id=b1', null],
      ['query percent-encoded', 'GET', '/api/2.0/mlflow/runs/get?run_id=%62%31', null],
      ['query repeated, theirs first', 'GET', '/api/2.0/mlflow/runs/get?run_id=b1&run_id=a1', null],
      ['query repeated, own first', 'GET', '/api/2.0/mlflow/runs/get?run_id=a1&run_id=b1', null],
      ['GET with a JSON body, no query', 'GET', '/api/2.0/mlflow/runs/get', '{"run_id":"b1"}'],
      ['GET with a camelCase JSON body, no query', 'GET', '/api/2.0/mlflow/runs/get', '{"runId":"b1"}'],
      ['/ajax-api/', 'GET', '/ajax-api/2.0/mlflow/runs/get?run_id=b1', null],
    ]);
  });

  test('a POST by id: snake_case, camelCase, both spellings with theirs last, double-encoded, /ajax-api/', () => {
    const spellings = spellingsOf({ method: 'POST', path: '/api/2.0/mlflow/runs/set-tag', fields: { theirs: { run_id: 'b1', key: 'k' }, own: { run_id: 'a1', key: 'k' } }, ids: ['run_id'], ajaxTwin: true });
    expect(spellings.map((s) => [s.way, s.target, s.body, s.headers['content-type']])).toEqual([
      ['JSON body', '/api/2.0/mlflow/runs/set-tag', '{"run_id":"b1","key":"k"}', 'application/json'],
      ['JSON body, camelCase', '/api/2.0/mlflow/runs/set-tag', '{"key":"k","runId":"b1"}', 'application/json'],
      ['JSON body, own snake_case then their camelCase', '/api/2.0/mlflow/runs/set-tag', '{"run_id":"a1","runId":"b1","key":"k"}', 'application/json'],
      ['JSON body, own camelCase then their snake_case', '/api/2.0/mlflow/runs/set-tag', '{"runId":"a1","run_id":"b1","key":"k"}', 'application/json'],
      ['double-encoded JSON body', '/api/2.0/mlflow/runs/set-tag', JSON.stringify('{"run_id":"b1","key":"k"}'), 'application/json'],
      ['/ajax-api/', '/ajax-api/2.0/mlflow/runs/set-tag', '{"run_id":"b1","key":"k"}', 'application/json'],
    ]);
  });

  test('an id in the path: plain, percent-encoded (dots kept), the same field elsewhere naming the other one, /ajax-api/', () => {
    const spellings = spellingsOf({ method: 'GET', path: '/api/2.0/mlflow/logged-models/{}', segments: { theirs: ['m-b.1'], own: ['m-a'], names: ['model_id'] }, ajaxTwin: true });
    expect(spellings.map((s) => [s.way, s.target])).toEqual([
      ['path', '/api/2.0/mlflow/logged-models/m-b.1'],
      ['path percent-encoded', '/api/2.0/mlflow/logged-models/%6D%2D%62.%31'],
      ['path theirs, same field in the query own', '/api/2.0/mlflow/logged-models/m-b.1?model_id=m-a'],
      ['path own, same field in the query theirs', '/api/2.0/mlflow/logged-models/m-a?model_id=m-b.1'],
      ['/ajax-api/', '/ajax-api/2.0/mlflow/logged-models/m-b.1'],
    ]);
  });

  test('a path value holding slashes (an artifact path) keeps them: each part is encoded', () => {
    const [plain, encoded] = spellingsOf({ method: 'GET', path: '/api/2.0/mlflow-artifacts/artifacts/{}', segments: { theirs: ['3/r 1/notes.txt'] }, ajaxTwin: false });
    expect(plain!.target).toBe('/api/2.0/mlflow-artifacts/artifacts/3/r%201/notes.txt');
    expect(encoded!.target).toBe('/api/2.0/mlflow-artifacts/artifacts/%33/%72%20%31/%6E%6F%74%65%73.%74%78%74');
  });
});

test('camelIds renames the id fields along their dotted paths, through lists, and nothing else', () => {
  expect(camelIds({ run_id: 'r', metrics: [{ model_id: 'm', step_no: 1 }], other_field: 1 }, ['run_id', 'metrics.model_id'])).toEqual({
    runId: 'r',
    metrics: [{ modelId: 'm', step_no: 1 }],
    other_field: 1,
  });
  expect(encodeEvery('a.b')).toBe('%61.%62');
});
