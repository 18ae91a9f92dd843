// The UI entry's pure parts: deep links, what a control-plane failure tells the person, the `ui`
// section's checks, the IAM statements it adds, and the JWT cookie's CSRF guard.
import { describe, expect, test } from 'bun:test';
import { uiFragment } from '../../src/ui/deep-link.ts';
import { hostMatcher } from '../../src/pipeline/allowed-hosts.ts';
import { controlPlaneFailure } from '../../src/ui/entry.ts';
import { cookieValue, crossSiteWrite } from '../../src/auth/cookie.ts';
import { htmlErrorResponse, wantsHtml } from '../../src/pipeline/browser-errors.ts';
import { iamPolicy } from '../../src/iam-policy.ts';
import { BadRequest, GatewayError, Unauthenticated } from '../../src/errors.ts';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import type { SageMakerBackend } from '../../src/backends/sagemaker.ts';

const TRACKING_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/demo';
const APP_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345';

describe('deep links', () => {
  test.each([
    ['', ''],
    ['experiment=3', '#/experiments/3'],
    ['experiment=3&run=0a1b2c3d4e5f', '#/experiments/3/runs/0a1b2c3d4e5f'],
    ['model=churn%20model', '#/models/churn%20model'],
    ['model=churn&version=7', '#/models/churn/versions/7'],
    ['utm_source=mail', ''], // unknown parameters are ignored
  ])('?%s → "%s"', (query, fragment) => {
    expect(uiFragment(new URLSearchParams(query))).toBe(fragment);
  });

  test.each([
    'experiment=abc',
    'experiment=3&run=a/b',
    'run=abc',
    'version=2',
    'experiment=3&model=m',
    'model=m&version=x',
    'experiment=3&run=%23/evil', // no way to smuggle another fragment or path in
  ])('?%s is refused with 400', (query) => {
    expect(() => uiFragment(new URLSearchParams(query))).toThrow(BadRequest);
  });
});

