// The SageMaker control-plane stand-in behaves like AWS for the SDK: named exceptions, refused
// signatures, single-use presigned tokens and a session cookie for the UI stand-in.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import {
  CreatePresignedMlflowAppUrlCommand,
  CreatePresignedMlflowTrackingServerUrlCommand,
  DescribeMlflowAppCommand,
  DescribeMlflowTrackingServerCommand,
  ResourceNotFound,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
// @ts-expect-error aws4 ships no types
import aws4 from 'aws4';
import { startSageMakerControlPlane, type ControlPlaneStandin } from './sagemaker-control-plane.ts';
import { staticCredentials, temporaryCredentials, type StandinCredentials } from '../support/credentials.ts';

const REGION = 'us-east-1';
const SERVER_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t1';
const APP_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345';

let clock = Date.now();
let plane: ControlPlaneStandin;
let mlflow: ReturnType<typeof Bun.serve>;
const credentials = staticCredentials('CONTROLPLANE1');

beforeAll(() => {
  // A tiny "MLflow" for the UI proxy: echoes what it received.
  mlflow = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = request.method === 'POST' ? await request.text() : '';
      return Response.json({ path: url.pathname + url.search, method: request.method, body, cookie: request.headers.get('cookie') });
    },
  });
  plane = startSageMakerControlPlane({ region: REGION, resources: [SERVER_ARN, APP_ARN], uiBackend: `http://127.0.0.1:${mlflow.port}`, now: () => clock });
});
afterAll(() => {
  plane?.stop();
  mlflow?.stop(true);
});

function client(creds: StandinCredentials = credentials, region = REGION): SageMakerClient {
  return new SageMakerClient({ region, endpoint: plane.endpoint, credentials: creds, maxAttempts: 1 });
}

async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('operations through @aws-sdk/client-sagemaker', () => {
  test('DescribeMlflowTrackingServer answers the modelled response', async () => {
    const out = await client().send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 't1' }));
    expect(out).toMatchObject({
      TrackingServerArn: SERVER_ARN,
      TrackingServerName: 't1',
      TrackingServerStatus: 'Created',
      IsActive: 'Active',
      TrackingServerUrl: plane.uiUrl,
      MlflowVersion: '3.0',
      ArtifactStoreUri: 's3://standin-artifacts/t1',
    });
    expect(out.CreationTime).toBeInstanceOf(Date);
    expect(plane.calls.at(-1)).toMatchObject({ operation: 'DescribeMlflowTrackingServer', body: { TrackingServerName: 't1' }, accessKeyId: credentials.accessKeyId, verdict: 'ok' });
  });

  test('DescribeMlflowApp answers Status and the artifact store; state changes show at once', async () => {
    plane.apps.get(APP_ARN)!.status = 'Updating';
    const out = await client().send(new DescribeMlflowAppCommand({ Arn: APP_ARN }));
    expect(out).toMatchObject({ Arn: APP_ARN, Name: 'app-ABCDEF012345', Status: 'Updating', MlflowVersion: '3.0', ArtifactStoreUri: 's3://standin-artifacts/app-ABCDEF012345' });
    plane.apps.get(APP_ARN)!.status = 'Created';
  });

  test('CreatePresignedMlflowTrackingServerUrl and CreatePresignedMlflowAppUrl point at the UI stand-in', async () => {
    const server = await client().send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: 't1', ExpiresInSeconds: 5, SessionExpirationDurationInSeconds: 1800 }));
    expect(server.AuthorizedUrl).toMatch(new RegExp(`^${plane.uiUrl}/auth\\?authToken=[A-Za-z0-9_-]{43}$`));
    const app = await client().send(new CreatePresignedMlflowAppUrlCommand({ Arn: APP_ARN }));
    expect(app.AuthorizedUrl).toStartWith(`${plane.uiUrl}/auth?authToken=`);
    expect(app.AuthorizedUrl).not.toBe(server.AuthorizedUrl);
  });

  test('temporary credentials with their session token are accepted', async () => {
    const temporary = temporaryCredentials(new Date(Date.now() + 3600_000), 7);
    const out = await client(temporary).send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 't1' }));
    expect(out.TrackingServerStatus).toBe('Created');
  });
});

