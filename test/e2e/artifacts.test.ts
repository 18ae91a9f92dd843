// End to end, artifacts: the stock MLflow client with only a tracking URI and a token (no AWS
// variables) → the gateway → for the REST API the SageMaker stand-in (botocore-verified) → a real
// `mlflow server` configured like SageMaker's (--default-artifact-root s3://bucket/prefix,
// --no-serve-artifacts); for the artifact API, the gateway itself → a real S3-compatible server
// (moto). What lands in S3 is checked by key and sha256, and traversal attempts by the S3 listing.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { mlflowUserEnv, MLFLOW_VERSIONS, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { allKeys, createBucket, MOTO_CREDENTIALS, MOTO_REGION, objectSha256, putObject, startMoto, type S3Server } from '../support/s3.ts';
import { rawRequest } from '../support/raw-http.ts';

setDefaultTimeout(300_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/artifacts';
const BUCKET = 'mlflow-artifacts-e2e';
const PREFIX = 'tracking/root';
const OUTSIDE_KEY = 'outside/sentinel.txt';
const TRAINER_KEY = 'trainer-key-artifacts-0123456789';
const READER_KEY = 'reader-key-artifacts-0123456789a';


function runPython(version: string, args: string[], env: Record<string, string>, gateway: Started): Record<string, any> {
  const run = spawnSync(venvPython(version), [join(REPO, 'test/e2e/artifacts_workflow.py'), ...args], { env, encoding: 'utf8', timeout: 280_000 });
  const last = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0) throw new Error(`artifacts_workflow ${args[0]} failed (${run.status}):\n${last}\n${run.stderr.slice(-4000)}\n--- gateway ---\n${gateway.output().slice(-3000)}`);
  return JSON.parse(last);
}

let s3: S3Server;
beforeAll(async () => {
  s3 = await startMoto();
  await createBucket(s3, BUCKET);
  await putObject(s3, BUCKET, OUTSIDE_KEY, 'must never change');
});
afterAll(async () => {
  await s3?.stop();
});

