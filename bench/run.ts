// Load and overhead benchmark: the gateway against a direct call to the same local upstream.
//
//   bun bench/run.ts                  (about 3 minutes with the defaults)
//
// One invocation starts bench/upstream.ts and the gateway (`bun src/main.ts serve --rules FILE`) as
// child processes, drives both with autocannon, and prints a table plus the targets, marked
// PASS/MISS. Results are also written as JSON to bench/results/latest.json. Only ratios measured
// within one run mean anything: client, gateway and upstream share this machine's cores.
// See bench/README.md. Everything is bounded in time and all children are stopped on exit.
//
// Environment (all optional):
//   BENCH_SECONDS=10            length of each measured run
//   BENCH_WARMUP_SECONDS=2      unrecorded warm-up per target and request kind
//   BENCH_CONNECTIONS=32,64     connection counts for the saturated runs
//   BENCH_RATE=1000             fixed request rate for the added-latency runs
//   BENCH_RATE_CONNECTIONS=10   autocannon connections for the fixed-rate runs
//   BENCH_BLOB_BYTES=1073741824 size of the streamed download
//   BENCH_CLIENT=node           autocannon runs in: node | bun (a separate process each run) | inproc
//                               (this bun process). Default node when `node` is on PATH, else bun.
//   BENCH_GATEWAY_ENTRY=src/main.ts   gateway entry file (run as `bun ENTRY serve --rules FILE`)
//   BENCH_OUT=bench/results/latest.json
//   BENCH_SKIP=download,rate,saturated   skip phases (comma list)
//   BENCH_PROFILE=1             run the gateway under `bun --cpu-prof-md`; the profile of the whole
//                               run lands in bench/results/profile/ (slows the gateway a little)
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  atCleanup, awsEnv, baseEnv, cleanup, f, gatewayRules, LoadWorker as Worker, log, lpad, mb, pad, procCpuSeconds, procStatus, resetPeakRss,
  ROOT, SCENARIOS, startChild, table, type Child, type LoadJob, type LoadResult, type ScenarioName,
  envList, envNumber, runMain, GATEWAY_RUNTIME_ENV,
} from './lib.ts';

// ───────────────────────────── configuration ─────────────────────────────
const env = process.env;
const num = envNumber;
const CFG = {
  seconds: num('BENCH_SECONDS', 10),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 2),
  connections: envList('BENCH_CONNECTIONS', '32,64').map(Number).filter((n) => n > 0),
  rate: num('BENCH_RATE', 1000),
  rateConnections: num('BENCH_RATE_CONNECTIONS', 10),
  blobBytes: num('BENCH_BLOB_BYTES', 1024 * 1024 * 1024),
  client: (env.BENCH_CLIENT ?? (Bun.which('node') ? 'node' : 'bun')) as 'bun' | 'node' | 'inproc',
  gatewayEntry: resolve(ROOT, env.BENCH_GATEWAY_ENTRY ?? 'src/main.ts'),
  out: resolve(ROOT, env.BENCH_OUT ?? 'bench/results/latest.json'),
  skip: new Set(envList('BENCH_SKIP', '')),
  profileDir: env.BENCH_PROFILE && env.BENCH_PROFILE !== '0' ? resolve(ROOT, 'bench/results/profile') : null,
  rssSampleMs: 100,
};
if (!['bun', 'node', 'inproc'].includes(CFG.client)) throw new Error('BENCH_CLIENT must be bun, node or inproc');

const TARGETS = {
  throughputRatio: 0.3, // gateway req/s ≥ 0.30 × direct req/s, with signing
  addedP99Ms: 2, // p99(gateway) − p99(direct) < 2 ms at BENCH_RATE req/s
  downloadRssMb: 100, // gateway RSS < 100 MB while streaming BENCH_BLOB_BYTES
};

const API_KEY = 'bench-' + randomBytes(24).toString('hex');
type TargetName = 'direct' | 'gateway';

