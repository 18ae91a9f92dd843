// Who may call what, through the whole pipeline (in-process) in front of a recording upstream:
// for several clients, each allowed call reaches the upstream unchanged and each denied one does
// not; policy conditions on experiment names; rate limits with Retry-After.
import { beforeAll, afterAll, describe, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import type { CompiledRules } from '../../src/rules/compile.ts';
import { localTokenBuckets, type TakeResult } from '../../src/limits/rate-limiter.ts';
import { rulesFrom } from '../support/rules.ts';

const keyOf = (id: string) => `${id}-key-0123456789abcdef0123`;
let upstream: ReturnType<typeof Bun.serve>;
const seen: Array<{ method: string; path: string; body: string }> = [];
/** The gateway's own lookups (scoped policies), apart from what clients sent. */
const lookups: string[] = [];
// The experiments the recording upstream knows, by id, for the lookups of scoped policies.
const EXPERIMENTS: Record<string, string> = { '1': 'team-a/one', '7': 'team-b/seven' };
const audit: AuditRecord[] = [];
let rules: CompiledRules;
let app: ReturnType<typeof createApp>;

beforeAll(() => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.headers.get('user-agent')?.includes('(own call)')) {
        lookups.push(`${url.pathname}${url.search}`);
        const name = EXPERIMENTS[url.searchParams.get('experiment_id') ?? ''];
        return name ? Response.json({ experiment: { name } }) : Response.json({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no' }, { status: 404 });
      }
      seen.push({ method: request.method, path: `${url.pathname}${url.search}`, body: await request.text() });
      return Response.json({});
    },
  });
  const client = (id: string, policies: string, extra = '') => `  - {id: ${id}, apiKeys: [{sha256: "${hashApiKey(keyOf(id))}", expires: "2099-12-31"}], policies: [${policies}]${extra}}\n`;
  rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
clients:
${client('reader', 'read-only')}${client('trainer', 'log-runs')}${client('registrar', 'registry-write')}${client('team-a', 'team-a-experiments')}${client('team-a-reader', 'team-a-experiments, read-only')}${client('probe', 'probe')}${client('limited', 'read-only', ', rateLimit: {requestsPerSecond: 1, burst: 2}')}
policies:
  read-only: {operations: ["Get*", "Search*", "List*"]}
  log-runs: {include: [read-only], operations: [CreateRun, UpdateRun, LogMetric, LogParam, LogBatch, SetTag]}
  registry-write: {include: [read-only], operations: [CreateRegisteredModel, CreateModelVersion, SetRegisteredModelAlias]}
  team-a-experiments:
    operations: [CreateExperiment, UpdateExperiment, GetExperimentByName, SetExperimentTag]
    conditions: {experimentNamePrefix: ["team-a/", "shared/"]}
  probe: {allow: [{methods: [GET], paths: ["/health", "/static-files/**"]}]}
