// readiness.checkBackendStatus: SageMaker's answer (from the control-plane stand-in, which checks the
// signature as AWS would) decides whether the host is ready; failures to get an answer do not.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { backendStatusOf, describeBackendStatus, type BackendStatus } from '../../src/aws/backend-status.ts';
import { cachedBackendStatus, readiness } from '../../src/readiness.ts';
import { sagemakerBackend, type SageMakerBackend } from '../../src/backends/sagemaker.ts';
import { staticCredentials } from '../support/credentials.ts';
import { freePort } from '../support/processes.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin, type MlflowAppStatus, type TrackingServerStatus } from '../standins/sagemaker-control-plane.ts';

const SERVER_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t1';
const APP_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345';
const credentials = staticCredentials('STATUSCHECK01');

function backend(arn: string): SageMakerBackend {
  const built = sagemakerBackend(arn);
  if (!built.ok) throw new Error(built.problem);
  return built.value;
}

let plane: ControlPlaneStandin;
beforeAll(() => {
  plane = startSageMakerControlPlane({ region: 'us-east-1', resources: [SERVER_ARN, APP_ARN] });
});
afterAll(() => plane?.stop());

function describeVia(arn: string, endpoint = plane.endpoint, timeoutMs = 2000) {
  return describeBackendStatus(backend(arn), async () => credentials, { endpoint, timeoutMs });
}

describe('which statuses serve', () => {
  const trackingServer: Array<[TrackingServerStatus, boolean]> = [
    ['Created', true], ['Updated', true], ['Started', true], ['MaintenanceComplete', true],
    ['Creating', false], ['CreateFailed', false], ['Updating', false], ['UpdateFailed', false],
    ['Stopping', false], ['Stopped', false], ['StopFailed', false], ['Starting', false], ['StartFailed', false],
    ['Deleting', false], ['DeleteFailed', false], ['MaintenanceInProgress', false], ['MaintenanceFailed', false],
  ];
  for (const [status, serving] of trackingServer) {
    test(`a tracking server that is ${status} ${serving ? 'serves' : 'does not serve'}`, async () => {
      const server = plane.servers.get('t1')!;
      server.status = status;
      try {
        expect(await describeVia(SERVER_ARN)()).toEqual({ serving, status });
      } finally {
        server.status = 'Created';
      }
    });
  }

  test('a Created tracking server that is Inactive does not serve', async () => {
    plane.servers.get('t1')!.isActive = 'Inactive';
    try {
      expect(await describeVia(SERVER_ARN)()).toEqual({ serving: false, status: 'Created, Inactive' });
    } finally {
      plane.servers.get('t1')!.isActive = 'Active';
    }
  });

  const app: Array<[MlflowAppStatus, boolean]> = [
    ['Created', true], ['Updated', true], ['Creating', false], ['CreateFailed', false], ['Updating', false],
    ['UpdateFailed', false], ['Deleting', false], ['Deleted', false], ['DeleteFailed', false],
  ];
  for (const [status, serving] of app) {
    test(`an MLflow App that is ${status} ${serving ? 'serves' : 'does not serve'}`, async () => {
      const state = plane.apps.get(APP_ARN)!;
      state.status = status;
      try {
        expect(await describeVia(APP_ARN)()).toEqual({ serving, status });
      } finally {
        state.status = 'Created';
      }
    });
  }

  test('a deleted server (ResourceNotFound) is an answer: not found', async () => {
    const saved = plane.servers.get('t1')!;
    plane.servers.delete('t1');
    try {
      expect(await describeVia(SERVER_ARN)()).toEqual({ serving: false, status: 'not found' });
    } finally {
      plane.servers.set('t1', saved);
    }
  });

  test('a response without a status does not serve', () => {
    expect(backendStatusOf('tracking-server', {})).toEqual({ serving: false, status: 'no status' });
  });

  test('each call is one signed Describe call by the gateway\'s credentials, no retries', async () => {
    const before = plane.calls.length;
    plane.failNext('DescribeMlflowApp', 'ThrottlingException');
    await expect(describeVia(APP_ARN)()).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(plane.calls.slice(before)).toEqual([
      { operation: 'DescribeMlflowApp', body: { Arn: APP_ARN }, accessKeyId: credentials.accessKeyId, verdict: 'ThrottlingException', status: 400, reason: 'ThrottlingException (injected by the stand-in)' },
    ]);
  });
});

