// Scoped searches end to end (issue 19 item 5): the real MLflow 3.17.2 server behind the gateway,
// two teams' experiments, registered models and prompts interleaved, and the real MLflow Python
// client paging through them as team A, with small pages: it sees every one of A's, once, and
// nothing of B's; the gateway's own page tokens are what the client follows.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { mlflowUserEnv, startMlflow, venvPython } from '../support/mlflow.ts';
import { auditLines, cleanAwsEnv, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';

setDefaultTimeout(240_000);
const VERSION = '3.17.2';
const A_KEY = 'team-a-key-0123456789abcdef0123';

const SETUP = `
import mlflow
from mlflow import MlflowClient
c = MlflowClient()
for i in range(11):
    c.create_experiment(f"team-a/exp-{i:02d}")
    c.create_experiment(f"team-b/exp-{i:02d}")
    if i % 3 == 0:
        c.create_experiment(f"shared-{i}")
for i in range(4):
    c.create_registered_model(f"team-a-model-{i}")
    c.create_registered_model(f"team-b-model-{i}")
    mlflow.genai.register_prompt(name=f"team-a-prompt-{i}", template="Hi {{x}}")
    mlflow.genai.register_prompt(name=f"team-b-prompt-{i}", template="Hi {{x}}")
`;

const SEARCH = `
import json, mlflow
from mlflow import MlflowClient
c = MlflowClient()
def all_pages(search, **kwargs):
    names, token, pages = [], None, 0
    while True:
        page = search(max_results=4, page_token=token, **kwargs)
        assert len(page) <= 4, len(page)
        names += [x.name for x in page]
        pages += 1
        token = page.token
        if not token:
            return names, pages
exp, exp_pages = all_pages(c.search_experiments)
models, _ = all_pages(c.search_registered_models)
prompts = [p.name for p in mlflow.genai.search_prompts(max_results=1000)]
print(json.dumps({"experiments": exp, "experiment_pages": exp_pages, "models": models, "prompts": prompts, "all": [e.name for e in mlflow.search_experiments()]}))
`;

describe(`scoped searches through the gateway (MLflow ${VERSION})`, () => {
  let mlflow: Started & { url: string };
  let gateway: Started;
  let seen: { experiments: string[]; experiment_pages: number; models: string[]; prompts: string[]; all: string[] };
  beforeAll(async () => {
    mlflow = await startMlflow(VERSION);
    const setup = spawnSync(venvPython(VERSION), ['-c', SETUP], { env: mlflowUserEnv(mlflow.url, {}), encoding: 'utf8', timeout: 180_000 });
    if (setup.status !== 0) throw new Error(setup.stderr.slice(-3000));
    const rules = join(tempDir('scoped-search'), 'rules.yaml');
    writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "${mlflow.url}"}
clients:
  - {id: alice, apiKeys: [{sha256: "${hashApiKey(A_KEY)}", expires: "2099-01-01"}], policies: [team-a]}
policies:
  team-a:
    operations: [SearchExperiments, SearchRegisteredModels, SearchModelVersions, GetExperimentByName, GetServerVersion]
    scope: {experiments: ["team-a/**", "shared-*"], registeredModels: ["team-a-*"], prompts: ["team-a-prompt-*"]}
`);
    gateway = await startGateway(rules, cleanAwsEnv({}));
    const run = spawnSync(venvPython(VERSION), ['-c', SEARCH], { env: mlflowUserEnv(`http://127.0.0.1:${gateway.port}`, A_KEY), encoding: 'utf8', timeout: 180_000 });
    if (run.status !== 0) throw new Error(`${run.stderr.slice(-3000)}\n--- gateway ---\n${gateway.output().slice(-3000)}`);
    seen = JSON.parse(run.stdout.trim().split('\n').pop()!);
  });
  afterAll(async () => {
    await gateway?.stop();
    await mlflow?.stop();
  });

  test('every experiment of team A (and the shared ones), once, none of B\'s, in pages of at most 4', () => {
    const expected = [...Array.from({ length: 11 }, (_, i) => `team-a/exp-${String(i).padStart(2, '0')}`), ...[0, 3, 6, 9].map((i) => `shared-${i}`)];
    expect([...seen.experiments].sort()).toEqual(expected.sort());
    expect(new Set(seen.experiments).size).toBe(seen.experiments.length);
    expect(seen.experiment_pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / 4));
    expect([...seen.all].sort()).toEqual(expected.sort());
  });

  test('registered models: A\'s models (MLflow lists prompts apart), not B\'s', () => {
    expect([...seen.models].sort()).toEqual(Array.from({ length: 4 }, (_, i) => `team-a-model-${i}`).sort());
  });

  test('prompts: A\'s prompts only', () => {
    expect([...seen.prompts].sort()).toEqual(Array.from({ length: 4 }, (_, i) => `team-a-prompt-${i}`).sort());
  });

  test('the gateway\'s own answer to a scoped search names its request id and length, as a forwarded one does', async () => {
    // The browser UI and support staff match an answer to its audit line by X-Request-Id.
    const response = await fetch(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/search?max_results=2`, { headers: { authorization: `Bearer ${A_KEY}` } });
    const body = await response.text();
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id');
    expect(id).toBeTruthy();
    expect(response.headers.get('content-length')).toBe(String(new TextEncoder().encode(body).byteLength));
    await waitFor(() => auditLines(gateway.output()).some((line) => line.requestId === id));
    expect(auditLines(gateway.output()).find((line) => line.requestId === id)).toMatchObject({ operation: 'SearchExperiments', decision: 'allowed', status: 200 });
  });

  test('no search was denied, and no answer carried B\'s names', () => {
    const lines = auditLines(gateway.output());
    expect(lines.filter((l) => l.decision !== 'allowed')).toEqual([]);
    expect(gateway.output()).not.toContain('team-b/exp-0');
  });
});
