// What scoped policies (policies.*.scope, issue 19) cost, in one invocation:
//
//   (a) CPU per request, scoped against unscoped, at c=32 with a warm lookups cache: the gateway
//       (`bun src/main.ts serve`, SigV4 for a tracking server) in front of bench/upstream.ts, GET
//       experiments/get and POST runs/log-metric, as three callers measured in interleaved rounds:
//         no scopes   a gateway whose rules have no scope at all (what runs today)
//         unscoped    an unscoped client of a gateway whose rules also have a scoped policy
//         scoped      that gateway's scoped client (its scope covers experiment 1, the run's)
//       Each run's figure is the gateway process's own CPU (/proc/PID/stat) ÷ its requests; the
//       cost of a scope is the median over rounds of (scoped − no scopes), paired within a round.
//       Goal: under 3 µs more. The upstream counts the gateway's own calls (User-Agent
//       `sagemaker-mlflow-proxy/... (own call)`), so "warm" is checked, not assumed.
//   (a′) Where (a)'s difference goes, in this process without the network: the stages that differ
//       (authorization, then owner-learning) in front of a terminal stage that reads the body and
//       answers like forward, for the same two requests, CPU µs per request, interleaved rounds.
//   (b) The lookups an MLflow client's log_metric loop causes: a real `mlflow server` (3.17.2, from
//       the shared venv), the gateway in front of it through a counting pass-through in this process,
//       and the real MLflow Python client as a scoped client: set_experiment, then BENCH_LOOP_RUNS
//       runs of BENCH_LOOP_METRICS log_metric calls each. Every own call is counted and put down to
//       the run whose request needed it. Goal: at most one per run.
//   (c) The lookups cache's memory at its bound: the gateway's owner lookups (scopes/owners.ts) and
//       own calls (pipeline/own-calls.ts), in this process, against bench/upstream.ts, asked for
//       10% more distinct run ids than lookups.cacheEntries (default 100,000); the heap after a full
//       collection, before and after.
//
//   bun bench/scopes.ts                  about 6 minutes with the defaults
//   bun bench/scopes.ts --write-readme   the same, then rewrites bench/README.md's scopes results
//
// Environment (all optional): BENCH_SECONDS=5 BENCH_ROUNDS=5 BENCH_CONNECTIONS=32
//   BENCH_LOOP_RUNS=20 BENCH_LOOP_METRICS=50 BENCH_CACHE_ENTRIES=<lookups.cacheEntries default>
//   BENCH_SKIP=cpu,split,loop,memory  BENCH_MLFLOW_PYTHON=<python with mlflow 3.17.2>
//   BENCH_OUT=bench/results/scopes.json  BENCH_PROFILE=1 (the scoped gateway under `bun --cpu-prof-md`)
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  atCleanup, awsEnv, baseEnv, BENCH_ARN, cleanup, envList, envNumber, f, freePort, LoadWorker, log, median, procCpuSeconds,
  ROOT, runMain, SCENARIOS, startChild, type Child, type ScenarioName, writeReadmeSection
} from './lib.ts';
import { RulesSchema } from '../src/rules/schema.ts';
import { loadRulesText } from '../src/rules/load.ts';
import { ownerLookups } from '../src/scopes/owners.ts';
import { ownCalls, OWN_USER_AGENT } from '../src/pipeline/own-calls.ts';
import { plainMlflowBackend } from '../src/backends/mlflow.ts';
import { chain, type Stage } from '../src/pipeline/chain.ts';
import { receive } from '../src/pipeline/receive.ts';
import { authorization } from '../src/pipeline/authorize.ts';
import { ownerLearning } from '../src/pipeline/owner-learning.ts';
import { withMethod } from '../src/auth/identity.ts';
import { readBodyWithCap } from '../src/http/read-body.ts';
import type { PolicyDirectory } from '../src/auth/identity.ts';
import type { CompiledRules } from '../src/rules/compile.ts';

