// The audit line is the gateway's account of each request: a guard that a change to how the
// pipeline is put together does not change what it says. A table of requests (allowed, denied,
// 401, 429, GraphQL, the UI entry, artifacts, upstream failures, a client that leaves, the
// gateway's own refusals) runs through the whole app in-process, and every audit line must equal
// the one recorded in test/fixtures/golden-audit.json, field for field, timings aside.
//
// When a behaviour change is intended, re-record with GOLDEN_RECORD=1 and review the fixture's diff
// in the same commit: the diff is the change to what operators see.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../src/app.ts';
import { hashApiKey } from '../src/auth/api-key.ts';
import type { AuditRecord } from '../src/observability/audit.ts';
import type { CredentialCache } from '../src/aws/credentials.ts';
import { createArtifactService } from '../src/artifacts/service.ts';
import { rulesFrom } from './support/rules.ts';
import { failingCredentialCache, temporaryCredentials } from './support/credentials.ts';
import { createBucket, MOTO_CREDENTIALS, startMoto, type S3Server } from './support/s3.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin } from './standins/sagemaker-control-plane.ts';
import { waitFor } from './support/processes.ts';

setDefaultTimeout(60_000);
const FIXTURE = join(import.meta.dir, 'fixtures', 'golden-audit.json');
const RECORD = process.env.GOLDEN_RECORD === '1';
const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/golden';
const APP_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-GOLDEN123456';
const NOW = new Date('2026-06-01T12:00:00.000Z');
const KEYS = { writer: 'golden-writer-key-0123456789', reader: 'golden-reader-key-0123456789', limited: 'golden-limited-key-012345678', roled: 'golden-roled-key-0123456789a' };
const BUCKET = 'golden-artifacts';
const ROOT = `s3://${BUCKET}/root`;
const BIG = new Uint8Array(200 * 1024).fill(7);

let upstream: ReturnType<typeof Bun.serve>;
let closedPort: number;
let s3: S3Server;
let controlPlane: ControlPlaneStandin;
let slowArrived = 0;

const hostCredentials = (): CredentialCache => {
  const creds = temporaryCredentials(new Date(Date.now() + 3600_000), 7);
  return { get: async () => creds, cached: () => creds, expiration: () => creds.expiration, refreshes: () => 1 };
};

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 30,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const body = await request.text();
      if (path === '/slow') {
        slowArrived++;
        await Bun.sleep(3000);
        return new Response('late');
      }
      if (path === '/big') return new Response(BIG, { headers: { 'content-type': 'application/octet-stream' } });
      if (path === '/api/2.0/mlflow/runs/get') return Response.json({ run: { info: { run_id: 'r1', artifact_uri: `${ROOT}/1/r1/artifacts` } } });
      return Response.json({ path, length: body.length });
    },
  });
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
  closedPort = probe.port!;
  probe.stop(true);
  s3 = await startMoto();
  await createBucket(s3, BUCKET);
  controlPlane = startSageMakerControlPlane({ resources: [ARN, APP_ARN] });
  process.env.AWS_ENDPOINT_URL_SAGEMAKER = controlPlane.endpoint;
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SAGEMAKER;
  upstream?.stop(true);
  controlPlane?.stop();
  await s3?.stop();
});

// Addresses come from X-Forwarded-For (documentation range, never contacted), so the failed
// sign-ins of one case block only the address that made them.
const commonRules = (roles = true) => `
limits: {maxBodyBytes: 4096}
rewrites:
  - {stripPrefix: /mlflow}
  - {prefix: /ajax-api/, replace: /api/}
auth: {failedSignInLimit: {requestsPerSecond: 0.01, burst: 2}}
clients:
  - {id: writer, apiKeySha256: "${hashApiKey(KEYS.writer)}", policies: [everything]}
  - {id: reader, apiKeySha256: "${hashApiKey(KEYS.reader)}", policies: [read]}
  - {id: limited, apiKeySha256: "${hashApiKey(KEYS.limited)}", policies: [everything], rateLimit: {requestsPerSecond: 0.01, burst: 1}}
${roles ? `  - {id: roled, apiKeySha256: "${hashApiKey(KEYS.roled)}", policies: [everything], assumeRoleArn: "arn:aws:iam::123456789012:role/golden"}` : ''}
policies:
  read: {operations: ["Get*", "Search*"]}
  everything: {operations: ["*"], allow: [{methods: ["*"], paths: ["/**"]}]}
`;

type Gateway = ReturnType<typeof createApp>;
const gateways: Record<string, Gateway> = {};
const audit: AuditRecord[] = [];

