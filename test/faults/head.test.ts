// HEAD on an allowed GET operation is answered as MLflow's Flask server answers it: Werkzeug adds
// HEAD to every rule that allows GET (werkzeug.routing.Rule: "if GET is present in the methods,
// HEAD is added automatically"), so HEAD /api/2.0/mlflow/experiments/get is GetExperiment without a
// body. The gateway decides it as that operation, sends HEAD upstream, and passes the head back.
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, faultGatewaysOfThisFile, requestIdFor } from '../support/fault-gateway.ts';

setDefaultTimeout(30_000);
const startFaultGateway = faultGatewaysOfThisFile();

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('HEAD on an allowed GET operation is that operation: sent upstream as HEAD, answered with the head and no body, audited as allowed; HEAD on an operation not allowed is still 403', async () => {
    const gateway = await startFaultGateway(mode, { clientPolicy: '{operations: [GetExperiment]}' });
    gateway.upstream.on('/api/2.0/mlflow/experiments/get', { body: '{"experiment":{"experiment_id":"1"}}' });
    const id = requestIdFor('head-allowed');
    const connection = await openRaw(gateway.port);
    await connection.write(requestHead(gateway.port, 'HEAD', '/api/2.0/mlflow/experiments/get?experiment_id=1', { ...gateway.auth, 'x-request-id': id, connection: 'close' }));
    await connection.closed;
    const response = await connection.response();
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body.byteLength).toBe(0);
    const [arrived] = await gateway.upstream.settled(1);
    expect(arrived).toMatchObject({ method: 'HEAD', target: '/api/2.0/mlflow/experiments/get?experiment_id=1' });
    if (mode === 'sagemaker') expect(arrived!.sigv4).toMatchObject({ ok: true });
    expect(await gateway.auditOf(id)).toMatchObject({ method: 'HEAD', status: 200, decision: 'allowed', reason: 'operation GetExperiment', policy: 'client' });

    const deniedId = requestIdFor('head-denied');
    const denied = await openRaw(gateway.port);
    await denied.write(requestHead(gateway.port, 'HEAD', '/api/2.0/mlflow/runs/get?run_id=r1', { ...gateway.auth, 'x-request-id': deniedId, connection: 'close' }));
    await denied.closed;
    expect((await denied.response()).status).toBe(403);
    expect(await gateway.auditOf(deniedId)).toMatchObject({ status: 403, decision: 'denied' });
    expect(gateway.upstream.requests).toHaveLength(1);
  });
});