const CFG = {
  seconds: envNumber('BENCH_SECONDS', 5),
  rounds: envNumber('BENCH_ROUNDS', 5),
  connections: envNumber('BENCH_CONNECTIONS', 32),
  loopRuns: envNumber('BENCH_LOOP_RUNS', 20),
  loopMetrics: envNumber('BENCH_LOOP_METRICS', 50),
  // The rules' own default, so the figure follows the schema.
  cacheEntries: envNumber('BENCH_CACHE_ENTRIES', RulesSchema.properties.lookups.properties.cacheEntries.default as number),
  skip: new Set(envList('BENCH_SKIP', '')),
  python: process.env.BENCH_MLFLOW_PYTHON ?? join(process.env.PROXY_VENV_ROOT ?? join(ROOT, '.cache', 'venvs'), 'mlflow-3.17.2', 'bin', 'python'),
  out: resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/scopes.json'),
  profileDir: process.env.BENCH_PROFILE && process.env.BENCH_PROFILE !== '0' ? resolve(ROOT, 'bench/results/profile') : null,
  writeReadme: process.argv.includes('--write-readme'),
};
const GOAL_CPU_US = 3;
const GOAL_LOOKUPS_PER_RUN = 1;
const BUN = process.execPath;
const KEY_PLAIN = `bench-plain-${randomBytes(16).toString('hex')}`;
const KEY_SCOPED = `bench-scoped-${randomBytes(16).toString('hex')}`;
const sha256 = (text: string) => new Bun.CryptoHasher('sha256').update(text).digest('hex');

let tmp = '';
let emptyAws = '';
const loadSamples: string[] = [];
const sampleLoad = () => loadSamples.push(loadavg().map((x) => x.toFixed(2)).join(' '));

// ───────────────────────────── (a) CPU per request ─────────────────────────────
type Caller = 'no scopes' | 'unscoped' | 'scoped';
interface CpuRun {
  round: number;
  caller: Caller;
  scenario: ScenarioName;
  rps: number;
  requests: number;
  cpuUsPerRequest: number;
  ownCalls: number;
  bad: number;
}

/** Rules for the gateway: the plain client always; the scoped client (and its policy) only in the scoped gateway. */
function rules(upstreamBase: string, withScope: boolean): string {
  return [
    'version: 1',
    'listen: {host: 127.0.0.1, port: 0}',
    `backend: {arn: "${BENCH_ARN}", endpoint: "${upstreamBase}"}`,
    'clients:',
    `  - {id: plain, apiKeySha256: ${sha256(KEY_PLAIN)}, policies: [plain]}`,
    ...(withScope ? [`  - {id: scoped, apiKeySha256: ${sha256(KEY_SCOPED)}, policies: [team]}`] : []),
    'policies:',
    '  plain: {operations: [GetExperiment, LogMetric]}',
    // bench/upstream.ts's experiment 1 is "bench-experiment", and every run is in it.
    ...(withScope ? ['  team: {operations: [GetExperiment, LogMetric], scope: {experiments: ["bench-*"]}}'] : []),
    '',
  ].join('\n');
}

interface Target {
  caller: Caller;
  gateway: Child;
  base: string;
  headers: Record<string, string>;
}

async function upstreamStats(base: string): Promise<{ requests: number; signed: number; ownCalls: number }> {
  return (await fetch(`${base}/bench/stats`)).json() as Promise<{ requests: number; signed: number; ownCalls: number }>;
}

/** Both gateways answer both requests as the upstream does, for each caller; the scoped one refuses what its scope leaves out. */
async function sanity(targets: Target[], upstreamBase: string): Promise<void> {
  for (const t of targets) {
    for (const [name, sc] of Object.entries(SCENARIOS)) {
      const direct = await (await fetch(upstreamBase + sc.path, { method: sc.method, headers: sc.headers, body: sc.body })).text();
      const res = await fetch(t.base + sc.path, { method: sc.method, headers: { ...sc.headers, ...t.headers }, body: sc.body });
      const text = await res.text();
      if (res.status !== 200 || text !== direct) throw new Error(`sanity: ${t.caller} ${name} answered ${res.status}: ${text.slice(0, 300)}\n${t.gateway.stderrTail()}`);
    }
  }
  const scoped = targets.find((t) => t.caller === 'scoped')!;
  const before = await upstreamStats(upstreamBase);
  // Experiment 2 does not exist upstream: refused like an experiment out of scope, after one lookup.
  const refused = await fetch(`${scoped.base}/api/2.0/mlflow/experiments/get?experiment_id=2`, { headers: scoped.headers });
  await refused.arrayBuffer();
  const after = await upstreamStats(upstreamBase);
  if (refused.status !== 403) throw new Error(`sanity: the scoped caller's experiment 2 answered ${refused.status}, not 403`);
  // (The second stats read is a request too.)
  if (after.ownCalls - before.ownCalls !== 1 || after.requests - before.requests !== 2) throw new Error('sanity: experiment 2 should cost one lookup and reach the upstream no other way');
  log('sanity OK: every caller gets the upstream\'s answers; the scoped caller is refused experiment 2 after one lookup');
}

