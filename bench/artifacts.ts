// Artifact throughput and memory: upload and download MB/s through the gateway's artifact API
// against the same transfers straight to the S3 server, in one run, and the gateway's peak RSS while
// it carries a large transfer (BENCH_ARTIFACT_BYTES, default 2 GiB).
//
//   bun bench/artifacts.ts            (needs .cache/venvs/moto from scripts/setup-python.sh)
//
// The S3 server is moto (Python, single process): it is the bottleneck for both paths, so the
// ratio says how much the gateway adds on top of a slow store, not what it reaches against AWS.
// Direct transfers are what a client with credentials does: the SDK's multipart Upload (8 MiB parts,
// 4 in flight) and GetObject. BENCH_PARTS_IN_FLIGHT sets the gateway's artifacts.partsInFlight.
// Writes bench/results/artifacts.json. Only ratios measured in one run mean anything.
import { spawn, type Subprocess } from 'bun';
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer } from 'node:net';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const ROOT = resolve(import.meta.dir, '..');
const BYTES = Number(process.env.BENCH_ARTIFACT_BYTES ?? 2 * 1024 ** 3);
const OUT = resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/artifacts.json');
const TARGETS = { throughputRatio: 0.7, rssMb: 150 };
const KEY = 'bench-artifacts-key-0123456789abcdef';
const BUCKET = 'bench-artifacts';
const CREDS = { accessKeyId: 'benchaccesskey', secretAccessKey: 'benchsecretkey' };
const children: Subprocess[] = [];

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startAndWait(cmd: string[], env: Record<string, string | undefined>, ready: RegExp): Promise<{ proc: Subprocess; output: () => string }> {
  const proc = spawn({ cmd, env, stdout: 'pipe', stderr: 'pipe', cwd: ROOT });
  children.push(proc);
  let output = '';
  for (const stream of [proc.stdout, proc.stderr]) {
    (async () => {
      const reader = (stream as ReadableStream<Uint8Array>).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) output += new TextDecoder().decode(r.value);
    })();
  }
  const deadline = Date.now() + 60_000;
  while (!ready.test(output)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${cmd[0]} did not start:\n${output}`);
    await Bun.sleep(100);
  }
  return { proc, output: () => output };
}

/** BYTES of incompressible-looking data, generated as it is read (no memory held by the client). */
function source(bytes: number): ReadableStream<Uint8Array> {
  const block = crypto.getRandomValues(new Uint8Array(1024 * 1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(block.byteLength, bytes - sent);
      controller.enqueue(block.slice(0, n));
      sent += n;
    },
  });
}

async function drain(body: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  const reader = body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.byteLength;
  return n;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Runs `work` while sampling the gateway's RSS every 100 ms; returns MB/s and the peak RSS. */
async function measure(pid: number, work: () => Promise<number>): Promise<{ mbPerSecond: number; seconds: number; peakRssMb: number }> {
  let peak = rssMb(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  const started = performance.now();
  const bytes = await work();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (bytes !== BYTES) throw new Error(`transferred ${bytes} bytes, expected ${BYTES}`);
  return { mbPerSecond: Math.round((bytes / 1e6 / seconds) * 10) / 10, seconds: Math.round(seconds * 10) / 10, peakRssMb: Math.round(peak) };
}

async function main(): Promise<void> {
  const moto = join(process.env.PROXY_VENV_ROOT ?? join(ROOT, '.cache/venvs'), 'moto/bin/moto_server');
  if (!existsSync(moto)) throw new Error(`${moto} missing: run scripts/setup-python.sh`);
  const motoPort = await freePort();
  await startAndWait([moto, '-H', '127.0.0.1', '-p', String(motoPort)], { ...process.env }, /Running on/);
  const s3Url = `http://127.0.0.1:${motoPort}`;
  const s3 = new S3Client({ region: 'us-east-1', endpoint: s3Url, forcePathStyle: true, credentials: CREDS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

  const dir = mkdtempSync(join(tmpdir(), 'bench-artifacts-'));
  const rules = join(dir, 'rules.yaml');
  const hash = new Bun.CryptoHasher('sha256').update(KEY).digest('hex');
  writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/bench", endpoint: "http://127.0.0.1:9"}
artifacts: {s3Root: "s3://${BUCKET}/root", endpoint: "${s3Url}", forcePathStyle: true${process.env.BENCH_PARTS_IN_FLIGHT ? `, partsInFlight: ${process.env.BENCH_PARTS_IN_FLIGHT}` : ""}}
clients: [{id: bench, apiKeySha256: "${hash}", policies: [rw]}]
policies: {rw: {operations: [ReadArtifacts, WriteArtifacts]}}
`);
  const env: Record<string, string | undefined> = { ...process.env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' };
  const gateway = await startAndWait([process.execPath, join(ROOT, 'src/main.ts'), 'serve', '--rules', rules], env, /"event":"listening"/);
  const port = Number(/"event":"listening".*?"port":(\d+)/.exec(gateway.output())![1]);
  const pid = gateway.proc.pid;
  const artifactUrl = `http://127.0.0.1:${port}/api/2.0/mlflow-artifacts/artifacts/bench/blob.bin`;
  const auth = { authorization: `Bearer ${KEY}` };
  const idleRssMb = Math.round(rssMb(pid));
  console.log(`moto ${s3Url}, gateway :${port} (pid ${pid}, idle RSS ${idleRssMb} MB), ${BYTES} bytes per transfer`);

  const directUpload = await measure(pid, async () => {
    await new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'direct/blob.bin', Body: source(BYTES) }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
    return BYTES;
  });
  console.log('direct upload', directUpload);
  // moto keeps objects in memory and slows as it fills: each upload starts from the same state.
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'direct/blob.bin' }));
  const gatewayUpload = await measure(pid, async () => {
    const response = await fetch(artifactUrl, { method: 'PUT', headers: { ...auth, 'content-length': String(BYTES) }, body: source(BYTES) });
    if (response.status !== 200) throw new Error(`gateway upload: ${response.status} ${await response.text()}`);
    return BYTES;
  });
  console.log('gateway upload', gatewayUpload);
  const directDownload = await measure(pid, async () => {
    // The object the gateway uploaded: both downloads read the same bytes from the same store state.
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'root/bench/blob.bin' }));
    return drain(object.Body!.transformToWebStream() as ReadableStream<Uint8Array>);
  });
  console.log('direct download', directDownload);
  const gatewayDownload = await measure(pid, async () => {
    const response = await fetch(artifactUrl, { headers: auth });
    if (response.status !== 200) throw new Error(`gateway download: ${response.status}`);
    return drain(response.body!);
  });
  console.log('gateway download', gatewayDownload);

  const result = {
    date: new Date().toISOString(),
    bytes: BYTES,
    idleRssMb,
    upload: { directMBps: directUpload.mbPerSecond, gatewayMBps: gatewayUpload.mbPerSecond, ratio: +(gatewayUpload.mbPerSecond / directUpload.mbPerSecond).toFixed(2), gatewayPeakRssMb: gatewayUpload.peakRssMb },
    download: { directMBps: directDownload.mbPerSecond, gatewayMBps: gatewayDownload.mbPerSecond, ratio: +(gatewayDownload.mbPerSecond / directDownload.mbPerSecond).toFixed(2), gatewayPeakRssMb: gatewayDownload.peakRssMb },
  };
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  console.log(`\n              direct MB/s  gateway MB/s  ratio (≥ ${TARGETS.throughputRatio})  gateway peak RSS MB (< ${TARGETS.rssMb})`);
  for (const kind of ['upload', 'download'] as const) {
    const r = result[kind];
    console.log(`${kind.padEnd(12)}  ${String(r.directMBps).padStart(11)}  ${String(r.gatewayMBps).padStart(12)}  ${`${r.ratio} ${verdict(r.ratio >= TARGETS.throughputRatio)}`.padStart(17)}  ${`${r.gatewayPeakRssMb} ${verdict(r.gatewayPeakRssMb < TARGETS.rssMb)}`.padStart(10)}`);
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2));
  console.log(`\nwritten to ${OUT}`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill();
  });
