// A self-hosted MLflow (backend.url) serves its own artifact API (`mlflow server`, artifacts served
// by default): the gateway passes the mlflow-artifacts routes through like any other path, binary
// bodies intact both ways, with the same ReadArtifacts / WriteArtifacts / DeleteArtifacts policies.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { MLFLOW_VERSIONS, startMlflow } from '../support/mlflow.ts';
import { cleanAwsEnv, startGateway, tempDir, type Started } from '../support/processes.ts';

setDefaultTimeout(180_000);

const KEY = 'self-hosted-artifacts-key-01234';
const READER = 'self-hosted-artifacts-reader-012';
let mlflow: Started & { url: string };
let gateway: Started;
let base: string;

beforeAll(async () => {
  mlflow = await startMlflow(MLFLOW_VERSIONS.at(-1)!);
  const rulesFile = join(tempDir('self-hosted-artifacts'), 'rules.yaml');
  writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "${mlflow.url}", hostHeader: "127.0.0.1:${new URL(mlflow.url).port}"}
clients:
  - {id: writer, apiKeySha256: "${hashApiKey(KEY)}", policies: [write]}
  - {id: reader, apiKeySha256: "${hashApiKey(READER)}", policies: [read]}
policies:
  read: {operations: [ReadArtifacts]}
  write: {operations: [ReadArtifacts, WriteArtifacts, DeleteArtifacts]}
`);
  gateway = await startGateway(rulesFile, cleanAwsEnv({}));
  base = `http://127.0.0.1:${gateway.port}/api/2.0/mlflow-artifacts/artifacts`;
});

afterAll(async () => {
  await gateway?.stop();
  await mlflow?.stop();
});

test('upload, list, download and delete pass through to MLflow\'s own artifact proxy, bytes intact', async () => {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) % 256);
  const auth = { authorization: `Bearer ${KEY}` };
  const put = await fetch(`${base}/passthrough/dir%20x/blob.bin`, { method: 'PUT', headers: auth, body: bytes });
  expect(put.status).toBe(200);
  const listed = await (await fetch(`${base}?path=passthrough/dir+x`, { headers: auth })).json();
  expect(listed.files).toEqual([{ path: 'blob.bin', is_dir: false, file_size: 300_000 }]);
  const got = await fetch(`${base}/passthrough/dir%20x/blob.bin`, { headers: { authorization: `Bearer ${READER}` } });
  expect(got.status).toBe(200);
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  const denied = await fetch(`${base}/passthrough/dir%20x/blob.bin`, { method: 'DELETE', headers: { authorization: `Bearer ${READER}` } });
  expect(denied.status).toBe(403);
  expect((await fetch(`${base}/passthrough/dir%20x/blob.bin`, { method: 'DELETE', headers: auth })).status).toBe(200);
  expect((await fetch(`${base}/passthrough/dir%20x/blob.bin`, { headers: auth })).status).not.toBe(200);
});
