// What reaches the upstream from a client's headers (issue 13, items 6 and 7), sent on a raw
// socket so no HTTP library adds or normalises anything: the rules' own backend.headers replace a
// client's header of the same name, and what goes upstream is an allowlist (MLflow's client and
// UI send a small known set), not everything but a denylist.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, faultRulesYaml, requestIdFor, startFaultGateway, type FaultGateway } from '../support/fault-gateway.ts';
import { problemsOf } from '../support/rules.ts';

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
  if (g.upstream.requests.length === 0) throw new Error(`nothing reached the upstream: ${response.status} ${response.text}`);
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

// What a stock MLflow client (rest_utils.py over requests) and the UI's fetch() send, besides the
// gateway credential and the framing: these go on.
const MLFLOW_CLIENT_HEADERS = {
  'user-agent': 'mlflow-python-client/3.17.2',
  'x-mlflow-client-version': '3.17.2',
  'x-mlflow-workspace': 'team-a',
  // The OTLP span export's (the server refuses /v1/traces without the experiment id).
  'x-mlflow-experiment-id': '7',
  'x-mlflow-run-id': 'abc123',
  accept: '*/*',
  'accept-encoding': 'gzip, deflate',
  'accept-language': 'en',
  'content-type': 'application/json',
};
// What the attack probe found sent on to SageMaker: none of it is MLflow's, some of it is a secret
// for the gateway or the ALB, some of it would let a client steer a server behind the upstream.
const HOSTILE_HEADERS = {
  cookie: 'smp_session=gateway-jwt-token; other=1',
  'x-amzn-oidc-accesstoken': 'alb-access-token',
  'x-amzn-oidc-identity': 'someone-else',
  'x-http-method-override': 'DELETE',
  'x-method-override': 'DELETE',
  'x-original-url': '/api/2.0/mlflow/experiments/delete',
  'x-rewrite-url': '/api/2.0/mlflow/experiments/delete',
  forwarded: 'for=10.0.0.1;host=internal',
  'x-real-ip': '10.0.0.1',
  'x-forwarded-for': '10.0.0.1',
  'x-forwarded-host': 'internal.example',
  'x-forwarded-proto': 'http',
  referer: 'https://gateway.example/secret-page?token=abc',
  'x-custom-trace': 'abc',
};
// What the gateway itself sets upstream, per mode (Connection is the runtime's fetch, keep-alive).
const GATEWAY_SET = {
  sagemaker: ['authorization', 'connection', 'content-length', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token', 'x-mlflow-sm-tracking-server-arn', 'x-request-id'],
  'self-hosted': ['connection', 'content-length', 'host', 'x-request-id'],
};

describe.each(BACKEND_MODES)('%s backend: client headers upstream', (mode) => {
  test('only MLflow\'s known request headers go upstream; cookies, ALB tokens, method and URL overrides and forwarding claims are dropped', async () => {
    gateway = await startFaultGateway(mode);
    const { response, arrived, record } = await send(gateway, { ...MLFLOW_CLIENT_HEADERS, ...HOSTILE_HEADERS });
    expect(response.status).toBe(200);
    const names = [...new Set(arrived.headerList.map(([name]) => name))].sort();
    expect(names).toEqual([...Object.keys(MLFLOW_CLIENT_HEADERS), ...GATEWAY_SET[mode]].sort());
    for (const [name, value] of Object.entries(MLFLOW_CLIENT_HEADERS)) expect(arrived.headers[name]).toBe(value);
    if (mode === 'sagemaker') expect(arrived.sigv4).toMatchObject({ ok: true });
    expect(record).toMatchObject({ status: 200, decision: 'allowed' });
  });

  test('a header the rules list in backend.forwardHeaders is passed on', async () => {
    gateway = await startFaultGateway(mode, { backend: 'forwardHeaders: [X-Custom-Trace]' });
    const { arrived } = await send(gateway, { 'x-custom-trace': 'abc', 'x-other': 'no' });
    expect(arrived.headers['x-custom-trace']).toBe('abc');
    expect(arrived.headers['x-other']).toBeUndefined();
  });

  test('what was dropped is logged at debug level, by name only', async () => {
    const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    gateway = await startFaultGateway(mode, { deps: { log: { log: (level, msg, fields) => void lines.push({ level, msg, ...(fields ? { fields } : {}) }) } } });
    const { record } = await send(gateway, HOSTILE_HEADERS);
    const line = lines.find((l) => l.msg === 'client headers not forwarded');
    expect(line).toMatchObject({ level: 'debug', fields: { requestId: record.requestId } });
    expect(line!.fields!.headers).toEqual(expect.arrayContaining(['cookie', 'x-amzn-oidc-accesstoken', 'x-http-method-override', 'forwarded', 'referer']));
    expect(JSON.stringify(line)).not.toContain('gateway-jwt-token');
  });
});

describe('backend.forwardHeaders', () => {
  test('cannot list a credential, the target, AWS signing headers or a hop-by-hop header', () => {
    // A refused file reports its warnings in the same pass (the fault rules' wildcard policy has some): count the errors.
    const problems = problemsOf(faultRulesYaml('self-hosted', 'http://127.0.0.1:1', { backend: 'forwardHeaders: [Cookie, authorization, X-Amz-Date, host, x-amzn-oidc-data, te, x-fine]' })).filter((p) => !p.includes(': warning: '));
    expect(problems).toHaveLength(6);
    expect(problems.every((p) => p.includes('backend.forwardHeaders['))).toBe(true);
    expect(problems.join('\n')).toContain('backend.forwardHeaders[0]');
    expect(problems.join('\n')).not.toContain('x-fine');
  });
});

// What comes back (issue 21): the upstream's response header block as it is, but for the
// hop-by-hop fields (RFC 9110 §7.6.1) and those the upstream's Connection names. Set-Cookie is the
// field that must never be joined (RFC 6265 §3: an Expires date has a comma of its own), so each
// one must arrive as its own line, in order, byte for byte.
const UPSTREAM_COOKIES: Array<[string, string]> = [
  ['set-cookie', 'session=abc; Path=/; HttpOnly; Secure'],
  ['set-cookie', 'pref=dark; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/'],
  ['set-cookie', 'empty='],
];
const UPSTREAM_KEPT: Array<[string, string]> = [
  ['cache-control', 'no-store'],
  ['etag', '"v1"'],
  ['x-mlflow-custom', 'kept as sent'],
  ['vary', 'Accept-Encoding'],
];
const UPSTREAM_HOP: Array<[string, string]> = [
  ['connection', 'keep-alive, x-hop-private'],
  ['keep-alive', 'timeout=5'],
  ['x-hop-private', 'named by Connection: one hop only'],
  ['proxy-authenticate', 'Basic realm="upstream"'],
  ['upgrade', 'h2c'],
];

describe.each(BACKEND_MODES)('%s backend: upstream response headers back to the client', (mode) => {
  for (const [kind, behaviour] of [
    ['a small answer (read whole first)', {}],
    ['a large answer (streamed)', { body: new Uint8Array(200_000).fill(7) }],
    ['a chunked answer (streamed)', { chunkedPieceBytes: 1000 }],
  ] as const) {
    test(`${kind}: every field but the hop-by-hop ones, each Set-Cookie on its own line, byte for byte`, async () => {
      gateway = await startFaultGateway(mode);
      gateway.upstream.on('/api/2.0/mlflow/runs/search', { ...behaviour, headerList: [...UPSTREAM_COOKIES, ...UPSTREAM_KEPT, ...UPSTREAM_HOP] });
      const { response } = await send(gateway, {});
      expect(response.status).toBe(200);
      expect(response.complete).toBe(true);
      expect(response.headerList.filter(([name]) => name === 'set-cookie')).toEqual(UPSTREAM_COOKIES);
      for (const [name, value] of UPSTREAM_KEPT) expect(response.headerList.filter(([n]) => n === name)).toEqual([[name, value]]);
      const names = response.headerList.map(([name]) => name);
      for (const name of ['keep-alive', 'x-hop-private', 'proxy-authenticate', 'upgrade']) expect(names).not.toContain(name);
      // The gateway's own framing and request id, once each.
      expect(response.headerList.filter(([name]) => name === 'x-request-id')).toHaveLength(1);
      expect(names.filter((name) => name === 'connection').length).toBeLessThanOrEqual(1);
      expect(response.headers.connection ?? 'close').not.toContain('x-hop-private');
    });
  }
});
