// The whole pipeline in-process (Elysia's app.handle), in front of small local upstreams: one that
// verifies SigV4 independently (aws4) like SageMaker's front end, one plain MLflow-like server.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { createApp, readiness } from '../src/app.ts';
import { hashApiKey } from '../src/auth/api-key.ts';
import type { AuditRecord } from '../src/observability/audit.ts';
import type { CredentialCache } from '../src/aws/credentials.ts';
import { verifySigV4, type Verdict } from './standins/sigv4-verifier.ts';
import { rulesFrom } from './support/rules.ts';
import { failingCredentialCache, temporaryCredentials } from './support/credentials.ts';

const ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team';
const APP_ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-ABCDEF123456';
const WRITER_KEY = 'writer-key-0123456789abcdef';
const READER_KEY = 'reader-key-0123456789abcdef';
const BINARY = new Uint8Array(randomBytes(256 * 1024));

interface Seen {
  method: string;
  url: string;
  headers: Headers;
  body: Uint8Array;
  verdict?: Verdict;
}

let seen: Seen[] = [];
let upstreamAborted = false;
let upstream: ReturnType<typeof Bun.serve>;
let expectation = { region: 'eu-west-1', service: 'sagemaker-mlflow', routingHeader: 'x-mlflow-sm-tracking-server-arn', arn: ARN };

