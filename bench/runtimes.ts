// The single-file builds against the source, in one run: startup time, RSS at idle, and saturated
// throughput of the compiled executable and of the bundle under Deno, each as a ratio to
// `bun src/main.ts` measured alongside.
//
//   npm run bench:runtimes     (builds first: scripts/build.sh)
//
// Same stand-in upstream (bench/upstream.ts) and client (autocannon in bench/load-worker.mjs, run
// by Node) as bench/run.ts. Only 127.0.0.1; every child is stopped at the end. Writes the numbers
// to bench/results/runtimes.json as well.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(import.meta.dir, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const API_KEY = 'bench-runtimes-key-0123456789abcdef';
const PATH = '/api/2.0/mlflow/experiments/get?experiment_id=1';

const children = new Set<ChildProcess>();
const tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-bench-rt-'));
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

interface Started {
  child: ChildProcess;
  port: number;
  /** ms from spawn to the "listening" line. */
  listeningMs: number;
  output: () => string;
}

function start(cmd: string[], env: Record<string, string>, linePattern: RegExp): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: tmp, env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd.join(' ')}: not listening in 30 s\n${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      // Keep the startup output only; audit lines are drained and dropped.
      if (out.length < 65536) out += chunk;
      const match = linePattern.exec(out);
      if (match && timer) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), listeningMs: performance.now() - t0, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${cmd.join(' ')} exited ${code}\n${out}`)));
  });
}

async function stop(started: Started) {
  const exited = new Promise((done) => started.child.once('exit', done));
  started.child.kill('SIGINT'); // SIGINT: no drain period
  await exited;
  children.delete(started.child);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Asynchronous on purpose: while a synchronous child runs, this process would stop reading the
// gateways' stdout, and a gateway blocked on a full pipe (Deno writes stdout synchronously) serves nothing.
async function load(url: string, duration: number) {
  const job = { url, headers: { authorization: `Bearer ${API_KEY}` }, connections: CONNECTIONS, duration };
  const worker = spawn('node', [join(import.meta.dir, 'load-worker.mjs'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  worker.stdout!.on('data', (c) => (out += c));
  worker.stderr!.on('data', (c) => (err += c));
  const code = await new Promise((done) => worker.once('exit', done));
  if (code !== 0) throw new Error(`load worker failed: ${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as { rps: number; non2xx: number; errors: number; latencyMs: { p50: number; p99: number } | null };
}

async function main() {
  const build = spawnSync('bash', [join(REPO, 'scripts/build.sh')], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(build.stderr);
  const bun = join(REPO, 'node_modules/.bin/bun');
  // The binary, not the .bin launcher: its RSS is the gateway's (see test/support/build.ts).
  const deno = join(REPO, 'node_modules/deno/deno');
  const empty = join(tmp, 'aws-empty');
  writeFileSync(empty, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmp,
    AWS_ACCESS_KEY_ID: 'AKIABENCHEXAMPLE0001',
    AWS_SECRET_ACCESS_KEY: 'benchSecretKeyExample0000000000000000000',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: empty,
    AWS_SHARED_CREDENTIALS_FILE: empty,
  };

  const upstream = await start([bun, join(import.meta.dir, 'upstream.ts')], env, /"listening","port":(\d+)/);
  const rules = join(tmp, 'rules.yaml');
  writeFileSync(
    rules,
    `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/bench", endpoint: "http://127.0.0.1:${upstream.port}"}
clients:
  - {id: bench, apiKeySha256: ${createHash('sha256').update(API_KEY).digest('hex')}, policies: [all]}
policies:
  all: {operations: ["*"]}
`,
  );

  const targets = [
    { name: 'bun src/main.ts', cmd: [bun, join(REPO, 'src/main.ts'), 'serve', '--rules', rules] },
    { name: 'executable', cmd: [join(REPO, 'dist/sagemaker-mlflow-proxy'), 'serve', '--rules', rules] },
    { name: 'deno bundle', cmd: [deno, 'run', '--allow-env', '--allow-net', `--allow-read=${tmp}`, join(REPO, 'dist/sagemaker-mlflow-proxy.js'), 'serve', '--rules', rules] },
  ];
  const listening = /"event":"listening".*?"port":(\d+)/;
  const results: Array<Record<string, number | string>> = [];
  for (const target of targets) {
    // Startup: spawn → listening line, and → first liveness answer; the median of STARTS starts.
    const toListening: number[] = [];
    const toLive: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const t0 = performance.now();
      const started = await start(target.cmd, env, listening);
      for (;;) {
        try {
          if ((await fetch(`http://127.0.0.1:${started.port}/-/live`)).ok) break;
        } catch {}
        await Bun.sleep(2);
      }
      toLive.push(performance.now() - t0);
      toListening.push(started.listeningMs);
      await stop(started);
    }
    const gateway = await start(target.cmd, env, listening);
    await Bun.sleep(1000);
    const idleRss = rssMb(gateway.child.pid!);
    const url = `http://127.0.0.1:${gateway.port}${PATH}`;
    await load(url, WARMUP);
    const measured = await load(url, SECONDS);
    const loadedRss = rssMb(gateway.child.pid!);
    await stop(gateway);
    results.push({
      target: target.name,
      startListeningMs: Math.round(median(toListening)),
      startLiveMs: Math.round(median(toLive)),
      idleRssMb: Math.round(idleRss),
      afterLoadRssMb: Math.round(loadedRss),
      rps: Math.round(measured.rps),
      p99Ms: measured.latencyMs ? Number(measured.latencyMs.p99.toFixed(2)) : NaN,
      failed: measured.non2xx + measured.errors,
    });
    console.error(`bench: ${target.name} done`);
  }
  const base = results[0]!;
  for (const r of results) {
    r.rpsRatio = Number(((r.rps as number) / (base.rps as number)).toFixed(2));
    r.startRatio = Number(((r.startLiveMs as number) / (base.startLiveMs as number)).toFixed(2));
  }
  const columns = ['target', 'startListeningMs', 'startLiveMs', 'startRatio', 'idleRssMb', 'afterLoadRssMb', 'rps', 'rpsRatio', 'p99Ms', 'failed'];
  console.log(columns.join('\t'));
  for (const r of results) console.log(columns.map((c) => String(r[c])).join('\t'));
  mkdirSync(join(import.meta.dir, 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dir, 'results', 'runtimes.json'),
    JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, connections: CONNECTIONS, starts: STARTS, results }, null, 2),
  );
  await stop(upstream);
}

await main();
process.exit(0);
