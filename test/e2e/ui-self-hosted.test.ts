// The real MLflow UI, in headless Chromium, through the gateway (its CLI) in front of a real
// self-hosted `mlflow server` (backend.url), under the mount prefix /mlflow/. The browser reaches the
// gateway under a non-loopback name (mlflow.test, mapped to 127.0.0.1 inside Chromium), so MLflow
// 3.5+'s Origin check applies to the UI's POSTs as it would behind a real host name.
//
//   - no credentials: the Basic challenge and a readable HTML page, no stack trace
//   - an editor and a read-only user browse: experiment list → experiment → run (parameters) →
//     its metric chart; the UI's GraphQL and /ajax-api/ calls are decided by the allowlist
//   - the read-only user (the shipped read-only-ui policy) renames the experiment in the UI: refused,
//     the UI shows the error, the server's name is unchanged, and that is the only denial: the 3.x
//     UI's routine calls (telemetry, current user, assistant config) are operations it grants
//   - MLflow 2.16 loads its UI under the prefix too
// Screenshots: test-results/screenshots/ui-self-hosted-*.png.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { hashPassword } from '../../src/auth/password.ts';
import { MLFLOW_VERSIONS, startMlflow } from '../support/mlflow.ts';
import { shippedPolicies } from '../support/rules.ts';
import { auditLines, cleanAwsEnv, startGateway, tempDir, type Started } from '../support/processes.ts';
import { launchChromium, newContext, screenshot } from '../support/browser.ts';

setDefaultTimeout(300_000);

const HOST = 'mlflow.test';
const EDITOR = { username: 'editor', password: 'editor password ✓' };
const VIEWER = { username: 'viewer', password: 'viewer password' };
const EXPERIMENT = 'ui-e2e-experiment';
const RUN = 'ui-e2e-run';
const UI_WAIT = { timeout: 60_000 };
// The shipped rules.yaml's policies, unchanged: the viewer browses with its read-only-ui.
const SHIPPED_POLICIES = shippedPolicies();

interface Stack {
  mlflow: Started & { url: string };
  gateway: Started;
  /** The gateway as the browser sees it: http://mlflow.test:PORT */
  base: string;
  /** The gateway from this process (loopback). */
  direct: string;
}

async function startStack(version: string): Promise<Stack> {
  const mlflow = await startMlflow(version);
  const rulesFile = join(tempDir('ui-self-hosted'), 'rules.yaml');
  // No ajax-api rewrite: a self-hosted MLflow serves /ajax-api/ itself, and some UI routes only there.
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "${mlflow.url}"}
rewrites:
  - {name: mount-prefix, stripPrefix: /mlflow}
clients:
  - {id: ${EDITOR.username}, passwordHash: "${await hashPassword(EDITOR.password)}", policies: [admin]}
  - {id: ${VIEWER.username}, passwordHash: "${await hashPassword(VIEWER.password)}", policies: [read-only-ui]}
policies: ${JSON.stringify({ ...SHIPPED_POLICIES, admin: { include: ['read-only-ui'], operations: ['*'] } })}
`);
  const gateway = await startGateway(rulesFile, cleanAwsEnv({}));
  return { mlflow, gateway, base: `http://${HOST}:${gateway.port}`, direct: `http://127.0.0.1:${gateway.port}` };
}

async function stopStack(stack: Stack | undefined) {
  await stack?.gateway.stop();
  await stack?.mlflow.stop();
}

