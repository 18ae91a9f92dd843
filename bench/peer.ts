// The peer comparison: the gateway against the floor (a bare Bun pass-through, bench/floor.ts) and
// against aws-sigv4-proxy (the AWS Labs Go proxy, built from source at a pinned version), both in
// front of the same stand-in upstream (bench/upstream.ts), in one invocation.
//
//   bun bench/peer.ts                  about 6 minutes with the defaults; npm run bench:peer
//   bun bench/peer.ts --write-readme   the same, then rewrites bench/README.md's results section
//
// Systems, measured round-robin (every round runs each system once per request kind and connection
// count, so a neighbour's burst on this shared machine hits all of them alike), medians of the rounds:
//   direct    the upstream itself (the client's and upstream's ceiling)
//   floor     bench/floor.ts: Bun.serve + fetch, no signing
//   gateway   bun src/main.ts serve (API-key auth, SigV4 for a tracking server, audit lines on)
//   peer      aws-sigv4-proxy, SigV4 only (no client auth, no allowlist, no audit)
//   baseline  only with BENCH_BASELINE_ENTRY: the gateway from another checkout, for paired before/after
//
// CPU µs/request is read from each server process's own accounting (/proc/PID/stat, all threads)
// over each run; RSS from /proc/PID/status. Latency is measured at a steady BENCH_RATE req/s with an
// open-loop paced fetch client (bench/load-worker.mjs runPaced); "added" is system p99 − direct p99.
// Cold start: spawn → first proxied 200, for the source, the compiled executable (when
// dist/sagemaker-mlflow-proxy exists, or BENCH_EXECUTABLE) and the peer.
//
// Environment (all optional):
//   BENCH_SECONDS=3  BENCH_ROUNDS=3  BENCH_CONNECTIONS=1,32,128  BENCH_RATE=1000  BENCH_PACED_SECONDS=4
//   BENCH_COLD_STARTS=5  BENCH_SKIP=saturated,paced,cold  BENCH_OUT=bench/results/peer.json
//   BENCH_GATEWAY_ENTRY=src/main.ts  BENCH_BASELINE_ENTRY=/other/checkout/src/main.ts
//   BENCH_EXECUTABLE=dist/sagemaker-mlflow-proxy
//   BENCH_PEER_BIN=path   a built aws-sigv4-proxy (default .cache/peer/aws-sigv4-proxy-<PEER_VERSION>);
//                         without one the peer is left out of the run (see ensurePeer for why)
//   BENCH_SYSTEMS=gateway,baseline   only these systems (the others still start)
//   BENCH_PROFILE=1       run the gateway under `bun --cpu-prof-md` (bench/results/profile/)
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  atCleanup, awsEnv, baseEnv, BENCH_ARN, cleanup, f, freePort, gatewayRules, LoadWorker, log, mb, median, procCpuSeconds, procStatus,
  ROOT, SCENARIOS, startChild, table, type Child, type LoadResult, type ScenarioName,
  envList, envNumber, runMain, GATEWAY_RUNTIME_ENV, writeReadmeSection
} from './lib.ts';

export const PEER_VERSION = 'v1.11.1';

// ───────────────────────────── configuration ─────────────────────────────
const env = process.env;
const num = envNumber;
const CFG = {
  seconds: num('BENCH_SECONDS', 3),
  rounds: num('BENCH_ROUNDS', 3),
  connections: envList('BENCH_CONNECTIONS', '1,32,128').map(Number).filter((n) => n > 0),
  rate: num('BENCH_RATE', 1000),
  pacedSeconds: num('BENCH_PACED_SECONDS', 4),
  coldStarts: num('BENCH_COLD_STARTS', 5),
  skip: new Set(envList('BENCH_SKIP', '')),
  out: resolve(ROOT, env.BENCH_OUT ?? 'bench/results/peer.json'),
  gatewayEntry: resolve(ROOT, env.BENCH_GATEWAY_ENTRY ?? 'src/main.ts'),
  baselineEntry: env.BENCH_BASELINE_ENTRY ? resolve(env.BENCH_BASELINE_ENTRY) : null,
  executable: resolve(ROOT, env.BENCH_EXECUTABLE ?? 'dist/sagemaker-mlflow-proxy'),
  peerBin: resolve(ROOT, env.BENCH_PEER_BIN ?? `.cache/peer/aws-sigv4-proxy-${PEER_VERSION}`),
  profileDir: env.BENCH_PROFILE && env.BENCH_PROFILE !== '0' ? resolve(ROOT, 'bench/results/profile') : null,
  writeReadme: process.argv.includes('--write-readme'),
  /** Which systems to run (default all); e.g. `gateway,baseline` for a quick paired before/after. */
  systems: env.BENCH_SYSTEMS ? new Set(env.BENCH_SYSTEMS.split(',').map((s) => s.trim())) : null,
};
const BUN = process.execPath;
const API_KEY = 'bench-' + randomBytes(24).toString('hex');
const AUTH = { authorization: `Bearer ${API_KEY}` };
const SAGEMAKER_HOST = 'mlflow.sagemaker.us-east-1.app.aws';

