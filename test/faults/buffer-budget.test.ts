// The budget for buffered request bodies (issue 13, item 2): bodies read whole (SageMaker signing,
// policy conditions, GraphQL) share limits.maxBufferedBytes; a request that would pass it is
// refused with 503 and Retry-After before its body is read or anything is sent upstream, and is
// counted in a metric. A self-hosted backend streams bodies through and holds none of them.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead, slowUpload } from '../support/raw-http.ts';
import { requestIdFor, startFaultGateway, type FaultGateway } from '../support/fault-gateway.ts';
import { waitFor } from '../support/processes.ts';
import { bufferBudget } from '../../src/limits/buffer-budget.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

setDefaultTimeout(60_000);
let gateway: FaultGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const KIB = 1024;
const LIMITS = `limits: {maxBufferedBytes: ${1024 * KIB}, maxBodyBytes: ${2048 * KIB}}`;
const PATH = '/api/2.0/mlflow/runs/log-batch';

async function budgeted(mode: 'sagemaker' | 'self-hosted') {
  // The test's own budget object, so it can see what is held; the limit is the rules'.
  const budget = bufferBudget(() => 1024 * KIB);
  gateway = await startFaultGateway(mode, { extra: LIMITS, deps: { bufferBudget: budget } });
  return { g: gateway, budget };
}

describe('sagemaker backend', () => {
  test('while one upload holds most of the budget, a body that would pass it gets 503 with Retry-After, and nothing of it goes upstream', async () => {
    const { g, budget } = await budgeted('sagemaker');
    // A: 800 KiB announced, sent slowly, so its reservation is held.
    const first = slowUpload(g.port, { target: PATH, headers: { ...g.auth, 'content-type': 'application/json', connection: 'close' }, totalBytes: 800 * KIB, pieceBytes: 100 * KIB, intervalMs: 200 });
    await waitFor(() => budget.held() === 800 * KIB);
    const id = requestIdFor('over-budget');
    const connection = await openRaw(g.port);
    await connection.write(requestHead(g.port, 'POST', PATH, { ...g.auth, 'content-type': 'application/json', 'content-length': String(400 * KIB), 'x-request-id': id, connection: 'close' }));
    const refused = await connection.response();
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.text)).toMatchObject({ error_code: 'RESOURCE_EXHAUSTED' });
    const record = await g.auditOf(id);
    expect(record).toMatchObject({ status: 503, errorCode: 'RESOURCE_EXHAUSTED', decision: 'gateway', bytesIn: 0 });
    expect(record.reason).toContain('limits.maxBufferedBytes');
    // A finishes normally, and the budget is whole again.
    expect((await first).response!.status).toBe(200);
    await waitFor(() => budget.held() === 0);
    expect(g.upstream.requests).toHaveLength(1);
    expect(g.upstream.requests[0]!.body.byteLength).toBe(800 * KIB);

    // The refusal is counted.
    const metrics = createMetrics({ version: 't', commit: 't', runtime: 't' });
    metrics.requestStarted();
    metrics.observe(record);
    expect((await metrics.render()).body).toContain('sagemaker_mlflow_proxy_buffer_budget_refusals_total 1');
  });

  test('a chunked body is refused as soon as it would pass the budget, and its reservation is returned', async () => {
    const { g, budget } = await budgeted('sagemaker');
    const id = requestIdFor('chunked-over');
    const connection = await openRaw(g.port);
    await connection.write(requestHead(g.port, 'POST', PATH, { ...g.auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-request-id': id, connection: 'close' }));
    const piece = Buffer.alloc(256 * KIB, 0x61);
    for (let i = 0; i < 5 && !connection.isClosed(); i++) await connection.write(Buffer.concat([Buffer.from(`${piece.byteLength.toString(16)}\r\n`), piece, Buffer.from('\r\n')])).catch(() => {});
    const refused = await connection.response();
    expect(refused.status).toBe(503);
    expect(await g.auditOf(id)).toMatchObject({ status: 503, errorCode: 'RESOURCE_EXHAUSTED' });
    expect(budget.held()).toBe(0);
    expect(g.upstream.requests).toHaveLength(0);
  });
});

describe('self-hosted backend', () => {
  test('a streamed upload larger than the whole budget passes: nothing of it is held', async () => {
    const { g, budget } = await budgeted('self-hosted');
    const { response } = await slowUpload(g.port, { target: PATH, headers: { ...g.auth, 'content-type': 'application/json', connection: 'close' }, totalBytes: 1536 * KIB, pieceBytes: 256 * KIB, intervalMs: 10 });
    expect(response!.status).toBe(200);
    expect(budget.held()).toBe(0);
    const [arrived] = await g.upstream.settled(1);
    expect(arrived!.body.byteLength).toBe(1536 * KIB);
  });
});
