// Reload storm: what many SIGHUP reloads do to the gateway's memory and to the requests it serves
// meanwhile, against the same gateway serving the same load without reloads, in one invocation.
//
//   bun bench/reload-storm.ts            # RELOADS=1800 by default; about a minute
//
// Three phases, each on a fresh `bun src/main.ts serve` (self-hosted backend: a Bun.serve stand-in
// in this process, so no signing cost muddies the figures), each under the same closed-loop load
// (CLIENTS loops, keep-alive, GET experiments/get):
//   baseline   no reloads, for as long as the paced storm took;
//   paced      RELOADS reloads one after another: SIGHUP, then wait for its "rules reloaded" line;
//   burst      RELOADS SIGHUPs sent as fast as this process can, without waiting.
// Then, in this process: the gateway's handler and reloader, RELOADS reloads of the shipped
// rules.yaml (SageMaker backend) with a request after each, and the live JavaScript heap after a
// full collection before and after: what a reload keeps, with garbage out of the picture.
// Reported: RSS (VmRSS from /proc) at the start and end of each phase, after 5 s idle, and its peak
// (VmHWM), the paced storm's RSS every tenth of the way (a leak climbs in a line), reloads
// done, requests answered and failed, and request latency p50/p99/max. Only 127.0.0.1; every phase
// is bounded (a per-phase time limit, and the loops stop by themselves).
import { spawn, type Subprocess } from 'bun';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heapStats } from 'bun:jsc';
import { hashApiKey } from '../src/auth/api-key.ts';
import { createGatewayHandler } from '../src/gateway-handler.ts';
import { loadRulesText } from '../src/rules/load.ts';
import { createReloader } from '../src/rules/reload.ts';

const RELOADS = Number(process.env.RELOADS ?? 1800);
const CLIENTS = Number(process.env.CLIENTS ?? 4);
const PHASE_LIMIT_MS = 240_000;
const IDLE_MS = 5000;
const KEY = 'reload-storm-key-0123456789abcdef';
const REPO = join(import.meta.dir, '..');

const upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ experiment: { experiment_id: '1', name: 'storm' } }) });

function rules(): string {
  return `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "http://127.0.0.1:${upstream.port}"}
clients: [{id: storm, apiKeySha256: "${hashApiKey(KEY)}", policies: [read]}]
policies: {read: {operations: [GetExperiment, SearchExperiments]}}
shutdown: {drainSeconds: 0, finishSeconds: 2}
`;
}

interface Gateway {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  port: number;
  reloaded: () => number;
}

async function startGateway(): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'smp-storm-'));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, rules());
  const proc = spawn([process.execPath, join(REPO, 'src/main.ts'), 'serve', '--rules', file], { cwd: dir, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } });
  let reloaded = 0;
  let port = 0;
  let tail = '';
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout as unknown as AsyncIterable<Uint8Array>) {
      tail += decoder.decode(chunk, { stream: true });
      const lines = tail.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"msg":"rules reloaded"')) reloaded += Number(/"signals":(\d+)/.exec(line)?.[1] ?? 1);
        else if (!port && line.includes('"event":"listening"')) port = JSON.parse(line).port;
      }
    }
  })();
  const deadline = Date.now() + 30_000;
  while (!port) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`gateway did not start: ${await new Response(proc.stderr).text()}`);
    await Bun.sleep(20);
  }
  return { proc, port, reloaded: () => reloaded };
}

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** Closed-loop load until stop() is called; latencies in ms. */
function load(port: number) {
  const latencies: number[] = [];
  let failed = 0;
  let stopped = false;
  const url = `http://127.0.0.1:${port}/api/2.0/mlflow/experiments/get?experiment_id=1`;
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (!stopped) {
      const start = performance.now();
      try {
        const response = await fetch(url, { headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.status === 200) latencies.push(performance.now() - start);
        else failed++;
      } catch {
        failed++;
      }
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
      return { answered: latencies.length, failed, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN };
    },
  };
}