// Issue 21's goals.
const GOALS = {
  cpuToFloor: 2.0, // gateway CPU µs/req ≤ 2 × the floor's, GET and POST, at c=32
  // gateway req/s ≥ these × aws-sigv4-proxy's: 1.2 at one connection, 1.5 at 32 and 128
  throughputToPeer: (connections: number) => (connections === 1 ? 1.2 : 1.5),
  addedP99OverFloorMs: 1, // gateway's added p99 ≤ the floor's + 1 ms at BENCH_RATE req/s
  coldStartMs: 100, // the executable's first proxied 200 within 100 ms of spawn
};

type SystemName = 'direct' | 'floor' | 'gateway' | 'baseline' | 'peer';
interface System {
  name: SystemName;
  child: Child; // the process whose CPU is counted (direct: the upstream)
  base: string;
  headers: Record<string, string>;
}

// ───────────────────────────── the peer ─────────────────────────────
/**
 * The peer binary, or null when there is none. It is not built here: the Go module proxy cannot
 * serve it (its go.mod names the module `aws-sigv4-proxy`, not its repository path, so `go install
 * github.com/awslabs/aws-sigv4-proxy@VERSION` is refused for every version), and this repository
 * carries no recipe that builds another project's source. Build it from its repository (it vendors
 * its dependencies: `go build ./cmd/aws-sigv4-proxy` at the tag) and pass it as BENCH_PEER_BIN.
 */
function ensurePeer(): string | null {
  if (existsSync(CFG.peerBin)) return CFG.peerBin;
  log(`no aws-sigv4-proxy ${PEER_VERSION} at ${CFG.peerBin} (set BENCH_PEER_BIN): the peer is left out of this run`);
  return null;
}

/**
 * aws-sigv4-proxy takes the upstream from the request's Host by default (and https): `--host` and
 * `--upstream-url-scheme` pin it to the loopback upstream; `--name`/`--region` set the signing scope
 * (without them it derives the service from the Host), `--sign-host` the Host it signs (SageMaker's),
 * and the routing header is added as a custom header (which it adds after signing, unsigned).
 */
function peerCommand(bin: string, port: number, upstreamPort: number): string[] {
  return [
    bin, '--port', `127.0.0.1:${port}`, '--host', `127.0.0.1:${upstreamPort}`, '--upstream-url-scheme', 'http',
    '--name', 'sagemaker', '--region', 'us-east-1', '--sign-host', SAGEMAKER_HOST,
    '--custom-headers', `x-mlflow-sm-tracking-server-arn=${BENCH_ARN}`,
  ];
}

// ───────────────────────────── start ─────────────────────────────
let tmp = '';
let emptyAws = '';
function gatewayCommand(entry: string, rulesFile: string, profile = false): string[] {
  const profileFlags = profile && CFG.profileDir ? ['--cpu-prof-md', `--cpu-prof-dir=${CFG.profileDir}`] : [];
  // An executable runs itself; a source or bundle entry runs under this Bun.
  return entry.endsWith('.ts') || entry.endsWith('.js') ? [BUN, ...profileFlags, entry, 'serve', '--rules', rulesFile] : [entry, 'serve', '--rules', rulesFile];
}
// The gateway as it runs in production (GATEWAY_RUNTIME_ENV); the floor and the peer as they are.
const gatewayEnvFor = () => ({ ...baseEnv(tmp), ...awsEnv(emptyAws), ...GATEWAY_RUNTIME_ENV });