/** REST through the gateway, as the editor. */
async function api(stack: Stack, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${stack.direct}/mlflow/api/2.0/mlflow/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Basic ${btoa(unescape(encodeURIComponent(`${EDITOR.username}:${EDITOR.password}`)))}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** An experiment (marked as model training, so 3.x opens its runs) with one run: a parameter and four metric steps. */
async function seed(stack: Stack): Promise<{ experimentId: string; runId: string }> {
  const { experiment_id: experimentId } = await api(stack, 'experiments/create', {
    name: EXPERIMENT,
    tags: [{ key: 'mlflow.experimentKind', value: 'custom_model_development' }],
  });
  const { run } = await api(stack, 'runs/create', { experiment_id: experimentId, run_name: RUN, start_time: Date.now() });
  const now = Date.now();
  await api(stack, 'runs/log-batch', {
    run_id: run.info.run_id,
    params: [{ key: 'learning_rate', value: '0.0123' }],
    metrics: [0, 1, 2, 3].map((step) => ({ key: 'loss', value: 1 / (step + 1), timestamp: now + step, step })),
  });
  return { experimentId, runId: run.info.run_id };
}

const browserArgs = [`--host-resolver-rules=MAP ${HOST} 127.0.0.1`];

describe(`MLflow ${MLFLOW_VERSIONS.at(-1)} UI under /mlflow/`, () => {
  let stack: Stack;
  let browser: Browser;
  let ids: { experimentId: string; runId: string };
  beforeAll(async () => {
    stack = await startStack(MLFLOW_VERSIONS.at(-1)!);
    ids = await seed(stack);
    browser = await launchChromium(browserArgs);
  });
  afterAll(async () => {
    await browser?.close();
    await stopStack(stack);
  });

  test('without credentials the browser gets the sign-in challenge and a readable page, not a stack trace', async () => {
    // What a browser's first request gets (Chromium asks without credentials first).
    const bare = await fetch(`${stack.direct}/mlflow/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toContain('Basic realm="MLflow"');
    expect(await bare.text()).toContain('<h1>Sign-in required</h1>');
    // In Chromium (headless has no prompt: wrong credentials stand for a cancelled one).
    const context = await newContext(browser, { httpCredentials: { username: 'nobody', password: 'wrong' } });
    const page = await context.newPage();
    const response = await page.goto(`${stack.base}/mlflow/`);
    expect(response!.status()).toBe(401);
    expect(await response!.headerValue('www-authenticate')).toContain('Basic realm="MLflow"');
    expect(await response!.headerValue('content-type')).toBe('text/html; charset=utf-8');
    await page.getByRole('heading', { name: 'Sign-in required' }).waitFor(UI_WAIT);
    const text = await page.locator('body').innerText();
    expect(text).toContain('request id');
    expect(text).not.toMatch(/Traceback|\.ts:\d+|error_code/);
    await screenshot(page, 'ui-self-hosted-unauthenticated');
    await context.close();
  });

  /** Experiment list → experiment → run → metric chart, screenshots on the way; returns the page. */
  async function browse(who: typeof EDITOR, label: string): Promise<Page> {
    const context = await newContext(browser, { httpCredentials: who });
    const page = await context.newPage();
    // The bare prefix redirects to /mlflow/: the UI's URLs are relative to the page.
    await page.goto(`${stack.base}/mlflow`);
    expect(new URL(page.url()).pathname).toBe('/mlflow/');
    await page.getByRole('link', { name: EXPERIMENT }).first().waitFor(UI_WAIT);
    await screenshot(page, `ui-self-hosted-${label}-1-home`);
    // 3.x opens new visitors in GenAI mode; the experiment is a model-training one.
    await page.getByText('Model training', { exact: true }).first().click();
    await page.getByRole('link', { name: EXPERIMENT }).first().click();
    await page.getByRole('link', { name: RUN }).first().waitFor(UI_WAIT);
    expect(page.url()).toContain(`#/experiments/${ids.experimentId}/runs`);
    await screenshot(page, `ui-self-hosted-${label}-2-experiment`);
    await page.getByRole('link', { name: RUN }).first().click();
    await page.getByText('learning_rate', { exact: true }).first().waitFor(UI_WAIT);
    await page.getByText('0.0123', { exact: true }).first().waitFor(UI_WAIT);
    expect(page.url()).toContain(`/runs/${ids.runId}`);
    await screenshot(page, `ui-self-hosted-${label}-3-run`);
    // No refusal of the UI's own reads was shown (MLflow's UI shows them as PERMISSION_DENIED toasts).
    expect(await page.getByText('PERMISSION_DENIED').count()).toBe(0);
    await page.getByRole('tab', { name: /Model metrics/ }).click();
    // The chart: a plotly plot titled with the metric, with the run in its legend.
    await page.locator('.js-plotly-plot').first().waitFor(UI_WAIT);
    await page.getByText(`${RUN} (loss)`).first().waitFor(UI_WAIT);
    await screenshot(page, `ui-self-hosted-${label}-4-metrics`);
    return page;
  }

  test('an editor signs in, opens the experiment and the run, and sees its parameters and metric chart', async () => {
    const page = await browse(EDITOR, 'editor');
    await page.context().close();
    const records = auditLines(stack.gateway.output()).filter((r) => r.clientId === EDITOR.username);
    // The UI's reads went through the allowlist: GraphQL by its operations, the rest by name.
    expect(records.some((r) => r.operation === 'GraphQL:GetExperiment,GetRun,SearchModelVersions' && r.status === 200)).toBe(true);
    expect(records.some((r) => r.operation === 'SearchRuns' && r.status === 200)).toBe(true);
    expect(records.some((r) => r.operation === 'AccessUI' && r.upstreamPath === '/')).toBe(true);
  });

  test('a read-only user browses the same pages, and renaming the experiment is refused with the error shown in the UI', async () => {
    const page = await browse(VIEWER, 'viewer');
    await page.goto(`${stack.base}/mlflow/#/experiments/${ids.experimentId}/runs`);
    await page.getByRole('link', { name: RUN }).first().waitFor(UI_WAIT);
    await page.getByTestId('overflow-menu-trigger').first().click();
    await page.getByRole('menuitem', { name: /Edit experiment|Rename/ }).click();
    await page.getByRole('dialog').waitFor(UI_WAIT);
    const input = page.getByRole('dialog').getByRole('textbox').first();
    await input.fill('renamed-by-viewer');
    await screenshot(page, 'ui-self-hosted-viewer-5-rename');
    await page.getByRole('dialog').getByRole('button', { name: /Save|Rename|OK/ }).click();
    // The UI shows the gateway's MLflow-shaped refusal.
    await page.getByText(/may not call UpdateExperiment/).first().waitFor(UI_WAIT);
    await screenshot(page, 'ui-self-hosted-viewer-6-rename-refused');
    await page.context().close();
    expect((await api(stack, `experiments/get?experiment_id=${ids.experimentId}`)).experiment.name).toBe(EXPERIMENT);
    const refused = auditLines(stack.gateway.output()).find((r) => r.clientId === VIEWER.username && r.operation === 'UpdateExperiment');
    expect(refused).toMatchObject({ decision: 'denied', status: 403 });
    // The 3.x UI's routine calls were made and allowed, and browsing itself raised no denial: an
    // alert on denials stays quiet during normal use.
    const allowed = new Set(auditLines(stack.gateway.output()).filter((r) => r.clientId === VIEWER.username && r.decision === 'allowed').map((r) => r.operation));
    for (const routine of ['GetServerInfo', 'GetUiTelemetry', 'GetCurrentUser', 'AssistantGetConfig', 'AssistantGetProviders']) expect(allowed).toContain(routine);
    const denied = auditLines(stack.gateway.output()).filter((r) => r.clientId === VIEWER.username && r.decision === 'denied');
    expect(denied.map((r) => `${r.method} ${r.path} ${r.operation ?? ''}`)).toEqual([expect.stringContaining('UpdateExperiment')]);
  });
});

describe(`MLflow ${MLFLOW_VERSIONS[0]} UI under /mlflow/`, () => {
  let stack: Stack;
  let browser: Browser;
  let ids: { experimentId: string; runId: string };
  beforeAll(async () => {
    stack = await startStack(MLFLOW_VERSIONS[0]!);
    ids = await seed(stack);
    browser = await launchChromium(browserArgs);
  });
  afterAll(async () => {
    await browser?.close();
    await stopStack(stack);
  });

  test('a read-only user opens a run under the prefix and sees its parameters', async () => {
    const context = await newContext(browser, { httpCredentials: VIEWER });
    const page = await context.newPage();
    await page.goto(`${stack.base}/mlflow/#/experiments/${ids.experimentId}/runs/${ids.runId}`);
    await page.getByText('learning_rate', { exact: true }).first().waitFor(UI_WAIT);
    await page.getByText('0.0123', { exact: true }).first().waitFor(UI_WAIT);
    await screenshot(page, 'ui-self-hosted-2x-run');
    await context.close();
    const records = auditLines(stack.gateway.output()).filter((r) => r.clientId === VIEWER.username);
    expect(records.some((r) => r.operation === 'GetRun' && r.status === 200)).toBe(true);
    expect(records.filter((r) => r.decision === 'denied').map((r) => r.path)).toEqual([]);
  });
});