let autocannon: LoadWorker | null = null;
const worker = () => (autocannon ??= new LoadWorker(Bun.which('node') ? 'node' : BUN));

async function cpuRun(t: Target, scenario: ScenarioName, round: number, upstreamBase: string, seconds: number): Promise<CpuRun> {
  const sc = SCENARIOS[scenario];
  const stats0 = await upstreamStats(upstreamBase);
  const cpu0 = procCpuSeconds(t.gateway.pid);
  const result = await worker().run({ url: t.base + sc.path, method: sc.method, headers: { ...sc.headers, ...t.headers }, body: sc.body, connections: CFG.connections, duration: seconds });
  const cpu = procCpuSeconds(t.gateway.pid) - cpu0;
  const stats1 = await upstreamStats(upstreamBase);
  if (t.gateway.exited) throw new Error(`the gateway exited during a run:\n${t.gateway.stderrTail()}`);
  const run: CpuRun = {
    round, caller: t.caller, scenario, rps: result.rps, requests: result.total, cpuUsPerRequest: (cpu / Math.max(1, result.total)) * 1e6,
    ownCalls: stats1.ownCalls - stats0.ownCalls, bad: result.non2xx + result.errors + result.timeouts,
  };
  log(`r${round} ${sc.label.padEnd(21)} ${t.caller.padEnd(9)} ${f(run.rps, 0).padStart(6)} req/s  ${f(run.cpuUsPerRequest, 1).padStart(6)} µs CPU/req  ${run.ownCalls} own calls${run.bad ? `  ${run.bad} bad` : ''}`);
  return run;
}

async function measureCpu(upstream: Child): Promise<CpuRun[]> {
  const upstreamBase = `http://127.0.0.1:${upstream.port}`;
  const env = { ...baseEnv(tmp), ...awsEnv(emptyAws) };
  const start = async (name: string, withScope: boolean) => {
    const file = join(tmp, `${name}.yaml`);
    writeFileSync(file, rules(upstreamBase, withScope));
    const profile = withScope && CFG.profileDir ? ['--cpu-prof-md', `--cpu-prof-dir=${CFG.profileDir}`] : [];
    return startChild(name, [BUN, ...profile, join(ROOT, 'src/main.ts'), 'serve', '--rules', file], { cwd: tmp, env });
  };
  if (CFG.profileDir) mkdirSync(CFG.profileDir, { recursive: true });
  const plainGateway = await start('gateway-no-scopes', false);
  const scopedGateway = await start('gateway-scoped', true);
  const targets: Target[] = [
    { caller: 'no scopes', gateway: plainGateway, base: `http://127.0.0.1:${plainGateway.port}`, headers: { authorization: `Bearer ${KEY_PLAIN}` } },
    { caller: 'unscoped', gateway: scopedGateway, base: `http://127.0.0.1:${scopedGateway.port}`, headers: { authorization: `Bearer ${KEY_PLAIN}` } },
    { caller: 'scoped', gateway: scopedGateway, base: `http://127.0.0.1:${scopedGateway.port}`, headers: { authorization: `Bearer ${KEY_SCOPED}` } },
  ];
  await sanity(targets, upstreamBase);
  // Warm-up (not recorded): the JIT, and the scoped caller's lookups (its run and experiment).
  for (const t of targets) for (const s of Object.keys(SCENARIOS) as ScenarioName[]) await cpuRun(t, s, 0, upstreamBase, 2);
  const runs: CpuRun[] = [];
  for (let round = 1; round <= CFG.rounds; round++) {
    sampleLoad();
    // The order of callers turns each round, so no caller always follows the same one.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const s of Object.keys(SCENARIOS) as ScenarioName[]) for (const t of order) runs.push(await cpuRun(t, s, round, upstreamBase, CFG.seconds));
  }
  if (CFG.profileDir) {
    scopedGateway.proc.kill('SIGINT');
    await Promise.race([scopedGateway.proc.exited, Bun.sleep(15_000)]);
    log(`scoped gateway's CPU profile written to ${CFG.profileDir.replace(ROOT + '/', '')}/`);
  }
  return runs;
}