// ───────────────────────────── load runs ─────────────────────────────
let tmp = '';
let autocannonWorker: Worker | null = null;
let pacedWorker: Worker | null = null;
let inproc: { runLoad: (j: LoadJob) => Promise<LoadResult>; runPaced: (j: LoadJob) => Promise<LoadResult> } | null = null;

async function runLoadJob(job: LoadJob): Promise<LoadResult> {
  if (CFG.client === 'inproc') {
    const workerModule: string = './load-worker.mjs'; // untyped plain-JS module
    inproc ??= await import(workerModule);
    return job.paced ? inproc!.runPaced(job) : inproc!.runLoad(job);
  }
  if (job.paced) {
    // The paced runs use fetch, which costs several times more CPU on Node 20 than on Bun: always Bun.
    pacedWorker ??= CFG.client === 'bun' ? (autocannonWorker ??= new Worker(process.execPath)) : new Worker(process.execPath);
    return pacedWorker.run(job);
  }
  autocannonWorker ??= new Worker(CFG.client === 'node' ? 'node' : process.execPath);
  return autocannonWorker.run(job);
}

interface Measured {
  scenario: ScenarioName;
  target: TargetName;
  mode: 'saturated' | 'rate-autocannon' | 'rate-paced';
  connections: number;
  result: LoadResult;
  serverCpuSeconds: { gateway: number; upstream: number };
}

// ───────────────────────────── helpers ─────────────────────────────
const mark = (ok: boolean | null) => (ok === null ? 'n/a ' : ok ? 'PASS' : 'MISS');

// ───────────────────────────── the two servers ─────────────────────────────
/** The upstream and the gateway under test, and their base URLs. */
interface Bench {
  upstream: Child;
  gateway: Child;
  upstreamBase: string;
  gatewayBase: string;
}
const AUTH_HEADERS = { authorization: `Bearer ${API_KEY}` };
const base = (bench: Bench, t: TargetName) => (t === 'direct' ? bench.upstreamBase : bench.gatewayBase);

/** Every phase is bounded in time; this bounds the whole invocation too. */
function armOverallTimeLimit(): void {
  const perRun = CFG.seconds + 15;
  const runsPlanned =
    (CFG.skip.has('saturated') ? 0 : CFG.connections.length * 4) + (CFG.skip.has('rate') ? 0 : 8) + 4;
  const hardLimitS = runsPlanned * perRun + 4 * (CFG.warmupSeconds + 10) + 600;
  setTimeout(() => {
    console.error(`bench: overall time limit (${hardLimitS} s) reached, stopping`);
    cleanup();
    process.exit(2);
  }, hardLimitS * 1000);
}