async function buildGateways() {
  const endpoint = `http://127.0.0.1:${upstream.port}`;
  const tracking = rulesFrom(`version: 1
backend: {arn: "${ARN}", endpoint: "${endpoint}", timeoutSeconds: 1}
listen: {allowedHosts: [gateway.local], trustForwardedFor: true}
ui: {}
${commonRules()}`);
  const app = rulesFrom(`version: 1
backend: {arn: "${APP_ARN}", endpoint: "${endpoint}", timeoutSeconds: 1}
listen: {trustForwardedFor: true}
ui: {}
${commonRules()}`);
  const withArtifacts = rulesFrom(`version: 1
backend: {arn: "${ARN}", endpoint: "${endpoint}", timeoutSeconds: 1}
listen: {trustForwardedFor: true}
artifacts: {s3Root: "${ROOT}", endpoint: "${s3.url}", forcePathStyle: true}
${commonRules()}`);
  const selfHosted = rulesFrom(`version: 1
backend: {url: "${endpoint}", timeoutSeconds: 1, headers: {x-remote-user: gateway}}
listen: {trustForwardedFor: true}
${commonRules(false)}`);
  const unreachable = rulesFrom(`version: 1
backend: {arn: "${ARN}", endpoint: "http://127.0.0.1:${closedPort}", timeoutSeconds: 1}
listen: {trustForwardedFor: true}
${commonRules()}`);
  if (withArtifacts.backend.kind !== 'sagemaker' || !withArtifacts.artifacts) throw new Error('expected artifacts');
  const artifacts = await createArtifactService(withArtifacts.artifacts, withArtifacts.backend, async () => MOTO_CREDENTIALS);
  const deps = { audit: { write: (r: AuditRecord) => audit.push(r) }, now: () => NOW };
  gateways.tracking = createApp({ ...deps, rules: () => tracking, credentials: hostCredentials() });
  gateways.app = createApp({ ...deps, rules: () => app, credentials: hostCredentials() });
  gateways.artifacts = createApp({ ...deps, rules: () => withArtifacts, credentials: hostCredentials(), artifacts });
  gateways.selfHosted = createApp({ ...deps, rules: () => selfHosted });
  gateways.unreachable = createApp({ ...deps, rules: () => unreachable, credentials: hostCredentials() });
  gateways.noCredentials = createApp({ ...deps, rules: () => unreachable, credentials: failingCredentialCache() });
}

interface Case {
  name: string;
  gateway: keyof typeof gateways | string;
  method?: string;
  path: string;
  key?: keyof typeof KEYS | 'wrong' | null;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** Abort the request once the upstream has it (a client that leaves). */
  abort?: boolean;
}

const GRAPHQL_READ = JSON.stringify({ query: '{ mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } }' });
const GRAPHQL_RUNS = JSON.stringify({ query: '{ mlflowGetRun(input: {runId: "r1"}) { run { experiment { name } modelVersions { name } } } }' });