async function startSystems(): Promise<{ systems: System[]; upstream: Child; peerBin: string | null }> {
  tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-peer-bench-'));
  atCleanup(() => rmSync(tmp, { recursive: true, force: true }));
  emptyAws = join(tmp, 'aws-empty');
  writeFileSync(emptyAws, '');
  const upstream = await startChild('upstream', [BUN, join(import.meta.dir, 'upstream.ts')], { cwd: tmp, env: baseEnv(tmp) });
  const upstreamBase = `http://127.0.0.1:${upstream.port}`;
  const systems: System[] = [{ name: 'direct', child: upstream, base: upstreamBase, headers: {} }];
  const floor = await startChild('floor', [BUN, join(import.meta.dir, 'floor.ts'), upstreamBase], { cwd: tmp, env: baseEnv(tmp) });
  systems.push({ name: 'floor', child: floor, base: `http://127.0.0.1:${floor.port}`, headers: {} });
  const rulesFile = join(tmp, 'rules.yaml');
  writeFileSync(rulesFile, gatewayRules(upstreamBase, API_KEY));
  if (CFG.profileDir) mkdirSync(CFG.profileDir, { recursive: true });
  const gateway = await startChild('gateway', gatewayCommand(CFG.gatewayEntry, rulesFile, true), { cwd: tmp, env: gatewayEnvFor() });
  systems.push({ name: 'gateway', child: gateway, base: `http://127.0.0.1:${gateway.port}`, headers: AUTH });
  if (CFG.baselineEntry) {
    const baseline = await startChild('baseline', gatewayCommand(CFG.baselineEntry, rulesFile), { cwd: tmp, env: gatewayEnvFor() });
    systems.push({ name: 'baseline', child: baseline, base: `http://127.0.0.1:${baseline.port}`, headers: AUTH });
  }
  const peerBin = ensurePeer();
  if (peerBin) {
    const port = freePort();
    const peer = await startChild('peer', peerCommand(peerBin, port, upstream.port), {
      cwd: tmp,
      env: { ...baseEnv(tmp), ...awsEnv(emptyAws) },
      port,
      readyUrl: `http://127.0.0.1:${port}/bench/stats`,
    });
    systems.push({ name: 'peer', child: peer, base: `http://127.0.0.1:${port}`, headers: {} });
  }
  return { systems, upstream, peerBin };
}

/** Every system answers both requests as the upstream does, and the signing ones really sign. */
async function sanityCheck(systems: System[], upstreamBase: string): Promise<void> {
  for (const sys of systems) {
    const before = await (await fetch(`${upstreamBase}/bench/stats`)).json();
    for (const [name, sc] of Object.entries(SCENARIOS)) {
      const direct = await (await fetch(upstreamBase + sc.path, { method: sc.method, headers: sc.headers, body: sc.body })).text();
      const res = await fetch(sys.base + sc.path, { method: sc.method, headers: { ...sc.headers, ...sys.headers }, body: sc.body });
      const text = await res.text();
      if (res.status !== 200 || text !== direct) {
        throw new Error(`sanity: ${sys.name} ${name} answered ${res.status}: ${text.slice(0, 300)}\n${sys.child.stderrTail()}`);
      }
    }
    const after = await (await fetch(`${upstreamBase}/bench/stats`)).json();
    const signed = after.signed - before.signed;
    const shouldSign = sys.name === 'gateway' || sys.name === 'baseline' || sys.name === 'peer';
    if (shouldSign && signed < 2) throw new Error(`sanity: the upstream saw ${signed} SigV4-signed requests from ${sys.name}; expected 2`);
  }
  log(`sanity OK: ${systems.map((s) => s.name).join(', ')} answer like the upstream; gateway and peer sign`);
}

// ───────────────────────────── runs ─────────────────────────────
interface Run {
  round: number;
  system: SystemName;
  scenario: ScenarioName;
  connections: number; // 0 for paced
  mode: 'saturated' | 'paced';
  result: LoadResult;
  cpuUsPerRequest: number;
}
let autocannon: LoadWorker | null = null;
let paced: LoadWorker | null = null;