interface PhaseResult {
  phase: string;
  seconds: number;
  reloads: number;
  rssStartMb: number;
  rssEndMb: number;
  /** After the load stopped and the process sat idle for IDLE_MS (its collector and allocator caught up). */
  rssIdleMb: number;
  peakMb: number;
  answered: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

async function phase(name: string, run: (gateway: Gateway, deadline: number) => Promise<void>): Promise<PhaseResult> {
  const gateway = await startGateway();
  // Warm the gateway (JIT, first chain build) before the start reading.
  const warm = load(gateway.port);
  await Bun.sleep(1000);
  await warm.stop();
  const rssStart = rssKb(gateway.proc.pid, 'VmRSS');
  const traffic = load(gateway.port);
  const started = performance.now();
  await run(gateway, Date.now() + PHASE_LIMIT_MS);
  const seconds = (performance.now() - started) / 1000;
  const served = await traffic.stop();
  const rssEndMb = rssKb(gateway.proc.pid, 'VmRSS') / 1024;
  await Bun.sleep(IDLE_MS);
  const result = { phase: name, seconds, reloads: gateway.reloaded(), rssStartMb: rssStart / 1024, rssEndMb, rssIdleMb: rssKb(gateway.proc.pid, 'VmRSS') / 1024, peakMb: rssKb(gateway.proc.pid, 'VmHWM') / 1024, ...served };
  gateway.proc.kill('SIGTERM');
  await gateway.proc.exited;
  return result;
}

/** RSS every tenth of the paced storm: a leak grows in a line, garbage levels off. */
const pacedRss: Array<[number, number]> = [];
const paced = await phase('paced', async (gateway, deadline) => {
  for (let i = 1; i <= RELOADS && Date.now() < deadline; i++) {
    gateway.proc.kill('SIGHUP');
    while (gateway.reloaded() < i && Date.now() < deadline) await Bun.sleep(1);
    if (i % Math.max(1, Math.floor(RELOADS / 10)) === 0) pacedRss.push([i, rssKb(gateway.proc.pid, 'VmRSS') / 1024]);
  }
});
const baseline = await phase('baseline', async (_gateway, deadline) => {
  await Bun.sleep(Math.min(paced.seconds * 1000, deadline - Date.now()));
});
const burst = await phase('burst', async (gateway, deadline) => {
  for (let i = 0; i < RELOADS; i++) gateway.proc.kill('SIGHUP');
  // Done when a reload has run after the last signal: the count stops growing for a while.
  let last = -1;
  while (Date.now() < deadline && gateway.reloaded() !== last) {
    last = gateway.reloaded();
    await Bun.sleep(500);
  }
});
/** Live heap (after a full, synchronous collection) before and after RELOADS in-process reloads. */
async function retainedHeap(): Promise<{ before: { mb: number; objects: number }; after: { mb: number; objects: number } }> {
  const yaml = readFileSync(join(REPO, 'rules.yaml'), 'utf8');
  // The endpoint override points the signed request at this process's stand-in: loopback only.
  const env = { MLFLOW_ARN: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/storm', PROXY_API_KEY_SHA256: hashApiKey(KEY), PORT: '0', SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: `http://127.0.0.1:${upstream.port}` };
  const read = () => {
    const loaded = loadRulesText(yaml, 'rules.yaml', env);
    if (!loaded.ok) throw new Error(loaded.problems.map((p) => p.message).join('; '));
    return { ...loaded, sha256: 'storm' };
  };
  const first = read();
  const reloader = createReloader({ rules: first.rules, sha256: 'storm' }, read);
  const credentials = { accessKeyId: 'AKIASTORM00000000000', secretAccessKey: 'storm' };
  const handle = createGatewayHandler({
    rules: reloader.current,
    audit: { write() {} },
    credentials: { get: async () => credentials, cached: () => credentials, expiration: () => undefined, refreshes: () => 0 } as never,
  });
  // Authenticated, authorized, signed and answered by the stand-in: every stage a reload builds.
  const request = () => handle(new Request('http://gw/api/2.0/mlflow/experiments/get?experiment_id=1', { headers: { authorization: `Bearer ${KEY}` } }), '127.0.0.1');
  const live = () => {
    Bun.gc(true);
    const stats = heapStats();
    return { mb: stats.heapSize / 1e6, objects: stats.objectCount };
  };
  for (let i = 0; i < 50; i++) (reloader.reload(), await request()); // warm: JIT, lazy modules
  const before = live();
  for (let i = 0; i < RELOADS; i++) {
    reloader.reload();
    await request();
  }
  return { before, after: live() };
}
const heap = await retainedHeap();
upstream.stop(true);

const rows = [baseline, paced, burst];
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
console.log(`reload storm: ${RELOADS} reloads, ${CLIENTS} clients, bun ${Bun.version}, ${new Date().toISOString()}`);
console.log('phase     seconds  reloads  RSS start→end→idle MB  peak MB  answered  failed  p50 ms  p99 ms  max ms');
for (const r of rows) {
  console.log(
    [r.phase.padEnd(8), fmt(r.seconds).padStart(7), String(r.reloads).padStart(8), `${fmt(r.rssStartMb)}→${fmt(r.rssEndMb)}→${fmt(r.rssIdleMb)}`.padStart(22), fmt(r.peakMb).padStart(8), String(r.answered).padStart(9), String(r.failed).padStart(7), fmt(r.p50, 2).padStart(7), fmt(r.p99, 2).padStart(7), fmt(r.max, 1).padStart(7)].join(' '),
  );
}
const growth = (r: PhaseResult) => r.rssIdleMb - r.rssStartMb;
console.log(`paced storm RSS (reloads → MB): ${pacedRss.map(([n, mb]) => `${n}→${fmt(mb)}`).join('  ')}`);
console.log(`RSS growth once idle, paced storm vs baseline: ${fmt(growth(paced))} MB vs ${fmt(growth(baseline))} MB; per reload ${fmt((growth(paced) - growth(baseline)) * 1024 / Math.max(1, paced.reloads), 2)} KiB`);
console.log(`p99 latency ratio paced/baseline ${fmt(paced.p99 / baseline.p99, 2)}, burst/baseline ${fmt(burst.p99 / baseline.p99, 2)}`);
console.log(`live heap after a full collection, before → after ${RELOADS} in-process reloads: ${fmt(heap.before.mb, 2)} → ${fmt(heap.after.mb, 2)} MB, ${heap.before.objects} → ${heap.after.objects} objects`);
console.log(JSON.stringify({ reloads: RELOADS, clients: CLIENTS, rows, pacedRss, heap }));
