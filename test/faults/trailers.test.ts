// A chunked body with a trailer section (RFC 9112 §7.1.2) (issue 13, item 3). The probe found the
// upstream had received and run the write while the client got 400 and the audit line said 499.
// Accepting trailers is not in the gateway's hands: Bun.serve answers a trailer section itself with
// a bare 400 and closes the connection (oven-sh/bun PR #32887, open). So the gateway refuses them
// before anything runs upstream: an announced trailer (Trailer header) with its own 400, an
// unannounced one by never letting the upstream see the body's last chunk.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, requestIdFor, startFaultGateway, type FaultGateway } from '../support/fault-gateway.ts';

setDefaultTimeout(30_000);
let gateway: FaultGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const BODY = '{"run_id":"r1","key":"m","value":1,"timestamp":1,"step":0}';
const PATH = '/api/2.0/mlflow/runs/log-metric';

async function chunked(g: FaultGateway, id: string, headers: Record<string, string>, trailer: string) {
  const connection = await openRaw(g.port);
  await connection.write(
    requestHead(g.port, 'POST', PATH, { ...g.auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-request-id': id, connection: 'close', ...headers }) +
      `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\n${trailer}\r\n`,
  );
  return connection.response();
}

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('a chunked body that announces a trailer is refused with 400 before anything is sent upstream', async () => {
    gateway = await startFaultGateway(mode);
    const id = requestIdFor('announced-trailer');
    const response = await chunked(gateway, id, { trailer: 'x-checksum' }, 'x-checksum: abc123\r\n');
    expect(response.status).toBe(400);
    expect(JSON.parse(response.text)).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(await gateway.auditOf(id)).toMatchObject({ status: 400, errorCode: 'BAD_REQUEST', reason: 'chunked request announced a trailer section (Trailer header)' });
    expect(gateway.upstream.requests).toHaveLength(0);
  });

  test('an unannounced trailer (the runtime answers it with 400) never reaches the upstream as a complete write, and the audit line says why', async () => {
    gateway = await startFaultGateway(mode);
    const id = requestIdFor('unannounced-trailer');
    const response = await chunked(gateway, id, {}, 'x-checksum: abc123\r\n');
    expect(response.status).toBe(400);
    const record = await gateway.auditOf(id);
    expect(record).toMatchObject({ status: 499, errorCode: 'CANCELLED' });
    expect(record.reason).toContain('trailer section');
    // SageMaker: buffered, so nothing left; self-hosted: streamed, but without its last chunk.
    if (mode === 'sagemaker') expect(gateway.upstream.requests).toHaveLength(0);
    else for (const arrived of gateway.upstream.requests) expect(arrived.completed).toBe(false);
  });

  test('a chunked body without a trailer still goes through whole', async () => {
    gateway = await startFaultGateway(mode);
    const id = requestIdFor('chunked');
    const response = await chunked(gateway, id, {}, '');
    expect(response.status).toBe(200);
    const [arrived] = await gateway.upstream.settled(1);
    expect(Buffer.from(arrived!.body).toString()).toBe(BODY);
    if (mode === 'sagemaker') expect(arrived!.sigv4).toMatchObject({ ok: true });
    expect(await gateway.auditOf(id)).toMatchObject({ status: 200, bytesIn: BODY.length });
  });
});
