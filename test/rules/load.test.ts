import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRulesFile, loadRulesText } from '../../src/rules/load.ts';
import { formatProblem } from '../../src/rules/problems.ts';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { REPO } from '../support/processes.ts';

const ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team';
const HASH = 'a'.repeat(64);
const minimal = (extra = '') => `version: 1\nbackend:\n  arn: ${ARN}\n${extra}`;

describe('the shipped rules.yaml', () => {
  const env = { MLFLOW_ARN: ARN, PROXY_API_KEY_SHA256: HASH };

  test('runs as is from environment variables', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), env);
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.rules.backend.kind).toBe('sagemaker');
    expect(result.rules.source.listen).toEqual({ host: '0.0.0.0', port: 8080, trustForwardedFor: false });
    expect([...result.rules.policies.keys()].sort()).toEqual(['log-runs', 'read-only']);
  });

  test('closed by default: the one client tracks runs (log-runs, no admin), under a rate limit; failed sign-ins are limited', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), env);
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    const client = result.rules.clientsById.get('default')!;
    expect(client.policies.map((p) => p.name)).toEqual(['log-runs']);
    expect(client.policies[0]!.operations.has('DeleteExperiment')).toBe(false);
    expect(client.rateLimit).toBeDefined();
    expect(result.rules.source.auth.failedSignInLimit).toBeDefined();
  });

  test('passes check --strict (not one warning) with the environment infra/ writes for the hosts: an expiry, behind the ALB', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), { ...env, PROXY_API_KEY_EXPIRES: '2099-12-31', TRUST_FORWARDED_FOR: 'true' });
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.warnings.map(formatProblem)).toEqual([]);
  });

  test('without an expiry (or not behind a load balancer) check says what is missing, each with its fix', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), env);
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.warnings.map((w) => w.message)).toEqual([
      expect.stringContaining('set listen.trustForwardedFor'),
      'an API key of client "default" never expires; add expires: YYYY-MM-DD',
    ]);
  });

  test('takes HOST and PORT from the environment', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), { ...env, HOST: '127.0.0.1', PORT: '9001' });
    expect(result.ok && result.rules.source.listen).toMatchObject({ host: '127.0.0.1', port: 9001 });
  });

  test('serves a self-hosted MLflow when MLFLOW_URL is set instead of MLFLOW_ARN', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), { MLFLOW_URL: 'http://127.0.0.1:5000', PROXY_API_KEY_SHA256: HASH });
    expect(result.ok && result.rules.backend).toMatchObject({ kind: 'mlflow', baseUrl: 'http://127.0.0.1:5000' });
  });

  test('reads the plugin\'s SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT as the endpoint override', () => {
    const result = loadRulesFile(join(REPO, 'rules.yaml'), { ...env, SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: 'https://vpce-1.example:8443' });
    expect(result.ok && result.rules.backend).toMatchObject({ baseUrl: 'https://vpce-1.example:8443', host: 'vpce-1.example:8443' });
  });

  test('is refused, pointing at the key, when the key hash variable is missing', () => {
    const problems = problemsOf(readFileSync(join(REPO, 'rules.yaml'), 'utf8'), { MLFLOW_ARN: ARN });
    expect(problems.some((p) => /^test\.yaml:\d+:\d+: clients\[0\]\.apiKeys\[0\]\.sha256: environment variable PROXY_API_KEY_SHA256 is not set/.test(p))).toBe(true);
  });
});

describe('environment expansion', () => {
  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['${VAR} is replaced by the variable', '${P}', { P: '1234' }, 1234],
    ['${VAR:-default} falls back when VAR is unset', '${P:-4321}', {}, 4321],
    ['${VAR:-default} falls back when VAR is empty', '${P:-4321}', { P: '' }, 4321],
    ['${VAR:-default} prefers VAR when set', '${P:-4321}', { P: '80' }, 80],
  ];
  for (const [sentence, value, env, port] of cases) {
    test(sentence, () => {
      expect(rulesFrom(minimal(`listen:\n  port: ${value}\n`), env).source.listen.port).toBe(port);
    });
  }

  test('an unset variable without default is an error at its line and key path', () => {
    expect(problemsOf(minimal('listen:\n  host: ${NOPE}\n'))).toContain(
      'test.yaml:5:9: listen.host: environment variable NOPE is not set (write ${NOPE:-default} to make it optional)',
    );
  });
});

