// Binary bodies pass through unchanged, both ways, on both runtimes and in both backend modes
// (issue 21). The gateway now answers with the upstream's own Response where it streams the body
// (forward.ts), dispatching its pipeline before Elysia (app.ts), which used to re-stream such a
// body through TextDecoder: 131,072 bytes in, 237,839 out on Bun, a hang on Deno (shared reference
// runtime-notes.md). Each answer kind takes another path: small with a length (read whole, then
// sent), large with a length (streamed), chunked (streamed); uploads are buffered and signed for
// SageMaker, streamed for a self-hosted MLflow. The SageMaker stand-in verifies every signature.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { BUILT_RUNTIMES, startBuiltGateway } from '../support/build.ts';
import { staticCredentials } from '../support/credentials.ts';
import { cleanAwsEnv, tempDir, type Started } from '../support/processes.ts';
import { verifySigV4, type Expectation } from '../standins/sigv4-verifier.ts';

setDefaultTimeout(180_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/binary';
const KEY = 'binary-bodies-key-0123456789abcdef';
const EXPECT: Expectation = { region: 'us-east-1', service: 'sagemaker-mlflow', routingHeader: 'x-mlflow-sm-tracking-server-arn', arn: ARN };
// Every byte value, in an order no text decoder leaves alone (lone surrogates, invalid UTF-8).
const SMALL = new Uint8Array(randomBytes(60 * 1024));
const LARGE = new Uint8Array(randomBytes(256 * 1024));
const PIECE = new Uint8Array(randomBytes(48 * 1024));
const PIECES = 5;
const UPLOAD = new Uint8Array(randomBytes(300 * 1024));
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let upstream: ReturnType<typeof Bun.serve>;
const badSignatures: string[] = [];

beforeAll(() => {
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 60,
    async fetch(request) {
      const body = new Uint8Array(await request.arrayBuffer());
      if (request.headers.has('authorization')) {
        const verdict = verifySigV4(request, request.url, body, EXPECT);
        if (!verdict.ok) {
          badSignatures.push(verdict.reason);
          return new Response(verdict.reason, { status: 403 });
        }
      }
      const path = new URL(request.url).pathname;
      const octets = { 'content-type': 'application/octet-stream' };
      if (path === '/binary/small') return new Response(SMALL, { headers: octets });
      if (path === '/binary/large') return new Response(LARGE, { headers: octets });
      if (path === '/binary/chunked') {
        let sent = 0;
        return new Response(new ReadableStream({ pull: (c) => (sent++ === PIECES ? c.close() : c.enqueue(PIECE.slice())) }), { headers: octets });
      }
      // The upload's bytes, echoed back, with their digest as the upstream received them.
      if (path === '/binary/echo') return new Response(body, { headers: { ...octets, 'x-received-sha256': sha(body) } });
      return new Response('not found', { status: 404 });
    },
  });
});
afterAll(() => upstream.stop(true));

const MODES = {
  sagemaker: () => `{arn: "${ARN}", endpoint: "http://127.0.0.1:${upstream.port}"}`,
  'self-hosted': () => `{url: "http://127.0.0.1:${upstream.port}"}`,
};

for (const runtime of BUILT_RUNTIMES) {
  for (const [mode, backend] of Object.entries(MODES)) {
    describe(`${runtime}, ${mode} backend`, () => {
      let gateway: Started;
      let base: string;
      beforeAll(async () => {
        const rulesFile = join(tempDir('binary-bodies'), 'rules.yaml');
        writeFileSync(
          rulesFile,
          `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: ${backend()}
limits: {maxBodyBytes: 1048576}
clients: [{id: binary, apiKeySha256: "${hashApiKey(KEY)}", policies: [all]}]
policies:
  all: {allow: [{methods: ["*"], paths: ["/binary/**"]}]}
`,
        );
        const creds = staticCredentials('BINARY000001');
        gateway = await startBuiltGateway(runtime, rulesFile, cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_REGION: 'us-east-1' }));
        base = `http://127.0.0.1:${gateway.port}`;
      });
      afterAll(async () => {
        await gateway?.stop();
      });
      const get = async (path: string) => {
        const response = await fetch(base + path, { headers: { authorization: `Bearer ${KEY}` } });
        return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
      };

      test('a small binary answer (read whole first) arrives byte for byte', async () => {
        const { response, bytes } = await get('/binary/small');
        expect(response.status).toBe(200);
        expect(bytes.byteLength).toBe(SMALL.byteLength);
        expect(sha(bytes)).toBe(sha(SMALL));
      });

      test('a large binary answer (streamed as the upstream sent it) arrives byte for byte', async () => {
        const { response, bytes } = await get('/binary/large');
        expect(response.status).toBe(200);
        expect(bytes.byteLength).toBe(LARGE.byteLength);
        expect(sha(bytes)).toBe(sha(LARGE));
      });

      test('a chunked binary answer arrives byte for byte', async () => {
        const { response, bytes } = await get('/binary/chunked');
        expect(response.status).toBe(200);
        expect(bytes.byteLength).toBe(PIECE.byteLength * PIECES);
        for (let i = 0; i < PIECES; i++) expect(sha(bytes.subarray(i * PIECE.byteLength, (i + 1) * PIECE.byteLength))).toBe(sha(PIECE));
      });

      test('a binary upload reaches the upstream byte for byte (signed over exactly those bytes for SageMaker) and its echo comes back whole', async () => {
        const response = await fetch(`${base}/binary/echo`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/octet-stream' }, body: UPLOAD });
        const bytes = new Uint8Array(await response.arrayBuffer());
        expect(badSignatures).toEqual([]);
        expect(response.status).toBe(200);
        expect(response.headers.get('x-received-sha256')).toBe(sha(UPLOAD));
        expect(sha(bytes)).toBe(sha(UPLOAD));
      });
    });
  }
}