describe('readiness with the backend status check', () => {
  function harness(arn = SERVER_ARN, describe = describeVia(arn)) {
    let clock = 1_000_000;
    const errors: unknown[] = [];
    const changes: BackendStatus[] = [];
    const check = cachedBackendStatus(describe, { cacheSeconds: 30, now: () => clock, onError: (e) => errors.push(e), onChange: (s) => changes.push(s) });
    return {
      ready: () => readiness(undefined, { backendStatus: check }),
      advance: (seconds: number) => (clock += seconds * 1000),
      errors,
      changes,
    };
  }
  const describeCalls = () => plane.calls.filter((c) => c.operation?.startsWith('Describe')).length;

  test('ready while serving; a stopped server makes the host not ready once the cached answer is older than the period', async () => {
    const h = harness();
    expect(await h.ready()).toEqual({ ready: true, checks: { rules: 'ok', backend: 'ok, Created' } });
    plane.servers.get('t1')!.status = 'Stopped';
    try {
      h.advance(29);
      expect((await h.ready()).checks.backend).toBe('ok, Created');
      h.advance(1);
      expect(await h.ready()).toEqual({ ready: false, checks: { rules: 'ok', backend: 'not serving: Stopped' } });
      expect(h.changes).toEqual([{ serving: true, status: 'Created' }, { serving: false, status: 'Stopped' }]);
    } finally {
      plane.servers.get('t1')!.status = 'Created';
    }
    h.advance(30);
    expect((await h.ready()).ready).toBe(true);
  });

  test('health checks within the period, even concurrent ones, share one Describe call', async () => {
    const h = harness();
    const before = describeCalls();
    await Promise.all([h.ready(), h.ready(), h.ready()]);
    for (let i = 0; i < 5; i++) {
      h.advance(5);
      await h.ready();
    }
    expect(describeCalls() - before).toBe(1);
    h.advance(5);
    await h.ready();
    expect(describeCalls() - before).toBe(2);
  });

  test('throttling keeps the last known answer, says so, and asks again only next period', async () => {
    const h = harness();
    await h.ready();
    h.advance(30);
    plane.failNext('DescribeMlflowTrackingServer', 'ThrottlingException');
    expect(await h.ready()).toEqual({ ready: true, checks: { rules: 'ok', backend: 'ok, Created (last known, 30s ago; status check failed: ThrottlingException)' } });
    const before = describeCalls();
    h.advance(10);
    expect((await h.ready()).checks.backend).toBe('ok, Created (last known, 40s ago; status check failed: ThrottlingException)');
    expect(describeCalls()).toBe(before);
    h.advance(20);
    expect((await h.ready()).checks.backend).toBe('ok, Created');
    expect(h.errors.map((e) => (e as Error).name)).toEqual(['ThrottlingException']);
  });

  test('a stopped server stays not ready while the control plane fails', async () => {
    plane.apps.get(APP_ARN)!.status = 'Updating';
    try {
      const h = harness(APP_ARN);
      expect(await h.ready()).toEqual({ ready: false, checks: { rules: 'ok', backend: 'not serving: Updating' } });
      h.advance(30);
      plane.failNext('DescribeMlflowApp', 'InternalFailure');
      expect(await h.ready()).toEqual({ ready: false, checks: { rules: 'ok', backend: 'not serving: Updating (last known, 30s ago; status check failed: InternalFailure)' } });
    } finally {
      plane.apps.get(APP_ARN)!.status = 'Created';
    }
  });

  test('access denied before any answer: unknown, still ready, and the check names the error only', async () => {
    const denied = staticCredentials('STATUSDENIED1');
    plane.deny(denied.accessKeyId);
    try {
      const h = harness(SERVER_ARN, describeBackendStatus(backend(SERVER_ARN), async () => denied, { endpoint: plane.endpoint, timeoutMs: 2000 }));
      const result = await h.ready();
      expect(result).toEqual({ ready: true, checks: { rules: 'ok', backend: 'unknown (status check failed: AccessDeniedException)' } });
      // The full message (which names the caller's role) goes to the log only.
      expect((h.errors[0] as Error).message).toContain('is not authorized to perform: sagemaker:DescribeMlflowTrackingServer');
      expect(JSON.stringify(result)).not.toContain(denied.accessKeyId);
    } finally {
      plane.allow(denied.accessKeyId);
    }
  });

  test('an unreachable control plane: unknown, still ready', async () => {
    const h = harness(SERVER_ARN, describeVia(SERVER_ARN, `http://127.0.0.1:${await freePort()}`));
    const result = await h.ready();
    expect(result.ready).toBe(true);
    expect(result.checks.backend).toMatch(/^unknown \(status check failed: [A-Za-z0-9_.-]+\)$/);
  });

  test('a control plane that does not answer in time: unknown after the timeout, still ready', async () => {
    const silent = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      const h = harness(SERVER_ARN, describeVia(SERVER_ARN, `http://127.0.0.1:${silent.port}`, 200));
      const started = Date.now();
      const result = await h.ready();
      expect(Date.now() - started).toBeLessThan(1500);
      expect(result.ready).toBe(true);
      expect(result.checks.backend).toMatch(/^unknown \(status check failed: (TimeoutError|AbortError)\)$/);
    } finally {
      silent.stop(true);
    }
  });
});
