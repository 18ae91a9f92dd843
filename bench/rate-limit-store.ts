// What a shared rate-limit check costs (limits.store kind valkey) against the in-process buckets,
// measured in the same invocation, on loopback:
//   1. the check alone, in this process: CPU µs per take and the latency of one take (p50 / p99),
//      one at a time and 16 in flight (a busy gateway), plus the store server's own CPU per take;
//      and paced (one take every 2 ms), where each take pays a wake-up with cold caches;
//   2. through the gateway: two `serve` processes in front of bench/upstream.ts, one with local
//      buckets, one with the shared store, the same API-key client with a rate limit; a paced client
//      (one request every 2 ms) alternates between them: added p50 / p99 and gateway CPU µs/request.
//
//   bun bench/rate-limit-store.ts          (about 1.5 minutes with the defaults)
//
// Environment: BENCH_TAKES=20000 per run, BENCH_SECONDS=5 per paced run, BENCH_ROUNDS=3.
// Everything listens on 127.0.0.1 and every loop is bounded; child processes stop at the end.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism, cpus } from 'node:os';
import { hashApiKey } from '../src/auth/api-key.ts';
import { localTokenBuckets, type RateLimitStore } from '../src/limits/rate-limiter.ts';
import { sharedTokenBuckets } from '../src/limits/shared-token-buckets.ts';
import { connectValkey } from '../src/limits/valkey-connection.ts';
import { failOpen } from '../src/limits/fail-open.ts';
import { startGateway, startProcess, tempDir, BUN, type Started } from '../test/support/processes.ts';
import { startValkey, VALKEY_SERVER } from '../test/support/valkey.ts';

