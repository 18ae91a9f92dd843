// The drain after SIGTERM, on the real `serve` process behind a recording upstream, in both backend
// modes. While draining, every answer carries `Connection: close`: a kept-alive client (an ALB
// target connection) would otherwise reuse a connection the listener is about to drop and get no
// answer (a 502 from the ALB in every rolling deploy). A request still in flight when
// shutdown.finishSeconds runs out is cut: it gets an audit line saying so, and the exit code says
// the drain was cut.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.ts';
import { BACKEND_MODES, FAULT_KEY, FAULT_SIGV4, faultRulesYaml, requestIdFor, type BackendMode } from '../support/fault-gateway.ts';
import { staticCredentials } from '../support/credentials.ts';
import { auditLines, cleanAwsEnv, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';

setDefaultTimeout(60_000);
const started: Array<{ stop(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of started.reverse()) await s.stop();
});

async function serve(mode: BackendMode, shutdown: string): Promise<{ gateway: Started; upstream: FaultUpstream; exited: Promise<number | null> }> {
  const upstream = await startFaultUpstream(mode === 'sagemaker' ? { sigv4: FAULT_SIGV4 } : {});
  started.push({ stop: () => upstream.close() });
  const file = join(tempDir('drain'), 'rules.yaml');
  writeFileSync(file, faultRulesYaml(mode, upstream.url, { extra: `shutdown: ${shutdown}` }));
  const creds = staticCredentials('DRAIN0000001');
  const gateway = await startGateway(file, cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey }));
  started.push(gateway);
  // 'close' (its output read to the end), not 'exit': the audit lines are read after it.
  const exited = new Promise<number | null>((done) => gateway.child.once('close', (code) => done(code)));
  return { gateway, upstream, exited };
}

const auth = { authorization: `Bearer ${FAULT_KEY}` };

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('answers sent while draining carry Connection: close and the connection is closed after them; before SIGTERM they do not', async () => {
    const { gateway, upstream, exited } = await serve(mode, '{drainSeconds: 60, finishSeconds: 5}');
    const before = await openRaw(gateway.port);
    await before.write(requestHead(gateway.port, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', auth));
    const kept = await before.response();
    expect(kept.status).toBe(200);
    expect(kept.headers.connection).toBeUndefined();

    gateway.child.kill('SIGTERM');
    await waitFor(() => gateway.output().includes('"msg":"draining'));
    const id = requestIdFor('while-draining');
    const during = await openRaw(gateway.port);
    await during.write(requestHead(gateway.port, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=2', { ...auth, 'x-request-id': id }));
    const closing = await during.response();
    expect(closing.status).toBe(200);
    expect(closing.headers.connection).toBe('close');
    await during.closed;
    expect(upstream.requests.map((r) => r.target)).toEqual(['/api/2.0/mlflow/experiments/get?experiment_id=1', '/api/2.0/mlflow/experiments/get?experiment_id=2']);
    // Audit lines are written in batches: wait for this one.
    await waitFor(() => auditLines(gateway.output()).some((line) => line.requestId === id));
    expect(auditLines(gateway.output()).find((line) => line.requestId === id)).toMatchObject({ status: 200, decision: 'allowed' });

    before.end();
    gateway.child.kill('SIGTERM'); // a second signal skips the rest of the drain period
    expect(await exited).toBe(0);
  });

  test('a request still in flight when finishSeconds runs out is audited as cut (503) and the process exits 3', async () => {
    const { gateway, upstream, exited } = await serve(mode, '{drainSeconds: 0, finishSeconds: 1}');
    upstream.on('/api/2.0/mlflow/experiments/get', { delayMs: 120_000 });
    const id = requestIdFor('cut-by-shutdown');
    const slow = await openRaw(gateway.port);
    await slow.write(requestHead(gateway.port, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', { ...auth, 'x-request-id': id }));
    await upstream.settled(1);
    gateway.child.kill('SIGTERM');
    expect(await exited).toBe(3);
    const output = gateway.output();
    expect(auditLines(output).filter((line) => line.requestId === id)).toEqual([
      expect.objectContaining({ status: 503, decision: 'gateway', errorCode: 'TEMPORARILY_UNAVAILABLE', reason: expect.stringContaining('cut by the shutdown'), incomplete: true }),
    ]);
    expect(output).toMatch(/"msg":"stopped","ts":"[^"]+","signal":"SIGTERM","finished":false/);
    await slow.closed;
  });
});
