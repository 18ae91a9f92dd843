// The S3 store against a real S3-compatible server (moto): every upload path (one streamed PUT,
// multipart with and without a length, one buffered PUT), downloads, listings, deletes, and
// S3's refusals as gateway errors.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { S3ArtifactStore } from '../../src/artifacts/s3-store.ts';
import { parseS3Root } from '../../src/artifacts/keys.ts';
import { ArtifactNotFound, ArtifactStoreFailed } from '../../src/errors.ts';
import { allKeys, createBucket, MOTO_CREDENTIALS, MOTO_REGION, objectSha256, startMoto, type S3Server } from '../support/s3.ts';

setDefaultTimeout(120_000);
const BUCKET = 'store-tests';
const MiB = 1024 * 1024;
let s3: S3Server;
let store: S3ArtifactStore;

function storeFor(root: string, overrides: Partial<ConstructorParameters<typeof S3ArtifactStore>[0]> = {}) {
  const parsed = parseS3Root(root);
  if (!parsed.ok) throw new Error(parsed.problem);
  return new S3ArtifactStore({
    root: parsed.value,
    region: MOTO_REGION,
    endpoint: s3.url,
    forcePathStyle: true,
    singlePutMaxBytes: 5 * MiB,
    partSizeBytes: 5 * MiB,
    partsInFlight: 2,
    presignedUrlSeconds: 600,
    credentials: async () => MOTO_CREDENTIALS,
    ...overrides,
  });
}

const bytes = (size: number, seed: number) => new Uint8Array(size).map((_, i) => (i * 31 + seed) % 251);
const sha256 = (data: Uint8Array) => new Bun.CryptoHasher('sha256').update(data).digest('hex');
/** A stream in uneven chunks, so part boundaries fall inside chunks. */
const streamOf = (data: Uint8Array, chunk = 700_001) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < data.byteLength; i += chunk) controller.enqueue(data.slice(i, i + chunk));
      controller.close();
    },
  });

beforeAll(async () => {
  s3 = await startMoto();
  await createBucket(s3, BUCKET);
  store = storeFor(`s3://${BUCKET}/root`);
});
afterAll(async () => {
  await s3?.stop();
});

describe('uploads land byte for byte, whichever path they take', () => {
  const cases: Array<[string, number, boolean]> = [
    ['a small body of known length: one PUT', 300_000, true],
    ['a body over singlePutMaxBytes: parts of 5 + 5 MiB + the remainder, two at a time', 12 * MiB + 12345, true],
    ['a body of exactly two parts', 10 * MiB, true],
    ['a body without a length: multipart', 11 * MiB + 7, false],
    ['a small body without a length: one PUT', 3 * MiB, false],
    ['an empty body', 0, true],
  ];
  for (const [what, size, known] of cases) {
    test(what, async () => {
      const data = bytes(size, size % 97);
      const key = `root/up/${size}.bin`;
      await store.put(key, streamOf(data), known ? size : undefined, 'application/octet-stream');
      expect(await objectSha256(s3, BUCKET, key)).toBe(sha256(data));
      const object = await store.get(key);
      expect(object.length).toBe(size);
      expect(sha256(new Uint8Array(await new Response(object.body).arrayBuffer()))).toBe(sha256(data));
    });
  }
  test('a client that goes away mid-upload leaves no object and no open multipart upload', async () => {
    let sent = 0;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 7 * MiB) return controller.error(new Error('client went away'));
        controller.enqueue(bytes(MiB, sent));
        sent += MiB;
      },
    });
    await expect(store.put('root/up/broken.bin', broken, 12 * MiB, undefined)).rejects.toThrow();
    expect(await allKeys(s3, BUCKET)).not.toContain('root/up/broken.bin');
    const open = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'root/up/broken.bin' }));
    expect(open.Uploads ?? []).toEqual([]);
  });
  test('a body shorter than its Content-Length fails and leaves no object', async () => {
    await expect(store.put('root/up/short.bin', streamOf(bytes(6 * MiB, 1)), 12 * MiB, undefined)).rejects.toThrow();
    expect(await allKeys(s3, BUCKET)).not.toContain('root/up/short.bin');
  });
});

describe('listing, deleting and refusals', () => {
  test('one level at a time; a sibling with the same prefix is neither listed nor deleted', async () => {
    for (const key of ['root/d/a.txt', 'root/d/sub/b.txt', 'root/d/sub/c.txt', 'root/dx/keep.txt']) await store.put(key, streamOf(bytes(10, 1)), 10, undefined);
    expect(await store.list('root/d/')).toEqual([
      { name: 'sub', isDir: true },
      { name: 'a.txt', isDir: false, size: 10 },
    ]);
    expect(await store.deleteTree('root/d')).toBe(4); // the key itself (absent) and three under it
    const keys = await allKeys(s3, BUCKET);
    expect(keys.filter((k) => k.startsWith('root/d/'))).toEqual([]);
    expect(keys).toContain('root/dx/keep.txt');
  });
  test('the root itself is never deleted', async () => {
    await expect(store.deleteTree('root')).rejects.toThrow(/whole artifact root/);
  });
  test('a missing object is ArtifactNotFound; a missing bucket is ArtifactStoreFailed', async () => {
    await expect(store.get('root/missing.bin')).rejects.toBeInstanceOf(ArtifactNotFound);
    await expect(storeFor('s3://no-such-bucket/x').get('x/y')).rejects.toBeInstanceOf(ArtifactStoreFailed);
  });
  test('mpu/create hands out presigned part URLs that S3 accepts without credentials', async () => {
    const data = bytes(6 * MiB, 3);
    const created = await store.createMultipart('root/mpu/file.bin', 2);
    expect(created.credentials.map((c) => c.part_number)).toEqual([1, 2]);
    const parts = [];
    for (const [i, credential] of created.credentials.entries()) {
      const body = data.subarray(i * 5 * MiB, Math.min(data.byteLength, (i + 1) * 5 * MiB));
      const response = await fetch(credential.url, { method: 'PUT', body });
      expect(response.status).toBe(200);
      parts.push({ part_number: credential.part_number, etag: response.headers.get('etag')! });
    }
    await store.completeMultipart('root/mpu/file.bin', created.upload_id, parts);
    expect(await objectSha256(s3, BUCKET, 'root/mpu/file.bin')).toBe(sha256(data));
    await expect(store.abortMultipart('root/mpu/file.bin', 'no-such-upload')).rejects.toBeInstanceOf(ArtifactNotFound);
  });
});