async function startServers(): Promise<Bench> {
  if (!existsSync(CFG.gatewayEntry)) {
    throw new Error(`gateway entry ${CFG.gatewayEntry} not found (set BENCH_GATEWAY_ENTRY to try another)`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-bench-'));
  const emptyAws = join(tmp, 'aws-empty');
  writeFileSync(emptyAws, '');
  atCleanup(() => rmSync(tmp, { recursive: true, force: true }));

  log(`starting upstream (bench/upstream.ts)`);
  const upstream = await startChild('upstream', [process.execPath, join(import.meta.dir, 'upstream.ts')], {
    cwd: tmp,
    env: baseEnv(tmp),
  });
  const upstreamBase = `http://127.0.0.1:${upstream.port}`;

  const rulesFile = join(tmp, 'rules.yaml');
  writeFileSync(rulesFile, gatewayRules(upstreamBase, API_KEY));
  const gatewayEnv = { ...baseEnv(tmp), ...awsEnv(emptyAws), ...GATEWAY_RUNTIME_ENV }; // as it runs in production
  log(`starting gateway: bun ${CFG.gatewayEntry} serve --rules ${rulesFile}`);
  if (CFG.profileDir) mkdirSync(CFG.profileDir, { recursive: true });
  const profileFlags = CFG.profileDir ? ['--cpu-prof-md', `--cpu-prof-dir=${CFG.profileDir}`] : [];
  const gateway = await startChild('gateway', [process.execPath, ...profileFlags, CFG.gatewayEntry, 'serve', '--rules', rulesFile], {
    cwd: tmp, // an empty directory: no stray .env or bunfig.toml is loaded
    env: gatewayEnv,
  });
  return { upstream, gateway, upstreamBase, gatewayBase: `http://127.0.0.1:${gateway.port}` };
}

// ───────────────────────────── phases ─────────────────────────────
/** Sanity: both paths answer the same, and the gateway signs. Throws (the bench stops) if not. */
async function sanityCheck(bench: Bench): Promise<void> {
  const { upstreamBase, gatewayBase, gateway } = bench;
  const stats0 = await (await fetch(`${upstreamBase}/bench/stats`)).json();
  for (const [name, sc] of Object.entries(SCENARIOS)) {
    const direct = await fetch(base(bench, 'direct') + sc.path, { method: sc.method, headers: sc.headers, body: sc.body });
    const via = await fetch(base(bench, 'gateway') + sc.path, {
      method: sc.method,
      headers: { ...sc.headers, ...AUTH_HEADERS },
      body: sc.body,
    });
    const [dt, vt] = [await direct.text(), await via.text()];
    if (direct.status !== 200 || via.status !== 200 || dt !== vt) {
      throw new Error(
        `sanity check failed for ${name}: direct ${direct.status}, gateway ${via.status}\n` +
          `direct body: ${dt.slice(0, 300)}\ngateway body: ${vt.slice(0, 300)}\ngateway stderr:\n${gateway.stderrTail()}`,
      );
    }
  }
  const unauth = await fetch(gatewayBase + SCENARIOS.get.path);
  await unauth.arrayBuffer();
  const stats1 = await (await fetch(`${upstreamBase}/bench/stats`)).json();
  const signedSeen = stats1.signed - stats0.signed;
  if (signedSeen < Object.keys(SCENARIOS).length) {
    throw new Error(`the upstream saw ${signedSeen} SigV4-signed requests from the gateway's sanity calls; expected ≥ 2`);
  }
  if (unauth.status !== 401 && unauth.status !== 403) log(`warning: a request without a key got ${unauth.status}, not 401`);
  log(`sanity OK (gateway signs; unauthenticated request → ${unauth.status}); client=${CFG.client}, ${cpus().length} CPUs`);
}

function jobFor(bench: Bench, t: TargetName, s: ScenarioName, connections: number, duration: number, extra: Partial<LoadJob> = {}): LoadJob {
  const sc = SCENARIOS[s];
  return {
    url: base(bench, t) + sc.path,
    method: sc.method,
    headers: t === 'gateway' ? { ...sc.headers, ...AUTH_HEADERS } : { ...sc.headers },
    body: sc.body,
    connections,
    duration,
    ...extra,
  };
}

/** One recorded run of BENCH_SECONDS, with both servers' CPU time over it; logged as it ends. */
async function measure(
  bench: Bench,
  mode: Measured['mode'],
  t: TargetName,
  s: ScenarioName,
  connections: number,
  extra: Partial<LoadJob> = {},
): Promise<Measured> {
  const { gateway, upstream } = bench;
  const g0 = procCpuSeconds(gateway.pid);
  const u0 = procCpuSeconds(upstream.pid);
  const result = await runLoadJob(jobFor(bench, t, s, connections, CFG.seconds, extra));
  const m: Measured = {
    scenario: s,
    target: t,
    mode,
    connections,
    result,
    serverCpuSeconds: { gateway: procCpuSeconds(gateway.pid) - g0, upstream: procCpuSeconds(upstream.pid) - u0 },
  };
  const bad = result.non2xx + result.errors + result.timeouts;
  log(
    `${pad(mode, 15)} ${pad(SCENARIOS[s].label, 21)} ${pad(t, 7)} c=${lpad(String(connections), 3)}  ` +
      `${lpad(f(result.rps, 0), 6)} req/s  p50 ${f(result.latencyMs?.p50)} ms  p99 ${f(result.latencyMs?.p99)} ms` +
      (bad ? `  (${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts)` : ''),
  );
  if (gateway.exited) throw new Error(`the gateway exited during the run:\n${gateway.stderrTail()}`);
  return m;
}

/** Warm-up (JIT, connection pools); not recorded. Returns how many requests went through the gateway (each logs an audit line). */
async function warmUp(bench: Bench): Promise<number> {
  let warmupGatewayRequests = 0;
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const t of ['direct', 'gateway'] as TargetName[]) {
      const w = await runLoadJob(jobFor(bench, t, s, CFG.connections[0] ?? 32, CFG.warmupSeconds));
      if (t === 'gateway') warmupGatewayRequests += w.total;
    }
  }
  log('warm-up done');
  return warmupGatewayRequests;
}