describe('errors raise the SDK exception AWS would cause', () => {
  const cases: Array<[string, () => Promise<unknown>, string, number]> = [
    ['an unknown tracking server is ResourceNotFound', () => client().send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 'nope' })), 'ResourceNotFound', 400],
    ['an unknown app is ResourceNotFound', () => client().send(new DescribeMlflowAppCommand({ Arn: APP_ARN.replace('ABCDEF', 'FEDCBA') })), 'ResourceNotFound', 400],
    ['ExpiresInSeconds below 5 is a ValidationException', () => client().send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: 't1', ExpiresInSeconds: 4 })), 'ValidationException', 400],
    ['ExpiresInSeconds above 300 is a ValidationException', () => client().send(new CreatePresignedMlflowAppUrlCommand({ Arn: APP_ARN, ExpiresInSeconds: 301 })), 'ValidationException', 400],
    ['a session under 1800 s is a ValidationException', () => client().send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: 't1', SessionExpirationDurationInSeconds: 1799 })), 'ValidationException', 400],
    ['a session over 43200 s is a ValidationException', () => client().send(new CreatePresignedMlflowAppUrlCommand({ Arn: APP_ARN, SessionExpirationDurationInSeconds: 43201 })), 'ValidationException', 400],
    ['a malformed app ARN is a ValidationException', () => client().send(new DescribeMlflowAppCommand({ Arn: 'app-1' })), 'ValidationException', 400],
    ['an unknown access key is UnrecognizedClientException', () => (plane.revoke('AKIAREVOKED000000000'), client(staticCredentials('REVOKED000000000')).send(new DescribeMlflowAppCommand({ Arn: APP_ARN }))), 'UnrecognizedClientException', 400],
    ['expired temporary credentials are ExpiredTokenException', () => client(temporaryCredentials(new Date(Date.now() - 60_000), 3)).send(new DescribeMlflowAppCommand({ Arn: APP_ARN })), 'ExpiredTokenException', 400],
    ['a request signed for another region is InvalidSignatureException', () => client(credentials, 'eu-west-1').send(new DescribeMlflowAppCommand({ Arn: APP_ARN })), 'InvalidSignatureException', 403],
    ['a wrong secret is InvalidSignatureException', () => client({ accessKeyId: credentials.accessKeyId, secretAccessKey: 'wrong' }).send(new DescribeMlflowAppCommand({ Arn: APP_ARN })), 'InvalidSignatureException', 403],
  ];
  for (const [sentence, call, name, status] of cases) {
    test(sentence, async () => {
      const error = await failure(call());
      expect(error.name).toBe(name);
      expect(error.$metadata?.httpStatusCode).toBe(status);
    });
  }

  test('ResourceNotFound is the SDK\'s modelled class', async () => {
    expect(await failure(client().send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 'gone' })))).toBeInstanceOf(ResourceNotFound);
  });

  test('failNext injects throttling once; the SDK\'s own retry then succeeds', async () => {
    plane.failNext('DescribeMlflowTrackingServer', 'ThrottlingException');
    const error = await failure(client().send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 't1' })));
    expect(error.name).toBe('ThrottlingException');
    expect((await client().send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 't1' }))).TrackingServerStatus).toBe('Created');
    plane.failNext('DescribeMlflowTrackingServer', 'ThrottlingException');
    const retrying = new SageMakerClient({ region: REGION, endpoint: plane.endpoint, credentials, maxAttempts: 2 });
    expect((await retrying.send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 't1' }))).TrackingServerStatus).toBe('Created');
    expect(plane.calls.slice(-2).map((c) => c.verdict)).toEqual(['ThrottlingException', 'ok']);
  });

  test('deny refuses one access key with AccessDeniedException until allowed again', async () => {
    const denied = staticCredentials('DENIED0000000');
    plane.deny(denied.accessKeyId, ['CreatePresignedMlflowTrackingServerUrl']);
    const error = await failure(client(denied).send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: 't1' })));
    expect(error.name).toBe('AccessDeniedException');
    expect(error.$metadata?.httpStatusCode).toBe(403);
    expect(error.message).toContain('sagemaker:CreatePresignedMlflowTrackingServerUrl');
    expect((await client(denied).send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: 't1' }))).TrackingServerName).toBe('t1');
    plane.allow(denied.accessKeyId);
    expect((await client(denied).send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: 't1' }))).AuthorizedUrl).toBeDefined();
  });
});

