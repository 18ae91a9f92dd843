// readiness.checkBackendStatus end to end: the gateway (`serve`, its own process) asks the
// control-plane stand-in (which verifies the host credentials' signature as AWS would) through the
// SDK's AWS_ENDPOINT_URL_SAGEMAKER, and /-/ready follows the tracking server being stopped and started.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanAwsEnv, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin } from '../standins/sagemaker-control-plane.ts';

setDefaultTimeout(60_000);

const ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/nightly';
const HOST = staticCredentials('READYHOST0001');

let plane: ControlPlaneStandin;
let gateway: Started;

beforeAll(async () => {
  plane = startSageMakerControlPlane({ region: 'eu-west-1', resources: [ARN] });
  const rulesFile = join(tempDir('backend-status'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:9"}
readiness: {checkBackendStatus: true, backendStatusSeconds: 1}
`);
  gateway = await startGateway(rulesFile, cleanAwsEnv({
    AWS_ACCESS_KEY_ID: HOST.accessKeyId,
    AWS_SECRET_ACCESS_KEY: HOST.secretAccessKey,
    // The SDK's service-specific endpoint variable points the control plane at the stand-in.
    AWS_ENDPOINT_URL_SAGEMAKER: plane.endpoint,
  }));
});

afterAll(async () => {
  await gateway?.stop();
  plane?.stop();
});

async function ready(): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`http://127.0.0.1:${gateway.port}/-/ready`);
  return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
}

async function waitForReadiness(status: number): Promise<Awaited<ReturnType<typeof ready>>> {
  let last = await ready();
  const deadline = Date.now() + 10_000;
  while (last.status !== status && Date.now() < deadline) {
    await Bun.sleep(100);
    last = await ready();
  }
  return last;
}

test('ready while SageMaker says the tracking server serves; the host credentials sign the Describe call', async () => {
  const result = await ready();
  expect(result.status).toBe(200);
  expect(result.body.checks.backend).toBe('ok, Created');
  expect(plane.calls[0]).toMatchObject({ operation: 'DescribeMlflowTrackingServer', body: { TrackingServerName: 'nightly' }, accessKeyId: HOST.accessKeyId, verdict: 'ok' });
});

test('503 "not serving: Stopped" once the server is stopped, 200 again once it is back', async () => {
  plane.servers.get('nightly')!.status = 'Stopped';
  plane.servers.get('nightly')!.isActive = 'Inactive';
  const stopped = await waitForReadiness(503);
  expect(stopped).toEqual({ status: 503, body: { status: 'not ready', checks: { rules: 'ok', credentials: 'ok', backend: 'not serving: Stopped' } } });
  await waitFor(() => gateway.output().includes('"msg":"backend status"') && gateway.output().includes('"status":"Stopped"'));

  plane.servers.get('nightly')!.status = 'Started';
  plane.servers.get('nightly')!.isActive = 'Active';
  const back = await waitForReadiness(200);
  expect(back.body.checks.backend).toBe('ok, Started');
});

test('health checks in quick succession share one Describe call per period', async () => {
  const before = plane.calls.length;
  const started = Date.now();
  for (let i = 0; i < 20; i++) await ready();
  const periods = Math.ceil((Date.now() - started) / 1000) + 1;
  expect(plane.calls.length - before).toBeLessThanOrEqual(periods);
});

test('a throttled control plane keeps the host ready on the last known status and logs the failure', async () => {
  plane.failNext('DescribeMlflowTrackingServer', 'ThrottlingException');
  await Bun.sleep(1100);
  const result = await ready();
  expect(result.status).toBe(200);
  expect(result.body.checks.backend).toMatch(/^ok, Started \(last known, \d+s ago; status check failed: ThrottlingException\)$/);
  expect(plane.calls.at(-1)!.verdict).toBe('ThrottlingException');
  expect(gateway.output()).toContain('backend status check failed; readiness keeps the last known status');
});
