// Credentials from the EC2 instance metadata service (a stand-in speaking IMDSv2) expire every few
// seconds; under continuous requests the gateway switches keys without a single failed request.
// The data-plane stand-in refuses any key past its expiry, as AWS does.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { postJson } from '../support/requests.ts';
import { MLFLOW_VERSIONS, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { cleanAwsEnv, startGateway, tempDir, type Started } from '../support/processes.ts';
import { startInstanceMetadata, type MetadataStandin } from '../standins/instance-metadata.ts';

setDefaultTimeout(120_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/rotation';
const KEY = 'rotation-key-0123456789abcdef';
// The SDK treats credentials as expiring 5 minutes early; with 5 min + 4 s of life, every set is
// replaced a few seconds after it is issued.
const LIFETIME_MS = 5 * 60_000 + 4_000;

let imds: MetadataStandin;
let upstream: ReturnType<typeof Bun.serve>;
let standin: DataPlaneStandin;
let gateway: Started;

beforeAll(async () => {
  imds = startInstanceMetadata(LIFETIME_MS);
  upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ experiments: [] }) });
  standin = await startDataPlane(venvPython(MLFLOW_VERSIONS[0]!), ARN, `http://127.0.0.1:${upstream.port}`);
  const rulesFile = join(tempDir('rotation'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:${standin.port}"}
clients: [{id: job, apiKeySha256: "${hashApiKey(KEY)}", policies: [read]}]
policies: {read: {operations: [SearchExperiments]}}
`);
  const env = cleanAwsEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${imds.port}` });
  delete env.AWS_EC2_METADATA_DISABLED;
  gateway = await startGateway(rulesFile, env);
});

afterAll(async () => {
  await gateway?.stop();
  await standin?.stop();
  upstream?.stop(true);
  imds?.stop();
});

test('rotating instance credentials cause zero failed requests', async () => {
  const deadline = Date.now() + 14_000;
  const statuses = new Map<number, number>();
  const worker = async () => {
    while (Date.now() < deadline) {
      const response = await postJson(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/search`, KEY, { max_results: 10 });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);

  const used = new Set(standin.log().map((line) => line.akid));
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  console.log(`rotation: ${total} requests, ${imds.issued.length} credential sets issued, ${used.size} used, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  expect(imds.issued.length).toBeGreaterThanOrEqual(3); // it did rotate, several times
  expect(used.size).toBeGreaterThanOrEqual(3); // and the gateway signed with the new keys
  expect([...statuses.keys()]).toEqual([200]);
  expect(standin.log().filter((line) => line.verdict !== 'forwarded')).toEqual([]);
  expect(gateway.output()).toContain('credentials refreshed');
});
