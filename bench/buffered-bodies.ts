// Memory of buffered request bodies: a SageMaker-bound body is read whole to be hashed for SigV4,
// so N concurrent uploads hold N bodies. This measures the gateway's resident memory while 20
// clients upload a near-limit body (7.6 MiB, under the default 8 MiB maxBodyBytes) at once, a few
// rounds, against an idle baseline, for each variant given, in one invocation:
//
//   bun bench/buffered-bodies.ts
//   BENCH_BASELINE_REPO=/path/to/older/checkout bun bench/buffered-bodies.ts   (adds "before")
//
// Variants: the older checkout's gateway (with BENCH_BASELINE_REPO, its rules without the new key),
// this checkout with the buffer budget out of the way (limits.maxBufferedBytes: 8 GiB), and this
// checkout with the default budget. Everything on 127.0.0.1; the upstream (in this process) reads
// each body and discards it. Bounded: BENCH_ROUNDS rounds of BENCH_CONCURRENCY uploads each.
// Prints a table and writes bench/results/buffered-bodies.json. Only ratios within one run mean
// anything: RSS depends on the allocator, the runtime version and what else the machine does.
import { spawn, type Subprocess } from 'bun';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { hashApiKey } from '../src/auth/api-key.ts';

const ROOT = resolve(import.meta.dir, '..');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BODY_BYTES = Number(process.env.BENCH_BODY_BYTES ?? Math.round(7.6 * 1024 * 1024));
const OUT = resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/buffered-bodies.json');
const KEY = 'bench-buffered-key-0123456789abcdef';
// BENCH_MAX_BODY_BYTES raises limits.maxBodyBytes in every variant (for bodies over 8 MiB).
const MAX_BODY = process.env.BENCH_MAX_BODY_BYTES ? `maxBodyBytes: ${Number(process.env.BENCH_MAX_BODY_BYTES)}` : '';
const limitsWith = (extra: string) => `{${[MAX_BODY, extra].filter(Boolean).join(', ')}}`;
const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/bench';
const MIB = 1024 * 1024;

interface Variant {
  name: string;
  main: string;
  limits: string;
}

// BENCH_VARIANTS=before,default picks some (by the first word of their name).
const chosen = process.env.BENCH_VARIANTS?.split(',');
const variants: Variant[] = [
  ...(process.env.BENCH_BASELINE_REPO ? [{ name: 'before (baseline checkout)', main: join(process.env.BENCH_BASELINE_REPO, 'src/main.ts'), limits: limitsWith('') }] : []),
  { name: 'budget out of the way (8 GiB)', main: join(ROOT, 'src/main.ts'), limits: limitsWith(`maxBufferedBytes: ${8 * 1024 * MIB}`) },
  { name: 'default budget', main: join(ROOT, 'src/main.ts'), limits: limitsWith('') },
].filter((v) => !chosen || chosen.includes(v.name.split(' ')[0]!));

// The upstream: reads every body whole (as SageMaker does) and answers a small JSON.
let received = 0;
const upstream = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  maxRequestBodySize: 64 * MIB,
  async fetch(request) {
    received += (await request.arrayBuffer()).byteLength;
    return Response.json({});
  },
});

function statusOf(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function startGateway(variant: Variant): Promise<{ proc: Subprocess; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'smp-bench-buffered-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: "${ARN}", endpoint: "http://127.0.0.1:${upstream.port}"}
limits: ${variant.limits}
logging: {requests: false}
clients: [{id: bench, apiKeySha256: "${hashApiKey(KEY)}", policies: [all]}]
policies: {all: {operations: ["*"]}}
`);
  const proc = spawn({
    cmd: [process.execPath, variant.main, 'serve', '--rules', rules],
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      AWS_ACCESS_KEY_ID: 'AKIABENCHBUFFERED000',
      AWS_SECRET_ACCESS_KEY: 'bench-secret-not-real',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  for (const stream of [proc.stdout, proc.stderr]) {
    void (async () => {
      const reader = (stream as ReadableStream<Uint8Array>).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) output += new TextDecoder().decode(r.value);
    })();
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const port = /"event":"listening".*?"port":(\d+)/.exec(output)?.[1];
    if (port) return { proc, port: Number(port) };
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`gateway did not start:\n${output}`);
    await Bun.sleep(50);
  }
}

async function measure(variant: Variant) {
  const { proc, port } = await startGateway(variant);
  try {
    const url = `http://127.0.0.1:${port}/api/2.0/mlflow/runs/log-batch`;
    const body = new Uint8Array(BODY_BYTES).fill(0x61);
    const upload = () => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body }).then(async (r) => (await r.arrayBuffer(), r.status));
    // Warm up: one upload, so the idle figure includes the code paths' own memory.
    if ((await upload()) !== 200) throw new Error(`${variant.name}: the warm-up upload failed`);
    Bun.gc(true);
    await Bun.sleep(500);
    const idle = statusOf(proc.pid!).rss;
    writeFileSync(`/proc/${proc.pid}/clear_refs`, '5'); // reset VmHWM to the current RSS
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, statusOf(proc.pid!).rss)), 10);
    const statuses: Record<number, number> = {};
    const started = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      for (const status of await Promise.all(Array.from({ length: CONCURRENCY }, upload))) statuses[status] = (statuses[status] ?? 0) + 1;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const hwm = statusOf(proc.pid!).hwm;
    peak = Math.max(peak, hwm);
    return { variant: variant.name, idleMb: idle / MIB, peakMb: peak / MIB, addedMb: (peak - idle) / MIB, addedPerByteInFlight: (peak - idle) / (CONCURRENCY * BODY_BYTES), statuses, seconds };
  } finally {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}

const results = [];
try {
  for (const variant of variants) results.push(await measure(variant));
} finally {
  upstream.stop(true);
}
const inFlightMb = (CONCURRENCY * BODY_BYTES) / MIB;
console.log(`${CONCURRENCY} concurrent uploads of ${(BODY_BYTES / MIB).toFixed(1)} MiB (${inFlightMb.toFixed(0)} MiB in flight), ${ROUNDS} rounds; bun ${Bun.version}`);
console.log('variant                          idle MB  peak MB  added MB  added/in flight  statuses');
for (const r of results) {
  console.log(
    `${r.variant.padEnd(32)} ${r.idleMb.toFixed(0).padStart(7)}  ${r.peakMb.toFixed(0).padStart(7)}  ${r.addedMb.toFixed(0).padStart(8)}  ${r.addedPerByteInFlight.toFixed(2).padStart(15)}  ${JSON.stringify(r.statuses)}`,
  );
}
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), bun: Bun.version, concurrency: CONCURRENCY, rounds: ROUNDS, bodyBytes: BODY_BYTES, upstreamBytes: received, results }, null, 2)}\n`);
