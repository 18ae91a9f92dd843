// The artifact API from what ships: the compiled executable, and the bundle under Deno (which sends
// stream bodies chunked, so its uploads take the buffered part path), against a real S3-compatible
// server (moto). Bytes must round-trip exactly through a single PUT and a multipart upload, and
// the SDK's own calls (list, delete, multipart bookkeeping) must run with Deno's narrow permissions.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { cleanAwsEnv, tempDir, type Started } from '../support/processes.ts';
import { BUILT_RUNTIMES, startBuiltGateway } from '../support/build.ts';
import { createBucket, MOTO_CREDENTIALS, objectSha256, startMoto, type S3Server } from '../support/s3.ts';

setDefaultTimeout(180_000);
const KEY = 'single-file-artifacts-key-012345';
const BUCKET = 'single-file-artifacts';
const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => new Bun.CryptoHasher('sha256').update(data).digest('hex');

let s3: S3Server;
beforeAll(async () => {
  s3 = await startMoto();
  await createBucket(s3, BUCKET);
});
afterAll(async () => {
  await s3?.stop();
});

for (const runtime of BUILT_RUNTIMES) {
  describe(runtime, () => {
    let gateway: Started;
    const prefix = runtime.includes('Deno') ? 'deno' : 'executable';
    beforeAll(async () => {
      const rulesFile = join(tempDir('single-file-artifacts'), 'rules.yaml');
      writeFileSync(rulesFile, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/sf", endpoint: "http://127.0.0.1:9"}
artifacts: {s3Root: "s3://${BUCKET}/${prefix}", endpoint: "${s3.url}", forcePathStyle: true, singlePutMaxBytes: ${5 * MiB}, partSizeBytes: ${5 * MiB}}
clients: [{id: c, apiKeySha256: "${hashApiKey(KEY)}", policies: [rw]}]
policies: {rw: {operations: [ReadArtifacts, WriteArtifacts, DeleteArtifacts]}}
`);
      gateway = await startBuiltGateway(runtime, rulesFile, cleanAwsEnv({ AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey }));
    });
    afterAll(async () => {
      await gateway?.stop();
    });

    for (const [what, size] of [['one PUT', 3 * MiB + 17], ['a multipart upload', 12 * MiB + 5]] as const) {
      test(`${what} round-trips byte for byte`, async () => {
        const data = new Uint8Array(size).map((_, i) => (i * 13 + size) % 253);
        const url = `http://127.0.0.1:${gateway.port}/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/${size}.bin`;
        const auth = { authorization: `Bearer ${KEY}` };
        const put = await fetch(url, { method: 'PUT', headers: auth, body: data });
        expect(put.status).toBe(200);
        expect(await objectSha256(s3, BUCKET, `${prefix}/1/r/artifacts/${size}.bin`)).toBe(sha256(data));
        const got = await fetch(url, { headers: auth });
        expect(got.status).toBe(200);
        expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(data));
      });
    }

    test('list and delete (the SDK calls) work too', async () => {
      const api = `http://127.0.0.1:${gateway.port}/api/2.0/mlflow-artifacts/artifacts`;
      const auth = { authorization: `Bearer ${KEY}` };
      const listed = await (await fetch(`${api}?path=1/r/artifacts`, { headers: auth })).json();
      expect(listed.files.map((f: { path: string }) => f.path).sort()).toEqual([`${12 * MiB + 5}.bin`, `${3 * MiB + 17}.bin`]);
      expect((await fetch(`${api}/1/r`, { method: 'DELETE', headers: auth })).status).toBe(200);
      expect(await (await fetch(`${api}?path=1/r/artifacts`, { headers: auth })).json()).toEqual({});
    });
  });
}