for (const version of MLFLOW_VERSIONS) {
  describe(`MLflow ${version}: artifacts through the gateway`, () => {
    const prefix = `${PREFIX}/v${version.replace(/\./g, '-')}`;
    let mlflow: Started & { url: string };
    let standin: DataPlaneStandin;
    let gateway: Started;
    let base: string;
    let logged: Record<string, any>;

    beforeAll(async () => {
      mlflow = await startMlflow(version, {
        s3ArtifactRoot: `s3://${BUCKET}/${prefix}`,
        env: {
          MLFLOW_S3_ENDPOINT_URL: s3.url,
          AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
          AWS_DEFAULT_REGION: MOTO_REGION,
        },
      });
      standin = await startDataPlane(venvPython(version), ARN, mlflow.url);
      const rulesFile = join(tempDir('artifacts-rules'), 'rules.yaml');
      writeFileSync(
        rulesFile,
        `version: 1
listen: {host: 127.0.0.1, port: 0}
backend:
  arn: ${ARN}
  endpoint: http://127.0.0.1:${standin.port}
artifacts:
  s3Root: s3://${BUCKET}/${prefix}
  endpoint: ${s3.url}
  forcePathStyle: true
clients:
  - {id: trainer, apiKeySha256: "${hashApiKey(TRAINER_KEY)}", policies: [trainer]}
  - {id: reader, apiKeySha256: "${hashApiKey(READER_KEY)}", policies: [reader]}
policies:
  reader: {operations: ["Get*", "Search*", "List*", BatchGetTraces, ReadArtifacts]}
  trainer: {include: [reader], operations: [CreateExperiment, CreateRun, UpdateRun, "Log*", SetTag, CreateLoggedModel, FinalizeLoggedModel,
    "SetLoggedModel*", CreateRegisteredModel, CreateModelVersion, UpdateModelVersion, "StartTrace*", EndTrace, "SetTraceTag*", LinkTracesToRun,
    WriteArtifacts, DeleteArtifacts]}
`,
      );
      // The gateway signs SageMaker calls with the stand-in's credentials; moto accepts any.
      const creds = staticCredentials('ARTIFACTS0001');
      gateway = await startGateway(rulesFile, cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey }));
      base = `http://127.0.0.1:${gateway.port}`;
    });
    afterAll(async () => {
      await gateway?.stop();
      await standin?.stop();
      await mlflow?.stop();
    });

    test('the stock client logs a 50 MB file, a tree, dicts, text, a multipart upload and a model; S3 holds the exact bytes', async () => {
      const workdir = tempDir('artifacts-log');
      logged = runPython(version, ['log', workdir, `${version}-${Date.now()}`], mlflowUserEnv(base, TRAINER_KEY), gateway);
      expect(logged.ok).toBe(true);
      // The client saw an mlflow-artifacts location, never the S3 one.
      expect(logged.artifact_uri).toBe(`mlflow-artifacts:/${logged.experiment_id}/${logged.run_id}/artifacts`);
      expect(logged.model_version_source).not.toContain('s3://');

      const runKey = `${prefix}/${logged.experiment_id}/${logged.run_id}/artifacts`;
      const keys = await allKeys(s3, BUCKET);
      for (const [path, sha256] of Object.entries(logged.hashes as Record<string, string>)) {
        expect(keys).toContain(`${runKey}/${path}`);
        expect(await objectSha256(s3, BUCKET, `${runKey}/${path}`)).toBe(sha256);
      }
      expect(keys).toContain(`${runKey}/config/params.json`);
      // The model's files are under the root (run artifacts in 2.x, logged-model artifacts in 3.x).
      expect(keys.some((k) => k.startsWith(`${prefix}/`) && k.endsWith('/MLmodel'))).toBe(true);
      // The tracking server stored the real S3 location for the model version (request rewriting).
      const mv = await (await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${encodeURIComponent(logged.model_name)}&version=${logged.model_version}`)).json();
      expect(mv.model_version.source.startsWith('s3://') || mv.model_version.source.startsWith('models:/') || mv.model_version.source.startsWith('runs:/')).toBe(true);
      expect(mv.model_version.source).not.toContain('mlflow-artifacts:');
    });

    test('a fresh client process downloads, lists, reads the trace, loads the registered model and predicts', () => {
      const workdir = tempDir('artifacts-load');
      const loaded = runPython(version, ['load', workdir, logged.run_id, logged.model_name, logged.model_version, logged.trace_id ?? ''], mlflowUserEnv(base, READER_KEY), gateway);
      expect(loaded.ok).toBe(true);
      expect(loaded.hashes).toEqual(logged.hashes);
      expect(loaded.top_level).toEqual(expect.arrayContaining(['big.bin', 'config', 'mpu', 'notes', 'tree']));
      expect(loaded.tree_listing).toEqual([
        ['tree/dir with spaces/notes 1.txt', false, 16],
        ['tree/dir with spaces/ünïcødé – ファイル.txt', false, 12],
      ]);
      expect(loaded.dict).toEqual({ alpha: 0.5, layers: [1, 2] });
      expect(loaded.text).toBe('hello from the gateway ✓\n');
      expect(loaded.prediction).toEqual([3, 4, 5]);
      // 2.16's own tracing fails on the client with the OpenTelemetry SDK its venv resolves, so
      // only 3.x records a trace (whose attachments location the gateway rewrites).
      if (version.startsWith('3.')) expect(loaded.trace_spans).toEqual(['traced step']);
    });

    test('a read-only client can read but not write or delete; nothing reaches S3 for a refusal', async () => {
      const artifact = `${base}/api/2.0/mlflow-artifacts/artifacts/${logged.experiment_id}/${logged.run_id}/artifacts/notes/hello.txt`;
      const reader = { authorization: `Bearer ${READER_KEY}` };
      const read = await fetch(artifact, { headers: reader });
      expect(read.status).toBe(200);
      expect(await read.text()).toBe('hello from the gateway ✓\n');
      const before = await allKeys(s3, BUCKET);
      const write = await fetch(`${artifact}.new`, { method: 'PUT', headers: reader, body: 'nope' });
      expect(write.status).toBe(403);
      expect((await write.json()).error_code).toBe('PERMISSION_DENIED');
      const del = await fetch(artifact, { method: 'DELETE', headers: reader });
      expect(del.status).toBe(403);
      const mpu = await fetch(`${base}/api/2.0/mlflow-artifacts/mpu/create/${logged.experiment_id}/x`, {
        method: 'POST', headers: { ...reader, 'content-type': 'application/json' }, body: '{"path":"f.bin","num_parts":1}',
      });
      expect(mpu.status).toBe(403);
      expect(await allKeys(s3, BUCKET)).toEqual(before);
      await Bun.sleep(50);
      const denied = auditLines(gateway.output()).filter((a) => a.clientId === 'reader' && a.decision === 'denied').map((a) => a.operation);
      expect(denied).toEqual(expect.arrayContaining(['WriteArtifacts', 'DeleteArtifacts']));
    });

    test('the trainer can delete a directory; only keys under it go', async () => {
      const dir = `${logged.experiment_id}/${logged.run_id}/artifacts/tree/nested`;
      const deleted = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${dir}`, { method: 'DELETE', headers: { authorization: `Bearer ${TRAINER_KEY}` } });
      expect(deleted.status).toBe(200);
      const keys = await allKeys(s3, BUCKET);
      expect(keys.filter((k) => k.startsWith(`${prefix}/${dir}/`))).toEqual([]);
      expect(keys).toContain(`${prefix}/${dir.replace('/nested', '')}/readme.txt`);
    });

    test('path traversal and ambiguous paths are refused and never touch keys outside the root', async () => {
      const trainer = `Bearer ${TRAINER_KEY}`;
      const before = await allKeys(s3, BUCKET);
      const api = '/api/2.0/mlflow-artifacts';
      const attempts: Array<[string, string, string?]> = [
        ['PUT', `${api}/artifacts/../../../outside/sentinel.txt`, 'x'],
        ['PUT', `${api}/artifacts/%2e%2e/%2e%2e/outside/sentinel.txt`, 'x'],
        ['PUT', `${api}/artifacts/a/..%2f..%2f..%2foutside/sentinel.txt`, 'x'],
        ['PUT', `${api}/artifacts/%2Foutside/sentinel.txt`, 'x'],
        ['PUT', `${api}/artifacts//outside/sentinel.txt`, 'x'],
        ['PUT', `${api}/artifacts/a%5c..%5c..%5coutside`, 'x'],
        ['PUT', `${api}/artifacts/a%00b`, 'x'],
        ['DELETE', `${api}/artifacts/../../outside`],
        ['DELETE', `${api}/artifacts/./`],
        ['GET', `${api}/artifacts/../../../outside/sentinel.txt`],
        ['GET', `${api}/artifacts?path=../../outside`],
        ['GET', `${api}/artifacts?path=/outside`],
        ['GET', `${api}/artifacts?path=a/../../outside`],
        ['POST', `${api}/mpu/create/../../outside`, '{"path":"sentinel.txt","num_parts":1}'],
      ];
      // Bun's HTTP server resolves `..` and `%2e%2e` segments before the gateway sees the path, so
      // those arrive as paths outside the artifact API (no operation: 403); every other shape is
      // refused as ambiguous (400). Either way: never a 2xx, never an S3 call.
      for (const [method, path, body] of attempts) {
        const answer = await rawRequest(gateway.port, method, path, { authorization: trainer, ...(body ? { 'content-type': 'application/json' } : {}) }, body);
        expect({ method, path, refused: answer.status === 400 || answer.status === 403 }).toEqual({ method, path, refused: true });
      }
      // A location carried back in a request is checked the same way.
      const source = await fetch(`${base}/api/2.0/mlflow/model-versions/create`, {
        method: 'POST', headers: { authorization: trainer, 'content-type': 'application/json' },
        body: JSON.stringify({ name: logged.model_name, source: 'mlflow-artifacts:/../../outside' }),
      });
      expect(source.status).toBe(400);
      expect(await allKeys(s3, BUCKET)).toEqual(before);
      expect(await objectSha256(s3, BUCKET, OUTSIDE_KEY)).toBe(new Bun.CryptoHasher('sha256').update('must never change').digest('hex'));
      expect(before.filter((k) => !k.startsWith(`${PREFIX}/`))).toEqual([OUTSIDE_KEY]);
    });

    test('every artifact request left an audit line with its operation', async () => {
      await Bun.sleep(50);
      const audit = auditLines(gateway.output());
      const allowed = audit.filter((a) => String(a.upstreamPath ?? '').startsWith('/api/2.0/mlflow-artifacts/') && a.decision === 'allowed');
      expect(allowed.length).toBeGreaterThan(10);
      const ops = new Set(allowed.map((a) => a.operation));
      expect(ops).toEqual(new Set(['ReadArtifacts', 'WriteArtifacts', 'DeleteArtifacts']));
      expect(gateway.output()).not.toContain(TRAINER_KEY);
      // The REST calls all reached MLflow through a verified signature; no artifact call went there.
      expect(standin.log().filter((l) => l.verdict !== 'forwarded')).toEqual([]);
      expect(standin.log().filter((l) => l.path.includes('mlflow-artifacts'))).toEqual([]);
    });
  });
}
