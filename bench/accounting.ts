// The accounting: where the gateway's CPU per request goes, from the floor up, one piece at a time,
// in one run. A ladder of servers in front of the same stand-in upstream (bench/upstream.ts):
//
//   floor     bench/floor.ts: Bun.serve + fetch (the least a Bun proxy costs)
//   app       + the gateway's listener and Elysia app                   (bench/ladder.ts app)
//   forward   + the request scope, the stage chain and the forward stage (bench/ladder.ts forward)
//   audit     + the audit line, the error page, the framing check        (bench/ladder.ts audit)
//   policy    + authentication, rewrite, body budget, authorization, header selection
//   sign      + SigV4 (the body read and hashed): stagesFor's list exactly, through createApp
//   gateway   `bun src/main.ts serve` itself: + what main.ts wraps around the app
//
// Every rung is the real code; each step is the difference between neighbouring rungs, so the
// steps add up to gateway − floor by construction, and what would otherwise stay unexplained is in
// a named step. Beside the CPU (each process's own /proc accounting), each rung's garbage-collection
// time per request and its JavaScript allocation per request, from the collector's own log
// (JavaScriptCore's logGC, bench/lib.ts gcLog), and its resident memory.
//
// Two passes. CPU: every rung as it runs in production, measured round-robin (every round runs each
// rung once per request kind and connection count, so a neighbour's burst on a shared machine
// falls on all of them alike), medians of the rounds; GC time comes from these runs. Allocation:
// each rung again, alone, with Bun's collection timer off so that every collection is one the
// allocation asked for and says how much was allocated (GC_ALLOCATION_ENV); one run per request
// kind at 32 connections.
//
//   bun bench/accounting.ts                  about 5 minutes with the defaults
//   bun bench/accounting.ts --write-readme   the same, then rewrites bench/README.md's accounting section
//
// Environment (all optional): BENCH_SECONDS=3 BENCH_ROUNDS=3 BENCH_CONNECTIONS=1,32 BENCH_ALLOC_SECONDS=6
//   BENCH_RUNGS=floor,app,…,gateway (a subset)  BENCH_OUT=bench/results/accounting.json
//   BENCH_BASELINE_ENTRY=/other/checkout/src/main.ts  adds that gateway as a rung `baseline`
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  atCleanup, awsEnv, baseEnv, envList, envNumber, f, gatewayRules, gcLog, GC_ALLOCATION_ENV, GC_LOG_ENV, GATEWAY_RUNTIME_ENV, LoadWorker, log, mb, median, procCpuSeconds,
  procStatus, ROOT, runMain, SCENARIOS, startChild, type Child, type GcTotals, type ScenarioName, writeReadmeSection
} from './lib.ts';
import { RUNGS } from './ladder.ts';

const env = process.env;
const CFG = {
  seconds: envNumber('BENCH_SECONDS', 3),
  rounds: envNumber('BENCH_ROUNDS', 3),
  allocSeconds: envNumber('BENCH_ALLOC_SECONDS', 6),
  connections: envList('BENCH_CONNECTIONS', '1,32').map(Number).filter((n) => n > 0),
  rungs: envList('BENCH_RUNGS', ['floor', ...RUNGS, 'gateway'].join(',')),
  out: resolve(ROOT, env.BENCH_OUT ?? 'bench/results/accounting.json'),
  gatewayEntry: resolve(ROOT, env.BENCH_GATEWAY_ENTRY ?? 'src/main.ts'),
  baselineEntry: env.BENCH_BASELINE_ENTRY ? resolve(env.BENCH_BASELINE_ENTRY) : null,
  writeReadme: process.argv.includes('--write-readme'),
};
const BUN = process.execPath;
const API_KEY = 'bench-' + randomBytes(24).toString('hex');
const AUTH = { authorization: `Bearer ${API_KEY}` };

/** What each rung adds to the one below it, for the table. */
export const ADDS: Record<string, string> = {
  floor: 'Bun.serve + fetch (bench/floor.ts)',
  app: 'the listener and the app (own endpoints to Elysia, the rest on)',
  forward: 'request scope, stage chain, forward stage',
  audit: 'audit line, error page, framing check',
  policy: 'authentication, rewrite, body budget, authorization, header selection',
  sign: 'SigV4: body read and hashed, signature (= createApp)',
  gateway: 'src/main.ts serve (drain wrapper, credential chain, in-flight audits)',
  baseline: 'the gateway from BENCH_BASELINE_ENTRY',
};

interface Rung {
  name: string;
  child: Child;
  base: string;
  headers: Record<string, string>;
  gc: ReturnType<typeof gcLog>;
}

