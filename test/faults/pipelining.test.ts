// Pipelined requests (RFC 9112 §9.3: a client may send several requests on a connection without
// waiting for each answer; the server must answer them in order). Bun.serve does not: when it
// parses a request head while the answer to the one before is still pending (any async handler,
// so every gateway request), uWS closes the socket ("denying async pipelining",
// packages/bun-uws/src/HttpContext.h; oven-sh/bun#33664, #38128). The gateway cannot answer them
// in order on this runtime, so it takes the other branch the issue allows: the connection is
// refused, and nothing is forwarded for a request whose connection has already gone. The audit
// line says what happened (499, the connection closed before the request was forwarded). Deno's
// server does answer pipelined requests in order; the single-file smoke suite checks both builds.
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, faultGatewaysOfThisFile, requestIdFor } from '../support/fault-gateway.ts';

setDefaultTimeout(30_000);
const startFaultGateway = faultGatewaysOfThisFile();

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test('two allowed requests (a GET and a write) pipelined in one write: the connection is closed, nothing reaches the upstream, and the request the gateway started is audited as 499 not forwarded', async () => {
    const gateway = await startFaultGateway(mode);
    const first = requestIdFor('pipelined-first');
    const second = requestIdFor('pipelined-second');
    const body = '{"run_id":"r1","key":"m","value":1,"timestamp":1,"step":0}';
    const connection = await openRaw(gateway.port);
    await connection.write(
      requestHead(gateway.port, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', { ...gateway.auth, 'x-request-id': first }) +
        requestHead(gateway.port, 'POST', '/api/2.0/mlflow/runs/log-metric', { ...gateway.auth, 'x-request-id': second, 'content-type': 'application/json', 'content-length': String(body.length) }) +
        body,
    );
    await connection.closed;
    await expect(connection.response()).rejects.toThrow('connection closed without a response head');
    expect(await gateway.auditOf(first)).toMatchObject({ status: 499, decision: 'gateway', errorCode: 'CANCELLED', reason: expect.stringContaining('closed before the request was forwarded; nothing was sent upstream') });
    expect(gateway.audit.some((line) => line.requestId === second)).toBe(false); // never handed to the gateway
    expect(gateway.upstream.requests).toHaveLength(0);
    expect(gateway.upstream.connections()).toBe(0);
  });
});