describe('refusing a bad file', () => {
  test('reports every schema problem at once, with file:line:column and key path', () => {
    const problems = problemsOf(`version: 2\nlisten:\n  port: http\nbackend:\n  arn: ${ARN}\n  timeoutSeconds: 0\nunknown: true\n`);
    expect(problems).toEqual([
      expect.stringMatching(/^test\.yaml:1:10: version: expected 1/),
      expect.stringMatching(/^test\.yaml:3:9: listen\.port: expected integer/),
      expect.stringMatching(/^test\.yaml:6:19: backend\.timeoutSeconds: expected number to be greater than 0/),
      expect.stringMatching(/^test\.yaml:7:1: unknown: unknown key "unknown"; known here: version, listen, /),
    ]);
  });

  test('reports YAML syntax errors with their position', () => {
    expect(problemsOf('version: 1\nbackend: [unclosed\n')[0]).toMatch(/^test\.yaml:\d+:\d+: \(file\): YAML: /);
  });

  test('reports duplicate keys', () => {
    expect(problemsOf(`version: 1\nversion: 1\nbackend: {arn: ${ARN}}\n`)[0]).toMatch(/^test\.yaml:2:1: \(file\): YAML: Map keys must be unique/);
  });

  const semantic: Array<[string, string, RegExp]> = [
    ['a backend needs an arn or a url', 'version: 1\nbackend: {timeoutSeconds: 5}\n', /backend: needs backend\.arn .* or backend\.url/],
    ['arn and url together are refused', `version: 1\nbackend: {arn: ${ARN}, url: "http://x:1"}\n`, /backend\.url: set either backend\.arn .* not both/],
    ['an ARN of another service is refused', 'version: 1\nbackend: {arn: "arn:aws:s3:::bucket"}\n', /backend\.arn: not a SageMaker MLflow ARN/],
    ['an endpoint with a path is refused', `version: 1\nbackend: {arn: ${ARN}, endpoint: "https://h/x"}\n`, /backend\.endpoint: must be a base URL without path/],
    ['a client key must be a hash, never the key itself', minimal('clients:\n  - {id: c, apiKeySha256: my-secret-key, policies: [p]}\npolicies:\n  p: {operations: [GetRun]}\n'), /clients\[0\]\.apiKeySha256: must be the 64-hex-digit SHA-256/],
    ['an unknown policy name is refused', minimal(`clients:\n  - {id: c, apiKeySha256: "${HASH}", policies: [nope]}\n`), /clients\[0\]\.policies\[0\]: unknown policy "nope"/],
    ['an unknown operation is refused with a suggestion', minimal(`policies:\n  p: {operations: [LogMetrics]}\n`), /policies\.p\.operations\[0\]: unknown MLflow operation "LogMetrics"; did you mean LogMetric/],
    ['an include cycle is refused', minimal('policies:\n  a: {include: [b]}\n  b: {include: [a]}\n'), /include cycle/],
    ['a rewrite with two kinds is refused', minimal('rewrites:\n  - {stripPrefix: /a, prefix: /b, replace: /c}\n'), /rewrites\[0\]: a rewrite needs exactly one of/],
    ['a bad regular expression is refused', minimal('rewrites:\n  - {match: "(", replace: /x}\n'), /rewrites\[0\]\.match: not a valid regular expression/],
    ['a liveness path that shadows MLflow is refused', minimal('endpoints: {liveness: /health}\n'), /endpoints\.liveness: "\/health" would shadow an MLflow path/],
    ['a password must be a hash from hash-password', minimal('clients:\n  - {id: c, passwordHash: hunter2, policies: []}\n'), /clients\[0\]\.passwordHash: not a password hash from `hash-password`/],
    ['a key expiry must be a date', minimal(`clients:\n  - {id: c, apiKeys: [{sha256: "${HASH}", expires: "next week"}], policies: []}\n`), /clients\[0\]\.apiKeys\[0\]\.expires: not an ISO date/],
    ['a client role must be an IAM role ARN', minimal(`clients:\n  - {id: c, apiKeySha256: "${HASH}", policies: [], assumeRoleArn: "arn:aws:iam::1:user/x"}\n`), /clients\[0\]\.assumeRoleArn: not an IAM role ARN/],
    ['a client role needs a SageMaker backend', `version: 1\nbackend: {url: "http://127.0.0.1:5000"}\ngroups:\n  g: {policies: [], assumeRoleArn: "arn:aws:iam::123456789012:role/r"}\n`, /groups\.g\.assumeRoleArn: roles sign SageMaker calls/],
    ['the ALB must be named by its ARN', minimal('auth:\n  alb: {albArn: my-alb}\n'), /auth\.alb\.albArn: not an Application Load Balancer ARN/],
    ['a JWT issuer needs https discovery or a jwksUrl', minimal('auth:\n  jwt: [{issuer: corp, audiences: [a]}]\n'), /auth\.jwt\[0\]\.issuer: not an https URL/],
    ['JWT algorithms are asymmetric only', minimal('auth:\n  jwt: [{issuer: "https://i", audiences: [a], algorithms: [HS256]}]\n'), /auth\.jwt\[0\]\.algorithms\[0\]/],
    ['a token subject acts as one client only', minimal('clients:\n  - {id: a, subjects: [s], policies: []}\n  - {id: b, subjects: [s], policies: []}\n'), /clients\[1\]\.subjects\[0\]: subject "s" already acts as client "a"/],
    ['the backend status check needs a SageMaker backend', 'version: 1\nbackend: {url: "http://127.0.0.1:5000"}\nreadiness:\n  checkBackendStatus: true\n', /^test\.yaml:4:\d+: readiness\.checkBackendStatus: only for a SageMaker backend/m],
    ['the backend status is asked at most once a second', minimal('readiness: {checkBackendStatus: true, backendStatusSeconds: 0.5}\n'), /readiness\.backendStatusSeconds/],
    ['the same key hash for two clients is refused', minimal(`clients:\n  - {id: a, apiKeySha256: "${HASH}", policies: [p]}\n  - {id: b, apiKeySha256: "${HASH}", policies: [p]}\npolicies:\n  p: {operations: [GetRun]}\n`), /clients\[1\]\.apiKeySha256: the same key hash is already used by client "a"/],
  ];
  for (const [sentence, yaml, pattern] of semantic) {
    test(sentence, () => {
      const result = loadRulesText(yaml, 'test.yaml', {});
      expect(result.ok).toBe(false);
      expect(problemsOf(yaml).join('\n')).toMatch(pattern);
    });
  }

  test('warns about a policy no client uses, without refusing the file', () => {
    const result = loadRulesText(minimal('policies:\n  unused: {operations: [GetRun]}\n'), 'test.yaml', {});
    expect(result.ok).toBe(true);
    expect(result.ok && result.warnings.map(formatProblem)).toContain('test.yaml:5:11: policies.unused: warning: policy "unused" is not used by any client, group or anonymous access; name it in a client\'s, group\'s or anonymous\' policies, or remove it');
  });
});

