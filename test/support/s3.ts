// A real S3-compatible server for the artifact tests: moto in server mode (pinned, from the venv
// scripts/setup-python.sh makes), on a loopback port, and a small S3 client to look inside it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, REPO, startProcess, type Started } from './processes.ts';

const VENV_ROOT = process.env.PROXY_VENV_ROOT ?? join(REPO, '.cache', 'venvs');
/** moto accepts any credentials; these are only ever used against it. */
export const MOTO_CREDENTIALS = { accessKeyId: 'motoaccesskey', secretAccessKey: 'motosecretkey' };
export const MOTO_REGION = 'us-east-1';

export interface S3Server extends Started {
  url: string;
  client: S3Client;
}

export async function startMoto(): Promise<S3Server> {
  const binary = join(VENV_ROOT, 'moto', 'bin', 'moto_server');
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run scripts/setup-python.sh (npm test does)`);
  const port = await freePort();
  const started = await startProcess(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    name: 'moto server',
    ready: (output) => (/Running on/.test(output) ? port : undefined),
  });
  const url = `http://127.0.0.1:${port}`;
  const client = new S3Client({ region: MOTO_REGION, endpoint: url, forcePathStyle: true, credentials: MOTO_CREDENTIALS });
  return { ...started, url, client };
}

export async function createBucket(s3: S3Server, bucket: string): Promise<void> {
  await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
}

export async function putObject(s3: S3Server, bucket: string, key: string, body: string): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Every key in the bucket (all pages). */
export async function allKeys(s3: S3Server, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function objectSha256(s3: S3Server, bucket: string, key: string): Promise<string> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of object.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}