interface CpuSummary {
  scenario: ScenarioName;
  perCaller: Record<Caller, { cpu: number; rps: number; ownCalls: number }>;
  /** Medians over rounds of the paired differences. */
  scopedMinusNone: number;
  unscopedMinusNone: number;
  scopedMinusUnscoped: number;
  pairs: number[];
}

function summariseCpu(runs: CpuRun[]): CpuSummary[] {
  return (Object.keys(SCENARIOS) as ScenarioName[]).map((scenario) => {
    const of = (caller: Caller) => runs.filter((r) => r.scenario === scenario && r.caller === caller);
    const perCaller = Object.fromEntries((['no scopes', 'unscoped', 'scoped'] as Caller[]).map((c) => [c, {
      cpu: median(of(c).map((r) => r.cpuUsPerRequest)), rps: median(of(c).map((r) => r.rps)), ownCalls: of(c).reduce((n, r) => n + r.ownCalls, 0),
    }])) as CpuSummary['perCaller'];
    const paired = (a: Caller, b: Caller) => {
      const rounds = [...new Set(runs.map((r) => r.round))];
      return rounds.map((round) => {
        const x = of(a).find((r) => r.round === round);
        const y = of(b).find((r) => r.round === round);
        return x && y ? x.cpuUsPerRequest - y.cpuUsPerRequest : NaN;
      }).filter(Number.isFinite);
    };
    const pairs = paired('scoped', 'no scopes');
    return {
      scenario, perCaller, pairs,
      scopedMinusNone: median(pairs), unscopedMinusNone: median(paired('unscoped', 'no scopes')), scopedMinusUnscoped: median(paired('scoped', 'unscoped')),
    };
  });
}

// ───────────────────────────── (a′) the split, in process ─────────────────────────────
interface SplitRow {
  scenario: ScenarioName;
  /** CPU µs per request of each stage list. */
  noScopes: number;
  scopedDecision: number;
  scopedWithLearning: number;
}

/**
 * The stages a scope adds work to, run in this process: authorization (no lookups configured, as
 * in a gateway without scopes; or the scoped client's, with a warm cache), then owner-learning,
 * in front of a terminal stage that reads the body as signing does and answers a small JSON body
 * of known length as forward does. Each request is built fresh (a body is read once).
 */
async function measureSplit(upstream: Child): Promise<SplitRow[]> {
  const upstreamBase = `http://127.0.0.1:${upstream.port}`;
  const compile = (text: string): CompiledRules => {
    const loaded = loadRulesText(text, 'bench.yaml', {});
    if (!loaded.ok) throw new Error(`split: the bench's rules are invalid: ${JSON.stringify(loaded)}`);
    return loaded.rules;
  };
  const plainRules = compile(rules(upstreamBase, false));
  const scopedRules = compile(rules(upstreamBase, true));
  const directory = (r: CompiledRules): PolicyDirectory => ({ policies: r.policies, clientsById: r.clientsById, groups: r.auth.groups });
  const parsed = plainMlflowBackend(upstreamBase);
  if (!parsed.ok) throw new Error(parsed.problem);
  const owners = ownerLookups(ownCalls(parsed.value, 10_000), { cacheEntries: 1000, nameMs: 3_600_000 });
  const maxBody = scopedRules.source.limits.maxBodyBytes;
  const answers: Record<ScenarioName, Uint8Array<ArrayBuffer>> = {
    get: new Uint8Array(await (await fetch(upstreamBase + SCENARIOS.get.path)).arrayBuffer()),
    post: new TextEncoder().encode('{}'),
  };
  const terminal: Stage = async (scope) => {
    if (scope.method === 'POST' && !scope.body) scope.body = await readBodyWithCap(scope.request, maxBody);
    const bytes = answers[scope.method === 'POST' ? 'post' : 'get'];
    return new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(bytes.byteLength) } });
  };
  const lists = {
    noScopes: { run: chain([authorization(directory(plainRules), maxBody), terminal]), identity: withMethod(plainRules.clientsById.get('plain')!, 'api-key') },
    scopedDecision: { run: chain([authorization(directory(scopedRules), maxBody, owners), terminal]), identity: withMethod(scopedRules.clientsById.get('scoped')!, 'api-key') },
    scopedWithLearning: { run: chain([authorization(directory(scopedRules), maxBody, owners), ownerLearning(owners), terminal]), identity: withMethod(scopedRules.clientsById.get('scoped')!, 'api-key') },
  };
  const once = async (list: (typeof lists)[keyof typeof lists], scenario: ScenarioName) => {
    const sc = SCENARIOS[scenario];
    const request = new Request(`http://127.0.0.1:8080${sc.path}`, { method: sc.method, headers: { ...sc.headers, authorization: 'Bearer x' }, body: sc.body });
    const scope = receive(request, '127.0.0.1', false);
    scope.identity = list.identity;
    scope.upstreamPath = scope.path;
    const response = await list.run(scope);
    if (response.status !== 200) throw new Error(`split: ${scenario} answered ${response.status}`);
    await response.arrayBuffer();
  };
  const calls = 20_000;
  const cpuPerCall = async (list: (typeof lists)[keyof typeof lists], scenario: ScenarioName) => {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) await once(list, scenario);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / calls;
  };
  const names = Object.keys(lists) as Array<keyof typeof lists>;
  const samples: Record<string, number[]> = {};
  // Warm: the JIT, and the lookups (run abc → experiment 1 → its name).
  for (const scenario of Object.keys(SCENARIOS) as ScenarioName[]) for (const name of names) await cpuPerCall(lists[name], scenario);
  for (let round = 0; round < CFG.rounds; round++) {
    for (const scenario of Object.keys(SCENARIOS) as ScenarioName[]) for (const name of names) {
      (samples[`${scenario} ${name}`] ??= []).push(await cpuPerCall(lists[name], scenario));
    }
    await Bun.sleep(0); // timers and batched work between rounds
  }
  const rows = (Object.keys(SCENARIOS) as ScenarioName[]).map((scenario) => ({
    scenario,
    noScopes: median(samples[`${scenario} noScopes`]!),
    scopedDecision: median(samples[`${scenario} scopedDecision`]!),
    scopedWithLearning: median(samples[`${scenario} scopedWithLearning`]!),
  }));
  for (const r of rows) log(`split ${SCENARIOS[r.scenario].label}: no scopes ${f(r.noScopes)} µs, scoped decision ${f(r.scopedDecision)} µs, + owner-learning ${f(r.scopedWithLearning)} µs`);
  return rows;
}