describe('defaults', () => {
  test('fill in a JWT issuer\'s algorithms, clock skew, claims and JWKS cooldown', () => {
    const rules = rulesFrom(minimal('auth:\n  jwt: [{issuer: "https://login.example.com", audiences: [mlflow]}]\n'));
    expect(rules.auth.jwtIssuers[0]).toEqual({
      issuer: 'https://login.example.com', audiences: ['mlflow'], algorithms: ['RS256', 'ES256'], clockSkewSeconds: 60,
      subjectClaim: 'sub', groupsClaim: 'groups', jwksCooldownMs: 30_000,
    });
    expect(rules.auth.challenge).toBe('Bearer realm="MLflow"');
  });

  test('derive the ALB key endpoint from the ALB\'s region', () => {
    const rules = rulesFrom(minimal('auth:\n  alb: {albArn: "arn:aws:elasticloadbalancing:ap-south-1:123456789012:loadbalancer/app/m/0123abcd"}\n'));
    expect(rules.auth.alb?.keyEndpoint).toBe('https://public-keys.auth.elb.ap-south-1.amazonaws.com');
  });

  test('fill in listen, limits, endpoints and the 120 s upstream timeout', () => {
    const rules = rulesFrom(minimal());
    expect(rules.source.listen).toEqual({ host: '0.0.0.0', port: 8080, trustForwardedFor: false });
    expect(rules.source.limits).toEqual({ maxBodyBytes: 8 * 1024 * 1024, maxBufferedBytes: 256 * 1024 * 1024, maxPathLength: 2048, maxQueryLength: 8192 });
    expect(rules.source.endpoints).toEqual({ liveness: '/-/live', readiness: '/-/ready' });
    expect(rules.upstreamTimeoutMs).toBe(120_000);
    expect(rules.auth.anonymous).toBeUndefined();
    expect(rules.source.readiness).toMatchObject({ checkBackendStatus: false, backendStatusSeconds: 30 });
  });
});

