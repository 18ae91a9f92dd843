// End to end, once per kind of credential: the stock MLflow Python client (no plugin, no AWS
// variables) → [the ALB stand-in, for ALB sign-in] → the gateway (its CLI) → the SigV4-verifying
// SageMaker stand-in → a real `mlflow server`. The client signs in with MLFLOW_TRACKING_TOKEN (an
// API key, then a JWT from the OIDC-issuer stand-in, which rotates its key between two runs),
// MLFLOW_TRACKING_USERNAME/PASSWORD, or nothing at all behind the ALB. A rate-limited client still
// completes because MLflow honours Retry-After. Finally, the gateway's output holds none of the secrets.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { hashPassword } from '../../src/auth/password.ts';
import { MLFLOW_VERSIONS, mlflowUserEnv, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { startOidcIssuer, type OidcIssuerStandin } from '../standins/oidc-issuer.ts';
import { startAlb, type AlbStandin } from '../standins/alb.ts';

setDefaultTimeout(240_000);

const VERSION = MLFLOW_VERSIONS.at(-1)!;
const ARN = 'arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/identities';
const ALB_ARN = 'arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/mlflow/0123456789abcdef';
const API_KEY = 'identity-e2e-key-0123456789abcdef';
const LIMITED_KEY = 'limited-e2e-key-0123456789abcdef';
const PASSWORD = 'e2e password with spaces ✓';
const HOST = staticCredentials('IDENTITYE2E01');

let mlflow: Started & { url: string };
let standin: DataPlaneStandin;
let gateway: Started;
let issuer: OidcIssuerStandin;
let alb: AlbStandin;
let base: string;
const secrets: string[] = [API_KEY, LIMITED_KEY, PASSWORD, HOST.secretAccessKey, 'Signature='];

beforeAll(async () => {
  issuer = await startOidcIssuer();
  alb = await startAlb(ALB_ARN, () => base, { sub: '0f9e-alb-user', email: 'alb.user@example.com', groups: ['ds'] });
  mlflow = await startMlflow(VERSION);
  standin = await startDataPlane(venvPython(VERSION), ARN, mlflow.url);
  const rulesFile = join(tempDir('identities'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:${standin.port}"}
auth:
  jwt:
    - {issuer: "${issuer.issuer}", audiences: [mlflow-gateway], jwksCooldownSeconds: 0}
  alb: {albArn: "${ALB_ARN}", keyEndpoint: "${alb.keyEndpoint}", subjectClaim: email}
clients:
  - {id: key-user, apiKeys: [{sha256: "${hashApiKey(API_KEY)}", expires: "2099-12-31"}], policies: [trainer]}
  - {id: basic-user, passwordHash: "${await hashPassword(PASSWORD)}", policies: [trainer]}
  - {id: jwt-user, subjects: [jwt-subject-1], policies: [trainer]}
  - id: limited
    apiKeys: [{sha256: "${hashApiKey(LIMITED_KEY)}", expires: "2099-12-31"}]
    policies: [trainer]
    rateLimit: {requestsPerSecond: 4, burst: 4}
groups:
  ds: {policies: [trainer]}
policies:
  reader: {operations: ["Get*", "Search*", "List*"]}
  trainer: {include: [reader], operations: [CreateExperiment, SetExperimentTag, CreateRun, UpdateRun, "Log*", SetTag,
    CreateRegisteredModel, CreateModelVersion, SetRegisteredModelAlias]}
`);
  gateway = await startGateway(rulesFile, cleanAwsEnv({ AWS_ACCESS_KEY_ID: HOST.accessKeyId, AWS_SECRET_ACCESS_KEY: HOST.secretAccessKey }));
  base = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.stop();
  await standin?.stop();
  await mlflow?.stop();
  issuer?.stop();
  alb?.stop();
});

/**
 * Runs the MLflow workflow as a user would: a tracking URI, the given MLFLOW_* variables, no AWS
 * variables. Asynchronously: the OIDC issuer and the ALB are served from this test process.
 */
async function runWorkflow(uri: string, variables: Record<string, string>, label: string) {
  const child = Bun.spawn([venvPython(VERSION), join(REPO, 'test/e2e/mlflow_workflow.py'), `${label}${Date.now()}`], {
    env: mlflowUserEnv(uri, variables),
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 200_000,
  });
  const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  await Bun.sleep(100); // let the gateway's last audit lines arrive
  if (status !== 0) throw new Error(`workflow (${label}) failed (${status}):\n${stdout}\n${stderr.slice(-4000)}\n--- gateway ---\n${gateway.output().slice(-3000)}`);
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(result.ok).toBe(true);
  expect(result.search_runs_ids).toEqual([result.run_id]);
}

/** Audit lines since `from`, for one client. */
const linesOf = (clientId: string) => auditLines(gateway.output()).filter((line) => line.clientId === clientId);

describe(`the stock MLflow ${VERSION} client signs in with`, () => {
  test('an API key (MLFLOW_TRACKING_TOKEN)', async () => {
    await runWorkflow(base, { MLFLOW_TRACKING_TOKEN: API_KEY }, 'key');
    const lines = linesOf('key-user');
    expect(lines.length).toBeGreaterThan(15);
    expect(lines.every((l) => l.authMethod === 'api-key' && l.decision === 'allowed')).toBe(true);
  });

  test('HTTP Basic (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)', async () => {
    await runWorkflow(base, { MLFLOW_TRACKING_USERNAME: 'basic-user', MLFLOW_TRACKING_PASSWORD: PASSWORD }, 'basic');
    const lines = linesOf('basic-user');
    expect(lines.length).toBeGreaterThan(15);
    expect(lines.every((l) => l.authMethod === 'basic' && l.decision === 'allowed')).toBe(true);
  });

  test('a JWT from the OIDC issuer (MLFLOW_TRACKING_TOKEN), before and after the issuer rotates its key', async () => {
    const before = await issuer.sign({ sub: 'jwt-subject-1', aud: 'mlflow-gateway' });
    secrets.push(before);
    await runWorkflow(base, { MLFLOW_TRACKING_TOKEN: before }, 'jwt');
    const fetches = issuer.jwksFetches();
    await issuer.rotate();
    const after = await issuer.sign({ sub: 'jwt-subject-1', aud: 'mlflow-gateway' });
    secrets.push(after);
    expect(after.split('.')[0]).not.toBe(before.split('.')[0]); // another kid
    await runWorkflow(base, { MLFLOW_TRACKING_TOKEN: after }, 'jwtrotated');
    expect(issuer.jwksFetches()).toBe(fetches + 1);
    const lines = linesOf('jwt-user');
    expect(lines.length).toBeGreaterThan(30);
    expect(lines.every((l) => l.authMethod === 'jwt' && l.decision === 'allowed')).toBe(true);
  });

  test('the ALB\'s OIDC sign-in (x-amzn-oidc-data added by the load balancer; a group grants the policy)', async () => {
    await runWorkflow(alb.url, {}, 'alb');
    const lines = linesOf('alb.user@example.com');
    expect(lines.length).toBeGreaterThan(15);
    expect(lines.every((l) => l.authMethod === 'alb-oidc' && l.decision === 'allowed' && l.policy === 'trainer')).toBe(true);
    expect(alb.keyFetches()).toBe(1); // the key is fetched once by id, then kept
  });

  test('a rate-limited client: 429 with Retry-After, and the MLflow client waits and completes', async () => {
    // MLflow retries 429 (status_forcelist) and honours Retry-After; the workflow script otherwise disables retries.
    await runWorkflow(base, { MLFLOW_TRACKING_TOKEN: LIMITED_KEY, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '10' }, 'limited');
    const lines = linesOf('limited');
    const limited = lines.filter((l) => l.decision === 'rate-limited');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((l) => l.status === 429)).toBe(true);
    expect(lines.filter((l) => l.decision === 'allowed').length).toBeGreaterThan(15);
  });
});

test('every request reached MLflow with a verified signature; the gateway output holds no key, password, token or signature', async () => {
  expect(standin.log().filter((l) => l.verdict !== 'forwarded')).toEqual([]);
  const output = gateway.output();
  for (const secret of secrets) expect(output).not.toContain(secret);
  // ALB headers are bearer credentials too, and so is Basic's base64 form.
  const albSignatures = alb.issued().map((header) => header.split('.')[2]!);
  expect(albSignatures.length).toBeGreaterThan(15);
  for (const signature of albSignatures) expect(output).not.toContain(signature);
  expect(output).not.toContain(Buffer.from(`basic-user:${PASSWORD}`).toString('base64'));
});
