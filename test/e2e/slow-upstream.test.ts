// Elysia's app.listen() sets Bun's idleTimeout to 30 s, which cuts a response whose body goes
// silent for longer (runtime-notes.md); the gateway's listener waits as long as the backend timeout
// allows. A real-time test: ~32 s.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { postJson } from '../support/requests.ts';
import { cleanAwsEnv, startGateway, tempDir, type Started } from '../support/processes.ts';

setDefaultTimeout(90_000);

const KEY = 'slow-upstream-key-0123456789';
let upstream: ReturnType<typeof Bun.serve>;
let gateway: Started;

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 120,
    fetch() {
      // Headers and the first bytes at once, then 32 s of silence mid-body, then the rest.
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('{"experiments": '));
          await Bun.sleep(32_000);
          controller.enqueue(new TextEncoder().encode('[{"experiment_id": "0"}]}'));
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'application/json' } });
    },
  });
  const rulesFile = join(tempDir('slow'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "http://127.0.0.1:${upstream.port}", timeoutSeconds: 60}
clients: [{id: job, apiKeySha256: "${hashApiKey(KEY)}", policies: [read]}]
policies: {read: {operations: [SearchExperiments]}}
`);
  gateway = await startGateway(rulesFile, cleanAwsEnv({}));
});

afterAll(async () => {
  await gateway?.stop();
  upstream?.stop(true);
});

test('a response body silent for 32 s still arrives whole', async () => {
  const response = await postJson(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/search`, KEY, {});
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ experiments: [{ experiment_id: '0' }] });
});