async function saturatedThroughput(bench: Bench): Promise<Measured[]> {
  const measured: Measured[] = [];
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const c of CFG.connections) {
      for (const t of ['direct', 'gateway'] as TargetName[]) measured.push(await measure(bench, 'saturated', t, s, c));
    }
  }
  return measured;
}

/** Added latency at a fixed, unsaturated rate. */
async function fixedRateLatency(bench: Bench): Promise<Measured[]> {
  const measured: Measured[] = [];
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const t of ['direct', 'gateway'] as TargetName[]) {
      measured.push(await measure(bench, 'rate-autocannon', t, s, Math.min(CFG.rateConnections, CFG.rate), { overallRate: CFG.rate }));
    }
    for (const t of ['direct', 'gateway'] as TargetName[]) {
      // fetch-based pacing; it always runs in a Bun process (Node's fetch is too heavy for this)
      measured.push(await measure(bench, 'rate-paced', t, s, 0, { paced: true, rate: CFG.rate }));
    }
  }
  return measured;
}

interface Download {
  target: TargetName;
  bytesExpected: number;
  bytesReceived: number;
  ok: boolean;
  seconds: number;
  mibPerSecond: number;
  peakRssSampledMb: number | null;
  peakRssHwmMb: number | null;
  hwmReset: boolean;
  rssBeforeMb: number | null;
  samples: number;
  error?: string;
}

