// What tracing costs (issue 22): the same gateway with no tracing section, with tracing at a
// sampling of 1.0 and at 0.01, and (with BENCH_BASELINE_ENTRY) the gateway from another checkout,
// "today's" code without tracing at all, all in front of the same stand-in upstream and measured
// round-robin in one run (a neighbour's burst on this shared machine hits all of them alike),
// medians of the rounds. The traced gateways export to bench/otlp-sink.ts, which accepts everything.
//
//   bun bench/tracing.ts                     about 4 minutes with the defaults
//   BENCH_BASELINE_ENTRY=/other/checkout/src/main.ts bun bench/tracing.ts
//
// Figures per system: req/s at BENCH_CONNECTIONS and the gateway process's CPU µs per request
// (/proc/PID/stat, all threads), GET experiments/get and POST runs/log-metric (SigV4-signed). "off"
// twice (off and off-again, two processes of the same code) shows the noise a difference must beat.
//
// Environment (all optional):
//   BENCH_SECONDS=3  BENCH_ROUNDS=5  BENCH_CONNECTIONS=32  BENCH_OUT=bench/results/tracing.json
//   BENCH_GATEWAY_ENTRY=src/main.ts  BENCH_BASELINE_ENTRY=path
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  atCleanup, awsEnv, baseEnv, f, gatewayRules, LoadWorker, log, median, procCpuSeconds, ROOT, SCENARIOS, startChild, table,
  type Child, type ScenarioName, envList, envNumber, runMain,
} from './lib.ts';

const env = process.env;
const CFG = {
  seconds: envNumber('BENCH_SECONDS', 3),
  rounds: envNumber('BENCH_ROUNDS', 5),
  connections: envList('BENCH_CONNECTIONS', '32').map(Number).filter((n) => n > 0),
  out: resolve(ROOT, env.BENCH_OUT ?? 'bench/results/tracing.json'),
  gatewayEntry: resolve(ROOT, env.BENCH_GATEWAY_ENTRY ?? 'src/main.ts'),
  baselineEntry: env.BENCH_BASELINE_ENTRY ? resolve(env.BENCH_BASELINE_ENTRY) : null,
};
const BUN = process.execPath;
const API_KEY = 'bench-' + randomBytes(24).toString('hex');
const AUTH = { authorization: `Bearer ${API_KEY}` };

interface System {
  name: string;
  child: Child;
  base: string;
}

function tracingSection(sinkPort: number, sampleRatio: number): string[] {
  return ['tracing:', `  endpoint: http://127.0.0.1:${sinkPort}/v1/traces`, `  sampleRatio: ${sampleRatio}`, '  exportIntervalMs: 1000'];
}

async function start(): Promise<{ systems: System[]; sink: Child }> {
  const tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-tracing-bench-'));
  atCleanup(() => rmSync(tmp, { recursive: true, force: true }));
  const emptyAws = join(tmp, 'aws-empty');
  writeFileSync(emptyAws, '');
  const upstream = await startChild('upstream', [BUN, join(import.meta.dir, 'upstream.ts')], { cwd: tmp, env: baseEnv(tmp) });
  const sink = await startChild('otlp-sink', [BUN, join(import.meta.dir, 'otlp-sink.ts')], { cwd: tmp, env: baseEnv(tmp) });
  const upstreamBase = `http://127.0.0.1:${upstream.port}`;
  const variants: Array<[string, string, string[]]> = [
    ['off', CFG.gatewayEntry, []],
    ['off-again', CFG.gatewayEntry, []],
    ['on-1.0', CFG.gatewayEntry, tracingSection(sink.port, 1)],
    ['on-0.01', CFG.gatewayEntry, tracingSection(sink.port, 0.01)],
  ];
  if (CFG.baselineEntry) variants.unshift(['today', CFG.baselineEntry, []]);
  const systems: System[] = [];
  for (const [name, entry, extra] of variants) {
    const rulesFile = join(tmp, `rules-${name}.yaml`);
    writeFileSync(rulesFile, gatewayRules(upstreamBase, API_KEY, 0, extra));
    const child = await startChild(name, [BUN, entry, 'serve', '--rules', rulesFile], { cwd: tmp, env: { ...baseEnv(tmp), ...awsEnv(emptyAws) } });
    systems.push({ name, child, base: `http://127.0.0.1:${child.port}` });
  }
  return { systems, sink };
}

