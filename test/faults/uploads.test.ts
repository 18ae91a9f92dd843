// Uploads under faults (issue 13, items 1 and 9): a slow upload is never cut by the upstream
// timeout, which counts from the end of the request body as Envoy's route timeout does
// (envoy route.v3.RouteAction.timeout: "the time that starts when the entire downstream request
// has been processed"); and a client that leaves mid-upload is recorded as 499, the way nginx and
// caddy log a client that closed the connection, not as a gateway failure.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead, slowUpload } from '../support/raw-http.ts';
import { BACKEND_MODES, requestIdFor, startFaultGateway, type FaultGateway } from '../support/fault-gateway.ts';
import { waitFor } from '../support/processes.ts';
import { readdirSync, statSync } from 'node:fs';
import { spillDirectory } from '../../src/http/spill-body.ts';

setDefaultTimeout(60_000);
let gateway: FaultGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const PIECE = 64 * 1024;

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('an upload slower than timeoutSeconds reaches the upstream whole and gets its answer', async () => {
    gateway = await startFaultGateway(mode, { backend: 'timeoutSeconds: 1' });
    const id = requestIdFor('slow-upload');
    // 6 pieces, 500 ms apart: 2.5 s of upload against a 1 s timeout.
    const { response } = await slowUpload(gateway.port, {
      method: 'PUT',
      target: '/api/2.0/mlflow/runs/log-batch',
      headers: { ...gateway.auth, 'content-type': 'application/octet-stream', 'x-request-id': id, connection: 'close' },
      totalBytes: 6 * PIECE,
      pieceBytes: PIECE,
      intervalMs: 500,
    });
    expect(response!.status).toBe(200);
    const [arrived] = await gateway.upstream.settled(1);
    expect(arrived).toMatchObject({ completed: true, reset: false });
    expect(arrived!.body.byteLength).toBe(6 * PIECE);
    if (mode === 'sagemaker') expect(arrived!.sigv4).toMatchObject({ ok: true });
    expect(await gateway.auditOf(id)).toMatchObject({ status: 200, decision: 'allowed', bytesIn: 6 * PIECE });
  });

  test('the timeout still runs from the end of the body: an upstream silent past it is 504', async () => {
    gateway = await startFaultGateway(mode, { backend: 'timeoutSeconds: 1' });
    gateway.upstream.on('/api/2.0/mlflow/runs/log-batch', { delayMs: 3000 });
    const id = requestIdFor('silent-upstream');
    const response = await fetch(`${gateway.url}/api/2.0/mlflow/runs/log-batch`, {
      method: 'POST',
      headers: { ...gateway.auth, 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ run_id: 'r1', metrics: [] }),
    });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error_code: 'DEADLINE_EXCEEDED' });
    const [arrived] = await gateway.upstream.settled(1);
    expect(arrived!.completed).toBe(true);
    expect(await gateway.auditOf(id)).toMatchObject({ status: 504, decision: 'gateway', errorCode: 'DEADLINE_EXCEEDED' });
  });

  test('a client that resets the connection mid-upload is 499 in the audit line, and the upstream never sees a complete body', async () => {
    gateway = await startFaultGateway(mode);
    const id = requestIdFor('client-leaves');
    const connection = await openRaw(gateway.port);
    await connection.write(
      requestHead(gateway.port, 'PUT', '/api/2.0/mlflow/runs/log-batch', {
        ...gateway.auth,
        'content-type': 'application/octet-stream',
        'content-length': String(4 * 1024 * 1024),
        'x-request-id': id,
      }),
    );
    await connection.write(Buffer.alloc(PIECE, 1));
    // The request has entered the pipeline (and, self-hosted, its first bytes are upstream).
    await waitFor(() => gateway!.requestsStarted() === 1);
    if (mode === 'self-hosted') await waitFor(() => (gateway!.upstream.requests[0]?.body.byteLength ?? 0) > 0);
    connection.reset();
    const record = await gateway.auditOf(id);
    expect(record).toMatchObject({ status: 499, errorCode: 'CANCELLED', decision: 'gateway' });
    if (mode === 'sagemaker') {
      // Buffered to be hashed: nothing was sent, and the line says why the request ended.
      expect(gateway.upstream.requests).toHaveLength(0);
      expect(record.reason).toContain('connection ended while its body was read');
      expect(record.bytesIn).toBe(0);
    } else {
      const [arrived] = await gateway.upstream.settled(1);
      expect(arrived).toMatchObject({ completed: false, reset: true });
      // What was passed on, not the 4 MiB the client announced.
      expect(record.bytesIn).toBeLessThan(4 * 1024 * 1024);
      expect(record.bytesIn).toBeGreaterThanOrEqual(arrived!.body.byteLength);
    }
  });
});

describe('sagemaker backend, a body over 1 MiB', () => {
  test('is held in a private temp file while it is hashed: the upstream gets the exact bytes, signed, and no file is left', async () => {
    gateway = await startFaultGateway('sagemaker');
    const id = requestIdFor('spilled');
    const body = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const response = await fetch(`${gateway.url}/api/2.0/mlflow/runs/log-batch`, { method: 'POST', headers: { ...gateway.auth, 'content-type': 'application/json', 'x-request-id': id }, body });
    expect(response.status).toBe(200);
    const [arrived] = await gateway.upstream.settled(1);
    expect(Buffer.from(arrived!.body).equals(Buffer.from(body))).toBe(true);
    expect(arrived!.sigv4).toMatchObject({ ok: true });
    expect(await gateway.auditOf(id)).toMatchObject({ status: 200, bytesIn: body.length });
    expect(readdirSync(spillDirectory())).toEqual([]);
    expect(statSync(spillDirectory()).mode & 0o777).toBe(0o700);
  });

  test('a client that leaves while it is spilled gets 499 and leaves no file behind', async () => {
    gateway = await startFaultGateway('sagemaker');
    const id = requestIdFor('spill-leaves');
    const connection = await openRaw(gateway.port);
    await connection.write(requestHead(gateway.port, 'POST', '/api/2.0/mlflow/runs/log-batch', { ...gateway.auth, 'content-type': 'application/json', 'content-length': String(4 * 1024 * 1024), 'x-request-id': id }));
    await connection.write(Buffer.alloc(PIECE, 1));
    await waitFor(() => gateway!.requestsStarted() === 1);
    await waitFor(() => readdirSync(spillDirectory()).length === 1);
    connection.reset();
    expect(await gateway.auditOf(id)).toMatchObject({ status: 499, errorCode: 'CANCELLED' });
    expect(readdirSync(spillDirectory())).toEqual([]);
    expect(gateway.upstream.requests).toHaveLength(0);
  });
});
