// The smoke suite against what ships: the compiled executable, and the JavaScript bundle under
// Deno with the narrow permissions the README gives. Each signs through the SageMaker data-plane
// stand-in (botocore verifies every signature) to a real MLflow server, reloads its rules on
// SIGHUP, serves Prometheus metrics, and exits 0 after its drain on SIGTERM. The executable runs
// from a directory with a hostile .env and bunfig.toml, which it must not load.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { MLFLOW_VERSIONS, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { auditLines, cleanAwsEnv, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { BUILT_RUNTIMES, buildArtifacts, denoBinary, startBuiltGateway } from '../support/build.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';
import { postJson } from '../support/requests.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin } from '../standins/sagemaker-control-plane.ts';

setDefaultTimeout(180_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/smoke';
const KEY = 'smoke-key-0123456789abcdef';
const VERSION = MLFLOW_VERSIONS[0]!;

function rulesText(standinPort: number, operations: string[]): string {
  // ${SMOKE_KEY_HASH:-...}: the hostile .env sets SMOKE_KEY_HASH; loading it would lock the client out.
  return `version: 1
listen: {host: 127.0.0.1, port: 0}
backend:
  arn: ${ARN}
  endpoint: http://127.0.0.1:${standinPort}
clients:
  - {id: smoke, apiKeySha256: "\${SMOKE_KEY_HASH:-${hashApiKey(KEY)}}", policies: [smoke]}
policies:
  smoke: {operations: [${operations.join(', ')}]}
metrics: {enabled: true, host: 127.0.0.1, port: 0}
shutdown: {drainSeconds: 0.5, finishSeconds: 5}
ui: {presignedUrlExpiresSeconds: 60}
`;
}

const ALL_OPERATIONS = ['AccessUI', 'GetExperiment', 'GetServerVersion', 'CreateExperiment', 'GetExperimentByName', 'CreateRun', 'LogMetric', 'GetMetricHistory', 'SearchExperiments'];

let mlflow: Started & { url: string };
let artifacts: { executable: string; bundle: string };
let controlPlane: ControlPlaneStandin;
beforeAll(async () => {
  artifacts = buildArtifacts();
  mlflow = await startMlflow(VERSION);
  controlPlane = startSageMakerControlPlane({ region: 'us-east-1', resources: [ARN], uiBackend: mlflow.url });
});
afterAll(async () => {
  controlPlane?.stop();
  await mlflow?.stop();
});

for (const runtime of BUILT_RUNTIMES) {
  describe(runtime, () => {
    let standin: DataPlaneStandin;
    let gateway: Started;
    let base: string;
    let metricsUrl: string;
    let rulesFile: string;
    let cwd: string;

    beforeAll(async () => {
      standin = await startDataPlane(venvPython(VERSION), ARN, mlflow.url);
      const rulesDir = tempDir('smoke-rules');
      rulesFile = join(rulesDir, 'rules.yaml');
      writeFileSync(rulesFile, rulesText(standin.port, ALL_OPERATIONS));
      cwd = tempDir('smoke-cwd');
      writeFileSync(join(cwd, '.env'), `SMOKE_KEY_HASH=${'0'.repeat(64)}\n`);
      writeFileSync(join(cwd, 'bunfig.toml'), 'preload = ["./evil.js"]\n');
      writeFileSync(join(cwd, 'evil.js'), 'console.error("EVIL PRELOAD RAN");\n');
      mkdirSync(join(cwd, 'node_modules'), { recursive: true });
      const creds = staticCredentials('SMOKE0000001');
      gateway = await startBuiltGateway(runtime, rulesFile, cleanAwsEnv({
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_ENDPOINT_URL_SAGEMAKER: controlPlane.endpoint,
      }), cwd);
      base = `http://127.0.0.1:${gateway.port}`;
      const listening = JSON.parse(gateway.output().split('\n').find((l) => l.includes('"event":"listening"'))!);
      metricsUrl = `http://127.0.0.1:${listening.metricsPort}/metrics`;
    });
    afterAll(async () => {
      await gateway?.stop();
      await standin?.stop();
    });

    test('its startup line names the build commit, runtime, backend and rules hash; no .env or bunfig.toml was loaded', () => {
      const listening = JSON.parse(gateway.output().split('\n').find((l) => l.includes('"event":"listening"'))!);
      expect(listening.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
      expect(listening.runtime).toStartWith(runtime.includes('Deno') ? 'deno ' : 'bun ');
      expect(listening.backend).toBe('sagemaker tracking-server');
      expect(listening.arn).toBe(ARN);
      expect(listening.rulesSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(gateway.output()).not.toContain('EVIL PRELOAD RAN');
    });

    test('curl-style MLflow calls are signed, verified by the stand-in and served by the real MLflow', async () => {
      const name = `smoke ${runtime} ${Date.now()}`;
      const created = await postJson(`${base}/api/2.0/mlflow/experiments/create`, KEY, { name });
      expect(created.status).toBe(200);
      const { experiment_id } = await created.json();
      const byName = await fetch(`${base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name).replace(/%20/g, '+')}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(byName.status).toBe(200);
      expect((await byName.json()).experiment.experiment_id).toBe(experiment_id);
      const run = await (await postJson(`${base}/api/2.0/mlflow/runs/create`, KEY, { experiment_id, start_time: Date.now() })).json();
      const runId = run.run.info.run_id;
      expect((await postJson(`${base}/api/2.0/mlflow/runs/log-metric`, KEY, { run_id: runId, key: 'loss', value: 0.25, timestamp: Date.now(), step: 3 })).status).toBe(200);
      const history = await (await fetch(`${base}/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`, { headers: { authorization: `Bearer ${KEY}` } })).json();
      expect(history.metrics.map((m: { step: number; value: number }) => [m.step, m.value])).toEqual([[3, 0.25]]);
      expect(standin.log().filter((l) => l.verdict !== 'forwarded')).toEqual([]);
      expect(new Set(standin.log().map((l) => l.service))).toEqual(new Set(['sagemaker-mlflow']));
    });

    test('a GraphQL read is parsed (the parser loads on first use), authorized as GetExperiment and answered by MLflow', async () => {
      const query = 'query Q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }';
      const response = await postJson(`${base}/graphql`, KEY, { query, variables: { input: { experimentId: '0' } } });
      expect(response.status).toBe(200);
      expect((await response.json()).data.mlflowGetExperiment.experiment.name).toBe('Default');
      // The audit line reaches the gateway's stdout after the answer (lines are batched per
      // macrotask, and this process reads the child's pipe when it gets to it): wait for it.
      await waitFor(() => auditLines(gateway.output()).some((l) => l.path === '/graphql'));
      const line = auditLines(gateway.output()).filter((l) => l.path === '/graphql').at(-1);
      expect(line).toMatchObject({ operation: 'GraphQL:GetExperiment', decision: 'allowed' });
    });

    test('the UI entry mints a presigned link through the control plane (signing name sagemaker, verified by the stand-in)', async () => {
      const before = controlPlane.calls.length;
      const visit = await fetch(`${base}/ui?experiment=0`, { headers: { authorization: `Bearer ${KEY}` }, redirect: 'manual' });
      expect(visit.status).toBe(302);
      expect(visit.headers.get('location')).toStartWith(`${controlPlane.uiUrl}/auth?authToken=`);
      expect(visit.headers.get('location')).toEndWith('#/experiments/0');
      expect(controlPlane.calls.slice(before)).toMatchObject([
        { operation: 'CreatePresignedMlflowTrackingServerUrl', verdict: 'ok', body: { TrackingServerName: 'smoke', ExpiresInSeconds: 60 } },
      ]);
    });

    test('metrics are served on their own listener and count what happened', async () => {
      expect((await postJson(`${base}/api/2.0/mlflow/experiments/search`, 'wrong-key-0123456789abcdef', {})).status).toBe(401);
      await Bun.sleep(50);
      const samples = parsePrometheus(await (await fetch(metricsUrl)).text());
      expect(sampleValue(samples, 'sagemaker_mlflow_proxy_requests_total', { operation: 'CreateExperiment', status_class: '2xx', client: 'smoke' })).toBe(1);
      expect(sampleValue(samples, 'sagemaker_mlflow_proxy_auth_failures_total')).toBeGreaterThanOrEqual(1);
      expect(sampleValue(samples, 'sagemaker_mlflow_proxy_upstream_duration_seconds_count')).toBeGreaterThanOrEqual(5);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(403);
    });

    test('SIGHUP reloads the rules: a bad file is refused and counted, a good one takes effect', async () => {
      writeFileSync(rulesFile, rulesText(standin.port, ALL_OPERATIONS).replace('policies: [smoke]', 'policies: [missing]'));
      gateway.child.kill('SIGHUP');
      await waitFor(() => gateway.output().includes('rules reload refused'));
      expect(gateway.output()).toContain(`${rulesFile}:7:`);
      expect((await postJson(`${base}/api/2.0/mlflow/experiments/search`, KEY, { max_results: 1 })).status).toBe(200);

      writeFileSync(rulesFile, rulesText(standin.port, ALL_OPERATIONS.filter((op) => op !== 'SearchExperiments')));
      gateway.child.kill('SIGHUP');
      await waitFor(() => gateway.output().includes('"msg":"rules reloaded"'));
      const refused = await postJson(`${base}/api/2.0/mlflow/experiments/search`, KEY, { max_results: 1 });
      expect(refused.status).toBe(403);
      expect((await refused.json()).error_code).toBe('PERMISSION_DENIED');
      const samples = parsePrometheus(await (await fetch(metricsUrl)).text());
      expect(sampleValue(samples, 'sagemaker_mlflow_proxy_rule_reloads_total', { result: 'ok' })).toBe(1);
      expect(sampleValue(samples, 'sagemaker_mlflow_proxy_rule_reloads_total', { result: 'failed' })).toBe(1);
    });

    test('SIGTERM: readiness fails at once, then the process drains and exits 0', async () => {
      expect((await fetch(`${base}/-/ready`)).status).toBe(200);
      const exited = new Promise<number | null>((done) => gateway.child.once('exit', (code) => done(code)));
      gateway.child.kill('SIGTERM');
      await waitFor(() => gateway.output().includes('"msg":"draining'));
      const ready = await fetch(`${base}/-/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not ready', checks: { shutdown: 'draining' } });
      // Still served while draining (the ALB may route a few more before it notices).
      const during = await fetch(`${base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(during.status).toBe(200);
      expect(await exited).toBe(0);
      expect(gateway.output()).toContain('"msg":"stopped"');
      expect(auditLines(gateway.output()).length).toBeGreaterThan(5);
    });
  });
}

test('the executable prints its version and build commit', () => {
  const run = spawnSync(artifacts.executable, ['version'], { encoding: 'utf8' });
  expect(run.stdout).toMatch(/^sagemaker-mlflow-proxy \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?\)\n$/);
  const deno = spawnSync(denoBinary(), ['run', '--allow-env', artifacts.bundle, 'version'], { encoding: 'utf8' });
  expect(deno.stdout).toBe(run.stdout);
});

