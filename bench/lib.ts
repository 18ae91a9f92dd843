// What the benches share: child processes that are always stopped, /proc readings (each process's
// own CPU and memory accounting), and the persistent load-worker client (bench/load-worker.mjs).
import { spawn, type Subprocess } from 'bun';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dir, '..');
export const log = (...a: unknown[]) => console.error('bench:', ...a);

/** Runs a bench's main and exits: 0 when it finished, 1 with the error; children stopped either way. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => {
      cleanup();
      process.exit(0);
    },
    (e) => {
      console.error('bench: FAILED:', (e as Error)?.stack ?? e);
      cleanup();
      process.exit(1);
    },
  );
}

// ───────────────────────────── settings ─────────────────────────────
/** A positive number from the environment, or the default when unset. */
export function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}
/** A comma list from the environment, trimmed, empty items left out. */
export function envList(name: string, dflt: string): string[] {
  return (process.env[name] ?? dflt).split(',').map((s) => s.trim()).filter(Boolean);
}

// ───────────────────────────── /proc readings ─────────────────────────────
export function procStatus(pid: number): { rssKb: number; hwmKb: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(s);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(s);
    return { rssKb: rss ? Number(rss[1]) : NaN, hwmKb: hwm ? Number(hwm[1]) : NaN };
  } catch {
    return null;
  }
}

const CLK_TCK = 100; // USER_HZ on Linux
/** User + system CPU seconds the process has used, all its threads (from /proc/PID/stat). */
export function procCpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Reset the peak-RSS counter (VmHWM) of a process: `echo 5 > /proc/PID/clear_refs` (Linux ≥ 4.0). */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
export const mb = (kb: number) => kb / 1024;

/** Iterate a web ReadableStream (the DOM lib types lack Symbol.asyncIterator on it). */
export async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

// ───────────────────────────── child processes ─────────────────────────────
export interface Child {
  name: string;
  proc: Subprocess<'pipe', 'pipe', 'pipe'>;
  pid: number;
  port: number;
  stdoutLines: () => number;
  stderrTail: () => string;
  exited: boolean;
}
const children: Child[] = [];
const workerProcs: Subprocess[] = [];
const onCleanup: Array<() => void> = [];

