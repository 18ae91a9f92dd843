// The pipeline's browser-facing behaviour, in-process in front of a small MLflow-like upstream:
// GraphQL decided by what its document asks and sent on byte for byte, the redirect a mount prefix
// needs, HTML refusals for a person at a browser (JSON for API clients), and the Origin MLflow 3.5+
// checks. The same against the real MLflow UI in Chromium: test/e2e/ui-self-hosted.test.ts.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { createApp } from '../src/app.ts';
import { hashApiKey } from '../src/auth/api-key.ts';
import { hashPassword } from '../src/auth/password.ts';
import type { AuditRecord } from '../src/observability/audit.ts';
import { rulesFrom } from './support/rules.ts';

const READER_KEY = 'browser-reader-key-0123456789';
const RUN_QUERY = JSON.stringify({
  operationName: 'GetRun',
  variables: { data: { runId: 'r1' } },
  query: 'query GetRun($data: MlflowGetRunInput!) { mlflowGetRun(input: $data) { run { info { runUuid } experiment { name } } } }',
});

let seen: Array<{ method: string; path: string; headers: Headers; body: string }> = [];
let upstream: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      seen.push({ method: request.method, path: new URL(request.url).pathname, headers: request.headers, body: await request.text() });
      return Response.json({ data: {} });
    },
  });
});
afterAll(() => upstream.stop(true));
beforeEach(() => (seen = []));

const audit: AuditRecord[] = [];
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
rewrites:
  - {name: mount-prefix, stripPrefix: /mlflow}
  - {name: ajax-api, prefix: /ajax-api/, replace: /api/}
clients:
  - {id: reader, apiKeySha256: "${hashApiKey(READER_KEY)}", passwordHash: "${await hashPassword('pw')}", policies: [read-only-ui]}
policies:
  read-only-ui: {operations: ["Get*", "Search*", "List*", AccessUI]}
`);
  app = createApp({ rules: () => rules, audit: { write: (record) => audit.push(record) } });
});

async function call(path: string, init: RequestInit & { key?: string | null } = {}) {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('authorization', `Bearer ${init.key ?? READER_KEY}`);
  const response = await app.handle(new Request(`http://gateway.local${path}`, { ...init, headers }));
  const text = await response.text();
  await Bun.sleep(1);
  return { response, text, record: audit.at(-1)! };
}

describe('GraphQL is decided by the operations its document performs', () => {
  test('the UI\'s run query is allowed for a reader and reaches MLflow byte for byte; the audit names its operations', async () => {
    const { response, record } = await call('/mlflow/graphql', { method: 'POST', body: RUN_QUERY, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
    expect(seen.map((s) => [s.method, s.path, s.body])).toEqual([['POST', '/graphql', RUN_QUERY]]);
    expect(record).toMatchObject({ operation: 'GraphQL:GetExperiment,GetRun', decision: 'allowed', policy: 'read-only-ui' });
  });

  const refusals: Array<[string, string, number, string]> = [
    ['a field the gateway cannot name', '{"query":"{ test(inputString: \\"x\\") { output } }"}', 403, 'PERMISSION_DENIED'],
    ['introspection', '{"query":"{ __schema { types { name } } }"}', 403, 'PERMISSION_DENIED'],
    ['a document that does not parse', '{"query":"{ mlflowGetRun("}', 400, 'BAD_REQUEST'],
    ['a body over the GraphQL cap', JSON.stringify({ query: `{ mlflowGetRun(input: {}) { run { info { runUuid } } } } # ${'x'.repeat(70_000)}` }), 413, 'RESOURCE_EXHAUSTED'],
  ];
  for (const [what, body, status, code] of refusals) {
    test(`${what} is refused with ${status} ${code} and never reaches MLflow`, async () => {
      const { response, text } = await call('/graphql', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(response.status).toBe(status);
      expect(JSON.parse(text).error_code).toBe(code);
      expect(seen).toEqual([]);
    });
  }

  test('a query needing an operation the client lacks is refused with 403, naming that operation', async () => {
    const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
clients: [{id: runs-only, apiKeySha256: "${hashApiKey('runs-only-key-0123456789')}", policies: [runs]}]
policies: {runs: {operations: [GetRun]}}
`);
    const records: AuditRecord[] = [];
    const narrow = createApp({ rules: () => rules, audit: { write: (r) => records.push(r) } });
    const response = await narrow.handle(new Request('http://gateway.local/graphql', {
      method: 'POST', body: RUN_QUERY, headers: { 'content-type': 'application/json', authorization: 'Bearer runs-only-key-0123456789' },
    }));
    expect(response.status).toBe(403);
    expect((await response.json()).message).toContain('may not call GetExperiment (through GraphQL)');
    await Bun.sleep(1);
    expect(records[0]).toMatchObject({ operation: 'GraphQL:GetExperiment,GetRun', decision: 'denied' });
    expect(seen).toEqual([]);
  });
});

describe('the UI under a mount prefix', () => {
  test('GET /mlflow redirects to /mlflow/ keeping the query, since the UI loads everything relative to the page', async () => {
    const { response, record } = await call('/mlflow?o=1', { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/mlflow/?o=1');
    expect(record.decision).toBe('redirected');
    expect(seen).toEqual([]);
  });
  test('/mlflow/ itself is the UI index (AccessUI) on the upstream\'s /', async () => {
    const { response, record } = await call('/mlflow/', { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(seen[0]!.path).toBe('/');
    expect(record.operation).toBe('AccessUI');
  });
  test('the UI\'s write through ajax-api is refused for a reader, in MLflow\'s JSON shape', async () => {
    const { response, text } = await call('/mlflow/ajax-api/2.0/mlflow/experiments/update', {
      method: 'POST', body: '{"experiment_id":"1","new_name":"x"}', headers: { 'content-type': 'application/json', accept: 'application/json, text/plain, */*' },
    });
    expect(response.status).toBe(403);
    expect(JSON.parse(text).error_code).toBe('PERMISSION_DENIED');
  });
});

describe('refusals for a person at a browser', () => {
  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  test('no credentials → 401 with the Basic challenge and a short HTML page, escaped, not cached', async () => {
    const { response, text } = await call('/mlflow/', { key: null, headers: { accept: browserAccept } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('Basic realm="MLflow"');
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(text).toContain('<h1>Sign-in required</h1>');
    expect(text).not.toMatch(/at .*\.ts|Error:/);
  });
  test('an API client without credentials keeps MLflow\'s JSON', async () => {
    const { response, text } = await call('/api/2.0/mlflow/experiments/search', { key: null, method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(JSON.parse(text).error_code).toBe('UNAUTHENTICATED');
  });
});

describe('the Origin MLflow 3.5+ checks on state-changing API calls', () => {
  const search = (origin: string, host: string) =>
    call('/ajax-api/2.0/mlflow/runs/search', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', origin, host } });
  test('the gateway\'s own origin (the UI it served) is not passed on', async () => {
    await search('https://mlflow.example.com', 'mlflow.example.com');
    expect(seen[0]!.headers.get('origin')).toBeNull();
  });
  test('another site\'s origin is passed on, for MLflow to refuse', async () => {
    await search('https://evil.example.net', 'mlflow.example.com');
    expect(seen[0]!.headers.get('origin')).toBe('https://evil.example.net');
  });
});