async function measure(sys: System, s: ScenarioName, mode: Run['mode'], connections: number, round: number): Promise<Run> {
  const sc = SCENARIOS[s];
  const job = {
    url: sys.base + sc.path,
    method: sc.method,
    headers: { ...sc.headers, ...sys.headers },
    body: sc.body,
    connections,
    duration: mode === 'paced' ? CFG.pacedSeconds : CFG.seconds,
    ...(mode === 'paced' ? { paced: true, rate: CFG.rate } : {}),
  };
  // autocannon in one persistent Node process (least client CPU per request; bench/README.md);
  // the paced client uses fetch, far cheaper on Bun than on Node.
  const worker = mode === 'paced' ? (paced ??= new LoadWorker(BUN)) : (autocannon ??= new LoadWorker(Bun.which('node') ? 'node' : BUN));
  const cpu0 = procCpuSeconds(sys.child.pid);
  const result = await worker.run(job);
  const cpu = procCpuSeconds(sys.child.pid) - cpu0;
  if (sys.child.exited) throw new Error(`${sys.name} exited during a run:\n${sys.child.stderrTail()}`);
  const bad = result.non2xx + result.errors + result.timeouts;
  const run: Run = { round, system: sys.name, scenario: s, connections, mode, result, cpuUsPerRequest: (cpu / Math.max(1, result.total)) * 1e6 };
  log(
    `r${round} ${mode.padEnd(9)} ${sc.label.padEnd(21)} ${sys.name.padEnd(8)} c=${String(connections).padStart(3)} ` +
      `${f(result.rps, 0).padStart(6)} req/s  ${f(run.cpuUsPerRequest, 0).padStart(4)} µs CPU/req  p99 ${f(result.latencyMs?.p99)} ms` +
      (bad ? `  (${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts)` : ''),
  );
  return run;
}

async function warmUp(systems: System[]): Promise<void> {
  for (const sys of systems) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    const sc = SCENARIOS[s];
    await (autocannon ??= new LoadWorker(Bun.which('node') ? 'node' : BUN)).run({
      url: sys.base + sc.path, method: sc.method, headers: { ...sc.headers, ...sys.headers }, body: sc.body, connections: 32, duration: 2,
    });
  }
  log('warm-up done');
}

async function rounds(systems: System[]): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 1; round <= CFG.rounds; round++) {
    if (!CFG.skip.has('saturated')) {
      for (const s of Object.keys(SCENARIOS) as ScenarioName[]) for (const c of CFG.connections) for (const sys of systems) runs.push(await measure(sys, s, 'saturated', c, round));
    }
    if (!CFG.skip.has('paced')) {
      for (const s of Object.keys(SCENARIOS) as ScenarioName[]) for (const sys of systems) runs.push(await measure(sys, s, 'paced', 0, round));
    }
  }
  return runs;
}

// ───────────────────────────── cold start ─────────────────────────────
interface ColdStart {
  target: string;
  /** Median ms from spawn to the first 200 proxied through it (GET experiments/get). */
  firstProxiedMs: number;
  samples: number[];
}

