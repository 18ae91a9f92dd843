// The artifact API and location rewriting in-process (Elysia's app.handle): the gateway in front of
// a real S3-compatible server (moto) for artifacts and a small SageMaker-like upstream for the REST
// API that answers with S3 locations and echoes what it receives.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import type { CredentialCache } from '../../src/aws/credentials.ts';
import { createArtifactService } from '../../src/artifacts/service.ts';
import { rulesFrom } from '../support/rules.ts';
import { staticCredentials } from '../support/credentials.ts';
import { allKeys, createBucket, MOTO_CREDENTIALS, putObject, startMoto, type S3Server } from '../support/s3.ts';

setDefaultTimeout(60_000);
const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/handler';
const KEY = 'handler-test-key-0123456789abcdef';
// A client whose one policy is a path rule over everything: the widest grant there is, so whatever
// reaches the upstream for it is stopped by nothing but the gateway's routing.
const WIDE_KEY = 'handler-test-wide-key-0123456789';
const BUCKET = 'handler-tests';
const ROOT = `s3://${BUCKET}/root`;

let s3: S3Server;
let upstream: ReturnType<typeof Bun.serve>;
const received: Array<{ path: string; body: string; acceptEncoding: string | null }> = [];
const audit: AuditRecord[] = [];
let app: ReturnType<typeof createApp>;
let bare: ReturnType<typeof createApp>;

const hostCredentials = (): CredentialCache => {
  const creds = staticCredentials('HANDLER00001');
  return { get: async () => creds, cached: () => creds, expiration: () => undefined, refreshes: () => 1 };
};

beforeAll(async () => {
  s3 = await startMoto();
  await createBucket(s3, BUCKET);
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const body = await request.text();
      received.push({ path, body, acceptEncoding: request.headers.get('accept-encoding') });
      if (path === '/api/2.0/mlflow/runs/get') {
        return Response.json({ run: { info: { run_id: 'r1', artifact_uri: `${ROOT}/1/r1/artifacts` }, data: { tags: [{ key: 'k', value: `${ROOT}/x` }] } } });
      }
      if (path === '/api/2.0/mlflow/model-versions/create') return Response.json({ model_version: { source: JSON.parse(body).source } });
      // A location stored with an encoded dot segment (written to the tracking server some other way).
      if (path === '/api/2.0/mlflow/experiments/get') return Response.json({ experiment: { experiment_id: '1', artifact_location: `${ROOT}/1/%2e%2e/2` } });
      return Response.json({ ok: true, echo: `${ROOT}/not-a-location-field` });
    },
  });
  const yaml = (artifacts: string) => `version: 1
backend: {arn: "${ARN}", endpoint: "http://127.0.0.1:${upstream.port}"}
${artifacts}
rewrites: [{name: mount-prefix, stripPrefix: /mlflow}]
clients:
  - {id: c, apiKeySha256: "${hashApiKey(KEY)}", policies: [all]}
  - {id: wide, apiKeySha256: "${hashApiKey(WIDE_KEY)}", policies: [everything]}
policies:
  all: {operations: ["*"]}
  everything: {allow: [{methods: ["*"], paths: ["/**"]}]}
`;
  const rules = rulesFrom(yaml(`artifacts: {s3Root: "${ROOT}", endpoint: "${s3.url}", forcePathStyle: true, maxJsonRewriteBytes: 4096}`));
  if (rules.backend.kind !== 'sagemaker' || !rules.artifacts) throw new Error('expected SageMaker with artifacts');
  const artifacts = await createArtifactService(rules.artifacts, rules.backend, async () => MOTO_CREDENTIALS);
  app = createApp({ rules: () => rules, credentials: hostCredentials(), audit: { write: (r) => audit.push(r) }, artifacts });
  const bareRules = rulesFrom(yaml(''));
  bare = createApp({ rules: () => bareRules, credentials: hostCredentials(), audit: { write: () => {} } });
});
afterAll(async () => {
  upstream?.stop(true);
  await s3?.stop();
});