interface Run {
  round: number;
  rung: string;
  scenario: ScenarioName;
  connections: number;
  requests: number;
  rps: number;
  errors: number;
  cpuUs: number;
  gcUs: number;
  collections: number;
}

interface Setup {
  tmp: string;
  upstream: Child;
  rulesFile: string;
  childEnv: Record<string, string>;
}

async function setUp(tmp: string): Promise<Setup> {
  const emptyAws = join(tmp, 'aws-empty');
  writeFileSync(emptyAws, '');
  const upstream = await startChild('upstream', [BUN, join(import.meta.dir, 'upstream.ts')], { cwd: tmp, env: baseEnv(tmp) });
  const rulesFile = join(tmp, 'rules.yaml');
  writeFileSync(rulesFile, gatewayRules(`http://127.0.0.1:${upstream.port}`, API_KEY));
  // Every rung, the floor included, with the gateway's runtime settings (GATEWAY_RUNTIME_ENV), so
  // that the steps measure code, not settings; bench/peer.ts compares with the floor as it is.
  return { tmp, upstream, rulesFile, childEnv: { ...baseEnv(tmp), ...awsEnv(emptyAws), ...GATEWAY_RUNTIME_ENV } };
}

function rungCommand(name: string, setup: Setup): string[] {
  const upstreamBase = `http://127.0.0.1:${setup.upstream.port}`;
  if (name === 'floor') return [BUN, join(import.meta.dir, 'floor.ts'), upstreamBase];
  if (name === 'gateway') return [BUN, CFG.gatewayEntry, 'serve', '--rules', setup.rulesFile];
  if (name === 'baseline' && CFG.baselineEntry) return [BUN, CFG.baselineEntry, 'serve', '--rules', setup.rulesFile];
  if ((RUNGS as readonly string[]).includes(name)) return [BUN, join(import.meta.dir, 'ladder.ts'), name, setup.rulesFile, upstreamBase];
  throw new Error(`BENCH_RUNGS: unknown rung ${name}; known: floor, ${RUNGS.join(', ')}, gateway`);
}

async function startRung(name: string, setup: Setup, gcEnv: Record<string, string>): Promise<Rung> {
  const gc = gcLog();
  const child = await startChild(name, rungCommand(name, setup), { cwd: setup.tmp, env: { ...setup.childEnv, ...gcEnv }, onStderrLine: gc.onLine });
  // Every rung gets the same request, API key included (the lower rungs do not read it), so the
  // steps differ only in what the server does with it.
  return { name, child, base: `http://127.0.0.1:${child.port}`, headers: AUTH, gc };
}

const rungNames = () => [...CFG.rungs, ...(CFG.baselineEntry ? ['baseline'] : [])];

/** Every rung answers both requests exactly as the upstream does. */
async function sanityCheck(rungs: Rung[], upstreamBase: string): Promise<void> {
  for (const rung of rungs) {
    for (const [name, sc] of Object.entries(SCENARIOS)) {
      const direct = await (await fetch(upstreamBase + sc.path, { method: sc.method, headers: sc.headers, body: sc.body })).text();
      const res = await fetch(rung.base + sc.path, { method: sc.method, headers: { ...sc.headers, ...rung.headers }, body: sc.body });
      const text = await res.text();
      if (res.status !== 200 || text !== direct) throw new Error(`sanity: ${rung.name} ${name} answered ${res.status}: ${text.slice(0, 300)}\n${rung.child.stderrTail()}`);
    }
  }
  log(`sanity OK: ${rungs.map((r) => r.name).join(', ')} answer like the upstream`);
}

let worker: LoadWorker | null = null;
async function load(rung: Rung, s: ScenarioName, connections: number, seconds: number) {
  const sc = SCENARIOS[s];
  worker ??= new LoadWorker(Bun.which('node') ? 'node' : BUN);
  const gc0 = rung.gc.totals();
  const cpu0 = procCpuSeconds(rung.child.pid);
  const result = await worker.run({ url: rung.base + sc.path, method: sc.method, headers: { ...sc.headers, ...rung.headers }, body: sc.body, connections, duration: seconds });
  const cpu = procCpuSeconds(rung.child.pid) - cpu0;
  await Bun.sleep(100); // the collector's last lines of the run reach us
  const gc1 = rung.gc.totals();
  if (rung.child.exited) throw new Error(`${rung.name} exited during a run:\n${rung.child.stderrTail()}`);
  return { result, cpu, gc0, gc1 };
}

