// Load runs for bench/run.ts: autocannon (`runLoad`) or paced fetch (`runPaced`). Used three ways:
//   imported by bench/run.ts (BENCH_CLIENT=inproc);
//   `node bench/load-worker.mjs --serve` (or bun): a persistent worker, JSON jobs in on stdin, results out;
//   `node bench/load-worker.mjs '<job json>'`: one run, one JSON result line (handy by hand).
// Plain JavaScript so that Node runs it without a TypeScript loader.
//
// Latencies: autocannon's own histogram keeps whole milliseconds only (lowestDiscernibleValue 1),
// too coarse for sub-millisecond overheads, so every 2xx response time (a float, in ms, from
// process.hrtime) is also recorded here and percentiles are computed exactly from those.
import autocannon from 'autocannon';
import { pathToFileURL } from 'node:url';

/**
 * @typedef {{ url: string, method?: string, headers?: Record<string,string>, body?: string,
 *   connections: number, duration: number, overallRate?: number, timeout?: number }} Job
 */

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** @param {Job} job */
export async function runLoad(job) {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: job.url,
    method: job.method ?? 'GET',
    headers: job.headers ?? {},
    body: job.body,
    connections: job.connections,
    duration: job.duration,
    overallRate: job.overallRate,
    timeout: job.timeout ?? 30,
    pipelining: 1,
    // Latencies at a fixed rate are recorded as measured (no coordinated-omission correction):
    // the rate is far below capacity, so no request waits behind a late one for long.
    ...(job.overallRate ? { ignoreCoordinatedOmission: true } : {}),
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode < 200 || statusCode > 299) return;
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = responseTime;
  });
  const result = await instance;
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const sorted = lat.subarray(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const seconds = result.duration || wall; // autocannon's measured duration, in seconds
  return {
    ok2xx: n,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    rps: n / seconds,
    latencyMs: n === 0 ? null : {
      mean: sum / n,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted[n - 1],
    },
    // autocannon's own whole-millisecond figures, for comparison with its CLI output
    autocannon: { p50: result.latency.p50, p99: result.latency.p99, reqAvg: result.requests.average },
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    clientRuntime: typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.versions.node}`,
  };
}

/**
 * Open-loop paced load with fetch: one request every 1000/rate ms whatever the previous ones are
 * doing, latency measured per request from send to the last body byte. Unlike autocannon's
 * `overallRate`, which releases each connection's per-second quota as one back-to-back burst at
 * the start of every second, this spreads the requests evenly over the second.
 * @param {Job & { rate: number, maxInFlight?: number }} job
 */
export async function runPaced(job) {
  const intervalMs = 1000 / job.rate;
  const maxInFlight = job.maxInFlight ?? 256;
  const lat = [];
  let inFlight = 0, sent = 0, ok = 0, non2xx = 0, errors = 0, skipped = 0, maxLagMs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + job.duration * 1000;
  const pending = new Set();
  const fire = () => {
    sent++;
    inFlight++;
    const start = performance.now();
    const p = fetch(job.url, { method: job.method ?? 'GET', headers: job.headers, body: job.body })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.status >= 200 && res.status <= 299) {
          ok++;
          lat.push(performance.now() - start);
        } else non2xx++;
      })
      .catch(() => { errors++; })
      .finally(() => { inFlight--; pending.delete(p); });
    pending.add(p);
  };
  let next = t0;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    while (next <= now) {
      maxLagMs = Math.max(maxLagMs, now - next);
      if (inFlight < maxInFlight) fire(); else skipped++;
      next += intervalMs;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  const seconds = (performance.now() - t0) / 1000;
  const deadline = Date.now() + 30_000;
  while (pending.size > 0 && Date.now() < deadline) await Promise.race([...pending, new Promise((r) => setTimeout(r, 100))]);
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(lat).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    ok2xx: ok, total: sent, non2xx, errors, timeouts: pending.size, skipped, seconds, rps: ok / seconds, maxLagMs,
    latencyMs: n === 0 ? null : {
      mean: sum / n, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9), max: sorted[n - 1],
    },
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    clientRuntime: typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.versions.node}`,
  };
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.argv[2] === '--serve') {
  // Persistent mode: one JSON job per stdin line, one JSON result per stdout line, in order.
  // Keeping one process for all runs keeps its JIT warm (a fresh process per run measured its
  // own warm-up in the first second: more client CPU and a worse p99). Ends when stdin closes.
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let reply;
    try {
      const job = JSON.parse(line);
      reply = { ok: true, result: await (job.paced ? runPaced(job) : runLoad(job)) };
    } catch (e) {
      reply = { ok: false, error: String(e?.stack ?? e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
  process.exit(0);
} else if (isMain) {
  const job = JSON.parse(process.argv[2]);
  (job.paced ? runPaced(job) : runLoad(job)).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e) => {
      process.stderr.write(String(e?.stack ?? e) + '\n');
      process.exit(1);
    },
  );
}