describe('control-plane failures', () => {
  const backend = rulesFrom(`version: 1\nbackend: {arn: ${TRACKING_ARN}}\n`).backend as SageMakerBackend;
  const failure = (name: string) => controlPlaneFailure(Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/gw/i-0abc is not authorized'), { name }), backend);

  test.each([
    ['ThrottlingException', 503, 'TEMPORARILY_UNAVAILABLE'],
    ['AccessDeniedException', 502, 'PERMISSION_DENIED'],
    ['ExpiredTokenException', 502, 'PERMISSION_DENIED'],
    ['ResourceNotFound', 502, 'RESOURCE_DOES_NOT_EXIST'],
    ['ValidationException', 503, 'TEMPORARILY_UNAVAILABLE'],
    ['TimeoutError', 504, 'DEADLINE_EXCEEDED'],
    ['TypeError', 502, 'TEMPORARILY_UNAVAILABLE'],
  ])('%s → %d %s, AWS\'s message in the log detail only', (name, status, code) => {
    const error = failure(name);
    expect(error.status).toBe(status);
    expect(error.errorCode).toBe(code);
    expect(error.message).not.toContain('arn:aws:sts');
    expect(error.detail).toContain(`sagemaker ${name}: User: arn:aws:sts`);
  });

  test('a throttled or stopped server says when to come back', () => {
    expect(failure('ThrottlingException').headers['retry-after']).toBe('5');
    expect(failure('ValidationException').headers['retry-after']).toBe('30');
  });
});

describe('the ui section', () => {
  const base = `version: 1\nbackend: {arn: ${TRACKING_ARN}}\n`;

  test('defaults: /ui, a 30 s link, a 12 h session', () => {
    expect(rulesFrom(`${base}ui: {}\n`).ui).toEqual({ path: '/ui', presignedUrlExpiresSeconds: 30, sessionExpiresSeconds: 43200 });
  });

  test.each([
    ['ui: {presignedUrlExpiresSeconds: 301}', 'ui.presignedUrlExpiresSeconds'],
    ['ui: {presignedUrlExpiresSeconds: 4}', 'ui.presignedUrlExpiresSeconds'],
    ['ui: {sessionExpiresSeconds: 1799}', 'ui.sessionExpiresSeconds'],
    ['ui: {sessionExpiresSeconds: 43201}', 'ui.sessionExpiresSeconds'],
    ['ui: {path: /api/ui}', 'ui.path'],
    ['ui: {path: /-/ready}', 'ui.path'],
    ['ui: {path: ui}', 'ui.path'],
    ['ui: {sessionSeconds: 3600}', 'ui'],
  ])('%s is refused at %s', (yaml, keyPath) => {
    const problems = problemsOf(`${base}${yaml}\n`);
    expect(problems.some((p) => p.includes(keyPath) && p.startsWith('test.yaml:3'))).toBe(true);
  });

  test('a self-hosted backend has no UI entry: its UI goes through the normal paths', () => {
    expect(problemsOf('version: 1\nbackend: {url: "http://127.0.0.1:5000"}\nui: {}\n').join('\n')).toContain('ui: only for a SageMaker backend');
  });

  test('auth.jwtCookie needs a JWT issuer', () => {
    expect(problemsOf(`${base}auth: {jwtCookie: sso}\n`).join('\n')).toContain('auth.jwtCookie');
  });
});

describe('iam-policy with a UI entry', () => {
  const rules = (arn: string, ui: boolean) =>
    rulesFrom(`version: 1
backend: {arn: ${arn}}
${ui ? 'ui: {}' : ''}
clients:
  - {id: viewer, apiKeySha256: ${'a'.repeat(64)}, policies: [browse]}
policies:
  browse: {operations: [AccessUI, SearchExperiments]}
`);

  test('tracking server: the presigned-URL action on the server and AccessUI on *', () => {
    const statements = iamPolicy(rules(TRACKING_ARN, true)).Statement;
    expect(statements).toContainEqual({ Sid: 'OpenMlflowUi', Effect: 'Allow', Action: ['sagemaker:CreatePresignedMlflowTrackingServerUrl'], Resource: TRACKING_ARN });
    expect(statements).toContainEqual({ Sid: 'AccessMlflowUi', Effect: 'Allow', Action: ['sagemaker-mlflow:AccessUI'], Resource: '*' });
  });

  test('MLflow App: the app presigned-URL action only', () => {
    const actions = iamPolicy(rules(APP_ARN, true)).Statement.flatMap((s) => s.Action);
    expect(actions).toEqual(['sagemaker:CallMlflowAppApi', 'sagemaker:CreatePresignedMlflowAppUrl']);
  });

  test('no ui section, no UI actions', () => {
    const actions = iamPolicy(rules(TRACKING_ARN, false)).Statement.flatMap((s) => s.Action);
    expect(actions).toEqual(['sagemaker-mlflow:SearchExperiments']);
  });
});

describe('browser credentials', () => {
  test('cookieValue finds one cookie among others', () => {
    expect(cookieValue('a=1; sso="tok.en.x"; b=2', 'sso')).toBe('tok.en.x');
    expect(cookieValue('ssox=1; xsso=2', 'sso')).toBeUndefined();
    expect(cookieValue(null, 'sso')).toBeUndefined();
    expect(cookieValue('sso=', 'sso')).toBeUndefined();
  });

  const headers = (entries: Record<string, string>) => new Headers(entries);
  test.each([
    ['GET', { 'sec-fetch-site': 'cross-site' }, false],
    ['POST', { 'sec-fetch-site': 'same-origin' }, false],
    ['POST', { 'sec-fetch-site': 'none' }, false],
    ['POST', { 'sec-fetch-site': 'cross-site' }, true],
    ['POST', { 'sec-fetch-site': 'same-site' }, true],
    ['DELETE', { origin: 'https://evil.example', host: 'mlflow.corp.example' }, true],
    ['POST', { origin: 'https://mlflow.corp.example', host: 'mlflow.corp.example' }, false],
    ['POST', { origin: 'null', host: 'mlflow.corp.example' }, true],
    ['POST', {}, false], // no browser metadata at all: not a browser's cross-site request
  ] as const)('%s %j → cross-site write %s', (method, entries, expected) => {
    expect(crossSiteWrite(method, headers(entries))).toBe(expected);
  });
});

describe('error pages for browsers', () => {
  test('a navigation asks for HTML; API clients and fetches do not', () => {
    expect(wantsHtml(headers({ accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }))).toBe(true);
    expect(wantsHtml(headers({ accept: '*/*' }))).toBe(false);
    expect(wantsHtml(headers({ accept: 'application/json, text/plain, */*' }))).toBe(false);
    expect(wantsHtml(new Headers())).toBe(false);
    function headers(entries: Record<string, string>) {
      return new Headers(entries);
    }
  });

  test('the page escapes the message, keeps the challenge and names the request id', async () => {
    const response = htmlErrorResponse(new GatewayError(400, 'BAD_REQUEST', 'bad <script>alert(1)</script>'), 'req-1');
    const html = await response.text();
    expect(html).toContain('bad &lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('req-1');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const challenge = htmlErrorResponse(new Unauthenticated('Basic realm="MLflow"'), 'req-2');
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toBe('Basic realm="MLflow"');
    const page = await challenge.text();
    expect(Number(challenge.headers.get('content-length'))).toBe(new TextEncoder().encode(page).byteLength);
    // People are told how to sign in, not which header to send.
    expect(page).toContain('your browser asks for your user name and password');
    expect(page).not.toContain('Authorization: Bearer');
    const sso = await htmlErrorResponse(new Unauthenticated('Bearer realm="MLflow"'), 'req-3').text();
    expect(sso).toContain('single sign-on');
  });
});

describe('listen.allowedHosts (DNS rebinding)', () => {
  const rules = rulesFrom(`version: 1
listen: {allowedHosts: ["mlflow.corp.example", "*.mlflow.corp.example", "localhost:8080"]}
backend: {url: "http://127.0.0.1:9"}
anonymous: {policies: [open]}
policies: {open: {operations: [AccessUI]}}
`);
  test.each([
    ['mlflow.corp.example', true],
    ['MLflow.Corp.Example:443', true], // a name without a port allows any port
    ['eu.mlflow.corp.example', true],
    ['mlflow.corp.example.evil.test', false],
    ['evilmlflow.corp.example', false],
    ['localhost:8080', true],
    ['localhost:9999', false],
    ['10.0.0.7', false], // the gateway's IP, as a rebinding page would send it
    [null, false],
  ] as const)('Host %s → %s', (host, allowed) => {
    expect(hostMatcher(rules.source.listen.allowedHosts!)(host)).toBe(allowed);
  });

  test('a request for another host gets 421 before sign-in; the health endpoints answer any host', async () => {
    const { createApp } = await import('../../src/app.ts');
    const records: Array<Record<string, unknown>> = [];
    const app = createApp({ rules: () => rules, audit: { write: (record) => records.push(record as never) } });
    const refused = await app.handle(new Request('http://attacker.example/', { headers: { host: 'attacker.example' } }));
    expect(refused.status).toBe(421);
    expect(await refused.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(records.at(-1)).toMatchObject({ status: 421, reason: 'host attacker.example not in listen.allowedHosts' });
    expect((await app.handle(new Request('http://10.0.0.7/-/live', { headers: { host: '10.0.0.7' } }))).status).toBe(200);
  });

  test('anonymous access without allowedHosts is pointed out', () => {
    expect(problemsOf('version: 1\nbackend: {url: "http://127.0.0.1:9"}\nanonymous: {policies: [open]}\npolicies: {open: {operations: [GetRun]}}\n').join('\n'))
      .toContain('anonymous access without listen.allowedHosts');
  });
});
