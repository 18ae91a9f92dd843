// The fault suite's own instruments, checked before anything is concluded from them: the recording
// upstream sees what was really sent (body bytes, trailers, a reset), its SigV4 check accepts what
// the gateway signs, and its faults (early answer, reset after N bytes, oversized head) happen.
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { startFaultUpstream } from '../support/fault-upstream.ts';
import { waitFor } from '../support/processes.ts';
import { BACKEND_MODES, faultGatewaysOfThisFile, requestIdFor } from '../support/fault-gateway.ts';

setDefaultTimeout(30_000);
const startFaultGateway = faultGatewaysOfThisFile();

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('an allowed POST reaches the recording upstream with its exact body (and a valid signature for SageMaker)', async () => {
    const gateway = await startFaultGateway(mode);
    const id = requestIdFor('harness');
    const body = JSON.stringify({ run_id: 'r1', key: 'm', value: 1, timestamp: 1, step: 0 });
    const response = await fetch(`${gateway.url}/api/2.0/mlflow/runs/log-metric`, {
      method: 'POST',
      headers: { ...gateway.auth, 'content-type': 'application/json', 'x-request-id': id },
      body,
    });
    expect(response.status).toBe(200);
    const [arrived] = await gateway.upstream.settled(1);
    expect(arrived!.path).toBe('/api/2.0/mlflow/runs/log-metric');
    expect(Buffer.from(arrived!.body).toString()).toBe(body);
    expect(arrived!.completed).toBe(true);
    if (mode === 'sagemaker') expect(arrived!.sigv4).toMatchObject({ ok: true });
    expect(await gateway.auditOf(id)).toMatchObject({ status: 200, decision: 'allowed', bytesIn: body.length });
  });
});

describe('the recording upstream on its own', () => {
  test('records a chunked body and its trailer, answers at once when told, and resets after N bytes', async () => {
    const upstream = await startFaultUpstream();
    try {
      upstream.on('/early', { answerAt: 'headers', body: 'early' });
      upstream.on('/cut', { body: 'x'.repeat(1000), resetAfterBytes: 10 });
      const connection = await openRaw(upstream.port);
      await connection.write(requestHead(upstream.port, 'POST', '/early?x=1', { 'transfer-encoding': 'chunked' }));
      const response = await connection.response();
      expect(response.text).toBe('early');
      await connection.write('5\r\nhello\r\n0\r\nx-checksum: abc\r\n\r\n');
      const [early] = await upstream.settled(1);
      expect(early).toMatchObject({ target: '/early?x=1', completed: true, reset: false, trailers: [['x-checksum', 'abc']] });
      expect(Buffer.from(early!.body).toString()).toBe('hello');

      const cut = await openRaw(upstream.port);
      await cut.write(requestHead(upstream.port, 'GET', '/cut', {}));
      const truncated = await cut.response();
      expect(truncated).toMatchObject({ status: 200, complete: false });
      expect(truncated.body.byteLength).toBe(10);
    } finally {
      await upstream.close();
    }
  });

  test('a client that resets mid-body is recorded as reset with the bytes that arrived', async () => {
    const upstream = await startFaultUpstream();
    try {
      const connection = await openRaw(upstream.port);
      await connection.write(requestHead(upstream.port, 'PUT', '/upload', { 'content-length': '100' }));
      await connection.write('0123456789');
      await waitFor(() => upstream.requests[0]?.body.byteLength === 10);
      connection.reset();
      const [upload] = await upstream.settled(1);
      expect(upload).toMatchObject({ completed: false, reset: true });
      expect(upload!.body.byteLength).toBe(10);
    } finally {
      await upstream.close();
    }
  });

  test('reads a body slowly when told, resets on the head when told, and answers chunked when told', async () => {
    const upstream = await startFaultUpstream();
    try {
      upstream.on('/slow', { readPauseMs: 20, chunkedPieceBytes: 4, body: 'abcdefghij' });
      upstream.on('/gone', { resetOnHead: true });
      const slow = await openRaw(upstream.port);
      await slow.write(requestHead(upstream.port, 'PUT', '/slow', { 'content-length': String(64 * 1024) }));
      for (let i = 0; i < 4; i++) await slow.write(Buffer.alloc(16 * 1024, 0x61));
      const answer = await slow.response();
      expect(answer).toMatchObject({ status: 200, complete: true, text: 'abcdefghij', headers: { 'transfer-encoding': 'chunked' } });
      const [slowRequest] = await upstream.settled(1);
      expect(slowRequest!.body.byteLength).toBe(64 * 1024);

      const gone = await openRaw(upstream.port);
      await gone.write(requestHead(upstream.port, 'GET', '/gone', {}));
      await gone.closed;
      await expect(gone.response()).rejects.toThrow('without a response head');
      expect(upstream.requests[1]).toMatchObject({ path: '/gone', reset: true, completed: false });
    } finally {
      await upstream.close();
    }
  });
});
