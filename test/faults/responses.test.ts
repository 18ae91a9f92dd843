// Upstream answers under faults (issue 13, items 8 and 14): a response the upstream breaks off is
// recorded as what it was, with the bytes the gateway actually sent and why it stopped, never as
// the Content-Length the upstream promised; and a response header block over Envoy's cap
// (max_response_headers_kb, 60 KiB by default) is refused with 502 instead of being passed on.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, requestIdFor, startFaultGateway, type FaultGateway } from '../support/fault-gateway.ts';

setDefaultTimeout(60_000);
let gateway: FaultGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const RUN_GET = '/api/2.0/mlflow/runs/get';

async function get(g: FaultGateway, path: string, id: string) {
  const connection = await openRaw(g.port);
  await connection.write(requestHead(g.port, 'GET', `${path}?run_id=r1`, { ...g.auth, 'x-request-id': id, connection: 'close' }));
  return connection.response();
}

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('a small answer the upstream resets after 10 of its 1000 bytes is a 502 to the client and in the audit line, with the reason', async () => {
    gateway = await startFaultGateway(mode);
    gateway.upstream.on(RUN_GET, { body: 'x'.repeat(1000), resetAfterBytes: 10 });
    const id = requestIdFor('small-reset');
    const response = await get(gateway, RUN_GET, id);
    expect(response.status).toBe(502);
    expect(JSON.parse(response.text)).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });
    const record = await gateway.auditOf(id);
    expect(record).toMatchObject({ status: 502, decision: 'gateway', errorCode: 'TEMPORARILY_UNAVAILABLE', bytesOut: response.body.byteLength });
    expect(record.reason).toContain('mid-body');
    expect(gateway.upstream.requests).toHaveLength(1);
  });

  test('a large answer the upstream breaks off mid-body: the audit line has the bytes really sent, incomplete, and the failure', async () => {
    gateway = await startFaultGateway(mode);
    const size = 512 * 1024;
    const cut = 128 * 1024;
    // Paced, so the first pieces are relayed before the break (Bun's fetch drops bytes it had
    // buffered when a response ends short of its Content-Length: measured, 0 of 128 KiB delivered).
    gateway.upstream.on(RUN_GET, { body: new Uint8Array(size).fill(0x62), endAfterBytes: cut, bodyPieceBytes: 16 * 1024, bodyPauseMs: 20 });
    const id = requestIdFor('large-reset');
    const response = await get(gateway, RUN_GET, id);
    // The head went out before the reset; the client sees a body shorter than its Content-Length.
    expect(response.status).toBe(200);
    expect(response.complete).toBe(false);
    const record = await gateway.auditOf(id);
    expect(record).toMatchObject({ status: 200, incomplete: true });
    expect(record.bytesOut).toBeLessThanOrEqual(cut);
    expect(record.bytesOut).toBeGreaterThanOrEqual(response.body.byteLength);
    expect(record.incompleteReason).toContain('upstream');
  });

  test('a response header block over 60 KiB is refused with 502, and none of its headers reach the client', async () => {
    gateway = await startFaultGateway(mode);
    gateway.upstream.on(RUN_GET, { headerBlockBytes: 70 * 1024, body: '{"run":{}}' });
    const id = requestIdFor('huge-head');
    const response = await get(gateway, RUN_GET, id);
    expect(response.status).toBe(502);
    expect(response.headers['x-filler-0']).toBeUndefined();
    expect(response.headBytes).toBeLessThan(4096);
    const record = await gateway.auditOf(id);
    expect(record).toMatchObject({ status: 502, decision: 'gateway', errorCode: 'TEMPORARILY_UNAVAILABLE' });
    expect(record.reason).toContain('header');
  });

  test('a header block beyond what the runtime parses (300 KiB) is a 502 as well', async () => {
    gateway = await startFaultGateway(mode);
    gateway.upstream.on(RUN_GET, { headerBlockBytes: 300 * 1024 });
    const id = requestIdFor('huger-head');
    const response = await get(gateway, RUN_GET, id);
    expect(response.status).toBe(502);
    expect(await gateway.auditOf(id)).toMatchObject({ status: 502, errorCode: 'TEMPORARILY_UNAVAILABLE' });
  });

  test('a response header block just under the cap passes through', async () => {
    gateway = await startFaultGateway(mode);
    gateway.upstream.on(RUN_GET, { headerBlockBytes: 50 * 1024, body: '{"run":{}}' });
    const id = requestIdFor('big-head');
    const response = await get(gateway, RUN_GET, id);
    expect(response.status).toBe(200);
    expect(response.headers['x-filler-0']).toBeDefined();
    expect(response.text).toBe('{"run":{}}');
  });
});
