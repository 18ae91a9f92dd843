// A fast local stand-in for SageMaker MLflow: the throughput baseline of the benchmark.
// It does NOT verify signatures; it only counts how many requests arrived SigV4-signed, so the
// bench can show that the gateway really signed what it forwarded.
//
//   bun bench/upstream.ts            prints {"event":"listening","port":N} on stdout
//
// Routes:
//   GET  /api/2.0/mlflow/experiments/get?experiment_id=1   small MLflow-like JSON
//   POST /api/2.0/mlflow/runs/log-metric                    reads the body, answers {}
//   GET  /api/2.0/mlflow/runs/get?run_id=ID                 any run id: a run of experiment 1 (scoped policies' lookups)
//   GET  /bench/blob?bytes=N                                N bytes, generated, in 1 MiB chunks
//   GET  /bench/stats                                       counters (JSON)
//
// It stops by itself when its stdin closes (the bench that started it is gone) or after
// BENCH_UPSTREAM_MAX_SECONDS (default 3600), whichever comes first.

export {}; // a module, not a script (keeps its names out of the global scope)

const CHUNK = 1024 * 1024;
const MAX_BLOB = 64 * 1024 * 1024 * 1024; // refuse absurd sizes

const experiment = JSON.stringify({
  experiment: {
    experiment_id: '1',
    name: 'bench-experiment',
    artifact_location: 's3://bench-bucket/mlflow/1',
    lifecycle_stage: 'active',
    last_update_time: 1700000000000,
    creation_time: 1700000000000,
    tags: [{ key: 'mlflow.note.content', value: 'benchmark' }],
  },
});
const jsonHeaders = { 'content-type': 'application/json' };

// One pattern chunk made once; every response chunk is a copy (the stream may take ownership of
// what it is given), so memory stays at a few MiB whatever N is.
const pattern = new Uint8Array(CHUNK);
for (let i = 0; i < CHUNK; i++) pattern[i] = (i * 31 + 7) & 0xff;

const stats = { requests: 0, signed: 0, bodyBytesIn: 0, blobBytesOut: 0, ownCalls: 0 };

/** Any run id names a run of experiment 1, as MLflow's runs/get answers it (the parts a lookup reads, and a few more). */
function run(id: string): string {
  return JSON.stringify({
    run: {
      info: { run_id: id, run_uuid: id, experiment_id: '1', run_name: 'bench-run', status: 'RUNNING', start_time: 1700000000000, artifact_uri: `s3://bench-bucket/mlflow/1/${id}/artifacts`, lifecycle_stage: 'active' },
      data: { metrics: [], params: [], tags: [] },
      inputs: {},
    },
  });
}

function blob(n: number): Response {
  let left = n;
  const body = new ReadableStream<Uint8Array>({
    type: 'bytes',
    pull(controller) {
      if (left <= 0) {
        controller.close();
        return;
      }
      const size = Math.min(CHUNK, left);
      left -= size;
      stats.blobBytesOut += size;
      controller.enqueue(size === CHUNK ? pattern.slice() : pattern.slice(0, size));
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(n) },
  });
}

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.BENCH_UPSTREAM_PORT ?? 0),
  idleTimeout: 120,
  async fetch(req) {
    stats.requests++;
    if (req.headers.get('authorization')?.startsWith('AWS4-HMAC-SHA256 ')) stats.signed++;
    // The gateway's own calls (scoped policies' lookups) name themselves (pipeline/own-calls.ts).
    if (req.headers.get('user-agent')?.endsWith('(own call)')) stats.ownCalls++;
    const url = new URL(req.url);
    const path = url.pathname;
    if (req.method === 'GET' && path === '/api/2.0/mlflow/experiments/get') {
      if (url.searchParams.get('experiment_id') !== '1') {
        return new Response(JSON.stringify({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment' }), {
          status: 404,
          headers: jsonHeaders,
        });
      }
      return new Response(experiment, { headers: jsonHeaders });
    }
    if (req.method === 'GET' && path === '/api/2.0/mlflow/runs/get') {
      return new Response(run(url.searchParams.get('run_id') ?? ''), { headers: jsonHeaders });
    }
    if (req.method === 'POST' && path === '/api/2.0/mlflow/runs/log-metric') {
      const body = await req.arrayBuffer();
      stats.bodyBytesIn += body.byteLength;
      return new Response('{}', { headers: jsonHeaders });
    }
    if (req.method === 'GET' && path === '/bench/blob') {
      const n = Number(url.searchParams.get('bytes') ?? '0');
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BLOB) return new Response('bad bytes', { status: 400 });
      return blob(n);
    }
    if (req.method === 'GET' && path === '/bench/stats') {
      return new Response(JSON.stringify(stats), { headers: jsonHeaders });
    }
    return new Response(JSON.stringify({ error_code: 'ENDPOINT_NOT_FOUND', message: `${req.method} ${path}` }), {
      status: 404,
      headers: jsonHeaders,
    });
  },
});

console.log(JSON.stringify({ event: 'listening', port: server.port, pid: process.pid }));

const stop = () => {
  server.stop(true);
  process.exit(0);
};
const maxSeconds = Number(process.env.BENCH_UPSTREAM_MAX_SECONDS ?? 3600);
setTimeout(stop, maxSeconds * 1000).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Parent gone → stdin reaches EOF → stop. (Only when stdin is a pipe; a terminal never closes.)
if (process.env.BENCH_UPSTREAM_WATCH_STDIN !== '0' && !process.stdin.isTTY) {
  (async () => {
    try {
      const reader = Bun.stdin.stream().getReader();
      while (!(await reader.read()).done) {
        // ignore input
      }
    } catch {
      // ignore
    }
    stop();
  })();
}
