// Tracing (issue 22 item 1) against a real OpenTelemetry Collector (test/support/otelcol.ts): one
// trace per request, with the server span continuing the client's traceparent and a child span per
// I/O (upstream, identity provider, shared rate-limit store, credential refresh, S3); the trace id
// in the audit line; traceparent passed to a self-hosted MLflow and not to SageMaker; a collector
// that goes away costs no request and its drops are counted. The gateway runs in this process
// (Bun), and then whole, from the single-file builds: the compiled executable and the bundle under
// Deno. Tracing off: no span, no traceparent added, no trace id in the line.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { createTracing } from '../../src/observability/otel.ts';
import { tracedCredentialProvider, tracedRateLimitStore } from '../../src/observability/traced-io.ts';
import type { Tracing } from '../../src/observability/tracing.ts';
import type { TracingSpec } from '../../src/rules/schema.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { cachedCredentials } from '../../src/aws/credentials.ts';
import { createArtifactService } from '../../src/artifacts/service.ts';
import { connectValkey } from '../../src/limits/valkey-connection.ts';
import { sharedTokenBuckets } from '../../src/limits/shared-token-buckets.ts';
import { stagesFor } from '../../src/server.ts';
import { startCollector, type Collector, type ExportedSpan } from '../support/otelcol.ts';
import { faultGatewaysOfThisFile, FAULT_ARN, FAULT_SIGV4, requestIdFor, standinCredentialCache } from '../support/fault-gateway.ts';
import { startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.ts';
import { startOidcIssuer, type OidcIssuerStandin } from '../standins/oidc-issuer.ts';
import { startValkey, type Valkey } from '../support/valkey.ts';
import { createBucket, MOTO_CREDENTIALS, putObject, startMoto, type S3Server } from '../support/s3.ts';
import { temporaryCredentials } from '../support/credentials.ts';
import { rulesFrom } from '../support/rules.ts';
import { auditLines, cleanAwsEnv, tempDir, waitFor } from '../support/processes.ts';
import { BUILT_RUNTIMES, startBuiltGateway } from '../support/build.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';

const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;

let collector: Collector;
beforeAll(async () => {
  collector = await startCollector();
}, 1_500_000);

const tracings: Tracing[] = [];
afterAll(async () => {
  for (const tracing of tracings) await tracing.shutdown();
  await collector?.close();
});

function settings(extra: Partial<TracingSpec> = {}): TracingSpec {
  return {
    endpoint: collector.endpoint,
    serviceName: 'gateway-under-test',
    sampleRatio: 1,
    resourceAttributes: { 'deployment.environment.name': 'tracing-test' },
    headers: {},
    maxQueueSize: 2048,
    exportIntervalMs: 50,
    exportTimeoutMs: 1000,
    ...extra,
  };
}

function tracingFor(extra: Partial<TracingSpec> = {}, health: Array<[boolean, string]> = []): Tracing {
  const tracing = createTracing(settings(extra), { version: '0.1.0', onExportHealth: (ok, detail) => health.push([ok, detail]) });
  tracings.push(tracing);
  return tracing;
}

/** A W3C traceparent as a client's own tracer would send it, sampled. */
function clientTraceparent(): { traceparent: string; traceId: string; parentId: string } {
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
  const traceId = hex(16);
  const parentId = hex(8);
  return { traceparent: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

const spansOf = (traceId: string) => collector.spans().filter((span) => span.traceId === traceId);
const serverSpan = (spans: ExportedSpan[]) => spans.find((span) => span.kind === SERVER)!;
const waitForTrace = (traceId: string, count: number) => collector.waitForSpans(() => spansOf(traceId).length >= count).then(() => spansOf(traceId));

const gateway = faultGatewaysOfThisFile();

describe('a traced request through the gateway (Bun, in process)', () => {
  test('is one trace: the server span continues the client\'s traceparent, the upstream call is its child, and the self-hosted MLflow gets the upstream span as its parent', async () => {
    const gw = await gateway('self-hosted', { deps: { tracing: tracingFor() } });
    const client = clientTraceparent();
    const requestId = requestIdFor('traced-get');
    const response = await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=7`, { headers: { ...gw.auth, traceparent: client.traceparent, 'x-request-id': requestId } });
    expect(response.status).toBe(200);
    const body = await response.text();
    const spans = await waitForTrace(client.traceId, 2);
    const server = serverSpan(spans);
    const upstream = spans.find((span) => span.kind === CLIENT)!;
    expect(server.parentSpanId).toBe(client.parentId);
    expect(upstream.parentSpanId).toBe(server.spanId);
    expect(server.name).toBe('GET GetExperiment');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/api/2.0/mlflow/experiments/get',
      'http.response.status_code': 200,
      'http.response.body.size': body.length,
      'http.request.body.size': 0,
      'gateway.operation': 'GetExperiment',
      'gateway.decision': 'allowed',
      'gateway.client_id': 'faults',
      'gateway.auth_method': 'api-key',
      'gateway.policy': 'everything',
      'gateway.request_id': requestId,
    });
    expect(server.resource).toMatchObject({ 'service.name': 'gateway-under-test', 'service.version': '0.1.0', 'deployment.environment.name': 'tracing-test' });
    expect(upstream.name).toBe('upstream GetExperiment');
    // No query in the span: it can carry anything.
    expect(upstream.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.full': `${gw.upstream.url}/api/2.0/mlflow/experiments/get`, 'http.response.status_code': 200 });
    // What reached the backend: the gateway's upstream span as the parent, the client's trace.
    const received = gw.upstream.requests.at(-1)!;
    expect(received.headerList.filter(([name]) => name === 'traceparent')).toEqual([['traceparent', `00-${client.traceId}-${upstream.spanId}-01`]]);
    // The audit line names the trace and the span.
    const line = await gw.auditOf(requestId);
    expect(line.traceId).toBe(client.traceId);
    expect(line.spanId).toBe(server.spanId);
    // One trace per request: the next request's spans arrive after this one's, and add none to it.
    const next = clientTraceparent();
    await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=8`, { headers: { ...gw.auth, traceparent: next.traceparent } });
    await waitForTrace(next.traceId, 2);
    expect(spansOf(client.traceId)).toHaveLength(2);
  });

  test('a request without traceparent starts its own trace, and its body size is on the span', async () => {
    const gw = await gateway('self-hosted', { deps: { tracing: tracingFor() } });
    const requestId = requestIdFor('traced-post');
    const body = JSON.stringify({ run_id: 'r1', key: 'loss', value: 0.5, timestamp: 1, step: 0 });
    const response = await fetch(`${gw.url}/api/2.0/mlflow/runs/log-metric`, { method: 'POST', headers: { ...gw.auth, 'content-type': 'application/json', 'x-request-id': requestId }, body });
    expect(response.status).toBe(200);
    const line = await gw.auditOf(requestId);
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await waitForTrace(line.traceId!, 2);
    const server = serverSpan(spans);
    expect(server.parentSpanId).toBe('');
    expect(server.spanId).toBe(line.spanId!);
    expect(server.attributes).toMatchObject({ 'gateway.operation': 'LogMetric', 'http.request.body.size': body.length, 'http.response.status_code': 200 });
  });

  // W3C Trace Context §3.2: a traceparent that is not exactly valid is ignored, and the gateway
  // starts a trace of its own; a client cannot make it continue a malformed or all-zero id.
  const malformed: Array<[string, string]> = [
    ['an unknown version ff', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['an all-zero trace id', '00-00000000000000000000000000000000-b7ad6b7169203331-01'],
    ['an all-zero parent id', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01'],
    ['a short trace id', '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'],
    ['non-hex digits', '00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01'],
    ['a header injection attempt', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01,00-11111111111111111111111111111111-2222222222222222-01'],
  ];
  for (const [what, traceparent] of malformed) {
    test(`a traceparent with ${what} is not continued: the request gets a trace of its own`, async () => {
      const gw = await gateway('self-hosted', { deps: { tracing: tracingFor() } });
      const requestId = requestIdFor(`malformed-${what}`);
      const response = await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...gw.auth, traceparent, 'x-request-id': requestId } });
      expect(response.status).toBe(200);
      const line = await gw.auditOf(requestId);
      expect(traceparent).not.toContain(line.traceId!);
      const server = serverSpan(await waitForTrace(line.traceId!, 2));
      expect(server.parentSpanId).toBe('');
      // The upstream sees the gateway's trace, never the client's text.
      const sent = gw.upstream.requests.at(-1)!.headerList.filter(([name]) => name === 'traceparent');
      expect(sent).toHaveLength(1);
      expect(sent[0]![1]).toStartWith(`00-${line.traceId}-`);
    });
  }

  test('SageMaker gets no traceparent (neither the client\'s nor the gateway\'s), and the signed call is still one upstream span', async () => {
    const gw = await gateway('sagemaker', { deps: { tracing: tracingFor() } });
    const client = clientTraceparent();
    const response = await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...gw.auth, traceparent: client.traceparent, tracestate: 'vendor=x' } });
    expect(response.status).toBe(200);
    const received = gw.upstream.requests.at(-1)!;
    expect(received.sigv4?.ok).toBe(true);
    expect(received.headerList.map(([name]) => name)).not.toContain('traceparent');
    expect(received.headerList.map(([name]) => name)).not.toContain('tracestate');
    const spans = await waitForTrace(client.traceId, 2);
    const upstream = spans.find((span) => span.kind === CLIENT)!;
    expect(upstream.parentSpanId).toBe(serverSpan(spans).spanId);
    expect(String(upstream.attributes['url.full'])).toStartWith(gw.upstream.url);
  });

  test('refusals are traced with their decision and no upstream span; a 4xx is not a span error, a 5xx is', async () => {
    const gw = await gateway('self-hosted', { clientPolicy: '{operations: [GetExperiment]}', deps: { tracing: tracingFor() } });
    const cases: Array<[string, Record<string, string>, string, number]> = [
      ['/api/2.0/mlflow/experiments/get?experiment_id=1', {}, 'unauthenticated', 401],
      ['/api/2.0/mlflow/experiments/delete', gw.auth, 'denied', 403],
    ];
    for (const [path, headers, decision, status] of cases) {
      const client = clientTraceparent();
      const response = await fetch(`${gw.url}${path}`, { method: status === 403 ? 'POST' : 'GET', headers: { ...headers, traceparent: client.traceparent, 'content-type': 'application/json' }, ...(status === 403 ? { body: '{"experiment_id":"1"}' } : {}) });
      expect(response.status).toBe(status);
      const spans = await waitForTrace(client.traceId, 1);
      expect(spans).toHaveLength(1);
      expect(spans[0]!.attributes).toMatchObject({ 'gateway.decision': decision, 'http.response.status_code': status });
      expect(spans[0]!.status.code ?? 0).not.toBe(STATUS_ERROR);
    }
    // The upstream gone: 502 from the gateway, an error on both spans.
    const broken = await gateway('self-hosted', { deps: { tracing: tracingFor() } });
    await broken.upstream.close();
    const client = clientTraceparent();
    const response = await fetch(`${broken.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...broken.auth, traceparent: client.traceparent } });
    expect(response.status).toBe(502);
    const spans = await waitForTrace(client.traceId, 2);
    const server = serverSpan(spans);
    expect(server.status.code).toBe(STATUS_ERROR);
    expect(server.attributes['error.type']).toBeString();
    expect(spans.find((span) => span.kind === CLIENT)!.status.code).toBe(STATUS_ERROR);
  });

  test('at a sampling ratio of 0 nothing is exported, yet the line has its trace id and the upstream a traceparent marked not sampled', async () => {
    const tracing = createTracing(settings({ sampleRatio: 0 }), { version: '0.1.0' });
    const gw = await gateway('self-hosted', { deps: { tracing } });
    const requestId = requestIdFor('unsampled');
    expect((await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...gw.auth, 'x-request-id': requestId } })).status).toBe(200);
    const line = await gw.auditOf(requestId);
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(gw.upstream.requests.at(-1)!.headers.traceparent).toMatch(new RegExp(`^00-${line.traceId}-[0-9a-f]{16}-00$`));
    // Shutting down sends whatever is queued: after it, anything of this trace would have arrived.
    await tracing.shutdown();
    expect(tracing.counts().exported).toBe(0);
    expect(spansOf(line.traceId!)).toHaveLength(0);
  });
});

describe('the spans of the I/O inside a request', () => {
  let upstream: FaultUpstream;
  let issuer: OidcIssuerStandin;
  let valkey: Valkey;
  let s3: S3Server;
  beforeAll(async () => {
    upstream = await startFaultUpstream({ sigv4: FAULT_SIGV4 });
    issuer = await startOidcIssuer();
    valkey = await startValkey();
    s3 = await startMoto();
    await createBucket(s3, 'traced-artifacts');
    await putObject(s3, 'traced-artifacts', 'mlflow/1/r1/artifacts/model.txt', 'weights');
  }, 120_000);
  afterAll(async () => {
    await upstream?.close();
    issuer?.stop();
    await valkey?.stop();
    await s3?.stop();
  });

  const KEY = 'traced-io-key-0123456789abcdef';
  const rules = (withArtifacts: boolean) =>
    rulesFrom(`version: 1
backend: {arn: "${FAULT_ARN}", endpoint: "${upstream.url}"}
${withArtifacts ? `artifacts: {s3Root: "s3://traced-artifacts/mlflow", endpoint: "${s3.url}", forcePathStyle: true}\n` : ''}auth:
  jwt:
    - issuer: ${issuer.issuer}
      audiences: [mlflow-gateway]
clients:
  - {id: limited, apiKeySha256: "${hashApiKey(KEY)}", subjects: [jwt-user], policies: [all], rateLimit: {requestsPerSecond: 1000, burst: 1000}}
policies: {all: {operations: ["*"]}}
`);
  const call = (app: ReturnType<typeof createApp>, path: string, headers: Record<string, string>) => app.handle(new Request(`http://gateway.local${path}`, { headers }));
  const childrenOf = (spans: ExportedSpan[], parent: ExportedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId);

  test('a JWT checked against its issuer: the discovery document and the keys are fetched in spans under the request', async () => {
    const tracing = tracingFor();
    const app = createApp({ rules: (() => { const r = rules(false); return () => r; })(), credentials: standinCredentialCache(), audit: { write() {} }, tracing });
    const client = clientTraceparent();
    const token = await issuer.sign({ sub: 'jwt-user', aud: 'mlflow-gateway' });
    expect((await call(app, '/api/2.0/mlflow/experiments/get?experiment_id=1', { authorization: `Bearer ${token}`, traceparent: client.traceparent })).status).toBe(200);
    const spans = await waitForTrace(client.traceId, 4);
    const server = serverSpan(spans);
    const host = new URL(issuer.issuer).host;
    const fetches = childrenOf(spans, server).filter((span) => span.name === `GET ${host}`);
    const paths = fetches.map((span) => new URL(String(span.attributes['url.full'])).pathname);
    const discovery = `${new URL(issuer.issuer).pathname}/.well-known/openid-configuration`;
    expect(paths).toHaveLength(2);
    expect(paths).toContain(discovery);
    // The keys, at the jwks_uri the discovery document named.
    expect(paths.find((path) => path !== discovery)).toMatch(/certs|jwks/);
    for (const span of fetches) expect(span.attributes['http.response.status_code']).toBe(200);
    expect(server.attributes).toMatchObject({ 'gateway.auth_method': 'jwt', 'gateway.client_id': 'limited' });
  });

  test('the shared rate-limit store (Valkey): one span per take, under the request', async () => {
    const tracing = tracingFor();
    const connection = connectValkey({ kind: 'valkey', url: valkey.url, cluster: false, keyPrefix: 'trace:', timeoutMs: 1000, probeSeconds: 1 }, {});
    await connection.connected();
    const store = tracedRateLimitStore(sharedTokenBuckets(connection, 'trace:'), tracing);
    const compiled = rules(false);
    const app = createApp({ rules: () => compiled, credentials: standinCredentialCache(), audit: { write() {} }, rateLimits: store, tracing });
    const client = clientTraceparent();
    expect((await call(app, '/api/2.0/mlflow/experiments/get?experiment_id=1', { authorization: `Bearer ${KEY}`, traceparent: client.traceparent })).status).toBe(200);
    const spans = await waitForTrace(client.traceId, 3);
    const take = spans.find((span) => span.name === 'rate-limit store take')!;
    expect(take.parentSpanId).toBe(serverSpan(spans).spanId);
    expect(take.attributes).toMatchObject({ 'gateway.rate_limit.allowed': true });
    // The bucket really is in Valkey.
    expect(valkey.cli('--scan', '--pattern', 'trace:*')).toContain('trace:limited');
    await connection.close();
  });

  test('a credential refresh a request waits for is a span under it', async () => {
    const tracing = tracingFor();
    let serial = 0;
    const provider = tracedCredentialProvider(async () => temporaryCredentials(new Date(Date.now() + 3600_000), ++serial), tracing, { 'gateway.credentials': 'host' });
    const compiled = rules(false);
    const app = createApp({ rules: () => compiled, credentials: cachedCredentials(provider), audit: { write() {} }, tracing });
    const client = clientTraceparent();
    expect((await call(app, '/api/2.0/mlflow/experiments/get?experiment_id=1', { authorization: `Bearer ${KEY}`, traceparent: client.traceparent })).status).toBe(200);
    const spans = await waitForTrace(client.traceId, 3);
    const refresh = spans.find((span) => span.name === 'credential refresh')!;
    expect(refresh.parentSpanId).toBe(serverSpan(spans).spanId);
    expect(refresh.attributes['gateway.credentials']).toBe('host');
  });

  test('artifact calls to S3: the presigned download and the SDK\'s listing are spans under their requests', async () => {
    const tracing = tracingFor();
    const compiled = rules(true);
    if (compiled.backend.kind !== 'sagemaker' || !compiled.artifacts) throw new Error('expected SageMaker with artifacts');
    const artifacts = await createArtifactService(compiled.artifacts, compiled.backend, async () => MOTO_CREDENTIALS, { trace: tracing.around });
    const app = createApp({ rules: () => compiled, credentials: standinCredentialCache(), audit: { write() {} }, artifacts, tracing });
    const download = clientTraceparent();
    const got = await call(app, '/api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/model.txt', { authorization: `Bearer ${KEY}`, traceparent: download.traceparent });
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('weights');
    const list = clientTraceparent();
    expect((await call(app, '/api/2.0/mlflow-artifacts/artifacts?path=1/r1/artifacts', { authorization: `Bearer ${KEY}`, traceparent: list.traceparent })).status).toBe(200);
    const downloadSpans = await waitForTrace(download.traceId, 2);
    const get = downloadSpans.find((span) => span.name === 'S3 GetObject')!;
    expect(get.parentSpanId).toBe(serverSpan(downloadSpans).spanId);
    expect(get.attributes).toMatchObject({ 'rpc.system': 'aws-api', 'rpc.service': 'S3', 'aws.s3.bucket': 'traced-artifacts', 'aws.s3.key': 'mlflow/1/r1/artifacts/model.txt', 'http.response.status_code': 200 });
    const listSpans = await waitForTrace(list.traceId, 2);
    const listing = listSpans.find((span) => span.name === 'S3 ListObjectsV2')!;
    expect(listing.parentSpanId).toBe(serverSpan(listSpans).spanId);
    expect(listing.attributes).toMatchObject({ 'rpc.method': 'ListObjectsV2', 'aws.s3.bucket': 'traced-artifacts' });
  });
});

describe('when the collector goes away', () => {
  test('no request fails or waits for it: the lost spans are counted, the log says so once, and export resumes when it is back', async () => {
    const health: Array<[boolean, string]> = [];
    const tracing = tracingFor({}, health);
    const gw = await gateway('self-hosted', { deps: { tracing } });
    const get = () => fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: gw.auth }).then((r) => r.status);
    expect(await get()).toBe(200);
    await waitFor(() => tracing.counts().exported >= 2, 20_000);
    await collector.stop();
    try {
      const statuses = await Promise.all(Array.from({ length: 40 }, get));
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      await waitFor(() => tracing.counts().droppedExportFailed > 0, 30_000);
      expect(health.filter(([ok]) => !ok)).toHaveLength(1);
    } finally {
      await collector.start();
    }
    const client = clientTraceparent();
    expect((await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...gw.auth, traceparent: client.traceparent } })).status).toBe(200);
    await waitForTrace(client.traceId, 2);
    await waitFor(() => health.at(-1)?.[0] === true, 20_000);
  }, 90_000);

  test('the queue is bounded: while an export hangs, spans past tracing.maxQueueSize are dropped and counted as queue_full', async () => {
    // A collector that accepts the connection and never answers: the export waits its timeout out.
    const silent = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      const tracing = createTracing(settings({ endpoint: `http://127.0.0.1:${silent.port}/v1/traces`, maxQueueSize: 4, exportIntervalMs: 1, exportTimeoutMs: 60_000 }), { version: '0.1.0' });
      const gw = await gateway('self-hosted', { deps: { tracing } });
      const statuses = await Promise.all(Array.from({ length: 30 }, () => fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: gw.auth }).then((r) => r.status)));
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      await waitFor(() => tracing.counts().droppedQueueFull > 0);
      expect(tracing.counts().exported).toBe(0);
    } finally {
      silent.stop(true);
    }
  }, 60_000);
});