beforeAll(() => {
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 30,
    async fetch(request) {
      const body = new Uint8Array(await request.arrayBuffer());
      const path = new URL(request.url).pathname;
      const entry: Seen = { method: request.method, url: request.url, headers: request.headers, body };
      if (request.headers.has('authorization') && request.headers.get('authorization')!.startsWith('AWS4')) {
        entry.verdict = verifySigV4(request, request.url, body, expectation);
        if (!entry.verdict.ok) {
          seen.push(entry);
          return Response.json({ message: entry.verdict.reason }, { status: 403 });
        }
      }
      seen.push(entry);
      switch (path) {
        case '/binary':
          return new Response(BINARY, { headers: { 'content-type': 'application/octet-stream' } });
        case '/gzip':
          return new Response(gzipSync('{"hello":"world"}'), { headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' } });
        case '/cookies': {
          const headers = new Headers();
          headers.append('set-cookie', 'a=1; Path=/');
          headers.append('set-cookie', 'b=2; Path=/; HttpOnly');
          headers.set('connection', 'close, x-secret-hop');
          headers.set('x-secret-hop', 'must not pass');
          return new Response('ok', { headers });
        }
        case '/slow':
          request.signal.addEventListener('abort', () => (upstreamAborted = true));
          await Bun.sleep(1500);
          return new Response('late');
        case '/api/2.0/mlflow/experiments/get-by-name':
          return Response.json({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'x'" }, { status: 404 });
        default:
          return Response.json({ echo: path, body: new TextDecoder().decode(body) });
      }
    },
  });
});
afterAll(() => upstream.stop(true));
beforeEach(() => {
  seen = [];
  upstreamAborted = false;
});

const credentials = (creds = temporaryCredentials(new Date(Date.now() + 3600_000), 1)): CredentialCache => ({
  get: async () => creds,
  cached: () => creds,
  expiration: () => creds.expiration,
  refreshes: () => 1,
});

function gateway(backendYaml: string, extra = '') {
  const audit: AuditRecord[] = [];
  const rules = rulesFrom(`version: 1
backend:
${backendYaml}
limits: {maxBodyBytes: 1024}
rewrites:
  - {stripPrefix: /mlflow}
  - {prefix: /ajax-api/, replace: /api/}
clients:
  - {id: writer, apiKeySha256: "${hashApiKey(WRITER_KEY)}", policies: [everything]}
  - {id: reader, apiKeySha256: "${hashApiKey(READER_KEY)}", policies: [read]}
policies:
  read: {operations: ["Get*", "Search*"]}
  everything: {operations: ["*"], allow: [{methods: ["*"], paths: ["/**"]}]}
${extra}`);
  const app = createApp({ rules: () => rules, credentials: credentials(), audit: { write: (r) => audit.push(r) } });
  const call = async (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    const key = init.key === undefined ? WRITER_KEY : init.key;
    if (key) headers.set('authorization', `Bearer ${key}`);
    const response = await app.handle(new Request(`http://gateway.local${path}`, { ...init, headers }));
    const bytes = new Uint8Array(await response.arrayBuffer());
    await Bun.sleep(1); // let the audit line be written once the body is consumed
    return { response, bytes, text: new TextDecoder().decode(bytes), audit };
  };
  return { call, audit };
}

const sagemaker = () => gateway(`  arn: ${ARN}\n  endpoint: http://127.0.0.1:${upstream.port}\n  timeoutSeconds: 1`);

describe('a SageMaker tracking-server backend', () => {
  test('gets correctly signed requests: signing name, region, routing header, body hash, session token', async () => {
    const { call } = sagemaker();
    const body = '{"run_id":"r1","key":"m","value":1.5,"timestamp":1,"step":0}';
    const { response } = await call('/api/2.0/mlflow/runs/log-metric', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.verdict).toMatchObject({ ok: true });
    expect(new TextDecoder().decode(seen[0]!.body)).toBe(body);
    const signed = (seen[0]!.verdict as { signedHeaders: string[] }).signedHeaders;
    expect(signed).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token', 'x-mlflow-sm-tracking-server-arn', 'content-type']));
    expect(signed).not.toContain('connection');
    expect(signed).not.toContain('content-length');
  });

  test('sends `+` in a GET query as %20, signed that way', async () => {
    const { call } = sagemaker();
    await call('/api/2.0/mlflow/experiments/search?filter=name+%3D+%27a+b%27&max_results=5');
    expect(seen[0]!.verdict).toMatchObject({ ok: true });
    expect(seen[0]!.url).toEndWith('?filter=name%20%3D%20%27a%20b%27&max_results=5');
  });

  test('never forwards the client\'s credentials, x-amz-* or routing headers, Host or hop-by-hop headers', async () => {
    const { call } = sagemaker();
    // The key comes as X-API-Key here (a request may carry one kind of credential), so the
    // Authorization seen upstream can only be the gateway's own signature.
    await call('/api/2.0/mlflow/runs/get?run_id=1', {
      key: null,
      headers: {
        'x-api-key': WRITER_KEY,
        'x-amz-security-token': 'client-token',
        'x-amz-date': '20000101T000000Z',
        'x-mlflow-sm-tracking-server-arn': 'arn:aws:sagemaker:eu-west-1:999999999999:mlflow-tracking-server/other',
        'x-sm-mlflow-app-arn': 'arn:aws:sagemaker:eu-west-1:999999999999:mlflow-app/app-OTHER',
        host: 'evil.example',
        connection: 'keep-alive, x-private',
        'x-private': 'hop',
        'proxy-authorization': 'Basic c2VjcmV0',
        te: 'trailers',
        'user-agent': 'mlflow-python-client/3.17.2',
      },
    });
    const headers = seen[0]!.headers;
    expect(seen[0]!.verdict).toMatchObject({ ok: true });
    expect(headers.get('authorization')).toStartWith('AWS4-HMAC-SHA256 Credential=ASIA');
    expect(headers.get('x-api-key')).toBeNull();
    expect(headers.get('x-amz-security-token')).toStartWith('standin-token:');
    expect(headers.get('x-mlflow-sm-tracking-server-arn')).toBe(ARN);
    expect(headers.get('x-sm-mlflow-app-arn')).toBeNull();
    expect(headers.get('host')).toBe(`127.0.0.1:${upstream.port}`);
    expect(headers.get('x-private')).toBeNull();
    expect(headers.get('proxy-authorization')).toBeNull();
    expect(headers.get('te')).toBeNull();
    expect(headers.get('user-agent')).toBe('mlflow-python-client/3.17.2');
  });

  test('rewrites /ajax-api/ under a mount prefix to the /api/ path it signs and sends', async () => {
    const { call, audit } = sagemaker();
    const { response, text } = await call('/mlflow/ajax-api/2.0/mlflow/runs/get?run_id=1');
    expect(response.status).toBe(200);
    expect(JSON.parse(text).echo).toBe('/api/2.0/mlflow/runs/get');
    expect(audit[0]).toMatchObject({ path: '/mlflow/ajax-api/2.0/mlflow/runs/get', upstreamPath: '/api/2.0/mlflow/runs/get', operation: 'GetRun' });
  });

  test('passes binary bodies through byte for byte', async () => {
    const { call } = sagemaker();
    const { response, bytes } = await call('/binary');
    expect(response.status).toBe(200);
    expect(bytes.byteLength).toBe(BINARY.byteLength);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(BINARY))).toBe(0);
  });

  test('passes compressed bodies through still compressed, with their Content-Encoding', async () => {
    const { call } = sagemaker();
    const { response, bytes } = await call('/gzip', { headers: { 'accept-encoding': 'gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(Buffer.compare(Buffer.from(bytes), gzipSync('{"hello":"world"}'))).toBe(0);
  });

  test('keeps every Set-Cookie and drops hop-by-hop response headers', async () => {
    const { call } = sagemaker();
    const { response } = await call('/cookies');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    expect(response.headers.get('x-secret-hop')).toBeNull();
    expect(response.headers.get('connection')).toBeNull();
  });

  test('passes upstream error bodies through unchanged, with their status', async () => {
    const { call } = sagemaker();
    const { response, text } = await call('/api/2.0/mlflow/experiments/get-by-name?experiment_name=x');
    expect(response.status).toBe(404);
    expect(JSON.parse(text)).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'x'" });
  });

  test('signs for an MLflow App with signing name `sagemaker` and the app routing header', async () => {
    const { call } = gateway(`  arn: ${APP_ARN}\n  endpoint: http://127.0.0.1:${upstream.port}`);
    const saved = expectation;
    expectation = { region: 'eu-west-1', service: 'sagemaker', routingHeader: 'x-sm-mlflow-app-arn', arn: APP_ARN };
    try {
      const { response } = await call('/api/2.0/mlflow/experiments/search', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(response.status).toBe(200);
      expect(seen[0]!.verdict).toMatchObject({ ok: true });
      expect(seen[0]!.headers.get('x-mlflow-sm-tracking-server-arn')).toBeNull();
    } finally {
      expectation = saved;
    }
  });
});

describe('refusals are MLflow-shaped, carry a request id, and reach nothing upstream', () => {
  const cases: Array<[string, string, RequestInit & { key?: string | null }, number, string]> = [
    ['no API key → 401', '/api/2.0/mlflow/runs/get', { key: null }, 401, 'UNAUTHENTICATED'],
    ['a wrong API key → 401', '/api/2.0/mlflow/runs/get', { key: 'wrong-key-0123456789' }, 401, 'UNAUTHENTICATED'],
    ['a policy without the operation → 403', '/api/2.0/mlflow/runs/log-metric', { key: READER_KEY, method: 'POST', body: '{}' }, 403, 'PERMISSION_DENIED'],
    ['an encoded slash → 400', '/api/2.0/mlflow/runs%2Fget', {}, 400, 'BAD_REQUEST'],
    ['a body over the cap → 413', '/api/2.0/mlflow/runs/log-batch', { method: 'POST', body: 'x'.repeat(2048) }, 413, 'RESOURCE_EXHAUSTED'],
  ];
  for (const [sentence, path, init, status, code] of cases) {
    test(sentence, async () => {
      const { call, audit } = sagemaker();
      const { response, text } = await call(path, init);
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json');
      const body = JSON.parse(text);
      expect(body.error_code).toBe(code);
      expect(body.message).toContain(response.headers.get('x-request-id')!);
      expect(seen).toHaveLength(0);
      expect(audit).toHaveLength(1);
      expect(audit[0]!.status).toBe(status);
      if (status === 401) expect(response.headers.get('www-authenticate')).toStartWith('Bearer');
    });
  }

  test('a chunked body over the cap is cut off with 413', async () => {
    const { call } = sagemaker();
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512));
        controller.close();
      },
    });
    const { response } = await call('/api/2.0/mlflow/runs/log-batch', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  test('the 403 message names the operation but not the rule that would allow it', async () => {
    const { call, audit } = sagemaker();
    const { text } = await call('/api/2.0/mlflow/runs/log-metric', { key: READER_KEY, method: 'POST', body: '{}' });
    expect(JSON.parse(text).message).toStartWith('Client "reader" may not call LogMetric.');
    expect(audit[0]).toMatchObject({ decision: 'denied', clientId: 'reader', operation: 'LogMetric', reason: 'no policy of reader (read) allows operation LogMetric' });
  });
});

describe('upstream failures', () => {
  test('an unreachable upstream → 502 TEMPORARILY_UNAVAILABLE without internal detail', async () => {
    const { call, audit } = gateway(`  arn: ${ARN}\n  endpoint: http://127.0.0.1:1`);
    const { response, text } = await call('/api/2.0/mlflow/runs/get?run_id=1');
    expect(response.status).toBe(502);
    const body = JSON.parse(text);
    expect(body.error_code).toBe('TEMPORARILY_UNAVAILABLE');
    expect(body.message).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|Error/);
    expect(audit[0]!.reason).toMatch(/Unable to connect|ECONNREFUSED|ConnectionRefused/i);
  });

  test('an upstream slower than the timeout → 504 DEADLINE_EXCEEDED, and the upstream call is cancelled', async () => {
    const { call } = sagemaker();
    const { response, text } = await call('/slow');
    expect(response.status).toBe(504);
    expect(JSON.parse(text).error_code).toBe('DEADLINE_EXCEEDED');
    await Bun.sleep(100);
    expect(upstreamAborted).toBe(true);
  });

  test('a client that goes away cancels the upstream call', async () => {
    const { call } = gateway(`  arn: ${ARN}\n  endpoint: http://127.0.0.1:${upstream.port}\n  timeoutSeconds: 30`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const pending = call('/slow', { signal: controller.signal }).catch((error) => error);
    await pending;
    await Bun.sleep(100);
    expect(upstreamAborted).toBe(true);
  });
});

describe('request ids and the audit log', () => {
  test('a sane incoming X-Request-Id is reused, in the answer and upstream', async () => {
    const { call } = sagemaker();
    const { response } = await call('/api/2.0/mlflow/runs/get', { headers: { 'x-request-id': 'client-req-00042' } });
    expect(response.headers.get('x-request-id')).toBe('client-req-00042');
    expect(seen[0]!.headers.get('x-request-id')).toBe('client-req-00042');
  });

  test('an unusable incoming X-Request-Id is replaced by a fresh one', async () => {
    const { call } = sagemaker();
    const { response } = await call('/api/2.0/mlflow/runs/get', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('one line per request with identity, paths, operation, policy, decision, sizes and timings, and no secret', async () => {
    const { call, audit } = sagemaker();
    const body = '{"experiment_id":"1"}';
    await call('/ajax-api/2.0/mlflow/runs/search?token=s3cr3t-query', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'user-agent': 'mlflow-python-client/3.17.2' },
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      clientId: 'writer', authMethod: 'api-key', userAgent: 'mlflow-python-client/3.17.2', method: 'POST', path: '/ajax-api/2.0/mlflow/runs/search',
      upstreamPath: '/api/2.0/mlflow/runs/search', operation: 'SearchRuns', policy: 'everything', decision: 'allowed',
      status: 200, bytesIn: body.length,
    });
    expect(audit[0]!.bytesOut).toBeGreaterThan(0);
    expect(audit[0]!.upstreamMs).toBeGreaterThanOrEqual(0);
    expect(audit[0]!.totalMs).toBeGreaterThanOrEqual(audit[0]!.upstreamMs!);
    const line = JSON.stringify(audit);
    for (const secret of [WRITER_KEY, 's3cr3t-query', 'standin-token', 'Signature=']) expect(line).not.toContain(secret);
  });
});

describe('a self-hosted MLflow backend', () => {
  test('gets the request unsigned, with the configured Host and static header, body streamed', async () => {
    const { call } = gateway(`  url: http://127.0.0.1:${upstream.port}\n  hostHeader: localhost:5000\n  headers: {x-ingress-secret: s1}`);
    const body = 'x'.repeat(4096); // over maxBodyBytes: the cap is for bodies hashed for SigV4
    const { response, text } = await call('/api/2.0/mlflow/runs/log-batch', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
    expect(JSON.parse(text).body).toBe(body);
    expect(seen[0]!.headers.get('authorization')).toBeNull();
    expect(seen[0]!.headers.get('host')).toBe('localhost:5000');
    expect(seen[0]!.headers.get('x-ingress-secret')).toBe('s1');
    expect(seen[0]!.verdict).toBeUndefined();
  });
});

describe("the gateway's own endpoints", () => {
  test('liveness and readiness answer without credentials and never reach the upstream', async () => {
    const { call } = sagemaker();
    const live = await call('/-/live', { key: null });
    const ready = await call('/-/ready', { key: null });
    expect(live.response.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready', checks: { rules: 'ok' } });
    expect(seen).toHaveLength(0);
  });

  test("MLflow's own /health and /version pass through the pipeline to the upstream", async () => {
    const { call } = sagemaker();
    const { response, text } = await call('/version');
    expect(response.status).toBe(200);
    expect(JSON.parse(text).echo).toBe('/version');
  });

  test('readiness answers 503, naming the failed check, when credentials cannot be resolved', async () => {
    const failing = failingCredentialCache();
    const rules = rulesFrom(`version: 1\nbackend: {arn: ${ARN}}\n`);
    const app = createApp({ rules: () => rules, credentials: failing, audit: { write: () => {} }, readiness: () => readiness(failing) });
    const response = await app.handle(new Request('http://gateway.local/-/ready'));
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'not ready', checks: { rules: 'ok', credentials: 'unavailable' } });
  });
});
