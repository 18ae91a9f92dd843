// The real MLflow 3.17.2 UI, in headless Chromium, through the gateway in front of a real
// self-hosted `mlflow server`, browsed by a scoped user (issue 19 item 6). Two teams share the
// server: each has two experiments, a run (a parameter, a metric), a trace, a registered model with
// a version of that run, and a prompt; team B also registered a version of team A's run, so A's run
// page has another team's model version to hide. Alice, of team A, signs in as the browser does
// (HTTP Basic) and holds the shipped read-only-ui policy under a scope of team A's names.
//
//   - the experiments list, the models page and the prompts page show A's and nothing of B's
//   - A's experiment, run (overview, metric chart, artifacts), traces, model and prompt pages work,
//     and the run page lists A's model version, not B's (an unscoped user sees B's there)
//   - B's experiment, run, model and prompt, opened by URL, show none of B's data
//   - no answer the browser got carries B's names or values
//   - the audit log: every call the UI makes for A's pages is allowed but the assistant's config,
//     which maps every team's experiments and no scope can hold; B's pages' reads were refused
// Screenshots: test-results/screenshots/ui-scoped-*.png.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import YAML from 'yaml';
import { hashPassword } from '../../src/auth/password.ts';
import { mlflowUserEnv, startMlflow, venvPython } from '../support/mlflow.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { launchChromium, newContext, screenshot } from '../support/browser.ts';

setDefaultTimeout(600_000);

const VERSION = '3.17.2';
const HOST = 'mlflow.test';
const ALICE = { username: 'alice', password: 'alice password' };
const ADMIN = { username: 'admin', password: 'admin password' };
const UI_WAIT = { timeout: 120_000 };
// read-only-ui ships in examples/policies.yaml, beside the read-only policy of rules.yaml it includes.
const shippedPolicies = (file: string) => YAML.parse(readFileSync(join(REPO, file), 'utf8')).policies;
const SHIPPED_POLICIES = { ...shippedPolicies('rules.yaml'), ...shippedPolicies('examples/policies.yaml') };
/** Anything of team B's: its names and values all carry the team's letter. */
const TEAM_B = /team-b|team_b|from team b/;

/**
 * The UI's routine calls a scoped user is refused on every page, and why: the assistant's config
 * (GET assistant/config) maps every team's experiment ids to project paths on the server host
 * (mlflow/server/assistant/api.py get_config), so it is declared unscopable. The UI shows no error
 * for it (the assistant is simply not offered).
 */
const REFUSED_ON_EVERY_PAGE = ['AssistantGetConfig'];

// Straight to MLflow (not through the gateway): what each team made.
const SEED = `
import json, mlflow
from mlflow import MlflowClient
c = MlflowClient()
out = {}
for team in ("a", "b"):
    eid = c.create_experiment(f"team-{team}/experiment", tags={"mlflow.experimentKind": "custom_model_development"})
    c.create_experiment(f"team-{team}/second")
    run = c.create_run(eid, run_name=f"team-{team}-run")
    rid = run.info.run_id
    c.log_param(rid, f"team_{team}_param", f"team-{team}-value")
    for step in range(3):
        c.log_metric(rid, f"team_{team}_loss", 1 / (step + 1), step=step)
    c.set_terminated(rid)
    mlflow.set_experiment(experiment_id=eid)
    with mlflow.start_span(name=f"team-{team}-span") as span:
        span.set_inputs({"question": f"team-{team} question"})
        span.set_outputs({"answer": f"team-{team} answer"})
    c.create_registered_model(f"team-{team}-model")
    c.create_model_version(f"team-{team}-model", f"runs:/{rid}/model", run_id=rid)
    mlflow.genai.register_prompt(name=f"team-{team}-prompt", template="Hello {{name}}, from team " + team)
    out[team] = {"experimentId": eid, "runId": rid}
mlflow.flush_trace_async_logging()
# Team B registered a version of team A's run: A's run page lists it unless the gateway hides it.
c.create_model_version("team-b-model", f"runs:/{out['a']['runId']}/model", run_id=out["a"]["runId"])
print(json.dumps(out))
`;

