// backend.assumeRoleArn: the gateway assumes the role through STS (a stand-in that verifies the
// host credentials' signature) and signs MLflow calls with the role's credentials, which the
// data-plane stand-in verifies with botocore.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { postJson } from '../support/requests.ts';
import { MLFLOW_VERSIONS, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { cleanAwsEnv, startGateway, tempDir, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { startSts } from '../standins/sts.ts';

setDefaultTimeout(60_000);

const ARN = 'arn:aws:sagemaker:eu-central-1:210987654321:mlflow-tracking-server/shared';
const ROLE = 'arn:aws:iam::210987654321:role/mlflow-gateway';
const KEY = 'assume-role-key-0123456789abcdef';
const HOST_CREDENTIALS = staticCredentials('HOSTROLE00001');

let sts: ReturnType<typeof startSts>;
let upstream: ReturnType<typeof Bun.serve>;
let standin: DataPlaneStandin;
let gateway: Started;

beforeAll(async () => {
  sts = startSts('eu-central-1');
  upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ experiments: [] }) });
  standin = await startDataPlane(venvPython(MLFLOW_VERSIONS[0]!), ARN, `http://127.0.0.1:${upstream.port}`);
  const rulesFile = join(tempDir('assume-role'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:${standin.port}", assumeRoleArn: "${ROLE}"}
clients: [{id: job, apiKeySha256: "${hashApiKey(KEY)}", policies: [read]}]
policies: {read: {operations: [SearchExperiments]}}
`);
  gateway = await startGateway(rulesFile, cleanAwsEnv({
    AWS_ACCESS_KEY_ID: HOST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: HOST_CREDENTIALS.secretAccessKey,
    // The SDK's service-specific endpoint variable points STS at the stand-in.
    AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${sts.port}`,
  }));
});

afterAll(async () => {
  await gateway?.stop();
  await standin?.stop();
  upstream?.stop(true);
  sts?.stop();
});

test('signs with the assumed role, obtained with the host credentials', async () => {
  const response = await postJson(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/search`, KEY, {});
  expect(response.status).toBe(200);
  expect(sts.calls).toHaveLength(1); // at start-up; cached afterwards
  expect(sts.calls[0]).toMatchObject({
    verdict: 'issued',
    accessKeyId: HOST_CREDENTIALS.accessKeyId,
    params: { Action: 'AssumeRole', RoleArn: ROLE, RoleSessionName: 'sagemaker-mlflow-proxy' },
  });
  const log = standin.log();
  expect(log.map((line) => [line.verdict, line.akid])).toEqual([['forwarded', sts.calls[0]!.issued]]);
});