// ───────────────────────────── (b) a log_metric loop's lookups ─────────────────────────────
interface Passed {
  own: boolean;
  method: string;
  path: string;
}

/** A pass-through in front of MLflow that writes down each request: the gateway's own calls and its clients'. */
function countingPassThrough(mlflowBase: string): { base: string; passed: Passed[]; stop: () => void } {
  const passed: Passed[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 120,
    async fetch(request) {
      const url = new URL(request.url);
      passed.push({ own: request.headers.get('user-agent') === OWN_USER_AGENT, method: request.method, path: url.pathname });
      const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
      const headers = new Headers(request.headers);
      headers.delete('host');
      const answer = await fetch(`${mlflowBase}${url.pathname}${url.search}`, { method: request.method, headers, body, redirect: 'manual', decompress: false } as RequestInit);
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  });
  return { base: `http://127.0.0.1:${server.port}`, passed, stop: () => server.stop(true) };
}

const LOOP = `
import os, mlflow
runs, metrics = int(os.environ["LOOP_RUNS"]), int(os.environ["LOOP_METRICS"])
mlflow.set_experiment("team-a/bench-loop")
for r in range(runs):
    with mlflow.start_run():
        for i in range(metrics):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
print("done")
`;

interface LoopResult {
  runs: number;
  metricsPerRun: number;
  seconds: number;
  clientCalls: number;
  ownCalls: number;
  /** Own calls put down to each run (the setup before the first run apart). */
  perRun: number[];
  setupOwnCalls: number;
  ownByPath: Record<string, number>;
  clientByPath: Record<string, number>;
}