/** Spawn → first 200 through it, polling every 2 ms; the process is killed after. */
async function coldStartOnce(cmd: string[], port: number, headers: Record<string, string>, childEnv: Record<string, string>): Promise<number> {
  const url = `http://127.0.0.1:${port}${SCENARIOS.get.path}`;
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { cwd: tmp, env: childEnv, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
  try {
    while (performance.now() - t0 < 10_000) {
      try {
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status === 200) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      if (proc.exitCode !== null) throw new Error(`${cmd[0]} exited (${proc.exitCode}) before answering`);
      await Bun.sleep(2);
    }
    throw new Error(`${cmd.join(' ')}: no 200 within 10 s`);
  } finally {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}

async function coldStarts(upstream: Child, peerBin: string | null): Promise<ColdStart[]> {
  const upstreamBase = `http://127.0.0.1:${upstream.port}`;
  const targets: Array<{ target: string; start: (port: number) => string[]; headers: Record<string, string> }> = [];
  const gatewayFor = (entry: string) => (port: number) => {
    const rulesFile = join(tmp, `rules-${port}.yaml`);
    writeFileSync(rulesFile, gatewayRules(upstreamBase, API_KEY, port));
    return gatewayCommand(entry, rulesFile);
  };
  targets.push({ target: `bun ${CFG.gatewayEntry.replace(ROOT + '/', '')}`, start: gatewayFor(CFG.gatewayEntry), headers: AUTH });
  if (existsSync(CFG.executable)) targets.push({ target: `executable ${CFG.executable.replace(ROOT + '/', '')}`, start: gatewayFor(CFG.executable), headers: AUTH });
  else log(`no executable at ${CFG.executable} (npm run build): its cold start is left out`);
  if (peerBin) targets.push({ target: `aws-sigv4-proxy ${PEER_VERSION}`, start: (port) => peerCommand(peerBin, port, upstream.port), headers: {} });
  const samples = new Map<string, number[]>(targets.map((t) => [t.target, []]));
  for (let i = 0; i < CFG.coldStarts; i++) {
    for (const t of targets) {
      const port = freePort();
      samples.get(t.target)!.push(await coldStartOnce(t.start(port), port, t.headers, gatewayEnvFor()));
    }
  }
  const out = targets.map((t) => ({ target: t.target, samples: samples.get(t.target)!, firstProxiedMs: median(samples.get(t.target)!) }));
  for (const c of out) log(`cold start ${c.target}: ${f(c.firstProxiedMs, 0)} ms to the first proxied 200 (${c.samples.map((x) => x.toFixed(0)).join(', ')})`);
  return out;
}

// ───────────────────────────── report ─────────────────────────────
interface Summary {
  system: SystemName;
  scenario: ScenarioName;
  connections: number;
  rps: number;
  cpuUs: number;
  p99: number;
  errors: number;
}
function summarise(runs: Run[], mode: Run['mode']): Summary[] {
  const out: Summary[] = [];
  const keys = new Set(runs.filter((r) => r.mode === mode).map((r) => `${r.system}|${r.scenario}|${r.connections}`));
  for (const key of keys) {
    const [system, scenario, c] = key.split('|') as [SystemName, ScenarioName, string];
    const rs = runs.filter((r) => r.mode === mode && r.system === system && r.scenario === scenario && r.connections === Number(c));
    out.push({
      system,
      scenario,
      connections: Number(c),
      rps: median(rs.map((r) => r.result.rps)),
      cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
      p99: median(rs.map((r) => r.result.latencyMs?.p99 ?? NaN)),
      errors: rs.reduce((a, r) => a + r.result.non2xx + r.result.errors + r.result.timeouts, 0),
    });
  }
  return out;
}

interface Report {
  markdown: string;
  goals: Array<{ goal: string; met: boolean | null; detail: string }>;
}

function report(runs: Run[], cold: ColdStart[], memory: Record<string, { rssMb: number; peakMb: number } | null>, systems: SystemName[], started: Date): Report {
  const sat = summarise(runs, 'saturated');
  const pac = summarise(runs, 'paced');
  const get = (xs: Summary[], sys: SystemName, s: ScenarioName, c: number) => xs.find((x) => x.system === sys && x.scenario === s && x.connections === c);
  const lines: string[] = [];
  const rows: string[][] = [['c', 'system', 'GET req/s', '× direct', 'CPU µs/req', 'POST req/s', '× direct', 'CPU µs/req', 'errors']];
  for (const c of CFG.connections) for (const sys of systems) {
    const g = get(sat, sys, 'get', c);
    const p = get(sat, sys, 'post', c);
    const dg = get(sat, 'direct', 'get', c);
    const dp = get(sat, 'direct', 'post', c);
    if (!g && !p) continue;
    rows.push([String(c), sys, f(g?.rps, 0), f(g && dg ? g.rps / dg.rps : NaN, 3), f(g?.cpuUs, 0), f(p?.rps, 0), f(p && dp ? p.rps / dp.rps : NaN, 3), f(p?.cpuUs, 0), String((g?.errors ?? 0) + (p?.errors ?? 0))]);
  }
  const mdTable = (rs: string[][]) => [`| ${rs[0]!.join(' | ')} |`, `|${rs[0]!.map(() => '---').join('|')}|`, ...rs.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const goals: Report['goals'] = [];
  if (sat.length) {
    lines.push(`Saturated throughput (autocannon from Node, keep-alive, one request in flight per connection; ${CFG.seconds} s runs, median of ${CFG.rounds} rounds). CPU µs/req is the server process's own (for direct: the upstream's).`, '', mdTable(rows), '');
    const ratioRows: string[][] = [['c', 'request', 'gateway CPU ÷ floor', 'gateway req/s ÷ peer', 'gateway CPU ÷ peer']];
    for (const c of CFG.connections) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
      const g = get(sat, 'gateway', s, c), fl = get(sat, 'floor', s, c), pe = get(sat, 'peer', s, c);
      ratioRows.push([String(c), SCENARIOS[s].label, f(g && fl ? g.cpuUs / fl.cpuUs : NaN), f(g && pe ? g.rps / pe.rps : NaN), f(g && pe ? g.cpuUs / pe.cpuUs : NaN)]);
    }
    lines.push(mdTable(ratioRows), '');
    for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
      const g = get(sat, 'gateway', s, 32), fl = get(sat, 'floor', s, 32);
      const r = g && fl ? g.cpuUs / fl.cpuUs : NaN;
      goals.push({ goal: `CPU ≤ ${GOALS.cpuToFloor}× floor, ${SCENARIOS[s].label}, c=32`, met: Number.isFinite(r) ? r <= GOALS.cpuToFloor : null, detail: `${f(g?.cpuUs, 0)} vs ${f(fl?.cpuUs, 0)} µs: ${f(r)}×` });
    }
    for (const c of CFG.connections) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
      const g = get(sat, 'gateway', s, c), pe = get(sat, 'peer', s, c);
      const r = g && pe ? g.rps / pe.rps : NaN;
      goals.push({ goal: `req/s ≥ ${GOALS.throughputToPeer(c)}× aws-sigv4-proxy, ${SCENARIOS[s].label}, c=${c}`, met: Number.isFinite(r) ? r >= GOALS.throughputToPeer(c) : null, detail: `${f(g?.rps, 0)} vs ${f(pe?.rps, 0)}: ${f(r)}×` });
    }
  }
  if (pac.length) {
    const prow: string[][] = [['system', 'GET p99 ms', 'added p99 ms', 'POST p99 ms', 'added p99 ms']];
    for (const sys of systems) {
      const g = get(pac, sys, 'get', 0), p = get(pac, sys, 'post', 0);
      const dg = get(pac, 'direct', 'get', 0), dp = get(pac, 'direct', 'post', 0);
      prow.push([sys, f(g?.p99), sys === 'direct' ? '' : f(g && dg ? g.p99 - dg.p99 : NaN), f(p?.p99), sys === 'direct' ? '' : f(p && dp ? p.p99 - dp.p99 : NaN)]);
    }
    lines.push(`Latency at a steady ${CFG.rate} req/s (open-loop paced fetch client on Bun, ${CFG.pacedSeconds} s per run, median of ${CFG.rounds} rounds); added = system p99 − direct p99.`, '', mdTable(prow), '');
    for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
      const g = get(pac, 'gateway', s, 0), fl = get(pac, 'floor', s, 0), d = get(pac, 'direct', s, 0);
      const over = g && fl ? g.p99 - fl.p99 : NaN;
      goals.push({ goal: `added p99 ≤ floor's + ${GOALS.addedP99OverFloorMs} ms, ${SCENARIOS[s].label}`, met: Number.isFinite(over) ? over <= GOALS.addedP99OverFloorMs : null, detail: `gateway +${f(g && d ? g.p99 - d.p99 : NaN)} ms, floor +${f(fl && d ? fl.p99 - d.p99 : NaN)} ms: ${f(over)} ms more` });
    }
  }
  const memRows: string[][] = [['system', 'RSS after load MB', 'peak RSS MB']];
  for (const sys of systems) if (memory[sys]) memRows.push([sys, f(memory[sys]!.rssMb, 1), f(memory[sys]!.peakMb, 1)]);
  lines.push('Memory of each server process after the runs (/proc/PID/status VmRSS, VmHWM).', '', mdTable(memRows), '');
  if (cold.length) {
    lines.push(`Cold start: spawn → the first proxied 200 (GET experiments/get, polled every 2 ms), median of ${CFG.coldStarts} interleaved starts.`, '', mdTable([['target', 'first proxied 200 ms', 'samples'], ...cold.map((c) => [c.target, f(c.firstProxiedMs, 0), c.samples.map((x) => x.toFixed(0)).join(', ')])]), '');
    const exe = cold.find((c) => c.target.startsWith('executable'));
    goals.push({ goal: `executable's first proxied 200 ≤ ${GOALS.coldStartMs} ms`, met: exe ? exe.firstProxiedMs <= GOALS.coldStartMs : null, detail: exe ? `${f(exe.firstProxiedMs, 0)} ms` : 'no executable built' });
  }
  lines.push('Goals', '', mdTable([['goal', 'met', 'measured'], ...goals.map((g) => [g.goal, g.met === null ? 'n/a' : g.met ? 'PASS' : 'MISS', g.detail])]), '');
  const cpu = cpus();
  const header = [
    `Run ${started.toISOString()} with \`bun bench/peer.ts\` (${process.argv.slice(2).join(' ') || 'defaults'}): ${cpu.length} CPUs (\`nproc\`), ${cpu[0]?.model ?? '?'}, ` +
      `bun ${Bun.version}, aws-sigv4-proxy ${PEER_VERSION} (Go ${goVersion()}); load average at start ${loadAverage()}. Client, servers and upstream share the machine: ` +
      'compare within this table, not with another run.',
    '',
  ];
  return { markdown: [...header, ...lines].join('\n'), goals };
}