`);
  app = createApp({ rules: () => rules, audit: { write: (record) => audit.push(record) }, rateLimits: localTokenBuckets() });
});

afterAll(() => upstream?.stop(true));

function call(client: string, method: string, path: string, body?: unknown) {
  return app.handle(
    new Request(`http://gateway${path}`, {
      method,
      headers: { authorization: `Bearer ${keyOf(client)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    }),
  );
}

type Row = [client: string, method: string, path: string, body: unknown, status: 200 | 403];
const table: Row[] = [
  ['reader', 'GET', '/api/2.0/mlflow/runs/get?run_id=r1', undefined, 200],
  ['reader', 'POST', '/api/2.0/mlflow/runs/search', { experiment_ids: ['1'] }, 200],
  ['reader', 'POST', '/api/2.0/mlflow/runs/log-metric', { run_id: 'r1', key: 'k', value: 1, timestamp: 1 }, 403],
  ['reader', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'x' }, 403],
  ['reader', 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'm' }, 403],
  ['trainer', 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: '1' }, 200],
  ['trainer', 'POST', '/api/2.0/mlflow/runs/log-batch', { run_id: 'r1', metrics: [] }, 200],
  ['trainer', 'GET', '/api/2.0/mlflow/metrics/get-history?run_id=r1&metric_key=k', undefined, 200],
  ['trainer', 'POST', '/api/2.0/mlflow/runs/delete', { run_id: 'r1' }, 403],
  ['trainer', 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'm' }, 403],
  ['registrar', 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'm' }, 200],
  ['registrar', 'POST', '/api/2.0/mlflow/model-versions/create', { name: 'm', source: 's3://b/k' }, 200],
  ['registrar', 'DELETE', '/api/2.0/mlflow/registered-models/delete', { name: 'm' }, 403],
  ['registrar', 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: '1' }, 403],
  ['probe', 'GET', '/health', undefined, 200],
  ['probe', 'GET', '/static-files/js/main.js', undefined, 200],
  ['probe', 'GET', '/api/2.0/mlflow/experiments/search', undefined, 403],
  ['probe', 'POST', '/health', {}, 403],
  // Conditions are read as a scope (issue 19): names where the request carries one, ids through a lookup.
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'team-a/churn' }, 200],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'shared/baseline' }, 200],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'team-b/churn' }, 403],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'team-a' }, 403],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/create', { nam: 'team-a/x' }, 403],
  ['team-a', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-a%2Fchurn', undefined, 200],
  ['team-a', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-b%2Fchurn', undefined, 403],
  ['team-a', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-a%2Fx&experiment_name=team-b%2Fx', undefined, 403],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/update', { experiment_id: '1', new_name: 'team-b/stolen' }, 403],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/update', { experiment_id: '1', new_name: 'team-a/renamed' }, 200],
  // Conditions narrow only their own policy's grants: another policy of the client may still allow the call.
  ['team-a-reader', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-b%2Fchurn', undefined, 200],
  ['team-a-reader', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'team-b/churn' }, 403],
  // By id: the experiment's name is looked up, so the condition holds there too (it used not to).
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/set-experiment-tag', { experiment_id: '7', key: 'k', value: 'v' }, 403],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/set-experiment-tag', { experiment_id: '1', key: 'k', value: 'v' }, 200],
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/set-experiment-tag', { experiment_id: '99', key: 'k', value: 'v' }, 403],
  // A rename needs the old name in scope as well as the new one.
  ['team-a', 'POST', '/api/2.0/mlflow/experiments/update', { experiment_id: '7', new_name: 'team-a/taken' }, 403],
];

describe('policy table: each call is allowed or denied as the rules say, checked at the upstream', () => {
  for (const [client, method, path, body, status] of table) {
    const label = body && typeof body === 'object' && ('name' in body || 'new_name' in body) ? ` ${JSON.stringify(body)}` : '';
    test(`${client}: ${method} ${path}${label} → ${status}`, async () => {
      const before = seen.length;
      const response = await call(client, method, path, body);
      expect(response.status).toBe(status);
      const record = audit.at(-1)!;
      expect(record.clientId).toBe(client);
      if (status === 200) {
        expect(seen.length).toBe(before + 1);
        // What reached the upstream is exactly what was sent, body included (read for a condition or not).
        expect(seen.at(-1)).toEqual({ method, path, body: body ? JSON.stringify(body) : '' });
        expect(record.decision).toBe('allowed');
        expect(record.policy).toBeString();
      } else {
        expect(seen.length).toBe(before);
        expect(await response.json()).toMatchObject({ error_code: 'PERMISSION_DENIED' });
        expect(record.decision).toBe('denied');
      }
    });
  }

  test('a denial names, in the log only, the policies that would have allowed it and who holds them', async () => {
    const response = await call('reader', 'POST', '/api/2.0/mlflow/runs/log-metric', { run_id: 'r1', key: 'k', value: 1, timestamp: 1 });
    expect(audit.at(-1)!.wouldAllow).toBe('log-runs (client trainer)');
    const text = await response.text();
    expect(text).not.toContain('log-runs');
    expect(text).not.toContain('trainer');
  });

  test('a condition that is not met is explained in the log', async () => {
    await call('team-a', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'team-b/x' });
    expect(audit.at(-1)!.reason).toContain('team-a-experiments: experimentName "team-b/x" (experiment "team-b/x") is outside experiments team-a/**, shared/**');
  });
});

describe('rate limits', () => {
  test('over the burst: 429 REQUEST_LIMIT_EXCEEDED with Retry-After, and nothing reaches the upstream', async () => {
    const before = seen.length;
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await call('limited', 'GET', '/api/2.0/mlflow/runs/get?run_id=r1');
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual([429, 429]);
    expect(seen.length).toBe(before + 2);
    expect(limited!.headers.get('retry-after')).toBe('1');
    expect(await limited!.json()).toMatchObject({ error_code: 'REQUEST_LIMIT_EXCEEDED' });
    expect(audit.at(-1)).toMatchObject({ clientId: 'limited', decision: 'rate-limited', status: 429 });
  });

  test('other clients are not affected by one client\'s limit', async () => {
    expect((await call('reader', 'GET', '/api/2.0/mlflow/runs/get?run_id=r1')).status).toBe(200);
  });
});

describe('anonymous rate limits', () => {
  test('each client address has its own bucket', async () => {
    const anonymousRules = rulesFrom(`version: 1
listen: {trustForwardedFor: true}
backend: {url: "http://127.0.0.1:${upstream.port}"}
anonymous: {policies: [read], rateLimit: {requestsPerSecond: 0.01, burst: 1}}
policies: {read: {operations: [GetRun]}}
`);
    const anonymousApp = createApp({ rules: () => anonymousRules, audit: { write: () => {} }, rateLimits: localTokenBuckets() });
    const from = (address: string) =>
      anonymousApp.handle(new Request('http://gateway/api/2.0/mlflow/runs/get?run_id=r1', { headers: { 'x-forwarded-for': address } })).then((r) => r.status);
    expect([await from('192.0.2.1'), await from('192.0.2.1'), await from('192.0.2.2')]).toEqual([200, 429, 200]);
  });
});

describe('token buckets', () => {
  const limit = { requestsPerSecond: 2, burst: 3 };
  test('allow the burst, then refill at the rate, and say how long to wait', () => {
    const buckets = localTokenBuckets();
    // The local store answers synchronously (only a shared store would need a promise).
    const at = (ms: number) => buckets.take('c', limit, ms) as TakeResult;
    expect([at(0), at(0), at(0)]).toEqual([{ ok: true, remaining: 2 }, { ok: true, remaining: 1 }, { ok: true, remaining: 0 }]);
    expect(at(0)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(at(250)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(at(500)).toEqual({ ok: true, remaining: 0 });
    expect(at(10_000)).toEqual({ ok: true, remaining: 2 }); // refilled to the burst, not beyond
    expect([at(10_000), at(10_000), at(10_000)].map((r) => r.ok)).toEqual([true, true, false]);
  });

  test('keep memory bounded by forgetting the identities seen longest ago', () => {
    const buckets = localTokenBuckets(100);
    for (let i = 0; i < 1000; i++) buckets.take(`client-${i}`, limit, 0);
    // A forgotten client starts with a full bucket again.
    expect(buckets.take('client-0', limit, 0)).toEqual({ ok: true, remaining: 2 });
  });
});
