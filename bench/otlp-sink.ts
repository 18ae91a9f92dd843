// An OTLP/HTTP receiver that accepts every export and counts the spans in it, for bench/tracing.ts:
// the gateway's export cost is what is measured, so the receiver does nothing else.
//   bun bench/otlp-sink.ts     (prints its listening line; GET /stats answers {"exports","spans"})
export {};
let exportCount = 0;
let spans = 0;
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(request) {
    if (request.method === 'GET') return Response.json({ exports: exportCount, spans });
    const text = await request.text();
    exportCount++;
    // A span's id is its only "spanId" key in OTLP JSON.
    spans += text.split('"spanId"').length - 1;
    return Response.json({});
  },
});
console.log(JSON.stringify({ event: 'listening', port: server.port }));
// Stops with its parent: stdin reaches EOF when the bench is gone.
(async () => { const r = Bun.stdin.stream().getReader(); while (!(await r.read()).done); process.exit(0); })();