describe('tracing', () => {
  test('is off without its section, and with it everything but the endpoint has a default', () => {
    expect(rulesFrom(minimal()).source.tracing).toBeUndefined();
    expect(rulesFrom(minimal('tracing: {endpoint: "http://127.0.0.1:4318/v1/traces"}\n')).source.tracing).toEqual({
      endpoint: 'http://127.0.0.1:4318/v1/traces', serviceName: 'sagemaker-mlflow-proxy', sampleRatio: 1, resourceAttributes: {}, headers: {},
      maxQueueSize: 2048, exportIntervalMs: 5000, exportTimeoutMs: 10_000,
    });
  });

  const refused: Array<[string, string]> = [
    ['an endpoint without its scheme', 'tracing: {endpoint: "127.0.0.1:4318/v1/traces"}'],
    ['an endpoint without a path', 'tracing: {endpoint: "http://127.0.0.1:4318"}'],
    ['a sampling ratio above 1', 'tracing: {endpoint: "http://c:4318/v1/traces", sampleRatio: 2}'],
    ['an unknown key', 'tracing: {endpoint: "http://c:4318/v1/traces", protocol: grpc}'],
  ];
  for (const [what, yaml] of refused) {
    test(`refuses ${what}, at its key`, () => {
      expect(problemsOf(minimal(`${yaml}\n`)).join('\n')).toMatch(/test\.yaml:4:\d+.*tracing/);
    });
  }
});