const call = (target: ReturnType<typeof createApp>, path: string, init: RequestInit = {}) =>
  target.handle(new Request(`http://gateway.local${path}`, { ...init, headers: { authorization: `Bearer ${KEY}`, ...(init.headers as Record<string, string>) } }));
const API = '/api/2.0/mlflow-artifacts/artifacts';

describe('the artifact API answers like MLflow\'s proxy', () => {
  test('upload, list (one level, sizes for files only), download with safe headers, delete', async () => {
    expect((await call(app, `${API}/1/r1/artifacts/page.html`, { method: 'PUT', body: '<script>x</script>', headers: { 'content-type': 'text/html' } })).status).toBe(200);
    expect((await call(app, `${API}/1/r1/artifacts/sub/a%20b.txt`, { method: 'PUT', body: 'hello' })).status).toBe(200);
    const listed = await call(app, `${API}?path=1/r1/artifacts`);
    expect(await listed.json()).toEqual({ files: [{ path: 'sub', is_dir: true }, { path: 'page.html', is_dir: false, file_size: 18 }] });
    expect(await (await call(app, `${API}?path=1/r1/artifacts/page.html`)).json()).toEqual({});
    const page = await call(app, `${API}/1/r1/artifacts/page.html`);
    expect(page.headers.get('content-type')).toBe('application/octet-stream');
    expect(page.headers.get('content-disposition')).toBe('attachment');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-request-id')).toBeTruthy();
    expect(await page.text()).toBe('<script>x</script>');
    expect((await call(app, `${API}/1/r1/artifacts/sub`, { method: 'DELETE' })).status).toBe(200);
    expect(await allKeys(s3, BUCKET)).toEqual(['root/1/r1/artifacts/page.html']);
  });

  test('a missing artifact is 404 RESOURCE_DOES_NOT_EXIST with the request id; the audit line has the S3 key', async () => {
    const missing = await call(app, `${API}/1/none.bin`, { headers: { 'x-request-id': 'req-artifact-404' } });
    expect(missing.status).toBe(404);
    const body = await missing.json();
    expect(body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(body.message).toContain('req-artifact-404');
    expect(body.message).not.toContain('root/1/none.bin');
    const line = audit.find((a) => a.requestId === 'req-artifact-404');
    expect(line).toMatchObject({ operation: 'ReadArtifacts', status: 404, reason: 's3 key root/1/none.bin' });
  });

  test('mpu/create and mpu/abort through the API', async () => {
    const created = await call(app, '/api/2.0/mlflow-artifacts/mpu/create/1/r1/artifacts', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: '/tmp/local dir/big.bin', num_parts: 2 }),
    });
    const { upload_id, credentials } = await created.json();
    expect(credentials.map((c: { part_number: number }) => c.part_number)).toEqual([1, 2]);
    expect(credentials[0].url).toContain('/handler-tests/root/1/r1/artifacts/big.bin?');
    const aborted = await call(app, '/api/2.0/mlflow-artifacts/mpu/abort/1/r1/artifacts', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: 'big.bin', upload_id }),
    });
    expect(aborted.status).toBe(200);
  });

  test("3.x's presigned download answers a URL straight to S3 and the size, which fetch the bytes without credentials", async () => {
    await putObject(s3, BUCKET, 'root/1/r1/artifacts/presigned.txt', 'ranged bytes');
    const answer = await call(app, '/api/2.0/mlflow-artifacts/presigned/1/r1/artifacts/presigned.txt');
    expect(answer.status).toBe(200);
    const presigned = await answer.json();
    expect(presigned).toEqual({ url: expect.stringContaining('/handler-tests/root/1/r1/artifacts/presigned.txt?'), headers: {}, file_size: 12 });
    const ranged = await fetch(presigned.url, { headers: { range: 'bytes=0-5' } });
    expect(await ranged.text()).toBe('ranged');
  });

  test('a presigned download of a missing artifact is 404 RESOURCE_DOES_NOT_EXIST', async () => {
    const missing = await call(app, '/api/2.0/mlflow-artifacts/presigned/1/r1/artifacts/nope.txt');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error_code).toBe('RESOURCE_DOES_NOT_EXIST');
  });

  test('a route MLflow does not have is refused as no operation, and without an artifacts section the whole API is 501', async () => {
    expect((await call(app, '/api/2.0/mlflow-artifacts/mpu/rename/1/a.bin', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"path":"a.bin"}' })).status).toBe(403);
    const none = await call(bare, `${API}/1/a.bin`);
    expect(none.status).toBe(501);
    expect((await none.json()).error_code).toBe('NOT_IMPLEMENTED');
    expect(received.some((r) => r.path.includes('mlflow-artifacts'))).toBe(false);
  });
});

