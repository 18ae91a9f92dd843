// backend.timeoutSeconds (issue 21): the wait for the backend's response headers, then an idle
// limit between body chunks, as Python's requests read timeout behaves. A live answer that keeps
// sending is never cut however long it takes; one that goes silent for longer than the timeout is.
// Each case with a dripping upstream (test/support/fault-upstream.ts: pieces with pauses), in both
// backend modes, over a raw socket. timeoutSeconds: 1 here; the watch ticks every 125 ms.
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, faultGatewaysOfThisFile, requestIdFor, type FaultGateway } from '../support/fault-gateway.ts';

setDefaultTimeout(60_000);
const startGateway = faultGatewaysOfThisFile();
const RUN_GET = '/api/2.0/mlflow/runs/get';

async function get(g: FaultGateway, id: string) {
  const connection = await openRaw(g.port);
  await connection.write(requestHead(g.port, 'GET', `${RUN_GET}?run_id=r1`, { ...g.auth, 'x-request-id': id, connection: 'close' }));
  return connection.response();
}

describe.each(BACKEND_MODES)('%s backend, timeoutSeconds: 1', (mode) => {
  test('a small answer whose headers come at once and whose 200 bytes drip over 2 s (one piece every 200 ms) arrives whole', async () => {
    const g = await startGateway(mode, { backend: 'timeoutSeconds: 1' });
    g.upstream.on(RUN_GET, { body: 'd'.repeat(200), bodyPieceBytes: 20, bodyPauseMs: 200 });
    const id = requestIdFor('small-drip');
    const response = await get(g, id);
    expect(response.status).toBe(200);
    expect(response.text).toBe('d'.repeat(200));
    expect(await g.auditOf(id)).toMatchObject({ status: 200, decision: 'allowed', bytesOut: 200 });
  });

  test('a large answer that drips (64 KiB pieces, 300 ms apart, 2 s in all) arrives whole, uncut', async () => {
    const g = await startGateway(mode, { backend: 'timeoutSeconds: 1' });
    const size = 512 * 1024;
    g.upstream.on(RUN_GET, { body: new Uint8Array(size).fill(0x64), bodyPieceBytes: 64 * 1024, bodyPauseMs: 300 });
    const id = requestIdFor('large-drip');
    const response = await get(g, id);
    expect(response.status).toBe(200);
    expect(response.complete).toBe(true);
    expect(response.body.byteLength).toBe(size);
    const record = await g.auditOf(id);
    expect(record).toMatchObject({ status: 200, bytesOut: size });
    expect(record.incomplete).toBeUndefined();
  });

  test('a small answer that goes silent mid-body for longer than the timeout is 504, nothing of it sent', async () => {
    const g = await startGateway(mode, { backend: 'timeoutSeconds: 1' });
    g.upstream.on(RUN_GET, { body: 's'.repeat(200), bodyPieceBytes: 100, bodyPauseMs: 3000 });
    const id = requestIdFor('small-silent');
    const response = await get(g, id);
    expect(response.status).toBe(504);
    expect(JSON.parse(response.text)).toMatchObject({ error_code: 'DEADLINE_EXCEEDED' });
    expect(await g.auditOf(id)).toMatchObject({ status: 504, decision: 'gateway', errorCode: 'DEADLINE_EXCEEDED' });
  });

  test('a large answer that goes silent mid-body for longer than the timeout is cut there: the client sees it short, the audit line says why', async () => {
    const g = await startGateway(mode, { backend: 'timeoutSeconds: 1' });
    const size = 512 * 1024;
    g.upstream.on(RUN_GET, { body: new Uint8Array(size).fill(0x73), bodyPieceBytes: 256 * 1024, bodyPauseMs: 4000 });
    const id = requestIdFor('large-silent');
    const response = await get(g, id);
    expect(response.status).toBe(200);
    expect(response.complete).toBe(false);
    expect(response.body.byteLength).toBeLessThan(size);
    const record = await g.auditOf(id);
    expect(record).toMatchObject({ status: 200, incomplete: true, bytesOut: response.body.byteLength });
    expect(record.incompleteReason).toContain('silent');
  });

  test('headers later than the timeout are 504, as before', async () => {
    const g = await startGateway(mode, { backend: 'timeoutSeconds: 1' });
    g.upstream.on(RUN_GET, { delayMs: 3000 });
    const id = requestIdFor('late-headers');
    const response = await get(g, id);
    expect(response.status).toBe(504);
    expect(await g.auditOf(id)).toMatchObject({ status: 504, errorCode: 'DEADLINE_EXCEEDED' });
  });
});
