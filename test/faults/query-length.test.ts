// limits.maxQueryLength must be a limit the gateway itself enforces: Bun.serve refuses a request
// line plus headers over 16 KiB with its own 431 (no Bun.serve option changes it; only the
// runtime's --max-http-header-size flag), before the pipeline runs, so that refusal has no
// request id, no MLflow-shaped body and no audit line. The schema is bounded below that.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { listen, type Listener } from '../../src/listen.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { rawRequest } from '../support/raw-http.ts';

const audit: AuditRecord[] = [];
let upstreamHits = 0;
let upstream: ReturnType<typeof Bun.serve>;
let gateway: Listener;

beforeAll(() => {
  upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => (upstreamHits++, Response.json({ run: {} })) });
  const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
anonymous: {policies: [read]}
policies: {read: {operations: [GetRun]}}
`);
  const app = createApp({ rules: () => rules, audit: { write: (record) => audit.push(record) } });
  gateway = listen(app.handle, { hostname: '127.0.0.1', port: 0, idleTimeoutSeconds: 30 });
});

afterAll(async () => {
  await gateway?.stop(true);
  upstream?.stop(true);
});

test('a query one character over the default maxQueryLength gets the gateway\'s own 400, with a request id and an audit line, and nothing reaches MLflow', async () => {
  const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:1"}
`);
  const over = 'run_id=' + 'a'.repeat(rules.source.limits.maxQueryLength - 'run_id='.length + 1);
  const response = await rawRequest(gateway.port, 'GET', `/api/2.0/mlflow/runs/get?${over}`, {});
  expect(response.status).toBe(400);
  expect(JSON.parse(response.text)).toMatchObject({ error_code: 'BAD_REQUEST', message: expect.stringContaining('Query string is longer than') });
  expect(audit.at(-1)).toMatchObject({ status: 400, decision: 'rejected', errorCode: 'BAD_REQUEST', path: '/api/2.0/mlflow/runs/get', requestId: expect.any(String) });
  expect(upstreamHits).toBe(0);
});

test('a maxQueryLength the runtime would never let through is refused by the rules check', () => {
  expect(problemsOf(`version: 1
backend: {url: "http://127.0.0.1:1"}
limits: {maxQueryLength: 16384}
`).join('\n')).toContain('limits.maxQueryLength');
});
