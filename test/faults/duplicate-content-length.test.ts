// Two Content-Length fields in one request (RFC 9112 §6.3: a recipient may take equal values as one,
// but the framing is then one a peer might read differently; a proxy is the place to refuse it, as
// nginx and Envoy do with 400). The gateway answers 400 in both backend modes, before anything is
// sent upstream, and the audit line says so.
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw } from '../support/raw-http.ts';
import { BACKEND_MODES, faultGatewaysOfThisFile, requestIdFor } from '../support/fault-gateway.ts';

setDefaultTimeout(30_000);
const startFaultGateway = faultGatewaysOfThisFile();

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('two equal Content-Length headers get 400 BAD_REQUEST and a closed connection, nothing reaches the upstream, and the audit line records 400', async () => {
    const gateway = await startFaultGateway(mode);
    const id = requestIdFor('two-content-lengths');
    const body = '{"experiment_id":"1"}';
    const connection = await openRaw(gateway.port);
    await connection.write(
      [
        'POST /api/2.0/mlflow/experiments/get HTTP/1.1',
        `host: 127.0.0.1:${gateway.port}`,
        `authorization: ${gateway.auth.authorization}`,
        'content-type: application/json',
        `x-request-id: ${id}`,
        `content-length: ${body.length}`,
        `content-length: ${body.length}`,
        '',
        body,
      ].join('\r\n'),
    );
    const response = await connection.response();
    expect(response.status).toBe(400);
    expect(JSON.parse(response.text)).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(await gateway.auditOf(id)).toMatchObject({ status: 400, decision: 'rejected', errorCode: 'BAD_REQUEST' });
    expect(gateway.upstream.requests).toHaveLength(0);
    // The bytes after an ambiguous message cannot be trusted either (RFC 9112 §6.3): the gateway closes.
    expect(response.headers.connection).toBe('close');
    await connection.closed;
  });
});
