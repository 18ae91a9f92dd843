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
      return Response.json({ ok: true, echo: `${ROOT}/not-a-location-field` });
    },
  });
  const yaml = (artifacts: string) => `version: 1
backend: {arn: "${ARN}", endpoint: "http://127.0.0.1:${upstream.port}"}
${artifacts}
clients: [{id: c, apiKeySha256: "${hashApiKey(KEY)}", policies: [all]}]
policies: {all: {operations: ["*"]}}
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
  test('other operations pass untouched', async () => {
    const other = await (await call(app, '/api/2.0/mlflow/runs/log-metric', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    expect(other.echo).toBe(`${ROOT}/not-a-location-field`);
  });
});
