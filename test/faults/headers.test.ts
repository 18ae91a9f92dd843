// What reaches the upstream from a client's headers (issue 13, items 6 and 7), sent on a raw
// socket so no HTTP library adds or normalises anything: the rules' own backend.headers replace a
// client's header of the same name, and what goes upstream is an allowlist (MLflow's client and
// UI send a small known set), not everything but a denylist.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, requestIdFor, startFaultGateway, type FaultGateway } from '../support/fault-gateway.ts';

setDefaultTimeout(30_000);
let gateway: FaultGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function send(g: FaultGateway, headers: Record<string, string>, body = '{"experiment_id":"1"}') {
  const id = requestIdFor('headers');
  const connection = await openRaw(g.port);
  await connection.write(
    requestHead(g.port, 'POST', '/api/2.0/mlflow/runs/search', { ...g.auth, 'x-request-id': id, connection: 'close', 'content-length': String(body.length), ...headers }) + body,
  );
  const response = await connection.response();
  const [arrived] = await g.upstream.settled(1);
  return { response, arrived: arrived!, record: await g.auditOf(id) };
}

describe('self-hosted backend.headers', () => {
  test('a header the rules set replaces the client\'s header of the same name: the upstream sees only the configured value', async () => {
    gateway = await startFaultGateway('self-hosted', { backend: 'headers: {x-remote-user: gateway}' });
    const { response, arrived } = await send(gateway, { 'x-remote-user': 'admin', 'X-Remote-User': 'root' });
    expect(response.status).toBe(200);
    expect(arrived.headerList.filter(([name]) => name === 'x-remote-user')).toEqual([['x-remote-user', 'gateway']]);
  });
});
