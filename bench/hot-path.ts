// What each piece of per-request work costs, in this process, without the network: the figures
// the hot-path changes are judged by (bench/peer.ts gives the whole-gateway CPU per request; this
// splits it). Interleaved rounds, medians of CPU µs per call.
//
//   bun bench/hot-path.ts        (about 20 s)     BENCH_CALLS=100000 BENCH_ROUNDS=5
import { createHash, createHmac } from 'node:crypto';
import { createMetrics } from '../src/observability/metrics.ts';
import { createAuditLog, type AuditRecord } from '../src/observability/audit.ts';
import { auditRecord } from '../src/pipeline/audit-line.ts';
import { receive } from '../src/pipeline/receive.ts';
import { clientResponseHeaders, forwardableRequestHeaders } from '../src/pipeline/headers.ts';
import { signForSageMaker } from '../src/pipeline/sign.ts';
import { sha256Hex } from '../src/aws/sigv4.ts';
import { sagemakerBackend } from '../src/backends/sagemaker.ts';
import type { RequestScope } from '../src/pipeline/scope.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ── fixtures: one allowed GET as the gateway sees it
const request = new Request('http://127.0.0.1:8080/api/2.0/mlflow/experiments/get?experiment_id=1', {
  headers: { authorization: 'Bearer x', 'user-agent': 'mlflow-python-client/3.17.2', accept: '*/*', 'accept-encoding': 'gzip' },
});
function allowedScope(): RequestScope {
  const scope = receive(request, '127.0.0.1', false);
  scope.identity = { id: 'bench', authMethod: 'api-key', policies: [] } as unknown as RequestScope['identity'];
  scope.upstreamPath = '/api/2.0/mlflow/experiments/get';
  scope.operation = 'GetExperiment';
  scope.decision = { allowed: true, policy: 'bench-all', reason: 'policy bench-all allows GET /api/2.0/mlflow/experiments/get' };
  scope.upstreamMs = 0.4321;
  return scope;
}
const scope = allowedScope();
const record: AuditRecord = auditRecord(scope, 200, 312, false);
const metrics = createMetrics({ version: 'b', commit: 'b', runtime: 'bun' });
const metricsOff = createMetrics({ version: 'b', commit: 'b', runtime: 'bun' }, () => true, { enabled: false });
const auditLog = createAuditLog(() => {});
const upstreamHeaders = new Headers({ 'content-type': 'application/json', 'content-length': '312', date: new Date().toUTCString(), server: 'bench' });
const parsed = sagemakerBackend('arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/bench', 'http://127.0.0.1:1');
if (!parsed.ok) throw new Error(parsed.problem);
const backend = parsed.value;
const credentials = { accessKeyId: 'AKIABENCHEXAMPLE0001', secretAccessKey: 'benchSecretKeyExample0000000000000000000' };
const body = new TextEncoder().encode(JSON.stringify({ run_id: 'abc', key: 'm', value: 1.5, timestamp: 1700000000000, step: 1 }));
const canonical = 'GET\n/api/2.0/mlflow/experiments/get\nexperiment_id=1\nhost:h\nx-amz-date:20261201T000000Z\n\nhost;x-amz-date\ne3b0';
const key = createHmac('sha256', 'k').update('d').digest();
const Hasher = (globalThis as { Bun?: typeof Bun }).Bun?.CryptoHasher;

const cases: Record<string, () => unknown> = {
  'metrics.observe (prom-client, metrics on)': () => {
    metrics.requestStarted();
    metrics.observe(record);
  },
  'metrics.observe (no metrics listener)': () => {
    metricsOff.requestStarted();
    metricsOff.observe(record);
  },
  'auditRecord (the record object)': () => auditRecord(scope, 200, 312, false),
  'audit log write (serialise one record)': () => auditLog.write(record),
  'sha256 hex: node:crypto createHash': () => createHash('sha256').update(canonical).digest('hex'),
  ...(Hasher ? { 'sha256 hex: Bun.CryptoHasher': () => new Hasher('sha256').update(canonical).digest('hex') } : {}),
  'sha256Hex (src/aws/sigv4.ts)': () => sha256Hex(canonical),
  'hmac-sha256 hex: node:crypto createHmac': () => createHmac('sha256', key).update(canonical).digest('hex'),
  ...(Hasher ? { 'hmac-sha256 hex: Bun.CryptoHasher': () => new Hasher('sha256', key).update(canonical).digest('hex') } : {}),
  'signForSageMaker (GET, whole signature)': () =>
    signForSageMaker({ method: 'GET', path: '/api/2.0/mlflow/experiments/get', query: 'experiment_id=1', headers: [['accept', '*/*']], body: undefined }, backend, credentials, new Date()),
  'signForSageMaker (POST, body hashed)': () =>
    signForSageMaker({ method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', query: '', headers: [['content-type', 'application/json']], body }, backend, credentials, new Date()),
  'forward timer: AbortController + setTimeout + listener + clearTimeout': () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 120_000);
    const onAbort = () => controller.abort();
    request.signal.addEventListener('abort', onAbort, { once: true });
    clearTimeout(timer);
    request.signal.removeEventListener('abort', onAbort);
  },
  'forwardableRequestHeaders (client → upstream list)': () => forwardableRequestHeaders(request.headers),
  'clientResponseHeaders (the block edited in place)': () => clientResponseHeaders(upstreamHeaders, 'req-1'),
  'new Response(body, {status, headers})': () => new Response(null, { status: 200, headers: upstreamHeaders }),
  'receive (the scope)': () => receive(request, '127.0.0.1', false),
};

const results = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
for (const fn of Object.values(cases)) for (let i = 0; i < 2000; i++) fn(); // warm the JIT
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(cases)) {
    const start = cpuMicros();
    for (let i = 0; i < CALLS; i++) fn();
    results.get(name)!.push((cpuMicros() - start) / CALLS);
  }
  await Bun.sleep(0); // let the batched audit flush and timers run between rounds
}
const width = Math.max(...Object.keys(cases).map((k) => k.length));
console.log(`hot-path pieces, CPU µs per call, median of ${ROUNDS} rounds × ${CALLS} calls (bun ${Bun.version}):`);
for (const [name, xs] of results) console.log(`  ${name.padEnd(width)}  ${median(xs).toFixed(3)}`);
