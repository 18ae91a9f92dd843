// The command line as ops and security teams use it: check, explain, hash-key, version, and serve's
// refusal to start without rules or credentials.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUN, cleanAwsEnv, REPO, tempDir } from './support/processes.ts';
import { VERSION, VERSION_LINE } from '../src/version.ts';

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/demo';
const HASH = 'b'.repeat(64);

function cli(args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) {
  const run = spawnSync(BUN, [join(REPO, 'src/main.ts'), ...args], {
    env: cleanAwsEnv({ MLFLOW_ARN: ARN, PROXY_API_KEY_SHA256: HASH, ...options.env }),
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('check', () => {
  test('accepts the shipped rules.yaml and prints a summary', () => {
    const { code, stdout } = cli(['check', '--rules', join(REPO, 'rules.yaml')]);
    expect(code).toBe(0);
    expect(stdout).toContain('rules.yaml: OK');
    expect(stdout).toContain(`backend    SageMaker tracking-server ${ARN} (region us-east-1, signing name sagemaker-mlflow)`);
    expect(stdout).toContain('clients    1 (default)');
    expect(stdout).toContain('anonymous  off');
  });

  test('refuses a bad file with every problem as FILE:LINE:COL: key.path: message, and exit 1', () => {
    const file = join(tempDir('cli'), 'bad.yaml');
    writeFileSync(file, 'version: 1\nbackend:\n  arn: arn:aws:sagemaker:us-east-1:123:notebook/x\nclients:\n  - {id: a, apiKeySha256: plain, policies: [p]}\npolicies:\n  p: {operations: [Nope]}\n');
    const { code, stderr } = cli(['check', '--rules', file]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:3:8: backend.arn: not a SageMaker MLflow ARN`);
    expect(stderr).toContain(`${file}:5:27: clients[0].apiKeySha256: must be the 64-hex-digit SHA-256`);
    expect(stderr).toContain(`${file}:7:20: policies.p.operations[0]: unknown MLflow operation "Nope"`);
    expect(stderr).toContain('3 problem(s); rules refused');
  });

  test('says which file it cannot read', () => {
    const { code, stderr } = cli(['check', '--rules', '/nonexistent/rules.yaml']);
    expect(code).toBe(1);
    expect(stderr).toContain('/nonexistent/rules.yaml:1:1: (file): cannot read the rules file (ENOENT)');
  });
});

describe('explain', () => {
  test('shows rewrite, operation, policy, upstream URL, signing name and routing header for an allowed call', () => {
    const { code, stdout } = cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'default', 'GET', '/mlflow/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=a+b']);
    expect(code).toBe(0);
    expect(stdout).toContain('rewrites    mount-prefix, ajax-api → /api/2.0/mlflow/experiments/get-by-name');
    expect(stdout).toContain('operation   GetExperimentByName');
    expect(stdout).toContain('decision    ALLOW by policy admin: operation GetExperimentByName');
    expect(stdout).toContain('upstream    GET https://us-east-1.experiments.sagemaker.aws/api/2.0/mlflow/experiments/get-by-name?experiment_name=a%20b');
    expect(stdout).toContain('signing     SigV4, service sagemaker-mlflow, region us-east-1');
    expect(stdout).toContain(`routing     x-mlflow-sm-tracking-server-arn: ${ARN}`);
  });

  test('explains a denial with the policies it checked', () => {
    const file = join(tempDir('cli'), 'rules.yaml');
    writeFileSync(file, `version: 1\nbackend: {arn: ${ARN}}\nclients: [{id: ro, apiKeySha256: "${HASH}", policies: [read]}]\npolicies: {read: {operations: ["Get*"]}}\n`);
    const { stdout } = cli(['explain', '--rules', file, '--client', 'ro', 'POST', '/api/2.0/mlflow/runs/delete']);
    expect(stdout).toContain('decision    DENY (403): no policy of ro (read) allows operation DeleteRun');
  });

  test('without --client, lists the clients that may make the call', () => {
    const { stdout } = cli(['explain', '--rules', join(REPO, 'rules.yaml'), 'POST', '/api/2.0/mlflow/runs/log-metric']);
    expect(stdout).toContain('operation   LogMetric');
    expect(stdout).toContain('allowed to  default');
  });

  test('shows the MLflow App signing name and routing header for an app ARN', () => {
    const app = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-ABCDEF123456';
    const { stdout } = cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'default', 'GET', '/api/2.0/mlflow/runs/get?run_id=1'], { env: { MLFLOW_ARN: app } });
    expect(stdout).toContain('upstream    GET https://mlflow.sagemaker.eu-west-1.app.aws/api/2.0/mlflow/runs/get?run_id=1');
    expect(stdout).toContain('signing     SigV4, service sagemaker, region eu-west-1');
    expect(stdout).toContain(`routing     x-sm-mlflow-app-arn: ${app}`);
  });
});

describe('hash-key, version, usage', () => {
  test('hash-key prints the SHA-256 of the key read on stdin (trailing newline ignored)', () => {
    const { code, stdout } = cli(['hash-key'], { input: 'my-long-api-key-0123456789\n' });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(new Bun.CryptoHasher('sha256').update('my-long-api-key-0123456789').digest('hex'));
  });

  test('hash-key refuses a short key', () => {
    expect(cli(['hash-key'], { input: 'short' }).code).toBe(2);
  });

  test('version prints the package version and the build commit ("source" when run from source)', () => {
    expect(cli(['version']).stdout.trim()).toBe(VERSION_LINE);
    expect(VERSION_LINE).toBe(`sagemaker-mlflow-proxy ${VERSION} (commit source)`);
  });

  test('the version constant matches package.json', async () => {
    expect(VERSION).toBe((await Bun.file(join(REPO, 'package.json')).json()).version);
  });

  test('an unknown command prints usage and exits 2', () => {
    const { code, stderr } = cli(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('Usage:');
  });
});

describe('serve', () => {
  test('refuses to start with a clear message when no AWS credentials can be found', () => {
    const { code, stderr } = cli(['serve', '--rules', join(REPO, 'rules.yaml')], { env: { PORT: '0', HOST: '127.0.0.1' } });
    expect(code).toBe(1);
    expect(stderr).toContain('serve: no AWS credentials could be found for signing');
  });

  test('refuses to start on a bad rules file', () => {
    const { code, stderr } = cli(['serve', '--rules', join(REPO, 'rules.yaml')], { env: { MLFLOW_ARN: 'nope' } });
    expect(code).toBe(1);
    expect(stderr).toMatch(/rules\.yaml:\d+:\d+: backend\.arn: not a SageMaker MLflow ARN/);
  });
});
