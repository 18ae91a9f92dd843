// A shutdown that cuts requests still in flight (serve/shutdown.ts) writes their audit lines from
// the registry the audit stage keeps (pipeline/in-flight.ts): one line per request, whichever comes
// first, its own end or the cut, and the line says how far the request got.
import { describe, expect, test } from 'bun:test';
import { auditLine } from '../../src/pipeline/audit-line.ts';
import { inFlightAudits } from '../../src/pipeline/in-flight.ts';
import { receive } from '../../src/pipeline/receive.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import type { RequestScope } from '../../src/pipeline/scope.ts';

function setup() {
  const written: AuditRecord[] = [];
  const inFlight = inFlightAudits();
  const stage = auditLine({ write: (record) => written.push(record) }, inFlight);
  const scope: RequestScope = Object.assign(receive(new Request('http://gw/api/2.0/mlflow-artifacts/artifacts/big.bin'), '127.0.0.1', false), {
    identity: { id: 'ci', authMethod: 'api-key' as const, policies: [] },
    decision: { allowed: true, policy: 'p', reason: 'operation DownloadArtifact' },
  });
  return { written, inFlight, stage, scope };
}

describe('requests cut by the shutdown', () => {
  test('a request with no answer yet is recorded as 503 cut by the shutdown, once', async () => {
    const { written, inFlight, stage, scope } = setup();
    let answer!: (response: Response) => void;
    const running = stage(scope, () => new Promise<Response>((done) => (answer = done)));
    await Promise.resolve();
    expect(inFlight.size()).toBe(1);
    for (const line of inFlight.cut()) written.push(line);
    expect(written).toEqual([expect.objectContaining({ status: 503, decision: 'gateway', errorCode: 'TEMPORARILY_UNAVAILABLE', reason: expect.stringContaining('cut by the shutdown'), incomplete: true, bytesOut: 0 })]);
    answer(new Response('{}', { headers: { 'content-length': '2' } }));
    await running;
    expect(written).toHaveLength(1); // the late answer writes no second line
  });

  test('a download under way is recorded with its status, the bytes sent so far and incomplete; its own end then writes nothing', async () => {
    const { written, inFlight, stage, scope } = setup();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(100_000));
      },
    }); // never closes: an upstream still sending
    const response = await stage(scope, async () => new Response(body, { status: 200 }));
    const reader = response.body!.getReader();
    expect((await reader.read()).value!.byteLength).toBe(100_000);
    for (const line of inFlight.cut()) written.push(line);
    expect(written).toEqual([expect.objectContaining({ status: 200, bytesOut: 100_000, incomplete: true, reason: expect.stringContaining('cut by the shutdown') })]);
    await reader.cancel();
    expect(written).toHaveLength(1);
    expect(inFlight.size()).toBe(0);
  });

  test('a request that ends by itself leaves the registry and the cut finds nothing', async () => {
    const { written, inFlight, stage, scope } = setup();
    await stage(scope, async () => new Response('{}', { headers: { 'content-length': '2' } }));
    expect(inFlight.size()).toBe(0);
    expect(inFlight.cut()).toEqual([]);
    expect(written).toEqual([expect.objectContaining({ status: 200, decision: 'allowed' })]);
  });
});
