// backend.assumeRoleArn: the gateway assumes the role through STS (a stand-in that verifies the
// host credentials' signature) and signs MLflow calls with the role's credentials, which the
// data-plane stand-in verifies with botocore. A client with a role of its own gets it assumed with
// RoleSessionName and SourceIdentity set to its id, so CloudTrail names the client. The UI entry's
// presigned links are minted with the same identity as the person's MLflow calls.
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
import { startSageMakerControlPlane } from '../standins/sagemaker-control-plane.ts';

setDefaultTimeout(60_000);

const ARN = 'arn:aws:sagemaker:eu-central-1:210987654321:mlflow-tracking-server/shared';
const ROLE = 'arn:aws:iam::210987654321:role/mlflow-gateway';
const KEY = 'assume-role-key-0123456789abcdef';
const CLIENT_ROLE = 'arn:aws:iam::210987654321:role/analysts';
const ANALYST_KEY = 'analyst-key-0123456789abcdef0123';
const HOST_CREDENTIALS = staticCredentials('HOSTROLE00001');

let sts: ReturnType<typeof startSts>;
let controlPlane: ReturnType<typeof startSageMakerControlPlane>;
let upstream: ReturnType<typeof Bun.serve>;
let standin: DataPlaneStandin;
let gateway: Started;

beforeAll(async () => {
  sts = startSts('eu-central-1');
  controlPlane = startSageMakerControlPlane({ region: 'eu-central-1', resources: [ARN] });
  upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ experiments: [] }) });
  standin = await startDataPlane(venvPython(MLFLOW_VERSIONS[0]!), ARN, `http://127.0.0.1:${upstream.port}`);
  const rulesFile = join(tempDir('assume-role'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:${standin.port}", assumeRoleArn: "${ROLE}"}
clients:
  - {id: job, apiKeySha256: "${hashApiKey(KEY)}", policies: [read]}
  - {id: "analyst@corp.example", apiKeySha256: "${hashApiKey(ANALYST_KEY)}", policies: [read], assumeRoleArn: "${CLIENT_ROLE}"}
policies: {read: {operations: [SearchExperiments, AccessUI]}}
ui: {}
`);
  gateway = await startGateway(rulesFile, cleanAwsEnv({
    AWS_ACCESS_KEY_ID: HOST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: HOST_CREDENTIALS.secretAccessKey,
    // The SDK's service-specific endpoint variable points STS at the stand-in.
    AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${sts.port}`,
    AWS_ENDPOINT_URL_SAGEMAKER: controlPlane.endpoint,
  }));
});

afterAll(async () => {
  await gateway?.stop();
  await standin?.stop();
  upstream?.stop(true);
  sts?.stop();
  controlPlane?.stop();
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

test('a client with its own role is signed with that role, assumed with its id as session name and source identity', async () => {
  const before = sts.calls.length;
  for (let i = 0; i < 3; i++) {
    const response = await postJson(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/search`, ANALYST_KEY, {});
    expect(response.status).toBe(200);
  }
  // Assumed once, then cached; with the gateway's own (backend-role) credentials as the caller.
  expect(sts.calls.slice(before)).toHaveLength(1);
  const call = sts.calls[before]!;
  expect(call).toMatchObject({
    verdict: 'issued',
    accessKeyId: sts.calls[0]!.issued,
    params: { Action: 'AssumeRole', RoleArn: CLIENT_ROLE, RoleSessionName: 'analyst@corp.example', SourceIdentity: 'analyst@corp.example' },
  });
  const signedBy = standin.log().slice(-3).map((line) => [line.verdict, line.akid]);
  expect(signedBy).toEqual(Array(3).fill(['forwarded', call.issued]));
});

test('the UI entry mints each person\'s link as the role their MLflow calls use', async () => {
  const open = (key: string) => fetch(`http://127.0.0.1:${gateway.port}/ui`, { headers: { authorization: `Bearer ${key}` }, redirect: 'manual' });
  expect((await open(KEY)).status).toBe(302);
  expect((await open(ANALYST_KEY)).status).toBe(302);
  const minted = controlPlane.calls.filter((call) => call.operation === 'CreatePresignedMlflowTrackingServerUrl');
  const analystRole = sts.calls.find((call) => call.params.RoleArn === CLIENT_ROLE)!.issued;
  expect(minted.map((call) => [call.verdict, call.accessKeyId])).toEqual([['ok', sts.calls[0]!.issued], ['ok', analystRole]]);
});
