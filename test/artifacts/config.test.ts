import { describe, expect, test } from 'bun:test';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { operationFor, OPERATION_NAMES } from '../../src/rules/operations.ts';
import { artifactIamStatements } from '../../src/artifacts/iam.ts';
import { parseS3Root } from '../../src/artifacts/keys.ts';
import { explain } from '../../src/explain.ts';

const sagemaker = `version: 1
backend: {arn: "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/t"}
`;

describe('the artifacts section of the rules', () => {
  test('defaults fill in and the region follows the backend ARN', () => {
    const rules = rulesFrom(`${sagemaker}artifacts: {s3Root: "s3://bucket/prefix/"}\n`);
    expect(rules.artifacts).toMatchObject({
      root: { bucket: 'bucket', prefix: 'prefix', uri: 's3://bucket/prefix' },
      region: 'eu-west-1',
      forcePathStyle: false,
      maxJsonRewriteBytes: 32 * 1024 * 1024,
      partSizeBytes: 8 * 1024 * 1024,
    });
  });
  test('no section: no artifact serving', () => expect(rulesFrom(sagemaker).artifacts).toBeUndefined());

  const problems: Array<[string, string, RegExp]> = [
    ['a self-hosted backend', 'version: 1\nbackend: {url: "http://127.0.0.1:5000"}\nartifacts: {s3Root: "s3://b/p"}\n', /test\.yaml:3:\d+: artifacts: only for a SageMaker backend/],
    ['neither root nor discover', `${sagemaker}artifacts: {region: us-east-1}\n`, /artifacts: needs artifacts\.s3Root/],
    ['both root and discover', `${sagemaker}artifacts: {s3Root: "s3://b/p", discover: true}\n`, /artifacts\.discover: set either/],
    ['a root that is not s3://', `${sagemaker}artifacts: {s3Root: "https://b/p"}\n`, /artifacts\.s3Root: "https:\/\/b\/p" is not an s3/],
    ['an ambiguous prefix', `${sagemaker}artifacts: {s3Root: "s3://bucket/a/../b"}\n`, /artifacts\.s3Root: the prefix/],
    ['a bad endpoint', `${sagemaker}artifacts: {s3Root: "s3://bucket/p", endpoint: "ftp://x"}\n`, /artifacts\.endpoint/],
    ['parts smaller than S3 allows', `${sagemaker}artifacts: {s3Root: "s3://bucket/p", partSizeBytes: 1024}\n`, /artifacts\.partSizeBytes/],
    ['an unknown key', `${sagemaker}artifacts: {s3Root: "s3://bucket/p", bucket: x}\n`, /artifacts/],
  ];
  for (const [what, yaml, expected] of problems) {
    test(`${what} is refused with its key path`, () => expect(problemsOf(yaml).join('\n')).toMatch(expected));
  }
});

describe('policies name the artifact API by reading, writing and deleting', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['GET', '/api/2.0/mlflow-artifacts/artifacts', 'ReadArtifacts'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a b.txt', 'ReadArtifacts'],
    ['PUT', '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/x', 'WriteArtifacts'],
    ['POST', '/api/2.0/mlflow-artifacts/mpu/create/1/r/artifacts', 'WriteArtifacts'],
    ['POST', '/api/2.0/mlflow-artifacts/mpu/complete/1/r/artifacts', 'WriteArtifacts'],
    ['POST', '/api/2.0/mlflow-artifacts/mpu/abort/1/r/artifacts', 'WriteArtifacts'],
    ['DELETE', '/api/2.0/mlflow-artifacts/artifacts/1/r', 'DeleteArtifacts'],
    ['DELETE', '/api/2.0/mlflow-artifacts/artifacts/', undefined],
    ['GET', '/api/2.0/mlflow/artifacts/list', 'ListArtifacts'],
  ];
  for (const [method, path, operation] of cases) test(`${method} ${path} is ${operation ?? 'no operation'}`, () => expect(operationFor(method, path)).toBe(operation));
  test('the proto names of the artifact API are gone', () => {
    for (const old of ['DownloadArtifact', 'UploadArtifact', 'DeleteArtifact', 'CreateMultipartUpload']) expect(OPERATION_NAMES).not.toContain(old);
  });
});

describe('iam-policy statements are scoped to the root', () => {
  const parsed = parseS3Root('s3://bucket/mlflow/root');
  if (!parsed.ok) throw new Error(parsed.problem);
  const settings = { root: parsed.value };
  test('read + write + delete', () => {
    const statements = artifactIamStatements(settings, { read: true, write: true, delete: true });
    expect(statements.flatMap((s) => s.Action).sort()).toEqual(
      ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:ListMultipartUploadParts', 's3:PutObject'].sort(),
    );
    const list = statements.find((s) => s.Action.includes('s3:ListBucket'))!;
    expect(list.Resource).toEqual(['arn:aws:s3:::bucket']);
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['mlflow/root', 'mlflow/root/*'] } });
    for (const s of statements.filter((s) => s !== list)) expect(s.Resource).toEqual(['arn:aws:s3:::bucket/mlflow/root/*']);
  });
  test('read only: no write or delete action', () => {
    const actions = artifactIamStatements(settings, { read: true, write: false, delete: false }).flatMap((s) => s.Action);
    expect(actions.sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
  });
  test('GovCloud partition', () => {
    expect(artifactIamStatements(settings, { read: true, write: false, delete: false }, 'aws-us-gov')[0]!.Resource).toEqual(['arn:aws-us-gov:s3:::bucket']);
  });
  test('a discovered root cannot be written into a policy', () => expect(() => artifactIamStatements({}, { read: true, write: false, delete: false })).toThrow(/s3Root/));
});

test('a rules file with an old artifact operation name is told the new one', () => {
  const yaml = `${sagemaker}clients: [{id: c, apiKeySha256: "${'a'.repeat(64)}", policies: [p]}]\npolicies: {p: {operations: [UploadArtifact]}}\n`;
  expect(problemsOf(yaml).join('\n')).toMatch(/unknown MLflow operation "UploadArtifact"; did you mean WriteArtifacts\?/);
});

describe('explain says where artifact requests go', () => {
  const rules = rulesFrom(`${sagemaker}artifacts: {s3Root: "s3://bucket/root"}
clients: [{id: c, apiKeySha256: "${'a'.repeat(64)}", policies: [p]}]
policies: {p: {operations: [ReadArtifacts, GetRun]}}
`);
  test('the artifact API is served from S3, never sent to SageMaker', async () => {
    const lines = (await explain(rules, 'GET', '/api/2.0/mlflow-artifacts/artifacts/1/a.txt', 'c')).lines.join('\n');
    expect(lines).toContain('served      by the gateway from S3 under s3://bucket/root');
    expect(lines).not.toContain('upstream');
  });
  test('an operation that carries locations says it is rewritten', async () => {
    expect((await explain(rules, 'GET', '/api/2.0/mlflow/runs/get?run_id=1', 'c')).lines.join('\n')).toContain('s3:// → mlflow-artifacts:/ in the answer');
  });
});