describe('signatures checked as AWS would (signed by hand with aws4)', () => {
  function signed(options: { service?: string; region?: string; date?: Date; target?: string; contentType?: string; tamper?: boolean } = {}): Promise<Response> {
    const body = JSON.stringify({ TrackingServerName: 't1' });
    const headers: Record<string, string> = {
      'Content-Type': options.contentType ?? 'application/x-amz-json-1.1',
      'X-Amz-Target': options.target ?? 'SageMaker.DescribeMlflowTrackingServer',
    };
    if (options.date) headers['X-Amz-Date'] = options.date.toISOString().replace(/[:-]|\.\d{3}/g, '');
    const request = aws4.sign(
      { host: `127.0.0.1:${plane.port}`, method: 'POST', path: '/', service: options.service ?? 'sagemaker', region: options.region ?? REGION, headers, body },
      credentials,
    );
    return fetch(`${plane.endpoint}/`, { method: 'POST', headers: request.headers, body: options.tamper ? body.replace('t1', 't2') : body });
  }

  async function refusal(response: Response): Promise<[number, string | null, string]> {
    const json = (await response.json()) as { __type: string; message: string };
    return [response.status, response.headers.get('x-amzn-errortype'), json.__type];
  }

  test('a correct hand-signed request is served', async () => {
    const response = await signed();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.1');
  });

  const refusals: Array<[string, Parameters<typeof signed>[0], string]> = [
    ['signing name sagemaker-mlflow (the data plane\'s) is refused', { service: 'sagemaker-mlflow' }, 'InvalidSignatureException'],
    ['a credential scope for another region is refused', { region: 'us-west-2' }, 'InvalidSignatureException'],
    ['a clock 6 minutes behind is refused', { date: new Date(Date.now() - 6 * 60_000) }, 'InvalidSignatureException'],
    ['a clock 6 minutes ahead is refused', { date: new Date(Date.now() + 6 * 60_000) }, 'InvalidSignatureException'],
    ['a body changed after signing is refused', { tamper: true }, 'InvalidSignatureException'],
  ];
  for (const [sentence, options, type] of refusals) {
    test(sentence, async () => {
      expect(await refusal(await signed(options))).toEqual([403, `${type}:`, type]);
      expect(plane.calls.at(-1)!.verdict).toBe(type as never);
    });
  }

  test('a clock 4 minutes behind is still accepted', async () => {
    expect((await signed({ date: new Date(Date.now() - 4 * 60_000) })).status).toBe(200);
  });

  test('an unknown X-Amz-Target is UnknownOperationException, a wrong content type SerializationException', async () => {
    expect(await refusal(await signed({ target: 'SageMaker.DeleteMlflowTrackingServer' }))).toEqual([400, 'UnknownOperationException:', 'UnknownOperationException']);
    expect(await refusal(await signed({ contentType: 'application/json' }))).toEqual([400, 'SerializationException:', 'SerializationException']);
  });

  test('no Authorization at all is MissingAuthenticationTokenException, a malformed one IncompleteSignatureException', async () => {
    const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'SageMaker.DescribeMlflowApp' };
    const none = await fetch(`${plane.endpoint}/`, { method: 'POST', headers, body: '{}' });
    expect((await refusal(none))[2]).toBe('MissingAuthenticationTokenException');
    const malformed = await fetch(`${plane.endpoint}/`, { method: 'POST', headers: { ...headers, authorization: 'AWS4-HMAC-SHA256 Credential=AKIA' }, body: '{}' });
    expect((await refusal(malformed))[2]).toBe('IncompleteSignatureException');
  });
});

describe('the UI stand-in: single-use token, then a session cookie', () => {
  async function presigned(expires = 60, session = 1800): Promise<string> {
    return (await client().send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: 't1', ExpiresInSeconds: expires, SessionExpirationDurationInSeconds: session }))).AuthorizedUrl!;
  }

  test('a valid token sets an HttpOnly, SameSite=Lax cookie for the session length and redirects to /', async () => {
    const response = await fetch(await presigned(60, 3600), { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/');
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^sm-mlflow-standin-session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
    const session = cookie.split(';')[0]!;
    const page = await fetch(`${plane.uiUrl}/ajax-api/2.0/mlflow/experiments/search?max_results=1`, { headers: { cookie: session } });
    expect(page.status).toBe(200);
    // Proxied to the real server, without the session cookie.
    expect(await page.json()).toEqual({ path: '/ajax-api/2.0/mlflow/experiments/search?max_results=1', method: 'GET', body: '', cookie: null });
    const post = await fetch(`${plane.uiUrl}/ajax-api/2.0/mlflow/runs/search`, { method: 'POST', headers: { cookie: session, 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await post.json()).toMatchObject({ method: 'POST', body: '{"a":1}' });
  });

  test('a token works once', async () => {
    const url = await presigned();
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(302);
    const again = await fetch(url, { redirect: 'manual' });
    expect(again.status).toBe(403);
    expect(again.headers.get('content-type')).toStartWith('text/html');
    expect(again.headers.get('set-cookie')).toBeNull();
  });

  test('a token is refused once ExpiresInSeconds has passed, and a session once it has lasted its length', async () => {
    const url = await presigned(5, 1800);
    clock += 6_000;
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(403);
    const session = (await fetch(await presigned(5, 1800), { redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${plane.uiUrl}/`, { headers: { cookie: session } })).status).toBe(200);
    clock += 1801_000;
    expect((await fetch(`${plane.uiUrl}/`, { headers: { cookie: session } })).status).toBe(403);
  });

  test('without a session cookie (or with a made-up one) every page is a 403 HTML page', async () => {
    for (const headers of [{}, { cookie: 'sm-mlflow-standin-session=made-up' }] as Array<Record<string, string>>) {
      const response = await fetch(`${plane.uiUrl}/#/experiments/1`, { headers });
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('Not signed in');
    }
    expect((await fetch(`${plane.uiUrl}/auth?authToken=made-up`, { redirect: 'manual' })).status).toBe(403);
  });
});