async function measureLoop(): Promise<LoopResult> {
  if (!existsSync(CFG.python)) throw new Error(`${CFG.python} is missing: the loop needs MLflow 3.17.2's venv (scripts/setup-python.sh), or BENCH_SKIP=loop`);
  const dir = join(tmp, 'mlflow');
  mkdirSync(dir);
  const port = freePort();
  const mlflowEnv = Object.fromEntries(Object.entries(baseEnv(tmp)).filter(([k]) => !k.startsWith('MLFLOW_')));
  const mlflow = await startChild('mlflow', [CFG.python, '-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port), '--backend-store-uri', `sqlite:///${dir}/mlflow.db`,
    '--default-artifact-root', `${dir}/artifacts`, '--workers', '1'], { cwd: dir, env: mlflowEnv, port, readyUrl: `http://127.0.0.1:${port}/health`, timeoutMs: 180_000 });
  const counter = countingPassThrough(`http://127.0.0.1:${mlflow.port}`);
  atCleanup(counter.stop);
  const file = join(tmp, 'loop.yaml');
  // The shipped log-runs policy's operations, held to team A's experiments.
  writeFileSync(file, [
    'version: 1',
    'listen: {host: 127.0.0.1, port: 0}',
    `backend: {url: "${counter.base}"}`,
    'clients:',
    `  - {id: trainer, apiKeySha256: ${sha256(KEY_SCOPED)}, policies: [team-a]}`,
    'policies:',
    `  team-a: {operations: ${JSON.stringify(LOOP_OPERATIONS)}, scope: {experiments: ["team-a/**"]}}`,
    '',
  ].join('\n'));
  const gateway = await startChild('gateway-loop', [BUN, join(ROOT, 'src/main.ts'), 'serve', '--rules', file], { cwd: tmp, env: baseEnv(tmp) });
  sampleLoad();
  const started = performance.now();
  // Not spawnSync: the counting pass-through lives in this process's event loop.
  const python = Bun.spawn([CFG.python, '-c', LOOP], {
    cwd: tmp,
    env: { ...mlflowEnv, MLFLOW_TRACKING_URI: `http://127.0.0.1:${gateway.port}`, MLFLOW_TRACKING_TOKEN: KEY_SCOPED, LOOP_RUNS: String(CFG.loopRuns), LOOP_METRICS: String(CFG.loopMetrics) },
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 900_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(python.stdout).text(), new Response(python.stderr).text(), python.exited]);
  const seconds = (performance.now() - started) / 1000;
  if (exitCode !== 0) throw new Error(`the MLflow client's loop failed (exit ${exitCode}):\n${stdout.slice(-1000)}${stderr.slice(-3000)}\n--- gateway ---\n${gateway.stderrTail()}`);
  sampleLoad();
  // An own call comes just before the client request it was made for; a run starts at its CreateRun.
  const perRun: number[] = [];
  let setupOwnCalls = 0;
  let pending = 0;
  const ownByPath: Record<string, number> = {};
  const clientByPath: Record<string, number> = {};
  for (const p of counter.passed) {
    const key = `${p.method} ${p.path}`;
    if (p.own) {
      pending++;
      ownByPath[key] = (ownByPath[key] ?? 0) + 1;
      continue;
    }
    clientByPath[key] = (clientByPath[key] ?? 0) + 1;
    if (p.method === 'POST' && p.path === '/api/2.0/mlflow/runs/create') perRun.push(0);
    if (perRun.length) perRun[perRun.length - 1]! += pending;
    else setupOwnCalls += pending;
    pending = 0;
  }
  const ownCalls = counter.passed.filter((p) => p.own).length;
  const result = { runs: CFG.loopRuns, metricsPerRun: CFG.loopMetrics, seconds, clientCalls: counter.passed.length - ownCalls, ownCalls, perRun, setupOwnCalls, ownByPath, clientByPath };
  log(`loop: ${result.clientCalls} client calls, ${ownCalls} own calls (${setupOwnCalls} before the first run; per run ${perRun.join(' ')}) in ${f(seconds, 1)} s`);
  return result;
}

/** What the loop calls (MLflow 3.17.2's fluent API: set_experiment, start_run, log_metric, end_run). */
const LOOP_OPERATIONS = ['GetExperimentByName', 'CreateExperiment', 'GetExperiment', 'CreateRun', 'GetRun', 'LogMetric', 'UpdateRun'];

// ───────────────────────────── (c) the cache at its bound ─────────────────────────────
interface MemoryResult {
  bound: number;
  asked: number;
  held: number;
  heapBeforeMb: number;
  heapAfterMb: number;
  bytesPerEntry: number;
  seconds: number;
}