describe('every problem in one pass', () => {
  // A port out of range (schema), an unknown key, a bad ARN, a bad key hash and date, an unknown
  // operation, a made-up HTTP method and a missing variable: each one message, all at once.
  const MULTI = [
    'version: 1', //                                                         1
    'listen:', //                                                            2
    '  port: 70000', //                                                      3
    'backend:', //                                                           4
    '  arn: arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/my-app', //   5
    '  timeoutSecond: 30', //                                                6
    '  assumeRoleArn: arn:aws:iam::123456789012:user/bob', //                7
    'clinets:', //                                                           8
    '  - id: x', //                                                          9
    'clients:', //                                                           10
    '  - id: ci', //                                                         11
    '    apiKeys:', //                                                       12
    '      - sha256: not-a-hash', //                                         13
    '        expires: 2027-13-45', //                                        14
    '      - sha256: ${CI_KEY_SHA256}', //                                   15
    '    policies: [writer]', //                                             16
    'policies:', //                                                          17
    '  writer:', //                                                          18
    '    operations: [LogMetrics]', //                                       19
    '    allow:', //                                                         20
    '      - {methods: [FETCH], paths: [/api/2.0/mlflow/runs/**]}', //        21
  ].join('\n');

  test('schema and semantic problems together, sorted by position, one per cause', () => {
    expect(problemsOf(MULTI)).toEqual([
      'test.yaml:3:9: listen.port: expected integer to be less or equal to 65535 (TCP port; 0 picks a free one (tests).)',
      'test.yaml:5:8: backend.arn: not a SageMaker MLflow ARN: an MLflow App ARN ends in its id, mlflow-app/app-ID (e.g. app-ABCDEF012345), not "my-app"',
      'test.yaml:6:3: backend.timeoutSecond: unknown key "timeoutSecond"; did you mean timeoutSeconds?',
      'test.yaml:7:18: backend.assumeRoleArn: not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)',
      'test.yaml:8:1: clinets: unknown key "clinets"; did you mean clients?',
      'test.yaml:13:17: clients[0].apiKeys[0].sha256: must be the 64-hex-digit SHA-256 of the API key (run `hash-key`), never the key itself',
      'test.yaml:14:18: clients[0].apiKeys[0].expires: not an ISO date or date-time (2027-06-30, 2027-06-30T12:00:00Z)',
      // A risk, reported though the backend is refused (the ARN above): the same pass.
      'test.yaml:15:9: clients[0].apiKeys[1]: warning: an API key of client "ci" never expires; add expires: YYYY-MM-DD',
      'test.yaml:15:17: clients[0].apiKeys[1].sha256: environment variable CI_KEY_SHA256 is not set (write ${CI_KEY_SHA256:-default} to make it optional)',
      'test.yaml:19:18: policies.writer.operations[0]: unknown MLflow operation "LogMetrics"; did you mean LogMetric?',
      'test.yaml:21:20: policies.writer.allow[0].methods[0]: unknown HTTP method "FETCH"; did you mean PATCH? (one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or *)',
    ]);
  });

  test('a missing variable is one message, not the schema\'s view of the empty value as well', () => {
    expect(problemsOf(minimal(`clients:\n  - id: c\n    apiKeys: [{sha256: "\${NOPE}", expires: 2099-01-01}]\n    policies: []\n`))).toEqual([
      'test.yaml:6:24: clients[0].apiKeys[0].sha256: environment variable NOPE is not set (write ${NOPE:-default} to make it optional)',
    ]);
  });

  test('a semantic problem elsewhere is still found when the schema finds one', () => {
    const problems = problemsOf(`version: 1\nlisten: {port: -1}\nbackend: {arn: "arn:aws:s3:::bucket"}\n`);
    expect(problems).toEqual([
      expect.stringMatching(/^test\.yaml:2:16: listen\.port: expected integer to be greater or equal to 0/),
      expect.stringMatching(/^test\.yaml:3:16: backend\.arn: not a SageMaker MLflow ARN/),
    ]);
  });

  test('an unknown key without a close match lists the keys known there', () => {
    expect(problemsOf(minimal('metrics: {enabled: true, scrape: x}\n'))).toEqual([
      'test.yaml:4:26: metrics.scrape: unknown key "scrape"; known here: enabled, host, port, path',
    ]);
  });

  test('a block key is reported at its own line, not at the value on the next one', () => {
    expect(problemsOf(minimal('clinets:\n  - {id: a, policies: []}\n'))).toEqual([expect.stringMatching(/^test\.yaml:4:1: clinets: unknown key "clinets"; did you mean clients\?/)]);
  });

  test('an MLflow App ARN ending in its id is accepted (one ending in a name is refused above)', () => {
    expect(rulesFrom('version: 1\nbackend: {arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345"}\n').backend).toMatchObject({ mode: 'mlflow-app' });
  });
});