async function measure(rung: Rung, s: ScenarioName, connections: number, round: number, seconds: number): Promise<Run> {
  const { result, cpu, gc0, gc1 } = await load(rung, s, connections, seconds);
  const requests = Math.max(1, result.total);
  const run: Run = {
    round, rung: rung.name, scenario: s, connections, requests: result.total, rps: result.rps,
    errors: result.non2xx + result.errors + result.timeouts,
    cpuUs: (cpu / requests) * 1e6,
    gcUs: ((gc1.cycleMs - gc0.cycleMs) / requests) * 1000,
    collections: gc1.collections - gc0.collections,
  };
  log(`r${round} ${SCENARIOS[s].label.padEnd(21)} c=${String(connections).padStart(3)} ${rung.name.padEnd(8)} ${f(run.rps, 0).padStart(6)} req/s ` +
    `${f(run.cpuUs, 1).padStart(6)} µs CPU/req ${f(run.gcUs, 2).padStart(5)} µs GC/req (${run.collections} GCs)` + (run.errors ? `  ${run.errors} errors` : ''));
  return run;
}

interface Allocation {
  rung: string;
  scenario: ScenarioName;
  requests: number;
  kbPerRequest: number;
  /** One collection cycle's allocation spread over the run: how far off the figure can be. */
  kbUncertainty: number;
}

/** The allocation pass: each rung alone, its collection timer off (GC_ALLOCATION_ENV). */
async function allocationPass(setup: Setup): Promise<Allocation[]> {
  const out: Allocation[] = [];
  for (const name of rungNames()) {
    const rung = await startRung(name, setup, GC_ALLOCATION_ENV);
    for (const s of Object.keys(SCENARIOS) as ScenarioName[]) await load(rung, s, 32, 2); // warm-up
    for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
      const { result, gc0, gc1 } = await load(rung, s, 32, CFG.allocSeconds);
      const cycles = gc1.allocationTriggered - gc0.allocationTriggered;
      const bytes = gc1.allocatedBytes - gc0.allocatedBytes;
      const requests = Math.max(1, result.total);
      const a: Allocation = { rung: name, scenario: s, requests: result.total, kbPerRequest: bytes / 1024 / requests, kbUncertainty: (cycles ? bytes / cycles : 8 << 20) / 1024 / requests };
      log(`allocation ${SCENARIOS[s].label.padEnd(21)} ${name.padEnd(8)} ${f(a.kbPerRequest, 2)} ± ${f(a.kbUncertainty, 2)} KB/req (${cycles} cycles over ${result.total} requests)`);
      out.push(a);
    }
    rung.child.proc.kill('SIGKILL');
    await rung.child.proc.exited;
  }
  return out;
}

interface Row {
  rung: string;
  cpuUs: number;
  cpuMin: number;
  cpuMax: number;
  rps: number;
  allocKb: number;
  allocPm: number;
  gcUs: number;
  gcPer10k: number;
  errors: number;
}