async function measureMemory(upstream: Child): Promise<MemoryResult> {
  const parsed = plainMlflowBackend(`http://127.0.0.1:${upstream.port}`);
  if (!parsed.ok) throw new Error(parsed.problem);
  const lookups = ownerLookups(ownCalls(parsed.value, 10_000), { cacheEntries: CFG.cacheEntries, nameMs: 30_000 });
  const asked = Math.ceil(CFG.cacheEntries * 1.1);
  const heap = () => {
    Bun.gc(true);
    return process.memoryUsage().heapUsed;
  };
  const before = heap();
  const started = performance.now();
  let next = 0;
  // 32 lookups in flight; ids shaped like MLflow's (32 hex digits), made as they are asked, not kept.
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < asked) {
      next++;
      const placement = await lookups.placement('run', randomBytes(16).toString('hex'), 'bench');
      if (placement?.experimentId !== '1') throw new Error('memory: a run lookup did not find experiment 1');
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const after = heap();
  const held = lookups.size();
  if (held !== CFG.cacheEntries) throw new Error(`memory: the cache holds ${held} entries, not its bound ${CFG.cacheEntries}`);
  const result = { bound: CFG.cacheEntries, asked, held, heapBeforeMb: before / 2 ** 20, heapAfterMb: after / 2 ** 20, bytesPerEntry: (after - before) / held, seconds };
  log(`memory: ${asked} run lookups in ${f(seconds, 1)} s; ${held} held; heap ${f(result.heapBeforeMb, 1)} → ${f(result.heapAfterMb, 1)} MB (${f(result.bytesPerEntry, 0)} bytes an entry)`);
  // Keep the cache alive until the heap was read.
  if (lookups.size() < 0) log('unreachable');
  return result;
}