interface Run {
  round: number;
  system: string;
  scenario: ScenarioName;
  connections: number;
  rps: number;
  cpuUsPerRequest: number;
  bad: number;
}

let worker: LoadWorker | null = null;
async function measure(sys: System, s: ScenarioName, connections: number, round: number, seconds = CFG.seconds): Promise<Run> {
  const sc = SCENARIOS[s];
  worker ??= new LoadWorker(Bun.which('node') ? 'node' : BUN);
  const cpu0 = procCpuSeconds(sys.child.pid);
  const result = await worker.run({ url: sys.base + sc.path, method: sc.method, headers: { ...sc.headers, ...AUTH }, body: sc.body, connections, duration: seconds });
  const cpu = procCpuSeconds(sys.child.pid) - cpu0;
  if (sys.child.exited) throw new Error(`${sys.name} exited during a run:\n${sys.child.stderrTail()}`);
  const run = { round, system: sys.name, scenario: s, connections, rps: result.rps, cpuUsPerRequest: (cpu / Math.max(1, result.total)) * 1e6, bad: result.non2xx + result.errors + result.timeouts };
  log(`r${round} ${sc.label.padEnd(21)} ${sys.name.padEnd(9)} c=${connections} ${f(run.rps, 0).padStart(6)} req/s ${f(run.cpuUsPerRequest, 0).padStart(4)} µs CPU/req${run.bad ? `  (${run.bad} failed)` : ''}`);
  return run;
}

runMain(async () => {
  const { systems, sink } = await start();
  log(`systems: ${systems.map((s) => s.name).join(', ')}; ${CFG.rounds} rounds of ${CFG.seconds} s`);
  for (const sys of systems) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) await measure(sys, s, 32, 0, 2); // warm-up
  const runs: Run[] = [];
  for (let round = 1; round <= CFG.rounds; round++) {
    for (const s of Object.keys(SCENARIOS) as ScenarioName[]) for (const c of CFG.connections) for (const sys of systems) runs.push(await measure(sys, s, c, round));
  }
  const spans = await (await fetch(`http://127.0.0.1:${sink.port}/stats`)).json();
  const rows: string[][] = [['request', 'c', ...systems.map((s) => s.name)]];
  const summary: Record<string, Record<string, { rps: number; cpuUs: number }>> = {};
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const c of CFG.connections) {
      const key = `${s} c=${c}`;
      summary[key] = {};
      const cells = systems.map((sys) => {
        const mine = runs.filter((r) => r.system === sys.name && r.scenario === s && r.connections === c);
        const rps = median(mine.map((r) => r.rps));
        const cpuUs = median(mine.map((r) => r.cpuUsPerRequest));
        summary[key]![sys.name] = { rps, cpuUs };
        return `${f(rps, 0)} req/s, ${f(cpuUs, 0)} µs`;
      });
      rows.push([SCENARIOS[s].label, String(c), ...cells]);
    }
  }
  const failed = runs.reduce((n, r) => n + r.bad, 0);
  console.log(`\nTracing cost, medians of ${CFG.rounds} rounds (req/s, gateway CPU µs per request), ${new Date().toISOString()}:\n`);
  console.log(table(rows, rows[0]!.map((_, i) => i > 1)));
  console.log(`\nspans received by the sink: ${spans.spans} in ${spans.exports} exports; failed requests: ${failed}`);
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify({ config: CFG, summary, spans, failed, runs }, null, 2));
  log(`results in ${CFG.out}`);
});
