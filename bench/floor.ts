// The floor: the least a Bun proxy can do per request — Bun.serve + fetch, no signing, no rules,
// no audit line. bench/peer.ts runs it beside the gateway; "within 1.5× of the floor" is judged
// against it.   bun bench/floor.ts http://127.0.0.1:UPSTREAM_PORT   (prints its listening line)
const upstream = process.argv[2] ?? 'http://127.0.0.1:1';
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  idleTimeout: 120,
  fetch(request) {
    const url = new URL(request.url);
    return fetch(upstream + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body, decompress: false } as RequestInit);
  },
});
console.log(JSON.stringify({ event: 'listening', port: server.port }));
// Stops with its parent: stdin reaches EOF when the bench is gone.
(async () => { const r = Bun.stdin.stream().getReader(); while (!(await r.read()).done); process.exit(0); })();