// ───────────────────────────── report ─────────────────────────────
const mdTable = (rows: string[][]) => [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');

function report(cpu: CpuSummary[] | null, cpuRuns: CpuRun[], split: SplitRow[] | null, loop: LoopResult | null, memory: MemoryResult | null, started: Date): { markdown: string; goals: Array<{ goal: string; met: boolean; detail: string }> } {
  const cpuInfo = cpus();
  const goals: Array<{ goal: string; met: boolean; detail: string }> = [];
  const lines = [
    `Run ${started.toISOString()} with \`bun bench/scopes.ts\`: ${cpuInfo.length} CPUs (\`nproc\`), ${cpuInfo[0]?.model ?? '?'}, bun ${Bun.version}; ` +
      `load average (1, 5, 15 min) sampled during the run: ${loadSamples.join('; ')}. The machine is shared: compare within this section, not with another run.`,
    '',
  ];
  if (cpu) {
    lines.push(
      `(a) CPU per request at c=${CFG.connections} (autocannon from Node, keep-alive), ${CFG.seconds} s runs, ${CFG.rounds} interleaved rounds, medians; ` +
        'the gateway process\'s own CPU (/proc) ÷ its requests. Differences are paired within a round, then the median taken.',
      '',
      mdTable([
        ['request', 'no scopes µs', 'unscoped µs', 'scoped µs', 'scoped − no scopes', 'unscoped − no scopes', 'scoped req/s ÷ no scopes', 'own calls in the measured runs (scoped)'],
        ...cpu.map((c) => [
          SCENARIOS[c.scenario].label, f(c.perCaller['no scopes'].cpu, 1), f(c.perCaller.unscoped.cpu, 1), f(c.perCaller.scoped.cpu, 1),
          `${f(c.scopedMinusNone, 1)} µs (rounds: ${c.pairs.map((p) => f(p, 1)).join(', ')})`, `${f(c.unscopedMinusNone, 1)} µs`,
          f(c.perCaller.scoped.rps / c.perCaller['no scopes'].rps, 3), String(c.perCaller.scoped.ownCalls),
        ]),
      ]),
      '',
    );
    for (const c of cpu) goals.push({ goal: `scoped CPU ≤ no scopes + ${GOAL_CPU_US} µs, ${SCENARIOS[c.scenario].label}, c=${CFG.connections}`, met: c.scopedMinusNone <= GOAL_CPU_US, detail: `+${f(c.scopedMinusNone, 1)} µs` });
    const bad = cpuRuns.reduce((n, r) => n + r.bad, 0);
    if (bad) lines.push(`${bad} non-2xx answers or errors in the measured runs.`, '');
  }
  if (split) {
    lines.push(
      '(a′) Where it goes, in this process (no network, one request at a time, 20,000 a measurement, medians of the rounds): authorization in front of a terminal stage ' +
        'that reads the body and answers like forward; for the scoped client with a warm cache, then with owner-learning after it.',
      '',
      mdTable([
        ['request', 'no scopes µs', 'scoped: decision µs', 'scoped: + owner-learning µs', 'decision adds', 'owner-learning adds'],
        ...split.map((r) => [SCENARIOS[r.scenario].label, f(r.noScopes), f(r.scopedDecision), f(r.scopedWithLearning), `${f(r.scopedDecision - r.noScopes)} µs`, `${f(r.scopedWithLearning - r.scopedDecision)} µs`]),
      ]),
      '',
    );
  }
  if (loop) {
    const worst = Math.max(...loop.perRun);
    lines.push(
      `(b) The MLflow 3.17.2 client's log_metric loop as a scoped client (set_experiment, then ${loop.runs} runs × ${loop.metricsPerRun} log_metric), through the gateway to a real \`mlflow server\`; ` +
        `${loop.clientCalls} client calls in ${f(loop.seconds, 1)} s, ${loop.ownCalls} own calls of the gateway.`,
      '',
      mdTable([
        ['', 'own calls'],
        ['before the first run (set_experiment)', String(loop.setupOwnCalls)],
        ['per run (each run in order)', loop.perRun.join(' ')],
        ['per run, most', String(worst)],
        ['by route', Object.entries(loop.ownByPath).map(([k, v]) => `${k} × ${v}`).join('; ') || 'none'],
      ]),
      '',
      `The client's calls: ${Object.entries(loop.clientByPath).map(([k, v]) => `${k} × ${v}`).join('; ')}.`,
      '',
    );
    goals.push({ goal: `at most ${GOAL_LOOKUPS_PER_RUN} lookup per run of a log_metric loop`, met: worst <= GOAL_LOOKUPS_PER_RUN, detail: `at most ${worst} in a run, ${loop.ownCalls} in all for ${loop.runs} runs` });
  }
  if (memory) {
    lines.push(
      `(c) The lookups cache at its bound (lookups.cacheEntries ${memory.bound.toLocaleString('en-US')}): ${memory.asked.toLocaleString('en-US')} run lookups of distinct 32-hex-digit ids against bench/upstream.ts ` +
        `(${f(memory.seconds, 1)} s), ${memory.held.toLocaleString('en-US')} held; heap after a full collection ${f(memory.heapBeforeMb, 1)} → ${f(memory.heapAfterMb, 1)} MB: ` +
        `**${f(memory.heapAfterMb - memory.heapBeforeMb, 1)} MB**, ${f(memory.bytesPerEntry, 0)} bytes an entry (key, run placement with its artifact URI, LRU order).`,
      '',
    );
  }
  if (goals.length) lines.push('Goals', '', mdTable([['goal', 'met', 'measured'], ...goals.map((g) => [g.goal, g.met ? 'PASS' : 'MISS', g.detail])]), '');
  return { markdown: lines.join('\n'), goals };
}

const README_START = '<!-- scopes-results:start (written by `bun bench/scopes.ts --write-readme`; do not edit by hand) -->';
const README_END = '<!-- scopes-results:end -->';
async function main() {
  const started = new Date();
  sampleLoad();
  const limitS = CFG.rounds * 6 * (CFG.seconds + 5) + 6 * 7 + 1200;
  setTimeout(() => {
    console.error(`bench: overall time limit (${limitS} s) reached, stopping`);
    cleanup();
    process.exit(2);
  }, limitS * 1000).unref();
  tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-scopes-bench-'));
  atCleanup(() => rmSync(tmp, { recursive: true, force: true }));
  emptyAws = join(tmp, 'aws-empty');
  writeFileSync(emptyAws, '');
  const upstream = await startChild('upstream', [BUN, join(import.meta.dir, 'upstream.ts')], { cwd: tmp, env: baseEnv(tmp) });

  const cpuRuns = CFG.skip.has('cpu') ? [] : await measureCpu(upstream);
  const cpu = cpuRuns.length ? summariseCpu(cpuRuns) : null;
  const split = CFG.skip.has('split') ? null : await measureSplit(upstream);
  const loop = CFG.skip.has('loop') ? null : await measureLoop();
  const memory = CFG.skip.has('memory') ? null : await measureMemory(upstream);
  sampleLoad();
  const { markdown, goals } = report(cpu, cpuRuns, split, loop, memory, started);
  console.log(`\n${markdown}`);
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify({ startedAt: started.toISOString(), machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, bun: Bun.version, load: loadSamples }, config: { ...CFG, skip: [...CFG.skip] }, goals, cpuRuns, split, loop, memory }, null, 2) + '\n');
  log(`results written to ${CFG.out.replace(ROOT + '/', '')}`);
  if (CFG.writeReadme) writeReadmeSection(markdown, README_START, README_END);
}

if (import.meta.main) runMain(main);