function rowsOf(runs: Run[], allocations: Allocation[], rungs: string[], s: ScenarioName, c: number): Row[] {
  return rungs.map((rung) => {
    const rs = runs.filter((r) => r.rung === rung && r.scenario === s && r.connections === c);
    const cpu = rs.map((r) => r.cpuUs);
    const alloc = allocations.find((a) => a.rung === rung && a.scenario === s);
    return {
      rung, cpuUs: median(cpu), cpuMin: Math.min(...cpu), cpuMax: Math.max(...cpu), rps: median(rs.map((r) => r.rps)),
      allocKb: alloc?.kbPerRequest ?? NaN, allocPm: alloc?.kbUncertainty ?? NaN,
      gcUs: median(rs.map((r) => r.gcUs)), gcPer10k: median(rs.map((r) => (r.collections / Math.max(1, r.requests)) * 1e4)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
    };
  });
}

const mdTable = (rs: string[][]) => [`| ${rs[0]!.join(' | ')} |`, `|${rs[0]!.map(() => '---').join('|')}|`, ...rs.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
const signed = (n: number, d = 1) => (Number.isFinite(n) ? `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(d)}` : '–');

export function report(runs: Run[], allocations: Allocation[], memory: Record<string, { rssMb: number; peakMb: number }>, rungs: string[], started: Date, load: string): string {
  const lines: string[] = [
    `Run ${started.toISOString()} with \`bun bench/accounting.ts\`: ${cpus().length} CPUs (\`nproc\`), ${cpus()[0]?.model ?? '?'}, bun ${Bun.version}; ` +
      `load average at start ${load}. Saturated runs (autocannon from Node, keep-alive), ${CFG.seconds} s each, medians of ${CFG.rounds} rounds; ` +
      'CPU is the server process\'s own (/proc); GC µs/req is the sum of the collections\' cycle times in those runs (JSC logGC). ' +
      `Allocation: each rung again alone, Bun's collection timer off, ${CFG.allocSeconds} s at 32 connections per request kind: the bytes the collector counted (JS cells and reported external memory) ÷ requests, ± one collection cycle.`,
    '',
  ];
  for (const c of CFG.connections) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    const rows = rowsOf(runs, allocations, rungs, s, c);
    const table: string[][] = [['rung', 'adds', 'CPU µs/req (min–max)', 'step µs', 'allocated KB/req', 'step KB', 'GC µs/req', 'GCs per 10k req', 'req/s']];
    let prev: Row | undefined;
    for (const row of rows) {
      const stepFrom = row.rung === 'baseline' ? rows.find((r) => r.rung === 'gateway') : prev;
      table.push([
        row.rung, ADDS[row.rung] ?? '', `${f(row.cpuUs, 1)} (${f(row.cpuMin, 0)}–${f(row.cpuMax, 0)})`,
        stepFrom ? signed(row.cpuUs - stepFrom.cpuUs) : '', `${f(row.allocKb, 2)} ± ${f(row.allocPm, 2)}`, stepFrom ? signed(row.allocKb - stepFrom.allocKb, 2) : '',
        f(row.gcUs, 2), f(row.gcPer10k, 1), f(row.rps, 0) + (row.errors ? ` (${row.errors} errors)` : ''),
      ]);
      if (row.rung !== 'baseline') prev = row;
    }
    const floor = rows.find((r) => r.rung === 'floor');
    const gateway = rows.find((r) => r.rung === 'gateway');
    lines.push(`**${SCENARIOS[s].label}, c=${c}**`, '', mdTable(table), '');
    if (floor && gateway) {
      const top = rows.filter((r) => r.rung !== 'gateway' && r.rung !== 'baseline').at(-1)!;
      const noise = Math.max(...rows.filter((r) => r.rung !== 'baseline').map((r) => (r.cpuMax - r.cpuMin) / 2));
      lines.push(
        `gateway − floor: ${f(gateway.cpuUs - floor.cpuUs, 1)} µs (${f(gateway.cpuUs / floor.cpuUs, 2)}× the floor); ` +
          `the named steps up to ${top.rung} account for ${f(top.cpuUs - floor.cpuUs, 1)} µs, main.ts's step for the rest (${signed(gateway.cpuUs - top.cpuUs)} µs); ` +
          `noise (half the widest min–max spread of a rung): ±${f(noise, 1)} µs.`,
        '',
      );
    }
  }
  const memRows: string[][] = [['rung', 'RSS after the runs MB', 'peak RSS MB']];
  for (const rung of rungs) if (memory[rung]) memRows.push([rung, f(memory[rung]!.rssMb, 1), f(memory[rung]!.peakMb, 1)]);
  lines.push('Memory of each rung after all its runs (/proc/PID/status VmRSS, VmHWM).', '', mdTable(memRows), '');
  return lines.join('\n');
}

const README_START = '<!-- accounting:start (written by `bun bench/accounting.ts --write-readme`; do not edit by hand) -->';
const README_END = '<!-- accounting:end -->';
export async function accounting(): Promise<string> {
  const started = new Date();
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-accounting-'));
  atCleanup(() => rmSync(tmp, { recursive: true, force: true }));
  const setup = await setUp(tmp);
  const rungs: Rung[] = [];
  for (const name of rungNames()) rungs.push(await startRung(name, setup, GC_LOG_ENV));
  await sanityCheck(rungs, `http://127.0.0.1:${setup.upstream.port}`);
  for (const rung of rungs) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) await load(rung, s, 32, 2); // warm-up, not kept
  const runs: Run[] = [];
  for (let round = 1; round <= CFG.rounds; round++) {
    for (const c of CFG.connections) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) for (const rung of rungs) runs.push(await measure(rung, s, c, round, CFG.seconds));
  }
  const memory: Record<string, { rssMb: number; peakMb: number }> = {};
  for (const rung of rungs) {
    const st = procStatus(rung.child.pid);
    if (st) memory[rung.name] = { rssMb: mb(st.rssKb), peakMb: mb(st.hwmKb) };
    rung.child.proc.kill('SIGKILL');
    await rung.child.proc.exited;
  }
  const allocations = await allocationPass(setup);
  const markdown = report(runs, allocations, memory, rungs.map((r) => r.name), started, loadAverage);
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify({ startedAt: started.toISOString(), load: loadAverage, config: CFG, runs, allocations, memory, gc: Object.fromEntries(rungs.map((r) => [r.name, r.gc.totals() as GcTotals])) }, null, 2) + '\n');
  log(`results written to ${CFG.out.replace(ROOT + '/', '')}`);
  return markdown;
}

if (import.meta.main) {
  runMain(async () => {
    const markdown = await accounting();
    console.log(`\n${markdown}`);
    if (CFG.writeReadme) writeReadmeSection(markdown, README_START, README_END);
  });
}