/** The BENCH_BLOB_BYTES streamed download from one target, with the serving process's peak RSS. */
async function download(bench: Bench, t: TargetName): Promise<Download> {
  const url = `${base(bench, t)}/bench/blob?bytes=${CFG.blobBytes}`;
  const pid = t === 'gateway' ? bench.gateway.pid : bench.upstream.pid;
  const before = procStatus(pid);
  const hwmReset = resetPeakRss(pid);
  let peakKb = before?.rssKb ?? 0;
  let samples = 0;
  const sampler = setInterval(() => {
    const st = procStatus(pid);
    if (st) {
      samples++;
      if (st.rssKb > peakKb) peakKb = st.rssKb;
    }
  }, CFG.rssSampleMs);
  const ctl = new AbortController();
  const limitS = Math.max(120, CFG.blobBytes / (16 * 1024 * 1024)); // at worst 16 MiB/s
  const limit = setTimeout(() => ctl.abort(), limitS * 1000);
  const t0 = performance.now();
  let received = 0;
  let error: string | undefined;
  try {
    const res = await fetch(url, { headers: t === 'gateway' ? AUTH_HEADERS : {}, signal: ctl.signal, decompress: false } as RequestInit);
    if (res.status !== 200) throw new Error(`status ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
  } catch (e) {
    error = String((e as Error)?.message ?? e);
  } finally {
    clearTimeout(limit);
    clearInterval(sampler);
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = procStatus(pid);
  if (after && after.rssKb > peakKb) peakKb = after.rssKb;
  const d: Download = {
    target: t,
    bytesExpected: CFG.blobBytes,
    bytesReceived: received,
    ok: !error && received === CFG.blobBytes,
    seconds,
    mibPerSecond: received / 1048576 / seconds,
    peakRssSampledMb: mb(peakKb),
    peakRssHwmMb: hwmReset && after ? mb(after.hwmKb) : null,
    hwmReset,
    rssBeforeMb: before ? mb(before.rssKb) : null,
    samples,
    error,
  };
  log(
    `download ${pad(t, 7)} ${received} / ${CFG.blobBytes} bytes in ${f(seconds)} s (${f(d.mibPerSecond, 0)} MiB/s), ` +
      `peak RSS ${f(d.peakRssSampledMb, 1)} MB sampled, ${f(d.peakRssHwmMb, 1)} MB VmHWM` +
      (error ? `  ERROR ${error}` : ''),
  );
  return d;
}

async function streamedDownloads(bench: Bench): Promise<Download[]> {
  return [await download(bench, 'direct'), await download(bench, 'gateway')];
}

/** Counted over the whole invocation. */
interface Totals {
  auditLines: number;
  gatewayRequestsSent: number;
  upstreamStats: { signed: number } & Record<string, unknown>;
  gatewayCpuSecondsTotal: number;
}

/** After the load: the audit-line count (each gateway request should log one line), the upstream's counters, the gateway's CPU time. */
async function totals(bench: Bench, measured: Measured[], warmupGatewayRequests: number, downloads: Download[]): Promise<Totals> {
  await Bun.sleep(300);
  const gatewayRequestsSent =
    measured.filter((m) => m.target === 'gateway').reduce((a, m) => a + m.result.total, 0) +
    warmupGatewayRequests + 3 + (downloads.some((d) => d.target === 'gateway') ? 1 : 0);
  const auditLines = bench.gateway.stdoutLines() - 1; // minus the listening line
  const upstreamStats = await (await fetch(`${bench.upstreamBase}/bench/stats`)).json();
  return { auditLines, gatewayRequestsSent, upstreamStats, gatewayCpuSecondsTotal: procCpuSeconds(bench.gateway.pid) };
}

/** The profile is written when the process exits: stop it gracefully and wait (bounded). */
async function stopProfiledGateway(bench: Bench, profileDir: string): Promise<void> {
  bench.gateway.proc.kill('SIGTERM');
  await Promise.race([bench.gateway.proc.exited, Bun.sleep(15_000)]);
  log(`gateway CPU profile written to ${profileDir.replace(ROOT + '/', '')}/`);
}

// ───────────────────────────── report ─────────────────────────────
type MemoryReading = ReturnType<typeof procStatus>;

/** Everything measured, as the report and the JSON read it. */
interface Results {
  startedAt: Date;
  runs: Measured[];
  memory: { idle: MemoryReading; afterSaturated: MemoryReading; afterLoad: MemoryReading };
  downloads: Download[];
  totals: Totals;
}

interface SaturatedRatio {
  scenario: ScenarioName;
  connections: number;
  ratio: number;
  clean: boolean;
}
interface AddedLatency {
  scenario: ScenarioName;
  mode: Measured['mode'];
  directP99: number;
  gatewayP99: number;
  addedP99: number;
  addedP50: number;
  clean: boolean;
}

const find = (measured: Measured[], mode: Measured['mode'], s: ScenarioName, t: TargetName, c?: number) =>
  measured.find((m) => m.mode === mode && m.scenario === s && m.target === t && (c === undefined || m.connections === c));
const clean = (m?: Measured) => !!m && m.result.non2xx + m.result.errors + m.result.timeouts === 0 && m.result.ok2xx > 0;

/** Gateway ÷ direct req/s for each request kind and connection count, and its table. */
function saturatedComparison(measured: Measured[]): { ratios: SaturatedRatio[]; table: string } {
  const ratios: SaturatedRatio[] = [];
  const rows: string[][] = [[
    'request', 'conns', 'direct req/s', 'gateway req/s', 'ratio', 'direct p50/p99 ms', 'gateway p50/p99 ms', 'gw CPU µs/req', 'errors',
  ]];
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const c of CFG.connections) {
      const d = find(measured, 'saturated', s, 'direct', c);
      const g = find(measured, 'saturated', s, 'gateway', c);
      if (!d || !g) continue;
      const ratio = g.result.rps / d.result.rps;
      ratios.push({ scenario: s, connections: c, ratio, clean: clean(d) && clean(g) });
      const errs = [d, g].map((m) => m.result.non2xx + m.result.errors + m.result.timeouts).join('/');
      rows.push([
        SCENARIOS[s].label,
        String(c),
        f(d.result.rps, 0),
        f(g.result.rps, 0),
        f(ratio, 3) + '×',
        `${f(d.result.latencyMs?.p50)} / ${f(d.result.latencyMs?.p99)}`,
        `${f(g.result.latencyMs?.p50)} / ${f(g.result.latencyMs?.p99)}`,
        f((g.serverCpuSeconds.gateway / Math.max(1, g.result.total)) * 1e6, 0),
        errs,
      ]);
    }
  }
  return { ratios, table: table(rows, [false, true, true, true, true, true, true, true, true]) };
}

/** Gateway − direct latency at the fixed rate, both load kinds, and its table. */
function addedLatencyComparison(measured: Measured[]): { added: AddedLatency[]; table: string } {
  const added: AddedLatency[] = [];
  const rows: string[][] = [['request', 'load', 'direct p50/p99/p99.9 ms', 'gateway p50/p99/p99.9 ms', 'added p50 ms', 'added p99 ms', 'achieved req/s d/g']];
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const mode of ['rate-autocannon', 'rate-paced'] as const) {
      const d = find(measured, mode, s, 'direct');
      const g = find(measured, mode, s, 'gateway');
      if (!d?.result.latencyMs || !g?.result.latencyMs) continue;
      const a = {
        scenario: s,
        mode,
        directP99: d.result.latencyMs.p99,
        gatewayP99: g.result.latencyMs.p99,
        addedP99: g.result.latencyMs.p99 - d.result.latencyMs.p99,
        addedP50: g.result.latencyMs.p50 - d.result.latencyMs.p50,
        clean: clean(d) && clean(g),
      };
      added.push(a);
      const L = (m: Measured) => `${f(m.result.latencyMs!.p50)} / ${f(m.result.latencyMs!.p99)} / ${f(m.result.latencyMs!.p999)}`;
      rows.push([
        SCENARIOS[s].label,
        mode === 'rate-autocannon' ? 'autocannon' : 'paced',
        L(d),
        L(g),
        f(a.addedP50),
        f(a.addedP99),
        `${f(d.result.rps, 0)} / ${f(g.result.rps, 0)}`,
      ]);
    }
  }
  return { added, table: table(rows, [false, false, true, true, true, true, true]) };
}

/** Each target judged: PASS, MISS, or null (n/a) when its phase was skipped. */
function judge(ratios: SaturatedRatio[], added: AddedLatency[], downloads: Download[]) {
  const satWorst = ratios.length ? ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a)) : null;
  const satPass = satWorst ? ratios.every((r) => r.clean && r.ratio >= TARGETS.throughputRatio) : null;
  const acAdded = added.filter((a) => a.mode === 'rate-autocannon');
  const pacedAdded = added.filter((a) => a.mode === 'rate-paced');
  const worstOf = (xs: typeof added) => (xs.length ? xs.reduce((a, b) => (b.addedP99 > a.addedP99 ? b : a)) : null);
  const acWorst = worstOf(acAdded);
  const pacedWorst = worstOf(pacedAdded);
  const addedPass = acWorst ? acAdded.every((a) => a.clean && a.addedP99 < TARGETS.addedP99Ms) : null;
  const pacedPass = pacedWorst ? pacedAdded.every((a) => a.clean && a.addedP99 < TARGETS.addedP99Ms) : null;
  const gwDl = downloads.find((d) => d.target === 'gateway');
  const peakDl = gwDl ? Math.max(gwDl.peakRssSampledMb ?? 0, gwDl.peakRssHwmMb ?? 0) : null;
  const rssPass = gwDl ? gwDl.ok && peakDl! < TARGETS.downloadRssMb : null;
  return { satWorst, satPass, acWorst, pacedWorst, addedPass, pacedPass, gwDl, peakDl, rssPass };
}
type Verdict = ReturnType<typeof judge>;

function memoryLines(results: Results, gwDl: Download | undefined): string[] {
  const { idle, afterSaturated, afterLoad } = results.memory;
  const { auditLines, gatewayRequestsSent, upstreamStats } = results.totals;
  const dDl = results.downloads.find((d) => d.target === 'direct');
  const out: string[] = [];
  out.push('');
  out.push('Gateway memory (from /proc/<pid>/status)');
  out.push(`  idle after start:          VmRSS ${f(idle ? mb(idle.rssKb) : NaN, 1)} MB`);
  if (afterSaturated) out.push(`  after saturated runs:      VmRSS ${f(mb(afterSaturated.rssKb), 1)} MB, peak so far (VmHWM) ${f(mb(afterSaturated.hwmKb), 1)} MB`);
  if (afterLoad) out.push(`  after all load runs:       VmRSS ${f(mb(afterLoad.rssKb), 1)} MB, peak so far (VmHWM) ${f(mb(afterLoad.hwmKb), 1)} MB`);
  if (gwDl) {
    out.push(
      `  streaming ${CFG.blobBytes} bytes: ${gwDl.ok ? 'all bytes received' : `FAILED (${gwDl.bytesReceived} bytes${gwDl.error ? ', ' + gwDl.error : ''})`}, ` +
        `${f(gwDl.mibPerSecond, 0)} MiB/s through the gateway vs ${f(dDl?.mibPerSecond, 0)} MiB/s direct; ` +
        `gateway RSS before ${f(gwDl.rssBeforeMb, 1)} MB, peak ${f(gwDl.peakRssSampledMb, 1)} MB (${gwDl.samples} samples every ${CFG.rssSampleMs} ms)` +
        (gwDl.hwmReset ? `, VmHWM since reset ${f(gwDl.peakRssHwmMb, 1)} MB` : ''),
    );
  }
  out.push(
    `  audit: ${auditLines} stdout lines after the listening line, for ${gatewayRequestsSent} completed gateway requests ` +
      `(requests still in flight when a run ends are logged but not counted); upstream saw ${upstreamStats.signed} SigV4-signed requests`,
  );
  return out;
}

function targetLines(v: Verdict): string[] {
  const { satWorst, satPass, acWorst, pacedWorst, addedPass, pacedPass, gwDl, peakDl, rssPass } = v;
  return [
    '',
    'Targets',
    `  ${mark(satPass)}  throughput ≥ ${TARGETS.throughputRatio.toFixed(2)}× direct, with signing: worst ratio ` +
      (satWorst ? `${f(satWorst.ratio, 3)}× (${SCENARIOS[satWorst.scenario].label}, ${satWorst.connections} conns)` : '–'),
    `  ${mark(addedPass)}  p99 added < ${TARGETS.addedP99Ms} ms at ${CFG.rate} req/s (autocannon overallRate): worst ` +
      (acWorst ? `${f(acWorst.addedP99)} ms (${SCENARIOS[acWorst.scenario].label})` : '–') +
      (pacedWorst ? `; paced: ${mark(pacedPass).trim()} ${f(pacedWorst.addedP99)} ms (${SCENARIOS[pacedWorst.scenario].label})` : ''),
    `  ${mark(rssPass)}  gateway RSS < ${TARGETS.downloadRssMb} MB while streaming ${CFG.blobBytes} bytes: peak ${f(peakDl, 1)} MB` +
      (gwDl && !gwDl.ok ? ' (download incomplete)' : ''),
  ];
}

/** The printed report (stdout); the skipped phases' tables are left out. */
function reportText(results: Results, saturated: ReturnType<typeof saturatedComparison>, addedLatency: ReturnType<typeof addedLatencyComparison>, verdict: Verdict): string {
  const out: string[] = [];
  out.push('');
  out.push(`sagemaker-mlflow-proxy benchmark — ${results.startedAt.toISOString()}`);
  out.push(
    `bun ${Bun.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), client: autocannon in ${CFG.client === 'inproc' ? 'this bun process' : `a separate ${CFG.client} process`}, ` +
      `${CFG.seconds} s per run; client, gateway and upstream share the machine — compare ratios, not absolutes.`,
  );
  if (!CFG.skip.has('saturated')) {
    out.push('');
    out.push('Saturated throughput (autocannon, keep-alive, 1 request in flight per connection)');
    out.push(saturated.table);
  }
  if (!CFG.skip.has('rate')) {
    out.push('');
    out.push(`Added latency at a fixed ${CFG.rate} req/s (well below saturation)`);
    out.push(
      `  autocannon overallRate, ${Math.min(CFG.rateConnections, CFG.rate)} connections: each connection sends its per-second quota back to back at the top of each second (bursty);`,
    );
    out.push('  paced: fetch from Bun, one request every 1/rate s, evenly spread (open loop).');
    out.push(addedLatency.table);
  }
  out.push(...memoryLines(results, verdict.gwDl));
  out.push(...targetLines(verdict));
  return out.join('\n');
}

/** BENCH_OUT (bench/results/latest.json): the same numbers as the report, and every run. */
function writeResults(results: Results, ratios: SaturatedRatio[], added: AddedLatency[], verdict: Verdict): void {
  const { satWorst, satPass, acWorst, pacedWorst, addedPass, pacedPass, peakDl, rssPass } = verdict;
  const json = {
    startedAt: results.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, bun: Bun.version },
    config: { ...CFG, skip: [...CFG.skip], gatewayEntry: CFG.gatewayEntry.replace(ROOT + '/', ''), out: CFG.out.replace(ROOT + '/', '') },
    targets: TARGETS,
    results: {
      saturated: ratios,
      addedLatency: added,
      runs: results.runs,
      memory: { ...results.memory, unitsKb: true },
      downloads: results.downloads,
      ...results.totals,
    },
    verdict: {
      throughput: { pass: satPass, worstRatio: satWorst?.ratio ?? null },
      addedP99: { pass: addedPass, worstMs: acWorst?.addedP99 ?? null, pacedPass, pacedWorstMs: pacedWorst?.addedP99 ?? null },
      downloadRss: { pass: rssPass, peakMb: peakDl },
    },
  };
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify(json, null, 2) + '\n');
  log(`results written to ${CFG.out.replace(ROOT + '/', '')}`);
}

// ───────────────────────────── main ─────────────────────────────
async function main() {
  const startedAt = new Date();
  armOverallTimeLimit();
  const bench = await startServers();
  await Bun.sleep(500);
  const idle = procStatus(bench.gateway.pid);

  await sanityCheck(bench);
  const warmupGatewayRequests = await warmUp(bench);
  const saturatedRuns = CFG.skip.has('saturated') ? [] : await saturatedThroughput(bench);
  const afterSaturated = procStatus(bench.gateway.pid);
  const rateRuns = CFG.skip.has('rate') ? [] : await fixedRateLatency(bench);
  const afterLoad = procStatus(bench.gateway.pid);
  const downloads = CFG.skip.has('download') ? [] : await streamedDownloads(bench);
  const runs = [...saturatedRuns, ...rateRuns];
  const results: Results = {
    startedAt,
    runs,
    memory: { idle, afterSaturated, afterLoad },
    downloads,
    totals: await totals(bench, runs, warmupGatewayRequests, downloads),
  };
  if (CFG.profileDir) await stopProfiledGateway(bench, CFG.profileDir);

  const saturated = saturatedComparison(runs);
  const addedLatency = addedLatencyComparison(runs);
  const verdict = judge(saturated.ratios, addedLatency.added, downloads);
  console.log(reportText(results, saturated, addedLatency, verdict));
  writeResults(results, saturated.ratios, addedLatency.added, verdict);
}

runMain(main);