// MLflow registers every artifact route under /api/ and /ajax-api/ (handlers.py _get_paths; the UI
// uses the second): one API, so the gateway must serve (or, without `artifacts`, refuse) both, for
// every route, behind a mount prefix too. A spelling that the gateway would not recognise but the
// upstream would (percent-encoded letters: werkzeug decodes the path before routing) is refused.
describe('every spelling of the artifact API is the gateway\'s, none reaches the backend', () => {
  const SPELLINGS = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts', '/mlflow/api/2.0/mlflow-artifacts', '/mlflow/ajax-api/2.0/mlflow-artifacts'];
  const mpu = JSON.stringify({ path: 'f.bin', num_parts: 1, upload_id: 'u-1', parts: [{ part_number: 1, etag: 'e' }] });
  const ROUTES: Array<[method: string, route: (file: string) => string, body?: string]> = [
    ['PUT', (file) => `/artifacts/1/spell/artifacts/${file}`, 'spelled'],
    ['GET', (file) => `/artifacts/1/spell/artifacts/${file}`],
    ['HEAD', (file) => `/artifacts/1/spell/artifacts/${file}`],
    ['GET', () => '/artifacts?path=1/spell/artifacts'],
    ['GET', () => '/artifacts'],
    ['GET', (file) => `/presigned/1/spell/artifacts/${file}`],
    ['POST', () => '/mpu/create/1/spell/mpu', mpu],
    ['POST', () => '/mpu/abort/1/spell/mpu', mpu],
    ['POST', () => '/mpu/complete/1/spell/mpu', mpu],
    ['DELETE', (file) => `/artifacts/1/spell/artifacts/${file}`],
  ];
  const reachedBackend = (since: number) => received.slice(since).filter((r) => decodeURIComponent(r.path).includes('mlflow-artifacts'));
  const asClient = (key: string) => ({ authorization: `Bearer ${key}` });

  for (const [name, target, only] of [['with an artifacts section', () => app, undefined], ['without one (501)', () => bare, 501]] as const) {
    test(`${name}: each spelling answers as /api/ does, for each route and client; nothing is forwarded`, async () => {
      const since = received.length;
      // "client METHOD route" → the status of each spelling, in SPELLINGS' order.
      const statuses = new Map<string, number[]>();
      for (const [client, key] of [['c', KEY], ['wide', WIDE_KEY]] as const) {
        for (const [i, spelling] of SPELLINGS.entries()) {
          for (const [method, route, body] of ROUTES) {
            // Each spelling its own file, so that each sees the same sequence (upload, read, ..., delete).
            const path = `${spelling}${route(`${client}-${i}.txt`)}`;
            const headers = { ...asClient(key), ...(body ? { 'content-type': 'application/json' } : {}) };
            const answer = await target().handle(new Request(`http://gateway.local${path}`, { method, headers, ...(body ? { body } : {}) }));
            await answer.arrayBuffer();
            const row = `${client} ${method} ${route('FILE')}`;
            statuses.set(row, [...(statuses.get(row) ?? []), answer.status]);
          }
        }
      }
      const table = [...statuses].map(([row, list]) => `${row}: ${list.join(' ')}`);
      expect(table).toEqual([...statuses].map(([row, list]) => `${row}: ${list.map(() => only ?? list[0]).join(' ')}`));
      expect(reachedBackend(since)).toEqual([]);
    });
  }

  test('with an artifacts section, an upload through each spelling lands in S3 under the root', async () => {
    for (const [i, spelling] of SPELLINGS.entries()) {
      const answer = await call(app, `${spelling}/artifacts/1/landed/${i}.txt`, { method: 'PUT', body: `by ${spelling}` });
      expect({ spelling, status: answer.status }).toEqual({ spelling, status: 200 });
    }
    expect((await allKeys(s3, BUCKET)).filter((k) => k.startsWith('root/1/landed/'))).toEqual(SPELLINGS.map((_, i) => `root/1/landed/${i}.txt`));
  });

  test('percent-encoded letters, digits, "-" and "_" in the path are refused before any decision, so no encoded spelling is forwarded', async () => {
    const since = received.length;
    const encoded = [
      '/api/2.0/mlflow%2Dartifacts/artifacts/1/x.txt',
      '/api/2.0/mlflow%2dartifacts/artifacts/1/x.txt',
      '/ajax%2Dapi/2.0/mlflow-artifacts/artifacts/1/x.txt',
      '/%61pi/2.0/mlflow-artifacts/artifacts/1/x.txt',
      '/api/%32.0/mlflow-artifacts/artifacts/1/x.txt',
      '/api/2.0/mlflow-artifact%73/artifacts/1/x.txt',
      '/api/2.0/mlflow-artifacts/%61rtifacts/1/x.txt',
      '/api/2.0/mlflow-artifacts/mpu/cre%61te/1/x',
      '/mlflow/%61jax-api/2.0/mlflow-artifacts/artifacts/1/x.txt',
      '/api/2.0/mlflow%5Fartifacts/artifacts/1/x.txt',
    ];
    for (const target of [app, bare]) {
      for (const path of encoded) {
        for (const method of ['GET', 'PUT', 'DELETE', 'POST']) {
          const answer = await target.handle(new Request(`http://gateway.local${path}`, { method, headers: asClient(WIDE_KEY), ...(method === 'PUT' || method === 'POST' ? { body: '{}' } : {}) }));
          const body = await answer.json();
          expect({ method, path, status: answer.status, error_code: body.error_code }).toEqual({ method, path, status: 400, error_code: 'BAD_REQUEST' });
        }
      }
    }
    expect(reachedBackend(since)).toEqual([]);
    expect(received.length).toBe(since);
  });
});