const ROOT = resolve(import.meta.dir, '..');
const TAKES = Number(process.env.BENCH_TAKES ?? 20_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KEY = 'bench-rate-limit-key-0123456789abcdef';
const PATH = '/api/2.0/mlflow/experiments/get?experiment_id=1';
const LIMIT = { requestsPerSecond: 1e9, burst: 1e9 };
const log = (...a: unknown[]) => console.error('bench:', ...a);

/** User + system CPU of a process so far, in µs (/proc/PID/stat fields 14 and 15, in clock ticks). */
function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [utime, stime] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
  return ((utime! + stime!) * 1e6) / 100;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface CheckRun { cpuUsPerTake: number; p50Ms: number; p99Ms: number; serverCpuUsPerTake?: number }

/** TAKES takes over 100 identities, `inFlight` at a time. */
async function checkRun(store: RateLimitStore, inFlight: number, serverPid?: number): Promise<CheckRun> {
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const serverBefore = serverPid ? processCpuMicros(serverPid) : 0;
  const worker = async () => {
    while (next < TAKES) {
      const i = next++;
      const started = performance.now();
      await store.take(`client-${i % 100}`, LIMIT, Date.now());
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  return {
    cpuUsPerTake: (cpu.user + cpu.system) / TAKES,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...(serverPid ? { serverCpuUsPerTake: (processCpuMicros(serverPid) - serverBefore) / TAKES } : {}),
  };
}

const PACED_TAKES = 1500;

/** PACED_TAKES takes, one every 2 ms: the CPU a take costs a process that sleeps between requests
 * (caches cold, one more wake-up per take), as a gateway at moderate load does. */
async function pacedCheckRun(store: RateLimitStore): Promise<number> {
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < PACED_TAKES; i++) {
    await store.take(`client-${i % 100}`, LIMIT, Date.now());
    await Bun.sleep(2);
  }
  const cpu = process.cpuUsage(cpuBefore);
  return (cpu.user + cpu.system) / PACED_TAKES;
}

interface PacedRun { requests: number; errors: number; p50Ms: number; p99Ms: number; gatewayCpuUsPerRequest: number }

/** One request every 2 ms for SECONDS, whatever earlier ones are doing (open loop). */
async function pacedRun(gateway: Started): Promise<PacedRun> {
  const url = `http://127.0.0.1:${gateway.port}${PATH}`;
  const headers = { authorization: `Bearer ${KEY}` };
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = processCpuMicros(gateway.child.pid!);
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const total = Math.floor((SECONDS * 1000) / 2);
  for (let i = 0; i < total; i++) {
    const due = start + i * 2;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    pending.push(
      (async () => {
        const sent = performance.now();
        try {
          const response = await fetch(url, { headers });
          await response.arrayBuffer();
          if (response.status !== 200) errors++;
          latencies.push(performance.now() - sent);
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return {
    requests: total,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    gatewayCpuUsPerRequest: (processCpuMicros(gateway.child.pid!) - cpuBefore) / total,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function main() {
  const children: Array<{ stop: () => Promise<void> }> = [];
  try {
    const valkey = await startValkey();
    children.push(valkey);
    const serverPid = valkey.process().child.pid!;
    const spec = { kind: 'valkey' as const, url: valkey.url, cluster: false, keyPrefix: 'bench:', timeoutMs: 50, probeSeconds: 2 };
    const connection = connectValkey(spec, {});
    await connection.connected();
    const shared = failOpen({ take: sharedTokenBuckets(connection, 'bench:').take, ping: connection.ping }, localTokenBuckets(), {
      timeoutMs: 50,
      probeMs: 2000,
      onChange: (state, reason) => log(`store went ${state}`, reason ?? ''),
    });
    const local = localTokenBuckets();

    // ── 1. the check alone
    const checks: Record<string, CheckRun[]> = {};
    const pacedChecks: Record<'local' | 'shared', number[]> = { local: [], shared: [] };
    for (let round = 0; round < ROUNDS; round++) {
      pacedChecks.local.push(await pacedCheckRun(local));
      pacedChecks.shared.push(await pacedCheckRun(shared));
      for (const inFlight of [1, 16]) {
        for (const [name, store, pid] of [['local', local, undefined], ['shared', shared, serverPid]] as const) {
          const run = await checkRun(store, inFlight, pid);
          (checks[`${name} x${inFlight}`] ??= []).push(run);
        }
      }
      log(`check round ${round + 1}/${ROUNDS} done`);
    }
    // A fall-back mid-run (the store descheduled for over half a second on a loaded machine) would
    // mix local takes into the shared figures: say so beside them.
    const warnings: string[] = [];
    if (shared.state() !== 'shared') warnings.push('the in-process shared store fell back to local buckets during the check runs');
    await connection.close();
    shared.close();

    // ── 2. through the gateway
    // startProcess gives no stdin, so the upstream's stop-on-EOF is off; it still ends after 10 minutes.
    const upstream = await startProcess(BUN, [join(ROOT, 'bench/upstream.ts')], {
      name: 'upstream',
      env: { ...process.env, BENCH_UPSTREAM_WATCH_STDIN: '0', BENCH_UPSTREAM_MAX_SECONDS: '600' },
      ready: (output) => {
        const match = /"event":"listening","port":(\d+)/.exec(output);
        return match ? Number(match[1]) : undefined;
      },
    });
    children.push(upstream);
    const dir = tempDir('bench-rate-limit');
    const rules = (store: string) => `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "http://127.0.0.1:${upstream.port}"}
limits: {store: ${store}}
clients:
  - {id: bench, apiKeySha256: "${hashApiKey(KEY)}", policies: [reader], rateLimit: {requestsPerSecond: 1000000000, burst: 1000000000}}
policies:
  reader: {operations: [GetExperiment]}
logging: {requests: false}
`;
    writeFileSync(join(dir, 'local.yaml'), rules('{kind: local}'));
    writeFileSync(join(dir, 'shared.yaml'), rules(`{kind: valkey, url: "${valkey.url}"}`));
    const gateways = {
      local: await startGateway(join(dir, 'local.yaml'), { ...process.env }),
      shared: await startGateway(join(dir, 'shared.yaml'), { ...process.env }),
    };
    children.push(gateways.local, gateways.shared);
    if (!gateways.shared.output().includes('rate limits are shared across the fleet')) throw new Error(`the shared gateway did not connect:\n${gateways.shared.output()}`);
    // Sanity, then warm-up (JIT, connections).
    for (const [name, gateway] of Object.entries(gateways)) {
      for (let i = 0; i < 500; i++) {
        const response = await fetch(`http://127.0.0.1:${gateway.port}${PATH}`, { headers: { authorization: `Bearer ${KEY}` } });
        const body = await response.text();
        if (response.status !== 200) throw new Error(`the ${name} gateway answered ${response.status}: ${body}`);
      }
    }
    const paced: Record<string, PacedRun[]> = { local: [], shared: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ['local', 'shared'] as const) paced[name]!.push(await pacedRun(gateways[name]));
      log(`paced round ${round + 1}/${ROUNDS} done`);
    }
    const fellBack = gateways.shared.output().split('\n').filter((line) => line.includes('rate-limit store unreachable'));
    if (fellBack.length > 0) warnings.push(`the shared gateway fell back to local buckets ${fellBack.length} time(s) during the paced runs`);

    // ── report
    const out: string[] = [];
    out.push(`rate-limit store bench — ${new Date().toISOString()} — ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}) — ${VALKEY_SERVER}`);
    out.push(`medians of ${ROUNDS} rounds; ${TAKES} takes per check run; paced: 500 req/s for ${SECONDS} s per run`);
    out.push('');
    out.push('1. one check (store.take) in this process');
    out.push('   store      in flight   CPU µs/take   server CPU µs/take   p50 ms   p99 ms');
    for (const [name, runs] of Object.entries(checks)) {
      const [store, inFlight] = name.split(' x');
      const server = runs[0]!.serverCpuUsPerTake !== undefined ? fmt(median(runs.map((r) => r.serverCpuUsPerTake!))) : '-';
      out.push(`   ${store!.padEnd(10)} ${inFlight!.padStart(9)}   ${fmt(median(runs.map((r) => r.cpuUsPerTake))).padStart(11)}   ${server.padStart(18)}   ${fmt(median(runs.map((r) => r.p50Ms)), 3).padStart(6)}   ${fmt(median(runs.map((r) => r.p99Ms)), 3).padStart(6)}`);
    }
    const pacedLocal = median(pacedChecks.local);
    const pacedShared = median(pacedChecks.shared);
    out.push(`   paced, one take every 2 ms: CPU µs per take + sleep: local ${fmt(pacedLocal)}, shared ${fmt(pacedShared)} (the shared take costs ${fmt(pacedShared - pacedLocal)} µs when the process sleeps between takes)`);
    out.push('');
    out.push('2. a request through the gateway (self-hosted upstream stand-in, API key with a rate limit)');
    out.push('   buckets    p50 ms   p99 ms   gateway CPU µs/req   errors');
    for (const name of ['local', 'shared'] as const) {
      const runs = paced[name]!;
      out.push(`   ${name.padEnd(10)} ${fmt(median(runs.map((r) => r.p50Ms)), 3).padStart(6)}   ${fmt(median(runs.map((r) => r.p99Ms)), 3).padStart(6)}   ${fmt(median(runs.map((r) => r.gatewayCpuUsPerRequest))).padStart(18)}   ${runs.reduce((n, r) => n + r.errors, 0)}`);
    }
    const m = (name: 'local' | 'shared', key: 'p50Ms' | 'p99Ms' | 'gatewayCpuUsPerRequest') => median(paced[name]!.map((r) => r[key]));
    out.push(`   added by the shared store: p50 ${fmt(m('shared', 'p50Ms') - m('local', 'p50Ms'), 3)} ms, p99 ${fmt(m('shared', 'p99Ms') - m('local', 'p99Ms'), 3)} ms, gateway CPU ${fmt(m('shared', 'gatewayCpuUsPerRequest') - m('local', 'gatewayCpuUsPerRequest'))} µs/req (${fmt(m('shared', 'gatewayCpuUsPerRequest') / m('local', 'gatewayCpuUsPerRequest'), 2)}×)`);
    for (const warning of warnings) out.push(`WARNING: ${warning}: the shared figures are partly local ones`);
    console.log(out.join('\n'));
  } finally {
    for (const child of children.reverse()) await child.stop();
  }
}

await main();