const CASES: Case[] = [
  { name: 'allowed GET', gateway: 'tracking', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'allowed POST with a body', gateway: 'tracking', method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', body: '{"run_id":"r1","key":"m","value":1,"timestamp":1,"step":0}', headers: { 'content-type': 'application/json' } },
  { name: 'rewritten path', gateway: 'tracking', path: '/mlflow/ajax-api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'MLflow App backend', gateway: 'app', path: '/api/2.0/mlflow/experiments/search?max_results=1' },
  { name: 'path rule (no MLflow operation)', gateway: 'tracking', path: '/not/mlflow' },
  { name: 'denied operation', gateway: 'tracking', key: 'reader', method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', body: '{}' },
  { name: 'denied path', gateway: 'tracking', key: 'reader', path: '/not/mlflow' },
  { name: 'denied, browser', gateway: 'tracking', key: 'reader', path: '/api/2.0/mlflow/runs/delete', method: 'POST', body: '{}', headers: { accept: 'text/html' } },
  { name: 'no credentials', gateway: 'tracking', key: null, path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'wrong key', gateway: 'tracking', key: 'wrong', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'wrong key again (limit reached)', gateway: 'tracking', key: 'wrong', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'wrong key, blocked', gateway: 'tracking', key: 'wrong', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'rate limit: first', gateway: 'tracking', key: 'limited', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'rate limit: over', gateway: 'tracking', key: 'limited', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'misdirected host', gateway: 'tracking', path: '/api/2.0/mlflow/experiments/get', headers: { host: 'evil.example' } },
  { name: 'prefix redirect', gateway: 'tracking', path: '/mlflow?x=1' },
  { name: 'body over the limit', gateway: 'tracking', method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', body: new Uint8Array(5000) },
  { name: 'malformed query', gateway: 'tracking', path: '/api/2.0/mlflow/experiments/get?experiment_id=%zz' },
  { name: 'ambiguous path', gateway: 'tracking', path: '/api/2.0/mlflow%2Fexperiments/get' },
  { name: 'large streamed answer', gateway: 'tracking', path: '/big' },
  { name: 'GraphQL read', gateway: 'tracking', method: 'POST', path: '/graphql', body: GRAPHQL_READ, headers: { 'content-type': 'application/json' } },
  { name: 'GraphQL nested reads', gateway: 'tracking', key: 'reader', method: 'POST', path: '/mlflow/graphql', body: GRAPHQL_RUNS, headers: { 'content-type': 'application/json' } },
  { name: 'GraphQL denied', gateway: 'tracking', key: 'reader', method: 'POST', path: '/graphql', body: JSON.stringify({ query: '{ mlflowListArtifacts(input: {runId: "r1"}) { files { path } } }' }) },
  { name: 'GraphQL unknown field', gateway: 'tracking', method: 'POST', path: '/graphql', body: JSON.stringify({ query: '{ __schema { types { name } } }' }) },
  { name: 'GraphQL unparsable', gateway: 'tracking', method: 'POST', path: '/graphql', body: '{"query": "{"}' },
  { name: 'UI entry', gateway: 'tracking', path: '/ui?experiment=3' },
  { name: 'UI entry, MLflow App', gateway: 'app', path: '/ui/' },
  { name: 'UI entry denied', gateway: 'tracking', key: 'reader', path: '/ui' },
  { name: 'UI entry, POST', gateway: 'tracking', method: 'POST', path: '/ui', body: '' },
  { name: 'UI entry, bad deep link', gateway: 'tracking', path: '/ui?experiment=abc' },
  { name: 'UI entry, client role without role credentials', gateway: 'tracking', key: 'roled', path: '/ui' },
  { name: 'artifacts not configured', gateway: 'tracking', method: 'PUT', path: '/api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/a.txt', body: 'hello' },
  { name: 'artifact upload', gateway: 'artifacts', method: 'PUT', path: '/api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/a.txt', body: 'hello' },
  { name: 'artifact download', gateway: 'artifacts', path: '/api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/a.txt' },
  { name: 'artifact list', gateway: 'artifacts', path: '/api/2.0/mlflow-artifacts/artifacts?path=1/r1/artifacts' },
  { name: 'artifact missing', gateway: 'artifacts', path: '/api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/none.txt' },
  { name: 'artifact locations rewritten', gateway: 'artifacts', path: '/api/2.0/mlflow/runs/get?run_id=r1' },
  { name: 'artifact route not served', gateway: 'artifacts', method: 'POST', path: '/api/2.0/mlflow-artifacts/mpu/unknown/1/r1', body: '{"path":"a"}' },
  { name: 'client role without role credentials', gateway: 'tracking', key: 'roled', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'self-hosted GET', gateway: 'selfHosted', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'self-hosted streamed POST', gateway: 'selfHosted', method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', body: '{"run_id":"r1"}', headers: { 'content-type': 'application/json' } },
  { name: 'upstream unreachable', gateway: 'unreachable', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
  { name: 'upstream too slow', gateway: 'tracking', path: '/slow' },
  { name: 'client leaves', gateway: 'tracking', path: '/slow', abort: true },
  { name: 'no signing credentials', gateway: 'noCredentials', path: '/api/2.0/mlflow/experiments/get?experiment_id=1' },
];

/** An audit line without what depends on the machine: timings become "whether it was measured". */
function comparable(record: AuditRecord): Record<string, unknown> {
  const { totalMs, upstreamMs, ...rest } = record;
  return { ...rest, totalMs: typeof totalMs === 'number', ...(upstreamMs !== undefined ? { upstreamMs: typeof upstreamMs === 'number' } : {}) };
}

async function run(c: Case): Promise<Record<string, unknown>> {
  const requestId = `golden-${c.name.replace(/[^A-Za-z0-9]+/g, '-')}`.slice(0, 120);
  const key = c.key === undefined ? 'writer' : c.key;
  const ip = key === 'wrong' ? '192.0.2.66' : '192.0.2.10';
  const headers = new Headers({ host: 'gateway.local', 'x-request-id': requestId, 'x-forwarded-for': ip, ...c.headers });
  if (key === 'wrong') headers.set('authorization', 'Bearer not-a-key-of-anybody-0123');
  else if (key) headers.set('authorization', `Bearer ${KEYS[key]}`);
  const controller = new AbortController();
  const before = audit.length;
  const arrived = slowArrived;
  const pending = gateways[c.gateway]!.handle(
    new Request(`http://gateway.local${c.path}`, { method: c.method ?? 'GET', headers, signal: controller.signal, ...(c.body !== undefined ? { body: c.body } : {}) }),
  );
  if (c.abort) {
    await waitFor(() => slowArrived > arrived);
    controller.abort();
  }
  const response = await pending;
  await response.arrayBuffer().catch(() => undefined);
  await waitFor(() => audit.length > before);
  expect(audit.length).toBe(before + 1);
  return comparable(audit[before]!);
}

describe('the audit line of each kind of request is what it was before the redesign', () => {
  const results: Record<string, Record<string, unknown>> = {};
  beforeAll(buildGateways);
  afterAll(() => {
    if (RECORD) writeFileSync(FIXTURE, `${JSON.stringify(results, null, 2)}\n`);
  });
  const golden: Record<string, unknown> = !RECORD && existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, 'utf8')) : {};

  test('the fixture covers exactly the cases in this table', () => {
    if (RECORD) return;
    expect(Object.keys(golden).sort()).toEqual(CASES.map((c) => c.name).sort());
  });

  for (const c of CASES) {
    test(c.name, async () => {
      const line = await run(c);
      results[c.name] = line;
      if (!RECORD) expect(line).toEqual(golden[c.name] as Record<string, unknown>);
    });
  }
});
