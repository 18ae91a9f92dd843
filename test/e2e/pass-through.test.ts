// Bytes pass through both single-file builds unchanged. Written for Deno, whose fetch changes what
// a proxy sends and receives unless told otherwise (pipeline/headers.ts pinDenoFetchDefaults,
// forward.ts): compressed bodies must arrive compressed and whole, the backend must not see
// headers the client never sent, and a body streamed slowly must not be cut when the runtime
// aborts request.signal after the response.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILT_RUNTIMES, startBuiltGateway } from '../support/build.ts';
import { cleanAwsEnv, tempDir, type Started } from '../support/processes.ts';

setDefaultTimeout(120_000);

const GZIPPED = gzipSync(Buffer.from('{"experiments":[]}'.repeat(200)));
const CHUNK = new Uint8Array(randomBytes(64 * 1024));
const CHUNKS = 24;
let seenHeaders: Record<string, string>[] = [];
let upstreamCancelled = 0;
let upstream: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      seenHeaders.push(Object.fromEntries(request.headers));
      const path = new URL(request.url).pathname;
      if (path === '/gzip') {
        return new Response(GZIPPED, { headers: { 'content-encoding': 'gzip', 'content-type': 'application/json', 'content-length': String(GZIPPED.byteLength) } });
      }
      if (path === '/slow-stream') {
        let sent = 0;
        return new Response(
          new ReadableStream({
            async pull(controller) {
              await Bun.sleep(10);
              if (sent++ === CHUNKS) controller.close();
              else controller.enqueue(CHUNK.slice());
            },
            cancel() {
              upstreamCancelled++;
            },
          }),
          { headers: { 'content-type': 'application/octet-stream' } },
        );
      }
      return Response.json({ ok: true });
    },
  });
});
afterAll(() => upstream.stop(true));

for (const runtime of BUILT_RUNTIMES) {
  describe(runtime, () => {
    let gateway: Started;
    let base: string;
    beforeAll(async () => {
      const rulesFile = join(tempDir('pass-through'), 'rules.yaml');
      writeFileSync(
        rulesFile,
        `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "http://127.0.0.1:${upstream.port}"}
anonymous: {policies: [all]}
policies:
  all: {allow: [{methods: ["*"], paths: ["/**"]}]}
`,
      );
      gateway = await startBuiltGateway(runtime, rulesFile, cleanAwsEnv({}));
      base = `http://127.0.0.1:${gateway.port}`;
    });
    afterAll(async () => {
      await gateway?.stop();
    });

    test('a gzip answer reaches the client as the same compressed bytes, with a length that matches', async () => {
      const response = await fetch(`${base}/gzip`, { headers: { 'accept-encoding': 'gzip' }, decompress: false } as RequestInit);
      const body = new Uint8Array(await response.arrayBuffer());
      expect(response.headers.get('content-encoding')).toBe('gzip');
      expect(Number(response.headers.get('content-length'))).toBe(GZIPPED.byteLength);
      expect(Buffer.from(body).equals(GZIPPED)).toBe(true);
    });

    test('the backend sees no Accept-Language the client did not send, and never a wildcard one', async () => {
      seenHeaders = [];
      await (await fetch(`${base}/echo`, { headers: { 'accept-language': 'de-CH' } })).arrayBuffer();
      await (await fetch(`${base}/echo`)).arrayBuffer();
      expect(seenHeaders[0]!['accept-language']).toBe('de-CH');
      expect(seenHeaders[1]!['accept-language'] ?? '').toBe('');
    });

    test('a body streamed slowly arrives whole', async () => {
      const response = await fetch(`${base}/slow-stream`);
      const body = new Uint8Array(await response.arrayBuffer());
      expect(response.status).toBe(200);
      expect(body.byteLength).toBe(CHUNK.byteLength * CHUNKS);
      expect(Buffer.from(body.subarray(body.byteLength - CHUNK.byteLength)).equals(Buffer.from(CHUNK))).toBe(true);
      await Bun.sleep(100);
      expect(gateway.output()).not.toContain('"incomplete":true');
    });

    test('a client that leaves mid-body ends the upstream read, and the audit line says incomplete', async () => {
      const before = upstreamCancelled;
      const controller = new AbortController();
      const response = await fetch(`${base}/slow-stream`, { signal: controller.signal });
      const reader = response.body!.getReader();
      await reader.read();
      controller.abort();
      const deadline = Date.now() + 10_000;
      while ((upstreamCancelled === before || !gateway.output().includes('"incomplete":true')) && Date.now() < deadline) await Bun.sleep(25);
      expect(upstreamCancelled).toBe(before + 1);
      expect(gateway.output()).toContain('"incomplete":true');
    });
  });
}