/** Kills every child and worker (SIGKILL) and runs the registered clean-ups; safe to call twice. */
export function cleanup(): void {
  for (const p of [...workerProcs, ...children.map((c) => c.proc)]) {
    try {
      if (!p.killed && p.exitCode === null) p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const fn of onCleanup.splice(0)) {
    try {
      fn();
    } catch {
      // ignore
    }
  }
}
export function atCleanup(fn: () => void): void {
  onCleanup.push(fn);
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping children`);
    cleanup();
    process.exit(130);
  });
}

export interface ChildOptions {
  env: Record<string, string>;
  cwd: string;
  /** The port it listens on when known beforehand; else it prints `{"event":"listening","port":N}` on stdout. */
  port?: number;
  /** With `port`: how to tell it is up (a URL that must answer anything). */
  readyUrl?: string;
  timeoutMs?: number;
  /** Each line the child writes on stderr (e.g. JSC's garbage-collection log, see gcLog). */
  onStderrLine?: (line: string) => void;
}

/**
 * Starts a server and waits until it listens: its JSON listening line on stdout, or, for a server
 * that prints none (aws-sigv4-proxy), until `readyUrl` answers. Stdout is always drained (audit
 * lines are counted, never stored), so a child never blocks on a full pipe.
 */
export async function startChild(name: string, cmd: string[], opts: ChildOptions): Promise<Child> {
  const proc = spawn(cmd, { cwd: opts.cwd, env: opts.env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  let lines = 0;
  let stderr = '';
  let pending = '';
  let found = opts.port !== undefined;
  let portResolve!: (p: number) => void;
  let portReject!: (e: Error) => void;
  const portPromise = new Promise<number>((res, rej) => {
    portResolve = res;
    portReject = rej;
  });
  const child: Child = { name, proc, pid: proc.pid, port: opts.port ?? 0, stdoutLines: () => lines, stderrTail: () => stderr, exited: false };
  children.push(child);
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of chunksOf(proc.stdout)) {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
      if (found) continue;
      pending += dec.decode(chunk, { stream: true });
      let nl: number;
      while (!found && (nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.includes('"listening"')) continue;
        try {
          const ev = JSON.parse(line);
          if ((ev.event === 'listening' || ev.msg === 'listening') && Number.isInteger(ev.port)) {
            found = true;
            pending = '';
            portResolve(ev.port);
          }
        } catch {
          // not JSON: keep looking
        }
      }
      if (pending.length > 1 << 20) pending = pending.slice(-65536);
    }
  })();
  (async () => {
    const dec = new TextDecoder();
    let partial = '';
    for await (const chunk of chunksOf(proc.stderr)) {
      const text = dec.decode(chunk, { stream: true });
      stderr = (stderr + text).slice(-8192);
      if (!opts.onStderrLine) continue;
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) opts.onStderrLine(line);
    }
  })();
  proc.exited.then((code) => {
    child.exited = true;
    portReject(new Error(`${name} exited (code ${code}) before it listened.\n${stderr}`));
  });
  const limitMs = opts.timeoutMs ?? 30_000;
  const timer = setTimeout(() => portReject(new Error(`${name}: not listening within ${limitMs} ms.\n${stderr}`)), limitMs);
  try {
    if (opts.port !== undefined && opts.readyUrl) {
      const deadline = performance.now() + limitMs;
      for (;;) {
        if (child.exited) await portPromise; // throws with its stderr
        try {
          await (await fetch(opts.readyUrl)).arrayBuffer();
          break;
        } catch {
          if (performance.now() > deadline) throw new Error(`${name}: ${opts.readyUrl} did not answer within ${limitMs} ms.\n${stderr}`);
          await Bun.sleep(10);
        }
      }
    } else {
      child.port = await portPromise;
    }
  } finally {
    clearTimeout(timer);
  }
  portPromise.catch(() => {}); // a later exit is reported by the runs, not as an unhandled rejection
  return child;
}

/** A free loopback port, for servers that must be told theirs (the OS picks it; a tiny race is accepted). */
export function freePort(): number {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

// ───────────────────────────── load runs ─────────────────────────────
export interface LoadJob {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  duration: number;
  overallRate?: number;
  paced?: boolean;
  rate?: number;
}
export interface LoadResult {
  ok2xx: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  rps: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; p999: number; max: number } | null;
  clientCpuSeconds: number;
  clientRuntime: string;
  skipped?: number;
  maxLagMs?: number;
}

/** A persistent load-worker process: jobs go in as JSON lines on stdin, results come back in order. */
export class LoadWorker {
  private proc: Subprocess<'pipe', 'pipe', 'pipe'>;
  private lines: AsyncIterator<string>;
  private stderr = '';
  constructor(readonly runtime: string) {
    this.proc = spawn([runtime, join(import.meta.dir, 'load-worker.mjs'), '--serve'], { cwd: ROOT, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
    workerProcs.push(this.proc);
    const proc = this.proc;
    this.lines = (async function* () {
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of chunksOf(proc.stdout)) {
        buf += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          yield buf.slice(0, nl);
          buf = buf.slice(nl + 1);
        }
      }
    })();
    (async () => {
      const dec = new TextDecoder();
      for await (const chunk of chunksOf(proc.stderr)) this.stderr = (this.stderr + dec.decode(chunk, { stream: true })).slice(-4096);
    })();
  }
  async run(job: LoadJob): Promise<LoadResult> {
    this.proc.stdin.write(JSON.stringify(job) + '\n');
    this.proc.stdin.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`load worker (${this.runtime}) gave no result within ${job.duration + 60} s`)), (job.duration + 60) * 1000);
    });
    try {
      const next = await Promise.race([this.lines.next(), timeout]);
      if (next.done) throw new Error(`load worker (${this.runtime}) exited: ${this.stderr}`);
      const reply = JSON.parse(next.value);
      if (!reply.ok) throw new Error(`load worker (${this.runtime}) failed: ${reply.error}`);
      return reply.result;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ───────────────────────────── printing ─────────────────────────────
export const f = (n: number | null | undefined, d = 2) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
export const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
export const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
export function table(rows: string[][], alignRight: boolean[]): string {
  const w = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (alignRight[i] ? lpad(c, w[i] ?? 0) : pad(c, w[i] ?? 0))).join('  ')).join('\n');
}
export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ───────────────────────────── the gateway under test ─────────────────────────────
export const BENCH_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/bench';

/** The gateway's rules: the upstream as a SageMaker tracking server's endpoint, one API-key client allowed everything. */
export function gatewayRules(upstreamBase: string, apiKey: string, port = 0, extra: string[] = []): string {
  const keyHash = new Bun.CryptoHasher('sha256').update(apiKey).digest('hex');
  return [
    'version: 1',
    `listen: { host: 127.0.0.1, port: ${port} }`,
    'backend:',
    `  arn: ${BENCH_ARN}`,
    `  endpoint: ${upstreamBase}`,
    'clients:',
    '  - id: bench',
    `    apiKeySha256: ${keyHash}`,
    '    policies: [bench-all]',
    'policies:',
    '  bench-all:',
    '    description: everything, including the non-MLflow /bench/blob path',
    '    allow:',
    '      - methods: ["*"]',
    '        paths: ["/**"]',
    ...extra,
    '',
  ].join('\n');
}

/** A minimal environment: PATH, a temporary HOME, nothing inherited that could change behaviour. */
export function baseEnv(home: string): Record<string, string> {
  const env = process.env;
  return { PATH: env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: env.TMPDIR ?? '/tmp', LANG: env.LANG ?? 'C.UTF-8', NO_COLOR: '1' };
}

/**
 * Fixed fake AWS credentials; the metadata service and the shared config/credentials files are
 * switched off (`emptyAwsFile` is an empty file), so the credential chain cannot wander.
 */
export function awsEnv(emptyAwsFile: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'AKIABENCHEXAMPLE0001',
    AWS_SECRET_ACCESS_KEY: 'benchSecretKeyExample0000000000000000000',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: emptyAwsFile,
    AWS_SHARED_CREDENTIALS_FILE: emptyAwsFile,
  };
}

/**
 * The environment the gateway runs with in production (systemd/sagemaker-mlflow-proxy.service,
 * `npm start`): JavaScriptCore sizes its heap as on a 64 MiB machine, so it collects before
 * garbage (and the native memory of the requests, responses and headers it holds) piles up; under
 * c=128 that keeps RSS near 64 MiB instead of 90–100 (bench/memory.ts, docs/memory.md). The benches
 * whose figures judge issue 21's goals (peer, run, accounting, in-process, memory) start the gateway
 * with it, so what they measure is what runs.
 */
export const GATEWAY_RUNTIME_ENV: Record<string, string> = { BUN_JSC_forceRAMSize: String(64 * 1024 * 1024) };

export const SCENARIOS = {
  get: {
    label: 'GET experiments/get',
    method: 'GET',
    path: '/api/2.0/mlflow/experiments/get?experiment_id=1',
    body: undefined as string | undefined,
    headers: {} as Record<string, string>,
  },
  post: {
    label: 'POST runs/log-metric',
    method: 'POST',
    path: '/api/2.0/mlflow/runs/log-metric',
    body: JSON.stringify({ run_id: 'abc', key: 'm', value: 1.5, timestamp: 1700000000000, step: 1 }),
    headers: { 'content-type': 'application/json' } as Record<string, string>,
  },
};
export type ScenarioName = keyof typeof SCENARIOS;

// ───────────────────────────── garbage collection, from the collector's own log ─────────────────────────────
/**
 * Environment that makes a Bun child log each garbage collection on stderr (JavaScriptCore's
 * `logGC` option; Bun passes BUN_JSC_* variables to JSC): one line per collection,
 * `[GC<0x…>: START M 8944kb => EdenCollection, … => 153kb, p=1.13ms (max 1.13), cycle 1.09ms END]`,
 * and, before a collection that allocation asked for, `Requesting GC because bytes allocated this
 * cycle: N exceed bytes allowed: M`.
 */
export const GC_LOG_ENV = { BUN_JSC_logGC: '1' };
/**
 * With GC_LOG_ENV, for measuring allocation: Bun's own collection timer off
 * (BUN_GC_TIMER_DISABLE), so that every collection is one the allocation asked for and its line
 * says how many bytes were allocated since the last one. The sum over a run is the run's
 * allocation within one cycle (about 8 MB here). Not for CPU runs: the timer is part of what the
 * gateway costs in production.
 */
export const GC_ALLOCATION_ENV = { ...GC_LOG_ENV, BUN_GC_TIMER_DISABLE: '1' };

export interface GcTotals {
  collections: number;
  /** Full (not eden) collections among them. */
  full: number;
  /** Sum of the collections' cycle times (ms). */
  cycleMs: number;
  /** Collections that allocation asked for, and the bytes allocated (JS cells and the external memory reported to the collector) in their cycles. */
  allocationTriggered: number;
  allocatedBytes: number;
}

/** Running totals of a child's collections, fed with its stderr lines. */
export function gcLog(): { onLine: (line: string) => void; totals: () => GcTotals } {
  const totals: GcTotals = { collections: 0, full: 0, cycleMs: 0, allocationTriggered: 0, allocatedBytes: 0 };
  const collection = /START \S+ \d+kb => (\w+)Collection.* cycle ([\d.]+)ms END/;
  const requested = /Requesting GC because bytes allocated this cycle: (\d+) /;
  return {
    onLine(line) {
      const r = requested.exec(line);
      if (r) {
        totals.allocationTriggered++;
        totals.allocatedBytes += Number(r[1]);
        return;
      }
      const m = collection.exec(line);
      if (!m) return;
      totals.collections++;
      if (m[1] !== 'Eden') totals.full++;
      totals.cycleMs += Number(m[2]);
    },
    totals: () => ({ ...totals }),
  };
}

/**
 * Rewrites one results section of bench/README.md (between its start and end markers) with a run's
 * markdown: each bench's `--write-readme`.
 */
export function writeReadmeSection(markdown: string, start: string, end: string): void {
  const file = join(ROOT, 'bench/README.md');
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`bench/README.md has no ${start} … ${end} section`);
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${markdown}\n${text.slice(b)}`);
  log(`bench/README.md section ${start.slice(5, start.indexOf(':'))} rewritten`);
}
