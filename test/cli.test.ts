// The command line as ops and security teams use it: check, explain, hash-key, version, and serve's
// refusal to start without rules or credentials.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUN, cleanAwsEnv, REPO, tempDir } from './support/processes.ts';
import { VERSION, VERSION_LINE } from '../src/version.ts';
import { SAGEMAKER_MLFLOW_ACTIONS } from '../src/rules/iam-actions.ts';

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
  test("summarises a '*' policy as every operation but the sensitive ones, and an admin's sensitive call as denied", () => {
    const file = join(tempDir('cli'), 'rules.yaml');
    writeFileSync(file, `version: 1\nbackend: {arn: ${ARN}}\nclients: [{id: ops, apiKeySha256: "${HASH}", policies: [admin]}]\npolicies: {admin: {operations: ["*"]}}\n`);
    const client = cli(['explain', '--rules', file, '--client', 'ops']);
    expect(client.stdout).toMatch(/operations  all \d+ but the sensitive ones \(named only; check lists them\)/);
    const secret = cli(['explain', '--rules', file, '--client', 'ops', 'POST', '/api/3.0/mlflow/gateway/secrets/create']);
    expect(secret.stdout).toContain('operation   CreateGatewaySecret');
    expect(secret.stdout).toMatch(/decision    DENY/);
  });

  test('names what the table knows of an operation: read or write, sensitive class, the IAM action AWS publishes', () => {
    const explain = (method: string, path: string) => cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'default', method, path]).stdout;
    expect(explain('POST', '/v1/traces')).toContain('operation   ExportOtlpTraces (write; no published IAM action)');
    expect(explain('GET', '/api/2.0/mlflow/registered-models/get-latest-versions')).toContain('operation   GetLatestVersions (read; IAM sagemaker-mlflow:GetLatestModelVersions)');
    expect(explain('GET', '/api/2.0/mlflow/webhooks')).toContain('operation   ListWebhooks (read; sensitive: webhooks, granted only by name; no published IAM action)');
  });

  test('exits non-zero for a client the rules do not have', () => {
    const { code, stdout } = cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'nobody', 'GET', '/api/2.0/mlflow/experiments/search']);
    expect(code).toBe(1);
    expect(stdout).toContain('decision    DENY (401)');
    expect(cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'nobody']).code).toBe(1);
  });

  test('decides a GraphQL request by the document given with --data', () => {
    const data = JSON.stringify({ query: '{ mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } }' });
    const { code, stdout } = cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'default', 'POST', '/mlflow/graphql', '--data', data]);
    expect(code).toBe(0);
    expect(stdout).toContain('operation   GraphQL:GetExperiment');
    expect(stdout).toContain('decision    ALLOW by policy log-runs: operation GetExperiment (via read-only)');
  });

  test('shows rewrite, operation, policy, upstream URL, signing name and routing header for an allowed call', () => {
    const { code, stdout } = cli(['explain', '--rules', join(REPO, 'rules.yaml'), '--client', 'default', 'GET', '/mlflow/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=a+b']);
    expect(code).toBe(0);
    expect(stdout).toContain('rewrites    mount-prefix, ajax-api → /api/2.0/mlflow/experiments/get-by-name');
    expect(stdout).toContain('operation   GetExperimentByName');
    expect(stdout).toContain('decision    ALLOW by policy log-runs: operation GetExperimentByName (via read-only)');
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

describe('the habits of a command line', () => {
  test('--version prints the version line, like the version command', () => {
    expect(cli(['--version'])).toEqual({ code: 0, stdout: `${VERSION_LINE}\n`, stderr: '' });
  });

  test('each command has --help: its own usage on stdout, exit 0', () => {
    for (const command of ['serve', 'check', 'explain', 'iam-policy', 'hash-key', 'hash-password', 'version']) {
      const { code, stdout } = cli([command, '--help']);
      expect({ command, code, usage: stdout.split('\n')[0] }).toEqual({ command, code: 0, usage: expect.stringContaining(`Usage: sagemaker-mlflow-proxy ${command}`) });
    }
    expect(cli(['help', 'check']).stdout).toContain('--strict');
  });

  test('an unknown flag is a usage error: exit 2, the closest flag, the command\'s usage, no parser text', () => {
    const { code, stdout, stderr } = cli(['check', '--rulez', 'rules.yaml']);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toStartWith('check: unknown option --rulez; did you mean --rules?\n\nUsage: sagemaker-mlflow-proxy check --rules FILE');
    expect(stderr).not.toContain('To specify a positional argument');
  });

  test('a missing --rules, a flag without its value and a stray argument exit 2 with the usage', () => {
    expect(cli(['iam-policy'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^iam-policy: --rules FILE is required\n\nUsage: sagemaker-mlflow-proxy iam-policy/) });
    expect(cli(['explain', '--rules'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^explain: --rules needs a value\n\nUsage:/) });
    expect(cli(['check', '--rules', 'rules.yaml', 'extra'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^check: unexpected argument "extra"/) });
    expect(cli(['explain', '--rules', 'rules.yaml', 'GET'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^explain: needs METHOD and URL \(got 1 argument\(s\)\)/) });
  });

  test('an unknown command suggests the closest one', () => {
    expect(cli(['chek'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^unknown command "chek"; did you mean check\?/) });
  });
});

describe('check for CI', () => {
  const badFile = () => {
    const file = join(tempDir('cli'), 'bad.yaml');
    writeFileSync(file, `version: 1\nlisten:\n  port: 70000\nbackend:\n  arn: ${ARN}\n  timeoutSecond: 3\n`);
    return file;
  };

  test('--format json: one object with every problem\'s file, line, column, key path, severity and message', () => {
    const file = badFile();
    const { code, stdout, stderr } = cli(['check', '--rules', file, '--format', 'json']);
    expect({ code, stderr }).toEqual({ code: 1, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({
      file,
      valid: false,
      errors: 2,
      warnings: 0,
      strict: false,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      problems: [
        { file, line: 3, column: 9, keyPath: 'listen.port', severity: 'error', message: expect.stringContaining('less or equal to 65535') },
        { file, line: 6, column: 3, keyPath: 'backend.timeoutSecond', severity: 'error', message: 'unknown key "timeoutSecond"; did you mean timeoutSeconds?' },
      ],
    });
  });

  test('--strict fails on warnings (the shipped rules have some), and says so', () => {
    const rules = join(REPO, 'rules.yaml');
    expect(cli(['check', '--rules', rules]).code).toBe(0);
    const strict = cli(['check', '--rules', rules, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/rules\.yaml: \d+ warning\(s\), and --strict makes warnings fail; rules refused\n$/);
    const json = JSON.parse(cli(['check', '--rules', rules, '--strict', '--format', 'json']).stdout);
    expect({ valid: json.valid, errors: json.errors, severities: [...new Set(json.problems.map((p: { severity: string }) => p.severity))] }).toEqual({ valid: false, errors: 0, severities: ['warning'] });
  });
});

describe('serve', () => {
  test('refuses to start with a clear message when no AWS credentials can be found, and says nothing else about them', () => {
    const { code, stdout, stderr } = cli(['serve', '--rules', join(REPO, 'rules.yaml')], { env: { PORT: '0', HOST: '127.0.0.1' } });
    expect(code).toBe(1);
    expect(stderr).toContain('serve: no AWS credentials could be found for signing');
    // One truth: not also a log line promising 503s "until a refresh succeeds" from a process that exits.
    const lines = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string });
    expect(lines.filter((line) => !/^rules warning$/.test(line.msg))).toEqual([]);
  });

  test('refuses to start on a bad rules file', () => {
    const { code, stderr } = cli(['serve', '--rules', join(REPO, 'rules.yaml')], { env: { MLFLOW_ARN: 'nope' } });
    expect(code).toBe(1);
    expect(stderr).toMatch(/rules\.yaml:\d+:\d+: backend\.arn: not a SageMaker MLflow ARN/);
  });
});

describe('identities and IAM (security reviews)', () => {
  const reviewRules = () => {
    const file = join(tempDir('cli-review'), 'rules.yaml');
    writeFileSync(file, `version: 1
backend: {arn: "${ARN}"}
auth:
  jwt: [{issuer: "https://login.example.com/realms/corp", audiences: [mlflow]}]
clients:
  - {id: ci, apiKeys: [{sha256: "${HASH}", expires: "2099-01-01"}], policies: [read], rateLimit: {requestsPerSecond: 5}}
  - {id: trainer, apiKeySha256: "${'c'.repeat(64)}", policies: [train], assumeRoleArn: "arn:aws:iam::123456789012:role/trainers"}
  - {id: team-a, subjects: [alice], policies: [team-a]}
groups:
  ds: {policies: [read], assumeRoleArn: "arn:aws:iam::123456789012:role/data-science"}
anonymous: {policies: [open]}
policies:
  read: {operations: [GetRun, SearchRuns]}
  train: {include: [read], operations: [CreateRun, LogMetric]}
  team-a: {operations: [CreateExperiment, SetExperimentTag], conditions: {experimentNamePrefix: team-a/}}
  open: {operations: [GetExperiment, DeleteRun]}
  everything: {allow: [{methods: ["*"], paths: ["/**"]}]}
`);
    return file;
  };

  test('check warns about anonymous writes, wildcard admin, unused policies and keys without expiry', () => {
    const { code, stderr } = cli(['check', '--rules', reviewRules()]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/anonymous\.policies: warning: anyone without credentials can write: DeleteRun/);
    expect(stderr).toMatch(/listen: warning: anonymous access without listen\.allowedHosts/);
    expect(stderr).toMatch(/policies\.everything\.allow: warning: policy "everything" path rule \*,? \/\*\* covers every MLflow operation: wildcard admin/);
    expect(stderr).toMatch(/policies\.everything: warning: policy "everything" is not used/);
    expect(stderr).toMatch(/clients\[1\]\.apiKeySha256: warning: API key\(s\) of client "trainer" never expire/);
    expect(stderr).not.toMatch(/clients\[0\]\.apiKeys/);
  });

  test('explain --client lists how a client signs in, what it may do, its role, limit and conditions', () => {
    const ci = cli(['explain', '--rules', reviewRules(), '--client', 'ci']);
    expect(ci.code).toBe(0);
    expect(ci.stdout).toContain('sign-in     1 API key(s) (expires 2099-01-02T00:00:00.000Z)');
    expect(ci.stdout).toContain('operations  2: GetRun, SearchRuns');
    expect(ci.stdout).toContain('rate limit  5/s, burst 5');
    const trainer = cli(['explain', '--rules', reviewRules(), '--client', 'trainer']);
    expect(trainer.stdout).toContain('role        arn:aws:iam::123456789012:role/trainers (session name and source identity "trainer")');
    const teamA = cli(['explain', '--rules', reviewRules(), '--client', 'team-a']);
    expect(teamA.stdout).toContain('sign-in     token subject(s) alice');
    expect(teamA.stdout).toContain('condition   team-a: experiment names must start with team-a/ on CreateExperiment; 1 other granted operation(s) refer to experiments or runs by id and are not restricted');
    expect(cli(['explain', '--rules', reviewRules(), '--client', 'nobody']).code).toBe(1);
  });

  test('iam-policy for a self-hosted backend says no policy is needed, instead of printing an empty one IAM would reject', () => {
    const { code, stdout, stderr } = cli(['iam-policy', '--rules', join(REPO, 'examples/local-mlflow.yaml')]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '', stderr: 'No IAM policy is needed: the backend is a self-hosted MLflow (backend.url), which the gateway calls without signing.\n' });
  });

  test('iam-policy for the shipped rules is the expected least-privilege policy', async () => {
    const { code, stdout, stderr } = cli(['iam-policy', '--rules', join(REPO, 'rules.yaml')]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(await Bun.file(join(REPO, 'test/fixtures/iam-policy.shipped-rules.json')).json());
    expect(stderr).toContain("Policy for the host's role.");
  });

  test('iam-policy lists only actions IAM knows and names the allowed operations that have none', () => {
    const { stdout, stderr } = cli(['iam-policy', '--rules', join(REPO, 'rules.yaml')]);
    const actions: string[] = JSON.parse(stdout).Statement.flatMap((s: { Action: string[] }) => s.Action);
    for (const action of actions.filter((a) => a.startsWith('sagemaker-mlflow:'))) expect(SAGEMAKER_MLFLOW_ACTIONS.has(action.slice('sagemaker-mlflow:'.length))).toBe(true);
    // Published under another name than the RPC's: mapped, not invented.
    expect(actions).toContain('sagemaker-mlflow:GetLatestModelVersions');
    expect(actions).not.toContain('sagemaker-mlflow:GetLatestVersions');
    expect(stderr).toMatch(/No sagemaker-mlflow IAM action is published for \d+ allowed operation\(s\)[^\n]*ExportOtlpTraces[^\n]*StartTraceV3/);
  });

  test('iam-policy grants the host only what clients without a role reach, plus AssumeRole on the client roles', () => {
    const host = JSON.parse(cli(['iam-policy', '--rules', reviewRules()]).stdout);
    expect(host.Statement).toEqual([
      {
        Sid: 'MlflowTrackingServer',
        Effect: 'Allow',
        // ci (read), team-a (its conditioned policy), anonymous (open); not trainer or ds, which have roles.
        Action: ['CreateExperiment', 'DeleteRun', 'GetExperiment', 'GetRun', 'SearchRuns', 'SetExperimentTag'].map((op) => `sagemaker-mlflow:${op}`),
        Resource: ARN,
      },
      {
        Sid: 'AssumeClientRoles',
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Resource: ['arn:aws:iam::123456789012:role/data-science', 'arn:aws:iam::123456789012:role/trainers'],
      },
    ]);
    const trainers = JSON.parse(cli(['iam-policy', '--rules', reviewRules(), '--role', 'arn:aws:iam::123456789012:role/trainers']).stdout);
    expect(trainers.Statement).toEqual([
      { Sid: 'MlflowTrackingServer', Effect: 'Allow', Action: ['CreateRun', 'GetRun', 'LogMetric', 'SearchRuns'].map((op) => `sagemaker-mlflow:${op}`), Resource: ARN },
    ]);
    expect(cli(['iam-policy', '--rules', reviewRules(), '--role', 'arn:aws:iam::123456789012:role/unknown']).code).toBe(2);
  });

  test('iam-policy adds the S3 statements on the artifact root that the identities\' artifact operations need', () => {
    const file = join(tempDir('cli-iam-artifacts'), 'rules.yaml');
    writeFileSync(file, `version: 1
backend: {arn: "${ARN}"}
artifacts: {s3Root: "s3://ml-artifacts/team"}
clients:
  - {id: reader, apiKeySha256: "${HASH}", policies: [read]}
  - {id: writer, apiKeySha256: "${'c'.repeat(64)}", policies: [write], assumeRoleArn: "arn:aws:iam::123456789012:role/writers"}
policies:
  read: {operations: [GetRun, ReadArtifacts]}
  write: {include: [read], operations: [WriteArtifacts]}
`);
    const host = JSON.parse(cli(['iam-policy', '--rules', file]).stdout);
    expect(host.Statement.map((s: { Sid: string }) => s.Sid)).toEqual(['MlflowTrackingServer', 'MlflowArtifactsList', 'MlflowArtifactsRead', 'AssumeClientRoles']);
    expect(host.Statement[0].Action).toEqual(['sagemaker-mlflow:GetRun']); // the artifact API never reaches SageMaker
    expect(host.Statement[1]).toEqual({
      Sid: 'MlflowArtifactsList', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::ml-artifacts'],
      Condition: { StringLike: { 's3:prefix': ['team', 'team/*'] } },
    });
    expect(host.Statement[2].Resource).toEqual(['arn:aws:s3:::ml-artifacts/team/*']);
    const writers = JSON.parse(cli(['iam-policy', '--rules', file, '--role', 'arn:aws:iam::123456789012:role/writers']).stdout);
    expect(writers.Statement.map((s: { Sid: string }) => s.Sid)).toEqual(['MlflowTrackingServer', 'MlflowArtifactsList', 'MlflowArtifactsRead', 'MlflowArtifactsWrite']);
  });

  test('iam-policy for an MLflow App is its single action', () => {
    const app = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-ABCDEF123456';
    const policy = JSON.parse(cli(['iam-policy', '--rules', join(REPO, 'rules.yaml')], { env: { MLFLOW_ARN: app } }).stdout);
    expect(policy.Statement).toEqual([{ Sid: 'CallMlflowApp', Effect: 'Allow', Action: ['sagemaker:CallMlflowAppApi'], Resource: app }]);
  });

  test('iam-policy grants the Describe call once, whether artifact discovery, the readiness status check or both make it', () => {
    const dir = tempDir('cli-iam-describe');
    const describe = (extra: string, arn = ARN) => {
      const file = join(dir, `rules-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, `version: 1\nbackend: {arn: "${arn}"}\n${extra}clients:\n  - {id: c, apiKeySha256: "${HASH}", policies: [p], assumeRoleArn: "arn:aws:iam::123456789012:role/r"}\npolicies:\n  p: {operations: [GetRun]}\n`);
      const host = JSON.parse(cli(['iam-policy', '--rules', file]).stdout);
      const role = JSON.parse(cli(['iam-policy', '--rules', file, '--role', 'arn:aws:iam::123456789012:role/r']).stdout);
      expect(role.Statement.map((s: { Sid: string }) => s.Sid)).not.toContain('DescribeMlflowBackend');
      return host.Statement.filter((s: { Sid: string }) => s.Sid === 'DescribeMlflowBackend');
    };
    const statement = [{ Sid: 'DescribeMlflowBackend', Effect: 'Allow', Action: ['sagemaker:DescribeMlflowTrackingServer'], Resource: ARN }];
    expect(describe('readiness: {checkBackendStatus: true}\n')).toEqual(statement);
    expect(describe('artifacts: {discover: true}\n')).toEqual(statement);
    expect(describe('artifacts: {discover: true}\nreadiness: {checkBackendStatus: true}\n')).toEqual(statement);
    expect(describe('')).toEqual([]);
    const app = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-ABCDEF123456';
    expect(describe('readiness: {checkBackendStatus: true}\n', app)).toEqual([{ Sid: 'DescribeMlflowBackend', Effect: 'Allow', Action: ['sagemaker:DescribeMlflowApp'], Resource: app }]);
  });

  test('hash-password prints a salted scrypt hash the rules accept; refuses a short password', () => {
    const first = cli(['hash-password'], { input: 'a long enough password\n' });
    const second = cli(['hash-password'], { input: 'a long enough password\n' });
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(first.stdout).not.toBe(second.stdout);
    expect(cli(['hash-password'], { input: 'short' }).code).toBe(2);
  });
});
