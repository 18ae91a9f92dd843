// Where a request's ids are read from: every place MLflow could take them, in every spelling, each
// copy (issue 19 item 2; operation-resources.ts). A value the gateway did not read is a value it
// did not check, so each row here is a way an id can reach MLflow.
import { describe, expect, test } from 'bun:test';
import { readValues, refsReadBody, spellings, type RequestParts } from '../../src/scopes/request-values.ts';
import type { ResourceRef } from '../../src/scopes/operation-resources.ts';

const encode = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const parts = (over: Partial<RequestParts>): RequestParts => ({ method: 'POST', query: '', headers: new Headers(), pathParams: [], ...over });
const values = (refs: ResourceRef[], over: Partial<RequestParts>) => {
  const read = readValues(refs, parts(over));
  if (!read.ok) throw new Error(read.missing ? `missing ${read.kind}` : read.error.message);
  return read.values.map((v) => v.value).sort();
};

const RUN: ResourceRef[] = [{ kind: 'runId', at: ['run_id', 'run_uuid'], required: true }];
const METRIC_MODELS: ResourceRef[] = [{ kind: 'loggedModelId', at: 'metrics.model_id' }];
const NESTED: ResourceRef[] = [{ kind: 'experimentId', at: 'trace.trace_info.trace_location.mlflow_experiment.experiment_id' }];

describe('every copy of a field is read', () => {
  type Row = [label: string, refs: ResourceRef[], over: Partial<RequestParts>, found: string[]];
  const table: Row[] = [
    ['query, proto name', RUN, { method: 'GET', query: 'run_id=A' }, ['A']],
    ['query, JSON name', RUN, { method: 'GET', query: 'runId=A' }, ['A']],
    ['query, the deprecated run_uuid', RUN, { method: 'GET', query: 'run_uuid=A' }, ['A']],
    ['query, repeated: every value', RUN, { method: 'GET', query: 'run_id=A&run_id=B' }, ['A', 'B']],
    ['query, percent-encoded name and value', RUN, { method: 'GET', query: 'run%5Fid=%41' }, ['A']],
    ['query, + is a space', RUN, { method: 'GET', query: 'run_id=a+b' }, ['a b']],
    ['body, proto name', RUN, { body: encode({ run_id: 'A' }) }, ['A']],
    ['body, JSON name', RUN, { body: encode({ runId: 'A' }) }, ['A']],
    ['body, both spellings', RUN, { body: encode({ run_id: 'A', runId: 'B' }) }, ['A', 'B']],
    ['body, duplicate keys: the last, as Python and JSON.parse both keep', RUN, { body: encode('{"run_id":"A","run_id":"B"}') }, ['B']],
    ['body double-encoded as a JSON string (MLflow decodes it again)', RUN, { body: encode(JSON.stringify(JSON.stringify({ run_id: 'A' }))) }, ['A']],
    ['body with a number where an id is', [{ kind: 'experimentId', at: 'experiment_id' }], { body: encode({ experiment_id: 12 }) }, ['12']],
    ['query and body both', RUN, { query: 'run_id=A', body: encode({ run_id: 'B' }) }, ['A', 'B']],
    ['arrays on the way', METRIC_MODELS, { body: encode({ metrics: [{ model_id: 'm-1' }, { modelId: 'm-2' }, {}] }) }, ['m-1', 'm-2']],
    ['nested, every step in both spellings', NESTED, { body: encode({ trace: { traceInfo: { trace_location: { mlflowExperiment: { experimentId: '3' } } } } }) }, ['3']],
    ['a path segment, decoded', [{ kind: 'loggedModelId', at: { path: 0 } }], { pathParams: ['m%2D1'] }, ['m-1']],
    ['a header', [{ kind: 'experimentId', at: { header: 'x-mlflow-experiment-id' } }], { headers: new Headers({ 'X-MLflow-Experiment-Id': '4' }) }, ['4']],
    ['a repeated array field', [{ kind: 'experimentId', at: 'experiment_ids' }], { body: encode({ experiment_ids: ['1', '2'], experimentIds: ['3'] }) }, ['1', '2', '3']],
  ];
  for (const [label, refs, over, found] of table) {
    test(label, () => expect(values(refs, over)).toEqual(found));
  }
});

describe('what cannot be read is refused, not guessed', () => {
  type Row = [label: string, refs: ResourceRef[], over: Partial<RequestParts>, why: RegExp];
  const table: Row[] = [
    ['a body that is not JSON', RUN, { body: encode('run_id=A') }, /must be JSON/],
    ['a body in UTF-16, which Python would read', RUN, { body: new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]) }, /must be JSON/],
    ['NaN, which Python would read', RUN, { body: encode('{"run_id": NaN}') }, /must be JSON/],
    ['an object where an id belongs', RUN, { body: encode({ run_id: { $ne: 'x' } }) }, /holds an object/],
    ['a path segment with broken percent-encoding', [{ kind: 'loggedModelId', at: { path: 0 } }], { pathParams: ['m%E0%A4'] }, /malformed/],
  ];
  for (const [label, refs, over, why] of table) {
    test(label, () => {
      const read = readValues(refs, parts(over));
      expect(read.ok).toBe(false);
      if (!read.ok && !read.missing) expect(read.error.message).toMatch(why);
      if (!read.ok && !read.missing) expect(read.error.status).toBe(400);
    });
  }
  test('a required id that is absent is reported as missing (so the request is refused)', () => {
    const read = readValues(RUN, parts({ body: encode({ run: 'A' }) }));
    expect(read).toEqual({ ok: false, missing: true, kind: 'runId' });
  });
});

test('a body whose `tags` make it a prompt is told apart (CreateRegisteredModel)', () => {
  const refs: ResourceRef[] = [{ kind: 'newModelName', at: 'name', required: true }];
  const asPrompt = readValues(refs, parts({ body: encode({ name: 'p', tags: [{ key: 'mlflow.prompt.is_prompt', value: 'True' }] }) }));
  const asModel = readValues(refs, parts({ body: encode({ name: 'm', tags: [{ key: 'mlflow.prompt.is_prompt', value: 'false' }] }) }));
  expect(asPrompt.ok && asPrompt.promptTag).toBe(true);
  expect(asModel.ok && asModel.promptTag).toBe(false);
});

test('only refs with a parameter place need the body', () => {
  expect(refsReadBody(RUN)).toBe(true);
  expect(refsReadBody([{ kind: 'loggedModelId', at: { path: 0 } }])).toBe(false);
});

test('spellings are the proto name and protobuf\'s lowerCamelCase JSON name', () => {
  expect(spellings('run_id')).toEqual(['run_id', 'runId']);
  expect(spellings('experiment_ids')).toEqual(['experiment_ids', 'experimentIds']);
  expect(spellings('name')).toEqual(['name']);
  expect(spellings('v2_trace_id')).toEqual(['v2_trace_id', 'v2TraceId']);
});