function goVersion(): string {
  const r = Bun.spawnSync(['go', 'env', 'GOVERSION'], { stdout: 'pipe', stderr: 'ignore' });
  return r.exitCode === 0 ? r.stdout.toString().trim().replace(/^go/, '') : '?';
}
let loadAtStart = '';
function loadAverage(): string {
  return loadAtStart;
}

const README_START = '<!-- peer-results:start (written by `bun bench/peer.ts --write-readme`; do not edit by hand) -->';
const README_END = '<!-- peer-results:end -->';

// ───────────────────────────── main ─────────────────────────────
async function main() {
  const started = new Date();
  loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const runsPlanned = CFG.rounds * 2 * (CFG.connections.length * 5 + 5);
  const limitS = runsPlanned * (Math.max(CFG.seconds, CFG.pacedSeconds) + 10) + CFG.coldStarts * 3 * 12 + 300;
  setTimeout(() => {
    console.error(`bench: overall time limit (${limitS} s) reached, stopping`);
    cleanup();
    process.exit(2);
  }, limitS * 1000).unref();

  const started_ = await startSystems();
  const { upstream, peerBin } = started_;
  const systems = started_.systems.filter((s) => !CFG.systems || CFG.systems.has(s.name));
  await sanityCheck(systems, `http://127.0.0.1:${upstream.port}`);
  await warmUp(systems);
  const runs = await rounds(systems);
  const memory: Record<string, { rssMb: number; peakMb: number } | null> = {};
  for (const sys of systems) {
    const st = procStatus(sys.child.pid);
    memory[sys.name] = st ? { rssMb: mb(st.rssKb), peakMb: mb(st.hwmKb) } : null;
  }
  const gateway = systems.find((s) => s.name === 'gateway')!;
  if (CFG.profileDir) {
    gateway.child.proc.kill('SIGINT'); // SIGINT skips the drain period; the profile is written at exit
    await Promise.race([gateway.child.proc.exited, Bun.sleep(15_000)]);
    log(`gateway CPU profile written to ${CFG.profileDir.replace(ROOT + '/', '')}/`);
  }
  const cold = CFG.skip.has('cold') ? [] : await coldStarts(upstream, peerBin);
  const { markdown, goals } = report(runs, cold, memory, systems.map((s) => s.name), started);
  console.log(`\n${markdown}`);
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify({ startedAt: started.toISOString(), machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, bun: Bun.version, load: loadAtStart }, config: { ...CFG, skip: [...CFG.skip] }, goals, runs, cold, memory }, null, 2) + '\n');
  log(`results written to ${CFG.out.replace(ROOT + '/', '')}`);
  if (CFG.writeReadme) writeReadmeSection(markdown, README_START, README_END);
}

if (import.meta.main) runMain(main);