// Issue 19: a percent-encoded dot segment in artifact_location was accepted. Every place the
// gateway reads a location or an artifact path, with every spelling of "..": refused before
// anything reaches the tracking server or S3; a stored one is never shown as mlflow-artifacts:/.
describe('an encoded dot segment is refused wherever a location or an artifact path is read', () => {
  const DOTS = ['%2e%2e', '%2E%2E', '%2E.', '.%2e', '%252e%252e', '%252E.', '%25252e%25252e'];
  const json = (value: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

  test('locations sent to the tracking server: artifact_location and source, as mlflow-artifacts: and as S3 under the root', async () => {
    const since = received.length;
    const attempts: Array<[string, RequestInit]> = [];
    for (const dots of [...DOTS, '..%5c..', '%5c..%5c']) {
      for (const location of [`mlflow-artifacts:/1/${dots}/2`, `mlflow-artifacts://gateway.local/1/${dots}/2`, `mlflow-artifacts:1/${dots}/2`, `${ROOT}/1/${dots}/2`]) {
        attempts.push(['/api/2.0/mlflow/experiments/create', json({ name: 'e', artifact_location: location })]);
        attempts.push(['/ajax-api/2.0/mlflow/experiments/create', json({ name: 'e', artifact_location: location })]);
        attempts.push(['/api/2.0/mlflow/model-versions/create', json({ name: 'm', source: location })]);
      }
    }
    for (const [path, init] of attempts) {
      const answer = await call(app, path, init);
      expect({ path, body: init.body, status: answer.status }).toEqual({ path, body: init.body, status: 400 });
    }
    expect(received.slice(since)).toEqual([]);
  });

  test('artifact paths of the artifact API: download, upload, delete, list, multipart (path and file name), presigned', async () => {
    const keysBefore = await allKeys(s3, BUCKET);
    const attempts: Array<[string, string, string?]> = [];
    for (const dots of DOTS.filter((d) => d.includes('%25'))) {
      // Single encodings never get this far: the rewrite stage refuses %2e in a path.
      attempts.push(['GET', `${API}/1/${dots}/2/a.txt`], ['PUT', `${API}/1/${dots}/2/a.txt`, 'x'], ['DELETE', `${API}/1/${dots}`]);
      attempts.push(['GET', `${API}?path=1/${dots}/2`], ['GET', `/api/2.0/mlflow-artifacts/presigned/1/${dots}/2/a.txt`]);
      attempts.push(['POST', `/api/2.0/mlflow-artifacts/mpu/create/1/${dots}/2`, JSON.stringify({ path: 'a.bin', num_parts: 1 })]);
    }
    for (const dots of DOTS) {
      attempts.push(['GET', `${API}?path=1/${encodeURIComponent(dots)}/2`]);
      attempts.push(['POST', '/api/2.0/mlflow-artifacts/mpu/create/1/r1', JSON.stringify({ path: dots, num_parts: 1 })]);
    }
    for (const [method, path, body] of attempts) {
      const answer = await call(app, path, { method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });
      expect({ method, path, body, status: answer.status }).toEqual({ method, path, body, status: 400 });
    }
    expect(await allKeys(s3, BUCKET)).toEqual(keysBefore);
  });

  test('a stored location with an encoded dot segment is shown as it is, not as mlflow-artifacts:/', async () => {
    const answer = await (await call(app, '/api/2.0/mlflow/experiments/get?experiment_id=1')).json();
    expect(answer.experiment.artifact_location).toBe(`${ROOT}/1/%2e%2e/2`);
  });
});

describe('locations are rewritten only where MLflow carries them', () => {
  test('GetRun: artifact_uri becomes mlflow-artifacts:/, tags stay, the upstream is asked for identity encoding', async () => {
    const run = await (await call(app, '/api/2.0/mlflow/runs/get?run_id=r1', { headers: { 'accept-encoding': 'gzip' } })).json();
    expect(run.run.info.artifact_uri).toBe('mlflow-artifacts:/1/r1/artifacts');
    expect(run.run.data.tags[0].value).toBe(`${ROOT}/x`);
    expect(received.at(-1)!.acceptEncoding).toBe('identity');
  });
  test('CreateModelVersion: the source goes upstream as s3:// (and comes back as mlflow-artifacts:/)', async () => {
    const answer = await call(app, '/api/2.0/mlflow/model-versions/create', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'm', source: 'mlflow-artifacts:/1/r1/artifacts/model' }),
    });
    expect(JSON.parse(received.at(-1)!.body).source).toBe(`${ROOT}/1/r1/artifacts/model`);
    expect((await answer.json()).model_version.source).toBe('mlflow-artifacts:/1/r1/artifacts/model');
  });
  test('a location naming another artifact server is refused (400) and never sent; this gateway\'s own host is the root', async () => {
    const create = (location: string) => call(app, '/api/2.0/mlflow/experiments/create', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e', artifact_location: location }),
    });
    const since = received.length;
    for (const location of ['mlflow-artifacts://elsewhere.example:5000/1/x', 'mlflow-artifacts://gateway.local:8080/1/x', 'mlflow-artifacts://u:p@gateway.local/1/x']) {
      const refused = await create(location);
      expect({ location, status: refused.status, error_code: (await refused.json()).error_code }).toEqual({ location, status: 400, error_code: 'BAD_REQUEST' });
    }
    expect(received.length).toBe(since);
    expect((await create('mlflow-artifacts://gateway.local/1/x')).status).toBe(200);
    expect(JSON.parse(received.at(-1)!.body).artifact_location).toBe(`${ROOT}/1/x`);
  });
  test('other operations pass untouched', async () => {
    const other = await (await call(app, '/api/2.0/mlflow/runs/log-metric', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    expect(other.echo).toBe(`${ROOT}/not-a-location-field`);
  });
});