interface Seeded {
  a: { experimentId: string; runId: string };
  b: { experimentId: string; runId: string };
}

/** One page view: what it showed, what the browser got from the gateway, and the audit records of it. */
interface Visit {
  text: string;
  /** Bodies of the API answers (ajax-api, api, graphql) the page received. */
  answers: string[];
  records: Array<Record<string, unknown>>;
}

const browserArgs = [`--host-resolver-rules=MAP ${HOST} 127.0.0.1`];

describe(`a scoped user browses the MLflow ${VERSION} UI through the gateway`, () => {
  let mlflow: Started & { url: string };
  let gateway: Started;
  let browser: Browser;
  let alice: BrowserContext;
  let base: string;
  let seeded: Seeded;

  beforeAll(async () => {
    mlflow = await startMlflow(VERSION);
    const seed = spawnSync(venvPython(VERSION), ['-c', SEED], { env: mlflowUserEnv(mlflow.url, {}), encoding: 'utf8', timeout: 300_000 });
    if (seed.status !== 0) throw new Error(seed.stderr.slice(-3000));
    seeded = JSON.parse(seed.stdout.trim().split('\n').pop()!);
    const rules = join(tempDir('ui-scoped'), 'rules.yaml');
    // No ajax-api rewrite: a self-hosted MLflow serves /ajax-api/ itself.
    writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "${mlflow.url}"}
clients:
  - {id: ${ALICE.username}, passwordHash: "${await hashPassword(ALICE.password)}", policies: [team-a-ui]}
  - {id: ${ADMIN.username}, passwordHash: "${await hashPassword(ADMIN.password)}", policies: [read-only-ui]}
policies: ${JSON.stringify({
      ...SHIPPED_POLICIES,
      'team-a-ui': {
        description: 'Team A browses the UI: the shipped read-only-ui, held to team A\'s names.',
        include: ['read-only-ui'],
        scope: { experiments: ['team-a/**'], registeredModels: ['team-a-*'], prompts: ['team-a-*'] },
      },
    })}
`);
    gateway = await startGateway(rules, cleanAwsEnv({}));
    base = `http://${HOST}:${gateway.port}`;
    browser = await launchChromium(browserArgs);
    alice = await newContext(browser, { httpCredentials: ALICE });
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await mlflow?.stop();
  });

  /**
   * Opens `path` in a fresh document (the UI's routes are fragments: a new fragment alone would not
   * reload), waits for `ready` and for the UI's API calls to be answered, then for the audit line of
   * every answer the page got (each answer names its request id). Not Playwright's 'networkidle':
   * the UI's telemetry worker script never reports finished, so that state may never come.
   */
  async function visit(context: BrowserContext, path: string, name: string, ready: (page: Page) => Promise<unknown>): Promise<Visit> {
    const page = await context.newPage();
    const answers: Array<Promise<string>> = [];
    const requestIds: string[] = [];
    const isApi = (url: string) => /^\/(ajax-api|api|graphql)/.test(new URL(url).pathname);
    const inFlight = new Set<unknown>();
    page.on('request', (request) => isApi(request.url()) && inFlight.add(request));
    page.on('requestfinished', (request) => inFlight.delete(request));
    page.on('requestfailed', (request) => inFlight.delete(request));
    page.on('response', (response) => {
      const id = response.headers()['x-request-id'];
      if (id) requestIds.push(id);
      if (isApi(response.url())) answers.push(response.text().catch(() => ''));
    });
    await page.goto(`${base}${path}`);
    await ready(page);
    await waitFor(() => inFlight.size === 0, UI_WAIT.timeout);
    const text = await page.locator('body').innerText();
    await screenshot(page, `ui-scoped-${name}`);
    await page.close();
    const ids = new Set(requestIds);
    await waitFor(() => auditLines(gateway.output()).filter((r) => ids.has(r.requestId as string)).length === ids.size, 30_000);
    const records = auditLines(gateway.output()).filter((r) => ids.has(r.requestId as string));
    return { text, answers: await Promise.all(answers), records };
  }

  const refused = (v: Visit) => [...new Set(v.records.filter((r) => r.decision !== 'allowed').map((r) => r.operation as string))].sort();
  const allowed = (v: Visit) => new Set(v.records.filter((r) => r.decision === 'allowed').map((r) => r.operation as string));
  /** A page of A's: shows nothing of B's, got nothing of B's, and only the routine refusal. */
  function ownPage(v: Visit) {
    expect(v.text).not.toMatch(TEAM_B);
    expect(v.answers.filter((body) => TEAM_B.test(body))).toEqual([]);
    expect(refused(v).filter((operation) => !REFUSED_ON_EVERY_PAGE.includes(operation))).toEqual([]);
    expect(v.records.every((r) => r.clientId === ALICE.username)).toBe(true);
  }

  test('the experiments list shows team A\'s experiments and none of team B\'s', async () => {
    const v = await visit(alice, '/#/experiments', '1-experiments', (page) => page.getByRole('link', { name: 'team-a/second' }).first().waitFor(UI_WAIT));
    expect(v.text).toContain('team-a/experiment');
    expect(allowed(v)).toContain('SearchExperiments');
    ownPage(v);
    // The routine refusal, made as the UI starts (it asks for the assistant's config on every page).
    expect(refused(v)).toEqual(REFUSED_ON_EVERY_PAGE);
  });

  test('the models page shows team A\'s registered model and none of team B\'s', async () => {
    const v = await visit(alice, '/#/models', '2-models', (page) => page.getByRole('link', { name: 'team-a-model' }).first().waitFor(UI_WAIT));
    expect(allowed(v)).toContain('SearchRegisteredModels');
    ownPage(v);
  });

  test('the prompts page shows team A\'s prompt and none of team B\'s', async () => {
    const v = await visit(alice, '/#/prompts', '3-prompts', (page) => page.getByRole('link', { name: 'team-a-prompt' }).first().waitFor(UI_WAIT));
    expect(allowed(v)).toContain('SearchRegisteredModels');
    ownPage(v);
  });

  test('team A\'s run page shows its parameter and team A\'s model version, not the one team B registered from the run', async () => {
    const v = await visit(alice, `/#/experiments/${seeded.a.experimentId}/runs/${seeded.a.runId}`, '4-run-of-a', async (page) => {
      await page.getByText('team-a-value', { exact: true }).first().waitFor(UI_WAIT);
      await page.getByRole('link', { name: 'team-a-model' }).first().waitFor(UI_WAIT);
    });
    expect(v.text).toContain('team_a_param');
    // The run's model versions come through GraphQL (a run's modelVersions) and model-versions/search.
    expect(allowed(v)).toContain('GraphQL:GetExperiment,GetRun,SearchModelVersions');
    expect(allowed(v)).toContain('SearchModelVersions');
    ownPage(v);
  });

  test('without a scope the same run page lists team B\'s version too (what the scope hides)', async () => {
    const admin = await newContext(browser, { httpCredentials: ADMIN });
    const v = await visit(admin, `/#/experiments/${seeded.a.experimentId}/runs/${seeded.a.runId}`, '4b-run-of-a-unscoped', (page) => page.getByRole('link', { name: 'team-b-model' }).first().waitFor(UI_WAIT));
    await admin.close();
    expect(v.answers.some((body) => body.includes('team-b-model'))).toBe(true);
  });

  test('team A\'s run: the metric chart and the artifacts tab', async () => {
    const chart = await visit(alice, `/#/experiments/${seeded.a.experimentId}/runs/${seeded.a.runId}/model-metrics`, '5-run-of-a-metrics', (page) => page.getByText('team-a-run (team_a_loss)').first().waitFor(UI_WAIT));
    expect(allowed(chart)).toContain('GetMetricHistoryBulkInterval');
    ownPage(chart);
    const artifacts = await visit(alice, `/#/experiments/${seeded.a.experimentId}/runs/${seeded.a.runId}/artifacts`, '6-run-of-a-artifacts', (page) => page.getByText('No Artifacts Recorded').first().waitFor(UI_WAIT));
    expect(allowed(artifacts)).toContain('ListArtifacts');
    ownPage(artifacts);
  });

  test('team A\'s experiment lists its run, and its traces page its trace', async () => {
    const runs = await visit(alice, `/#/experiments/${seeded.a.experimentId}/runs`, '7-experiment-of-a', (page) => page.getByRole('link', { name: 'team-a-run' }).first().waitFor(UI_WAIT));
    for (const operation of ['SearchRuns', 'SearchDatasets', 'SearchLoggedModels', 'GatewayProxy']) expect(allowed(runs)).toContain(operation);
    ownPage(runs);
    const traces = await visit(alice, `/#/experiments/${seeded.a.experimentId}/traces`, '8-traces-of-a', (page) => page.getByText('team-a question').first().waitFor(UI_WAIT));
    for (const operation of ['SearchTracesV3', 'QueryTraceMetrics', 'SearchEvaluationDatasets']) expect(allowed(traces)).toContain(operation);
    ownPage(traces);
  });

  test('team A\'s model and prompt pages', async () => {
    const model = await visit(alice, '/#/models/team-a-model', '9-model-of-a', (page) => page.getByText('Version 1').first().waitFor(UI_WAIT));
    expect(allowed(model)).toContain('GetRegisteredModel');
    ownPage(model);
    const prompt = await visit(alice, '/#/prompts/team-a-prompt', '10-prompt-of-a', (page) => page.getByText('from team a').first().waitFor(UI_WAIT));
    ownPage(prompt);
  });

  /** A page of B's opened by URL: nothing of B's was answered or shown, and the reads were refused. */
  function othersPage(v: Visit, refusedOperations: string[]) {
    expect(v.answers.filter((body) => TEAM_B.test(body))).toEqual([]);
    expect(refused(v)).toEqual(expect.arrayContaining([...refusedOperations, ...REFUSED_ON_EVERY_PAGE]));
    // Every refusal is the scope's (or the routine one), and the reason names what was out of scope.
    for (const record of v.records.filter((r) => r.decision !== 'allowed' && !REFUSED_ON_EVERY_PAGE.includes(r.operation as string))) {
      expect(record).toMatchObject({ status: 403 });
      expect(String(record.reason)).toMatch(/is outside experiments team-a\/\*\*/);
    }
  }

  test('team B\'s experiment opened by URL shows none of B\'s data', async () => {
    const v = await visit(alice, `/#/experiments/${seeded.b.experimentId}/runs`, '11-experiment-of-b', (page) => page.getByText('You don\'t have permissions to open requested experiment').first().waitFor(UI_WAIT));
    expect(v.text).not.toMatch(TEAM_B);
    othersPage(v, ['GetExperiment', 'GraphQL:GetExperiment', 'SearchRuns']);
  });

  test('team B\'s run opened by URL shows none of B\'s data', async () => {
    const v = await visit(alice, `/#/experiments/${seeded.b.experimentId}/runs/${seeded.b.runId}`, '12-run-of-b', (page) => page.getByText('Can\'t load run details').first().waitFor(UI_WAIT));
    expect(v.text).not.toMatch(TEAM_B);
    othersPage(v, ['GraphQL:GetExperiment,GetRun,SearchModelVersions']);
  });

  test('team B\'s model and prompt opened by URL show no version of them', async () => {
    // The UI repeats the name from its own address in its error; nothing else of B's is shown.
    const model = await visit(alice, '/#/models/team-b-model', '13-model-of-b', (page) => page.getByText('Permission denied for team-b-model').first().waitFor(UI_WAIT));
    expect(model.text).not.toMatch(/Version \d/);
    othersPage(model, ['GetRegisteredModel']);
    const prompt = await visit(alice, '/#/prompts/team-b-prompt', '14-prompt-of-b', (page) => page.getByText('does not exist').first().waitFor(UI_WAIT));
    expect(prompt.text).not.toContain('from team b');
    othersPage(prompt, ['GetRegisteredModel']);
  });
});
