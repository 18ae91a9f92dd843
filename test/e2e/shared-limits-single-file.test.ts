// What ships shares limits too: the compiled executable and the JavaScript bundle under Deno (with
// the README's narrow permissions) connect to one redis-server over TLS with a password read from a
// file, as on ElastiCache, and draw one client's burst from one bucket between them.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { MLFLOW_VERSIONS, startMlflow } from '../support/mlflow.ts';
import { cleanAwsEnv, tempDir, type Started } from '../support/processes.ts';
import { BUILT_RUNTIMES, startBuiltGateway } from '../support/build.ts';
import { startValkey, type Valkey } from '../support/valkey.ts';

setDefaultTimeout(180_000);

const KEY = 'shared-single-file-key-0123456789';
const BURST = 4;
const PASSWORD = 'a long auth token from secrets manager';

let valkey: Valkey;
let mlflow: Started & { url: string };
const gateways: Started[] = [];

beforeAll(async () => {
  [valkey, mlflow] = await Promise.all([startValkey({ tls: true, password: PASSWORD }), startMlflow(MLFLOW_VERSIONS[0]!)]);
  // Deno may read only the rules file's directory: the token and the CA live beside the rules.
  const dir = tempDir('shared-single-file');
  writeFileSync(join(dir, 'valkey-token'), `${PASSWORD}\n`);
  copyFileSync(valkey.caFile!, join(dir, 'ca.pem'));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(
    rulesFile,
    `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "${mlflow.url}"}
limits:
  store: {kind: valkey, url: "${valkey.url}", passwordFile: "${join(dir, 'valkey-token')}", caFile: "${join(dir, 'ca.pem')}", timeoutMs: 1000}
clients:
  - {id: limited, apiKeySha256: "${hashApiKey(KEY)}", policies: [reader], rateLimit: {requestsPerSecond: 0.001, burst: ${BURST}}}
policies:
  reader: {operations: [GetExperiment]}
`,
  );
  for (const runtime of BUILT_RUNTIMES) gateways.push(await startBuiltGateway(runtime, rulesFile, cleanAwsEnv({})));
});

afterAll(async () => {
  for (const gateway of gateways) await gateway.stop();
  await mlflow?.stop();
  await valkey?.stop();
});

test('the compiled executable and the Deno bundle both connect to the store over TLS with the token file', () => {
  for (const gateway of gateways) expect(gateway.output()).toContain('rate limits are shared across the fleet');
});

test('one client\'s burst is shared between the two runtimes: together they allow it once', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < BURST * 2; i++) {
    const gateway = gateways[i % gateways.length]!;
    const response = await fetch(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/get?experiment_id=0`, { headers: { authorization: `Bearer ${KEY}` } });
    statuses.push(response.status);
  }
  expect(statuses.filter((s) => s === 200)).toHaveLength(BURST);
  expect(statuses.filter((s) => s === 429)).toHaveLength(BURST);
  expect(valkey.cli('EXISTS', 'smp:rl:limited')).toBe('1');
});