describe('tracing off', () => {
  test('no tracing stage, no traceparent added upstream (a client\'s is not forwarded), no trace id in the line', async () => {
    const gw = await gateway('self-hosted');
    const client = clientTraceparent();
    const requestId = requestIdFor('untraced');
    expect((await fetch(`${gw.url}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...gw.auth, traceparent: client.traceparent, 'x-request-id': requestId } })).status).toBe(200);
    const line: AuditRecord = await gw.auditOf(requestId);
    expect(line.traceId).toBeUndefined();
    expect(line.spanId).toBeUndefined();
    expect(gw.upstream.requests.at(-1)!.headers.traceparent).toBeUndefined();
    const compiled = rulesFrom(`version: 1\nbackend: {url: "${gw.upstream.url}"}\n`);
    const names = (tracing?: Tracing) => stagesFor(compiled, { audit: { write() {} }, rateLimits: { take: () => ({ ok: true }) }, signInFailures: {} as never, credentials: {}, nowMs: Date.now, bufferBudget: {} as never, ...(tracing ? { tracing } : {}) }).map((stage) => stage.name);
    expect(names()).not.toContain('requestTracing');
    expect(names()).not.toContain('tracedForwarding');
    expect(names(tracingFor())).toEqual(['requestTracing', ...names().slice(0, -1), 'tracedForwarding']);
  });
});

describe('the whole gateway from the single-file builds', () => {
  const dir = tempDir('tracing-built');
  for (const runtime of BUILT_RUNTIMES) {
    test(`${runtime}: traces a request into the collector, and counts the spans it drops while the collector is down`, async () => {
      const upstream = await startFaultUpstream();
      const rulesFile = join(dir, `${runtime.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(
        rulesFile,
        `version: 1
backend: {url: "${upstream.url}"}
listen: {host: 127.0.0.1, port: 0}
metrics: {enabled: true, port: 0}
clients: [{id: built, apiKeySha256: "${hashApiKey('built-runtime-key-0123456789')}", policies: [all]}]
policies: {all: {operations: ["*"]}}
tracing:
  endpoint: ${collector.endpoint}
  serviceName: built-gateway
  exportIntervalMs: 50
  exportTimeoutMs: 1000
`,
      );
      const started = await startBuiltGateway(runtime, rulesFile, cleanAwsEnv({}));
      try {
        const base = `http://127.0.0.1:${started.port}`;
        const headers = { authorization: 'Bearer built-runtime-key-0123456789' };
        const client = clientTraceparent();
        expect((await fetch(`${base}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { ...headers, traceparent: client.traceparent } })).status).toBe(200);
        const spans = await waitForTrace(client.traceId, 2);
        const server = serverSpan(spans);
        expect(server.parentSpanId).toBe(client.parentId);
        expect(server.resource['service.name']).toBe('built-gateway');
        expect(upstream.requests.at(-1)!.headers.traceparent).toBe(`00-${client.traceId}-${spans.find((s) => s.kind === CLIENT)!.spanId}-01`);
        await waitFor(() => auditLines(started.output()).some((line) => line.traceId === client.traceId));

        const metricsPort = Number(/"metricsPort":(\d+)/.exec(started.output())![1]);
        const dropped = async () => {
          const samples = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
          return (sampleValue(samples, 'sagemaker_mlflow_proxy_trace_spans_dropped_total', { reason: 'export_failed' }) ?? 0) + (sampleValue(samples, 'sagemaker_mlflow_proxy_trace_spans_dropped_total', { reason: 'queue_full' }) ?? 0);
        };
        await collector.stop();
        try {
          const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers }).then((r) => r.status)));
          expect(statuses.filter((status) => status !== 200)).toEqual([]);
          const deadline = Date.now() + 30_000;
          while ((await dropped()) === 0 && Date.now() < deadline) await Bun.sleep(100);
          expect(await dropped()).toBeGreaterThan(0);
          expect(started.output()).toContain('span export failed');
        } finally {
          await collector.start();
        }
      } finally {
        await started.stop();
        await upstream.close();
      }
    }, 300_000);
  }
});
