// Metrics observe the one audit record per request: scraped and parsed here, the counters move as
// requests are allowed, denied, unauthenticated or cannot be signed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { clientLabel, createMetrics, meteredAudit } from '../../src/observability/metrics.ts';
import { metricsHandler } from '../../src/observability/metrics-endpoint.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import type { CredentialCache } from '../../src/aws/credentials.ts';
import { rulesFrom } from '../support/rules.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';
import { failingCredentialCache } from '../support/credentials.ts';

const KEY = 'metrics-key-0123456789abcdef';
const P = 'sagemaker_mlflow_proxy_';
let upstream: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  upstream = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => Response.json({ experiments: [] }) });
});
afterAll(() => upstream.stop(true));

function gateway(backend: string, credentials?: CredentialCache) {
  const rules = rulesFrom(`version: 1
backend: ${backend}
clients:
  - {id: ci, apiKeySha256: "${hashApiKey(KEY)}", policies: [reader]}
policies:
  reader: {operations: [SearchExperiments]}
`);
  const metrics = createMetrics({ version: '9.9.9', commit: 'abc', runtime: 'test' });
  const records: AuditRecord[] = [];
  const app = createApp({
    rules: () => rules,
    audit: meteredAudit({ write: (r) => records.push(r) }, metrics),
    onRequest: metrics.requestStarted,
    ...(credentials ? { credentials } : {}),
  });
  const scrape = metricsHandler('/metrics', metrics);
  const call = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key !== null) headers.set('authorization', `Bearer ${init.key ?? KEY}`);
    return app.handle(new Request(`http://gateway.local${path}`, { ...init, headers }));
  };
  const samples = async () => {
    const response = await scrape(new Request('http://127.0.0.1/metrics'));
    expect(response.headers.get('content-type')).toContain('text/plain');
    return parsePrometheus(await response.text());
  };
  return { call, samples, metrics, records };
}

