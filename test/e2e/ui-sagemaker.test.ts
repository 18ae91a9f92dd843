// End to end, in a real browser: a person opens the MLflow UI of a SageMaker backend through the
// gateway's UI entry. Headless Chromium → the gateway (its CLI, as ops run it) → the SageMaker
// control-plane stand-in (test/standins/sagemaker-control-plane.ts: verifies SigV4 independently,
// signing name `sagemaker`, mints single-use links) → its "SageMaker MLflow UI" stand-in, whose
// /auth?authToken= sets a session cookie and redirects to `/`, then serves the real MLflow UI of a
// real `mlflow server`. Both SageMaker modes; screenshots in test-results/screenshots/.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { hashPassword } from '../../src/auth/password.ts';
import { startMlflow } from '../support/mlflow.ts';
import { auditLines, cleanAwsEnv, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { launchChromium, newContext, screenshot } from '../support/browser.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin } from '../standins/sagemaker-control-plane.ts';
import { startAlb, type AlbStandin } from '../standins/alb.ts';
import { startOidcIssuer, type OidcIssuerStandin } from '../standins/oidc-issuer.ts';

setDefaultTimeout(180_000);

const TRACKING_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/ui-e2e';
const APP_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-UIE2ETEST001';
const PERSON = { username: 'alice', password: 'correct horse battery staple' };
const ROBOT_KEY = 'robot-key-ui-0123456789abcdef';
const BASIC = `Basic ${Buffer.from(`${PERSON.username}:${PERSON.password}`).toString('base64')}`;
const MLFLOW_VERSION = '3.17.2';

let mlflow: Started & { url: string };
let controlPlane: ControlPlaneStandin;
let browser: Browser;
let experimentId: string;
let runId: string;
let passwordHash: string;

/** MLflow data to look at, created straight on the MLflow server (test set-up, not under test). */
async function createRun(base: string): Promise<{ experimentId: string; runId: string }> {
  const call = async (path: string, body: unknown) => {
    const response = await fetch(`${base}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<any>;
  };
  const { experiment_id } = await call('experiments/create', { name: 'ui-e2e-churn' });
  const { run } = await call('runs/create', { experiment_id, run_name: 'gentle-heron-42', start_time: Date.now() });
  const id = run.info.run_id;
  const metrics = [0, 1, 2, 3, 4].map((step) => ({ key: 'val_loss', value: 1 / (step + 1), timestamp: Date.now(), step }));
  await call('runs/log-batch', { run_id: id, metrics, params: [{ key: 'learning_rate', value: '0.0042' }] });
  await call('runs/update', { run_id: id, status: 'FINISHED', end_time: Date.now() });
  return { experimentId: experiment_id, runId: id };
}

async function startUiGateway(arn: string, auth = ''): Promise<{ gateway: Started; base: string; accessKeyId: string }> {
  const dir = tempDir('ui-sagemaker');
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${arn}}
ui: {presignedUrlExpiresSeconds: 20, sessionExpiresSeconds: 3600}
${auth}
clients:
  - {id: ${PERSON.username}, passwordHash: "${passwordHash}", policies: [browse]}
  - {id: robot, apiKeySha256: "${hashApiKey(ROBOT_KEY)}", policies: [reader]}
groups:
  analysts: {policies: [browse]}
policies:
  browse: {operations: [AccessUI]}
  reader: {operations: ["Get*", "Search*"]}
`);
  const creds = staticCredentials(arn.includes('mlflow-app') ? 'UIAPP000001' : 'UITRACK00001');
  const gateway = await startGateway(rulesFile, cleanAwsEnv({
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    // The AWS SDK's standard endpoint override: the control plane is the stand-in.
    AWS_ENDPOINT_URL_SAGEMAKER: controlPlane.endpoint,
  }));
  return { gateway, base: `http://127.0.0.1:${gateway.port}`, accessKeyId: creds.accessKeyId };
}

beforeAll(async () => {
  passwordHash = await hashPassword(PERSON.password);
  mlflow = await startMlflow(MLFLOW_VERSION);
  ({ experimentId, runId } = await createRun(mlflow.url));
  controlPlane = startSageMakerControlPlane({ region: 'us-east-1', resources: [TRACKING_ARN, APP_ARN], uiBackend: mlflow.url });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  controlPlane?.stop();
  await mlflow?.stop();
});

const MODES = [
  { mode: 'tracking server', arn: TRACKING_ARN, operation: 'CreatePresignedMlflowTrackingServerUrl', identifies: { TrackingServerName: 'ui-e2e' } },
  { mode: 'MLflow App', arn: APP_ARN, operation: 'CreatePresignedMlflowAppUrl', identifies: { Arn: APP_ARN } },
] as const;

for (const { mode, arn, operation, identifies } of MODES) {
  describe(`UI entry, SageMaker ${mode}`, () => {
    let gateway: Started;
    let base: string;
    let accessKeyId: string;
    beforeAll(async () => {
      ({ gateway, base, accessKeyId } = await startUiGateway(arn));
    });
    afterAll(async () => {
      await gateway?.stop();
    });

    const slug = mode.replace(/\W+/g, '-').toLowerCase();
    const callsOf = () => controlPlane.calls.filter((call) => call.operation === operation);

    for (const [form, entry] of [
      ['fragment', () => `/ui#/experiments/${experimentId}/runs/${runId}`],
      ['query', () => `/ui?experiment=${experimentId}&run=${runId}`],
    ] as const) {
      test(`a person signs in with the browser prompt and lands on the run (deep link as ${form})`, async () => {
        const before = callsOf().length;
        const context = await newContext(browser, { httpCredentials: PERSON });
        try {
          const page = await context.newPage();
          await page.goto(`${base}${entry()}`);
          await page.waitForURL((url) => url.origin === controlPlane.uiUrl && url.hash === `#/experiments/${experimentId}/runs/${runId}`, { timeout: 30_000 });
          // The real MLflow UI, through the stand-in's session: the run page with its parameter.
          await page.getByText('gentle-heron-42').first().waitFor({ timeout: 60_000 });
          await page.getByText('learning_rate').first().waitFor({ timeout: 60_000 });
          await page.getByText('0.0042').first().waitFor({ timeout: 60_000 });
          await page.getByText('learning_rate').first().scrollIntoViewIfNeeded();
          await screenshot(page, `ui-sagemaker-${slug}-run-${form}`);
        } finally {
          await context.close();
        }
        const minted = callsOf().slice(before);
        expect(minted).toHaveLength(1);
        expect(minted[0]).toMatchObject({ verdict: 'ok', accessKeyId, body: { ...identifies, ExpiresInSeconds: 20, SessionExpirationDurationInSeconds: 3600 } });
        expect(controlPlane.uiEvents.some((event) => event.outcome === 'signed-in' && event.resource === arn)).toBe(true);
      });
    }

    test('every visit gets its own single-use link, never cached and never passed on as a referrer', async () => {
      const visit = () => fetch(`${base}/ui`, { headers: { authorization: BASIC }, redirect: 'manual' });
      const [first, second] = [await visit(), await visit()];
      for (const response of [first, second]) {
        expect(response.status).toBe(302);
        expect(response.headers.get('cache-control')).toBe('no-store');
        expect(response.headers.get('referrer-policy')).toBe('no-referrer');
        expect(response.headers.get('x-request-id')).toBeTruthy();
      }
      const [a, b] = [first.headers.get('location')!, second.headers.get('location')!];
      expect(a.startsWith(`${controlPlane.uiUrl}/auth?authToken=`)).toBe(true);
      expect(a).not.toBe(b);
      // The link works once: the stand-in (like SageMaker) refuses it the second time.
      expect((await fetch(a, { redirect: 'manual' })).status).toBe(302);
      expect((await fetch(a, { redirect: 'manual' })).status).toBe(403);
    });

    test('an unauthenticated browser gets the sign-in challenge as a readable page, not a stack trace', async () => {
      // No credentials: the challenge that makes a browser prompt, with a page behind it.
      const anonymous = await fetch(`${base}/ui`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain('Basic realm="MLflow"');
      expect(anonymous.headers.get('content-type')).toContain('text/html');
      expect(await anonymous.text()).toContain('Sign-in required');
      // A wrong password typed into the prompt: Chromium shows the page the gateway sent.
      const context = await newContext(browser, { httpCredentials: { username: PERSON.username, password: 'wrong password' } });
      try {
        const page = await context.newPage();
        const response = await page.goto(`${base}/ui`);
        expect(response!.status()).toBe(401);
        await page.getByText('Sign-in required').waitFor();
        const text = await page.textContent('body');
        expect(text).toContain('request id');
        expect(text).not.toMatch(/\bat .*\.ts:\d+|Error:|TypeError/);
        await screenshot(page, `ui-sagemaker-${slug}-sign-in-required`);
      } finally {
        await context.close();
      }
    });

    test('a client without AccessUI is refused: JSON for API clients, a page for browsers', async () => {
      const api = await fetch(`${base}/ui`, { headers: { authorization: `Bearer ${ROBOT_KEY}` }, redirect: 'manual' });
      expect(api.status).toBe(403);
      expect(await api.json()).toMatchObject({ error_code: 'PERMISSION_DENIED' });
      const page = await fetch(`${base}/ui`, { headers: { authorization: `Bearer ${ROBOT_KEY}`, accept: 'text/html' }, redirect: 'manual' });
      expect(page.status).toBe(403);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('may not open the MLflow UI');
    });

    test('control-plane failures give the person a clear answer with the request id', async () => {
      const asBrowser = { authorization: BASIC, accept: 'text/html,application/xhtml+xml' };
      // Throttled twice (the SDK retries once): 503 with Retry-After.
      controlPlane.failNext(operation, 'ThrottlingException', { times: 2 });
      const throttled = await fetch(`${base}/ui`, { headers: asBrowser, redirect: 'manual' });
      expect(throttled.status).toBe(503);
      expect(throttled.headers.get('retry-after')).toBe('5');
      const html = await throttled.text();
      expect(html).toContain('SageMaker is busy');
      expect(html).toContain(throttled.headers.get('x-request-id')!);

      // A stopped or updating server (SageMaker refuses the link): 503, JSON for an API client.
      controlPlane.failNext(operation, 'ValidationException', { message: 'Tracking server is not in a valid state' });
      const stopped = await fetch(`${base}/ui`, { headers: { authorization: BASIC }, redirect: 'manual' });
      expect(stopped.status).toBe(503);
      expect(await stopped.json()).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });

      // The gateway's role may not mint links: 502, and AWS's message (it names the role) stays in the log.
      controlPlane.deny(accessKeyId, [operation]);
      try {
        const denied = await fetch(`${base}/ui`, { headers: asBrowser, redirect: 'manual' });
        expect(denied.status).toBe(502);
        const body = await denied.text();
        expect(body).toContain(operation);
        expect(body).not.toContain('arn:aws:sts');
      } finally {
        controlPlane.allow(accessKeyId);
      }
      expect((await fetch(`${base}/ui`, { headers: { authorization: BASIC }, redirect: 'manual' })).status).toBe(302);
    });

    test('the audit trail records each visit, and no sign-in link ever reaches the log', async () => {
      // Audit lines are written in batches (up to 10 ms after the answer): wait for the last visit's.
      const uiLines = () => auditLines(gateway.output()).filter((line) => line.path === '/ui');
      await waitFor(() => uiLines().some((line) => line.status === 502));
      const lines = uiLines();
      expect(lines.some((line) => line.operation === 'AccessUI' && line.decision === 'allowed' && line.status === 302 && line.clientId === PERSON.username)).toBe(true);
      expect(lines.some((line) => line.decision === 'denied' && line.clientId === 'robot')).toBe(true);
      expect(lines.some((line) => line.status === 502 && String(line.reason).includes('AccessDeniedException'))).toBe(true);
      const output = gateway.output();
      expect(output).not.toContain('authToken');
      expect(output).not.toContain(controlPlane.uiUrl);
      expect(output).not.toContain(PERSON.password);
      expect(output).not.toContain(BASIC.slice(6));
    });
  });
}

describe('UI entry behind single sign-on (tracking server)', () => {
  const ALB_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/mlflow/0123456789abcdef';
  let gateway: Started;
  let base: string;
  let alb: AlbStandin;
  let issuer: OidcIssuerStandin;
  beforeAll(async () => {
    issuer = await startOidcIssuer();
    alb = await startAlb(ALB_ARN, () => base, { sub: 'u-1', email: 'bob@corp.example', groups: ['analysts'] });
    ({ gateway, base } = await startUiGateway(TRACKING_ARN, `auth:
  alb: {albArn: "${ALB_ARN}", keyEndpoint: "${alb.keyEndpoint}", subjectClaim: email}
  jwt: [{issuer: "${issuer.issuer}", audiences: [mlflow-gateway]}]
  jwtCookie: corp_sso`));
  });
  afterAll(async () => {
    await gateway?.stop();
    alb?.stop();
    issuer?.stop();
  });

  const lands = async (context: Awaited<ReturnType<typeof newContext>>, url: string, name: string) => {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForURL((landed) => landed.origin === controlPlane.uiUrl && landed.hash === `#/experiments/${experimentId}/runs/${runId}`, { timeout: 30_000 });
    await page.getByText('gentle-heron-42').first().waitFor({ timeout: 60_000 });
    await screenshot(page, name);
  };

  test('through the load balancer\'s OIDC sign-in: a group member opens the run without any prompt', async () => {
    const context = await newContext(browser);
    try {
      await lands(context, `${alb.url}/ui#/experiments/${experimentId}/runs/${runId}`, 'ui-sagemaker-alb-oidc-run');
    } finally {
      await context.close();
    }
    const line = auditLines(gateway.output()).filter((l) => l.path === '/ui').at(-1);
    expect(line).toMatchObject({ clientId: 'bob@corp.example', authMethod: 'alb-oidc', operation: 'AccessUI', status: 302 });
  });

  test('with the single-sign-on cookie: the JWT in corp_sso signs the browser in', async () => {
    const context = await newContext(browser);
    try {
      const token = await issuer.sign({ sub: 'carol', aud: 'mlflow-gateway', groups: ['analysts'] });
      await context.addCookies([{ name: 'corp_sso', value: token, url: base, httpOnly: true, sameSite: 'Lax' }]);
      await lands(context, `${base}/ui?experiment=${experimentId}&run=${runId}`, 'ui-sagemaker-sso-cookie-run');
    } finally {
      await context.close();
    }
    const line = auditLines(gateway.output()).filter((l) => l.path === '/ui').at(-1);
    expect(line).toMatchObject({ clientId: 'carol', authMethod: 'jwt', status: 302 });
    for (const value of alb.issued()) expect(gateway.output()).not.toContain(value.split('.')[2]!);
  });
});