describe('Prometheus metrics', () => {
  test('requests are counted by operation, status class, client and decision, with latencies and bytes', async () => {
    const { call, samples } = gateway(`{url: "http://127.0.0.1:${upstream.port}"}`);
    const body = '{"max_results":1}';
    for (let i = 0; i < 3; i++) {
      const response = await call('/api/2.0/mlflow/experiments/search', { method: 'POST', body, headers: { 'content-length': String(body.length) } });
      expect(response.status).toBe(200);
    }
    expect((await call('/api/2.0/mlflow/experiments/create', { method: 'POST', body: '{}' })).status).toBe(403);
    expect((await call('/api/2.0/mlflow/experiments/search', { method: 'POST', key: null })).status).toBe(401);
    expect((await call('/api/2.0/mlflow/experiments/search', { method: 'POST', key: 'wrong-key-0123456789abcdef' })).status).toBe(401);

    const s = await samples();
    expect(sampleValue(s, `${P}requests_total`, { operation: 'SearchExperiments', status_class: '2xx', client: 'ci', decision: 'allowed' })).toBe(3);
    expect(sampleValue(s, `${P}requests_total`, { operation: 'CreateExperiment', status_class: '4xx', client: 'ci', decision: 'denied' })).toBe(1);
    expect(sampleValue(s, `${P}denied_requests_total`, { client: 'ci', operation: 'CreateExperiment' })).toBe(1);
    expect(sampleValue(s, `${P}auth_failures_total`)).toBe(2);
    expect(sampleValue(s, `${P}request_duration_seconds_count`, { status_class: '2xx' })).toBe(3);
    expect(sampleValue(s, `${P}request_duration_seconds_bucket`, { status_class: '2xx', le: '+Inf' })).toBe(3);
    expect(sampleValue(s, `${P}upstream_duration_seconds_count`)).toBe(3);
    expect(sampleValue(s, `${P}request_bytes_total`)).toBe(3 * body.length);
    expect(sampleValue(s, `${P}response_bytes_total`)).toBeGreaterThan(0);
    expect(sampleValue(s, `${P}requests_in_flight`)).toBe(0);
    expect(sampleValue(s, `${P}signing_failures_total`)).toBe(0);
    expect(sampleValue(s, `${P}build_info`, { version: '9.9.9', commit: 'abc', runtime: 'test' })).toBe(1);
  });

  test('a request that cannot be signed counts as a signing failure', async () => {
    const failing = failingCredentialCache();
    const { call, samples } = gateway(`{arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/m", endpoint: "http://127.0.0.1:${upstream.port}"}`, failing);
    expect((await call('/api/2.0/mlflow/experiments/search', { method: 'POST', body: '{}' })).status).toBe(503);
    expect(sampleValue(await samples(), `${P}signing_failures_total`)).toBe(1);
  });

  test('requests over a client\'s rate limit are counted by client', async () => {
    const limitedKey = 'limited-key-0123456789abcdef';
    const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
clients:
  - {id: limited, apiKeySha256: "${hashApiKey(limitedKey)}", policies: [reader], rateLimit: {requestsPerSecond: 0.01, burst: 1}}
policies:
  reader: {operations: [SearchExperiments]}
`);
    const metrics = createMetrics({ version: '9.9.9', commit: 'abc', runtime: 'test' });
    const app = createApp({ rules: () => rules, audit: meteredAudit({ write: () => {} }, metrics), onRequest: metrics.requestStarted });
    const call = () =>
      app.handle(new Request('http://gateway.local/api/2.0/mlflow/experiments/search', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${limitedKey}` } }));
    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(429);
    const samples = parsePrometheus((await metrics.render()).body);
    expect(sampleValue(samples, `${P}rate_limited_requests_total`, { client: 'limited' })).toBe(1);
    expect(sampleValue(samples, `${P}requests_total`, { client: 'limited', decision: 'rate-limited', status_class: '4xx' })).toBe(1);
  });

  test('counts are the same on every scrape, and keep growing between scrapes', async () => {
    const { call, samples } = gateway(`{url: "http://127.0.0.1:${upstream.port}"}`);
    const search = () => call('/api/2.0/mlflow/experiments/search', { method: 'POST', body: '{}', headers: { 'content-length': '2' } });
    expect((await search()).status).toBe(200);
    const labels = { operation: 'SearchExperiments', status_class: '2xx', client: 'ci', decision: 'allowed' };
    expect(sampleValue(await samples(), `${P}requests_total`, labels)).toBe(1);
    expect(sampleValue(await samples(), `${P}requests_total`, labels)).toBe(1);
    expect((await search()).status).toBe(200);
    const s = await samples();
    expect(sampleValue(s, `${P}requests_total`, labels)).toBe(2);
    expect(sampleValue(s, `${P}request_bytes_total`)).toBe(4);
  });

  test('with no metrics listener, nothing is counted per request but the requests in flight', async () => {
    const metrics = createMetrics({ version: '9.9.9', commit: 'abc', runtime: 'test' }, () => true, { enabled: false });
    const records: AuditRecord[] = [];
    const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
clients:
  - {id: ci, apiKeySha256: "${hashApiKey(KEY)}", policies: [reader]}
policies:
  reader: {operations: [SearchExperiments]}
`);
    const app = createApp({ rules: () => rules, audit: meteredAudit({ write: (r) => records.push(r) }, metrics), onRequest: metrics.requestStarted });
    metrics.requestStarted();
    expect(metrics.inFlight()).toBe(1);
    const response = await app.handle(new Request('http://gateway.local/api/2.0/mlflow/experiments/search', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEY}` } }));
    expect(response.status).toBe(200);
    expect(records).toHaveLength(1); // the audit line is still written
    expect(metrics.inFlight()).toBe(1);
    expect((await metrics.render()).body).toBe('');
  });

  test('the client label is bounded: token subjects no client lists are labelled by sign-in method', () => {
    const configured = (id: string) => id === 'ci';
    expect(clientLabel({ clientId: 'ci', authMethod: 'api-key' }, configured)).toBe('ci');
    expect(clientLabel({ clientId: 'anonymous', authMethod: 'anonymous' }, configured)).toBe('anonymous');
    expect(clientLabel({ clientId: 'alice@example.com', authMethod: 'jwt' }, configured)).toBe('unlisted-jwt');
    expect(clientLabel({}, configured)).toBe('none');
  });

  test('in-flight requests are counted until their audit record is written', async () => {
    const { metrics, samples } = gateway(`{url: "http://127.0.0.1:${upstream.port}"}`);
    metrics.requestStarted();
    expect(metrics.inFlight()).toBe(1);
    expect(sampleValue(await samples(), `${P}requests_in_flight`)).toBe(1);
  });

  test('credential refreshes, rule reloads and draining are counted from what main reports', async () => {
    const { metrics, samples } = gateway(`{url: "http://127.0.0.1:${upstream.port}"}`);
    let s = await samples();
    expect(sampleValue(s, `${P}rule_reloads_total`, { result: 'failed' })).toBe(0);
    metrics.rulesReload(true);
    metrics.rulesReload(false);
    metrics.rulesReload(false);
    metrics.credentialRefresh(true);
    metrics.draining(true);
    s = await samples();
    expect(sampleValue(s, `${P}rule_reloads_total`, { result: 'ok' })).toBe(1);
    expect(sampleValue(s, `${P}rule_reloads_total`, { result: 'failed' })).toBe(2);
    expect(sampleValue(s, `${P}credential_refreshes_total`, { result: 'ok' })).toBe(1);
    expect(sampleValue(s, `${P}draining`)).toBe(1);
  });

  test('the metrics listener answers only its path, in MLflow\'s error shape otherwise', async () => {
    const { metrics } = gateway(`{url: "http://127.0.0.1:${upstream.port}"}`);
    const response = await metricsHandler('/metrics', metrics)(new Request('http://127.0.0.1/api/2.0/mlflow/experiments/search'));
    expect(response.status).toBe(404);
    expect((await response.json()).error_code).toBe('ENDPOINT_NOT_FOUND');
  });

  test('the process metrics Prometheus dashboards expect are there, under their standard names: memory, CPU, file descriptors, event-loop lag', async () => {
    const metrics = createMetrics({ version: '9.9.9', commit: 'abc', runtime: 'test' });
    const samples = parsePrometheus((await metrics.render()).body);
    expect(sampleValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(sampleValue(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'process_open_fds')).toBeGreaterThan(2);
    expect(sampleValue(samples, 'process_max_fds')).toBeGreaterThan(0);
    expect(samples.some((sample) => sample.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });
});
