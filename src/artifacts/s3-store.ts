// The S3 side of the artifact API: one S3 client for the configured root, and the few object
// operations MLflow's artifact proxy needs. Keys come from keys.ts only; this file never builds a
// key from client input itself.
//
// Bodies stream both ways through the runtime's own fetch with presigned requests (SigV4 query
// signing, UNSIGNED-PAYLOAD), not through the SDK's Node stream adapters: on Bun those move bytes
// in small chunks through JavaScript and allocate faster than the collector frees (measured: 0.29×
// direct download throughput, 319 MB RSS for a 256 MiB upload). A download is S3's response body
// handed on; an upload of known, small length is the client's request body handed to one PUT;
// anything larger (or without a length) is a multipart upload from a fixed set of reused part
// buffers. The SDK client is used for the small XML calls (list, delete, multipart bookkeeping).
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import type { AwsCredentials } from '../aws/sigv4.ts';
import type { S3Root } from './keys.ts';
import { ArtifactNotFound, ArtifactStoreFailed, BadRequest } from '../errors.ts';
import { collectAfterStreaming } from '../runtime/gc-pacing.ts';
import type { Tracing } from '../observability/tracing.ts';

export type CredentialsProvider = () => Promise<AwsCredentials>;
/** Runs one S3 call in a client span (rules `tracing`); absent, calls run as they are. */
export type TraceS3Call = Tracing['around'];

export interface S3StoreOptions {
  root: S3Root;
  region: string;
  /** S3-compatible endpoint (tests, VPC endpoints); else AWS's regional endpoint. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Uploads with a known length up to this size are one streamed PUT; larger or unknown → multipart. */
  singlePutMaxBytes: number;
  /** Multipart part size (grown when needed to stay within S3's 10,000 parts). */
  partSizeBytes: number;
  /** Parts sent at once, each held in memory: partSizeBytes × partsInFlight per upload. */
  partsInFlight: number;
  /** Lifetime of the presigned part URLs mpu/create hands out. */
  presignedUrlSeconds: number;
  /** The host's credentials, or a client role's (withCredentials). */
  credentials: CredentialsProvider;
  trace?: TraceS3Call;
}

export interface StoredObject {
  body: ReadableStream<Uint8Array>;
  length?: number;
  contentType?: string;
  etag?: string;
}

export interface ListedEntry {
  /** Name relative to the listed directory (MLflow's proxy lists basenames). */
  name: string;
  isDir: boolean;
  size?: number;
}

export interface PartUrl {
  part_number: number;
  url: string;
  headers: Record<string, string>;
}

// S3's DeleteObjects takes at most 1000 keys per call; S3 multipart uploads at most 10,000 parts.
const DELETE_BATCH = 1000;
export const MAX_PARTS = 10_000;
const STREAMED_PUT_KEEPS_LENGTH = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

export class S3ArtifactStore {
  readonly root: S3Root;
  private readonly client: S3Client;
  private readonly presigner: SignatureV4;
  private readonly objectBaseUrl: URL;

  constructor(private readonly options: S3StoreOptions) {
    this.root = options.root;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // The SDK's default (WHEN_SUPPORTED) adds a CRC32 to every upload: for a streamed body that
      // means aws-chunked encoding with a trailer, which S3-compatible servers implement unevenly
      // and which costs CPU per byte. S3 still verifies each part's Content-MD5/ETag where it must.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK's default user agent reads os.release(), which Deno allows only with --allow-sys;
      // the README's Deno permissions do not include it.
      defaultUserAgentProvider: async () => [['sagemaker-mlflow-proxy']],
    });
    this.presigner = new SignatureV4({
      service: 's3',
      region: options.region,
      credentials: options.credentials,
      sha256: Hash.bind(null, 'sha256'),
      // S3 signs the path as sent (the key is already escaped once below), unlike other services.
      uriEscapePath: false,
      applyChecksum: false,
    });
    this.objectBaseUrl = objectBaseUrl(options);
    const trace = options.trace;
    // The SDK client's calls (list, delete, multipart bookkeeping): one span each, its retries inside.
    if (trace) {
      this.client.middlewareStack.add(
        (next, context) => (args) => {
          const operation = (context.commandName ?? 'S3Command').replace(/Command$/, '');
          const input = args.input as { Key?: string; Prefix?: string };
          return trace(`S3 ${operation}`, s3Attributes(operation, options.root.bucket, input.Key ?? input.Prefix), () => next(args));
        },
        { step: 'initialize', name: 'gatewayTracing' },
      );
    }
  }

  /** The same store, signing with other credentials (a client's own IAM role). */
  withCredentials(credentials: CredentialsProvider): S3ArtifactStore {
    return new S3ArtifactStore({ ...this.options, credentials });
  }

  async get(key: string, signal?: AbortSignal): Promise<StoredObject> {
    const response = await this.request('GET', key, {}, { ...(signal ? { signal } : {}) });
    const length = response.headers.get('content-length');
    const contentType = response.headers.get('content-type');
    const etag = response.headers.get('etag');
    return {
      body: response.body ?? new Blob([]).stream(),
      ...(length !== null ? { length: Number(length) } : {}),
      ...(contentType ? { contentType } : {}),
      ...(etag ? { etag } : {}),
    };
  }

  /**
   * A presigned GET for one object and its size (MLflow's multipart download: the client fetches
   * ranges straight from S3). The HEAD first makes a missing artifact a 404 here, not at S3 later.
   */
  async presignedDownload(key: string): Promise<{ url: string; size?: number }> {
    const head = await this.request('HEAD', key, {}, {});
    const length = head.headers.get('content-length');
    const url = await this.presign('GET', key, {}, this.options.presignedUrlSeconds);
    return { url, ...(length !== null ? { size: Number(length) } : {}) };
  }

  async put(key: string, body: ReadableStream<Uint8Array>, length: number | undefined, contentType: string | undefined, signal?: AbortSignal): Promise<void> {
    // Deno drops an explicit Content-Length on a stream body and sends it chunked, which S3 refuses
    // for a PUT (runtime-notes.md); part buffers keep their length on both runtimes.
    if (length !== undefined && length <= this.options.singlePutMaxBytes && STREAMED_PUT_KEEPS_LENGTH) {
      // Known and small enough: S3 reads the client's stream as it arrives, nothing is buffered.
      const headers: Record<string, string> = { 'content-length': String(length), ...(contentType ? { 'content-type': contentType } : {}) };
      await this.request('PUT', key, {}, { body, headers, ...(signal ? { signal } : {}) });
      return;
    }
    await this.putInParts(key, body, length, contentType, signal);
  }

  /**
   * A multipart upload: the client's stream is cut into parts and up to partsInFlight of them are
   * sent at once, so the client keeps sending while S3 stores earlier parts. A part's buffer carries
   * the next part once S3 has answered, so memory stays at partSizeBytes × partsInFlight (lib-storage's
   * Upload allocated a buffer per part: 450 MB RSS for 512 MiB on Bun). Measured alternatives: one
   * unbuffered part at a time, 0.53-0.63× direct on 2 GiB; two buffered parts in flight, 0.99× on
   * 512 MiB. A body that fits one part is a single PUT. Any failure aborts the multipart upload, so
   * no invisible parts are left behind.
   */
  private async putInParts(key: string, body: ReadableStream<Uint8Array>, length: number | undefined, contentType: string | undefined, signal?: AbortSignal): Promise<void> {
    const partSize = Math.max(this.options.partSizeBytes, length === undefined ? 0 : Math.ceil(length / MAX_PARTS));
    const reader = body.getReader();
    const filler = new PartFiller(reader);
    let buffer: Uint8Array = new Uint8Array(partSize);
    let size = await filler.fill(buffer);
    if (filler.done) {
      if (length !== undefined && size !== length) throw new BadRequest('The upload ended before its Content-Length.');
      const headers = { 'content-length': String(size), ...(contentType ? { 'content-type': contentType } : {}) };
      await this.request('PUT', key, {}, { body: buffer.subarray(0, size), headers, ...(signal ? { signal } : {}) });
      return;
    }
    const created = await this.call(
      () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.root.bucket, Key: key, ...(contentType ? { ContentType: contentType } : {}) })),
      key,
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new ArtifactStoreFailed('CreateMultipartUpload returned no UploadId');
    const free: Uint8Array[] = [];
    const inFlight = new Set<Promise<void>>();
    const parts: Array<{ part_number: number; etag: string }> = [];
    let failure: unknown;
    try {
      for (let partNumber = 1; ; partNumber++) {
        if (partNumber > MAX_PARTS) throw new BadRequest(`The upload has more than ${MAX_PARTS} parts of ${partSize} bytes; send its Content-Length.`);
        const partBuffer = buffer;
        const sent: Promise<void> = this.request('PUT', key, { partNumber: String(partNumber), uploadId }, {
          body: partBuffer.subarray(0, size),
          headers: { 'content-length': String(size) },
          ...(signal ? { signal } : {}),
        })
          .then((response) => void parts.push({ part_number: partNumber, etag: response.headers.get('etag') ?? '' }))
          .catch((error: unknown) => void (failure ??= error))
          .finally(() => {
            // The part has been sent and answered: its buffer can carry the next part.
            free.push(partBuffer);
            inFlight.delete(sent);
          });
        inFlight.add(sent);
        if (filler.done) break;
        while (inFlight.size >= this.options.partsInFlight) await Promise.race(inFlight);
        if (failure) break;
        buffer = free.pop() ?? new Uint8Array(partSize);
        size = await filler.fill(buffer);
        if (size === 0) break;
        // The client's chunks copied into part buffers are dropped as external memory, which piles
        // up like a download's (232 MB RSS for 512 MiB without collections): same remedy.
        collectAfterStreaming(size);
      }
      await Promise.all(inFlight);
      if (failure) throw failure;
      if (length !== undefined && filler.total !== length) throw new BadRequest('The upload ended before its Content-Length.');
      await this.completeMultipart(key, uploadId, parts.sort((a, b) => a.part_number - b.part_number));
    } catch (error) {
      await reader.cancel().catch(() => {});
      await Promise.allSettled(inFlight);
      await this.abortMultipart(key, uploadId).catch(() => {});
      throw error;
    }
  }

  /** One presigned S3 request (in a span, with tracing on). */
  private request(method: 'GET' | 'HEAD' | 'PUT', key: string, query: Record<string, string>, init: PresignedInit): Promise<Response> {
    const trace = this.options.trace;
    if (!trace) return this.presigned(method, key, query, init);
    const operation = method === 'GET' ? 'GetObject' : method === 'HEAD' ? 'HeadObject' : query.partNumber ? 'UploadPart' : 'PutObject';
    return trace(`S3 ${operation}`, { ...s3Attributes(operation, this.root.bucket, key), 'http.request.method': method }, async (span) => {
      const response = await this.presigned(method, key, query, init);
      span.set({ 'http.response.status_code': response.status });
      return response;
    });
  }

  /** One presigned S3 request through the runtime's fetch; S3's error answers become gateway errors. */
  private async presigned(method: 'GET' | 'HEAD' | 'PUT', key: string, query: Record<string, string>, init: PresignedInit): Promise<Response> {
    const url = await this.presign(method, key, query, 300);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: init.headers ?? {},
        ...(init.body ? { body: init.body, duplex: 'half' } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
        // Objects stored with Content-Encoding are passed on as stored (as MLflow's server does).
        decompress: false,
      } as RequestInit);
    } catch (error) {
      throw new ArtifactStoreFailed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? String(response.status);
    // A missing bucket is a 404 too, but a misconfiguration, not a missing artifact.
    if (code === 'NoSuchKey' || code === 'NoSuchUpload' || (response.status === 404 && !text)) throw new ArtifactNotFound(key);
    throw new ArtifactStoreFailed(`S3 ${code} (${response.status}) for key ${key}`);
  }

  /** One directory level under `prefix` (which ends with "/" or is ''), all pages. */
  async list(prefix: string): Promise<ListedEntry[]> {
    const entries: ListedEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(
        () => this.client.send(new ListObjectsV2Command({ Bucket: this.root.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) })),
        prefix,
      );
      for (const common of page.CommonPrefixes ?? []) {
        const name = common.Prefix?.slice(prefix.length).replace(/\/$/, '');
        if (name) entries.push({ name, isDir: true });
      }
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(prefix.length);
        // A zero-byte "folder" object named like the prefix itself is not an entry.
        if (name) entries.push({ name, isDir: false, ...(object.Size !== undefined ? { size: object.Size } : {}) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries;
  }

  /** Deletes the object `key` and every object under `key/` (MLflow deletes a path recursively). */
  async deleteTree(key: string): Promise<number> {
    if (key === '' || key === this.root.prefix) throw new BadRequest('Refusing to delete the whole artifact root.');
    const keys = [key];
    let token: string | undefined;
    do {
      const page = await this.call(
        () => this.client.send(new ListObjectsV2Command({ Bucket: this.root.bucket, Prefix: `${key}/`, ...(token ? { ContinuationToken: token } : {}) })),
        key,
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key }));
      await this.call(() => this.client.send(new DeleteObjectsCommand({ Bucket: this.root.bucket, Delete: { Objects: batch, Quiet: true } })), key);
    }
    return keys.length;
  }

  /** Starts a multipart upload and presigns one UploadPart URL per part (MLflow's mpu/create answer). */
  async createMultipart(key: string, parts: number): Promise<{ upload_id: string; credentials: PartUrl[] }> {
    if (!Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) throw new BadRequest(`num_parts must be between 1 and ${MAX_PARTS}.`);
    const created = await this.call(() => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.root.bucket, Key: key })), key);
    const uploadId = created.UploadId;
    if (!uploadId) throw new ArtifactStoreFailed('CreateMultipartUpload returned no UploadId');
    const credentials: PartUrl[] = [];
    for (let part = 1; part <= parts; part++) {
      const url = await this.presign('PUT', key, { partNumber: String(part), uploadId }, this.options.presignedUrlSeconds);
      credentials.push({ part_number: part, url, headers: {} });
    }
    return { upload_id: uploadId, credentials };
  }

  async completeMultipart(key: string, uploadId: string, parts: Array<{ part_number: number; etag: string }>): Promise<void> {
    await this.call(
      () =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.root.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.part_number, ETag: p.etag })) },
          }),
        ),
      key,
    );
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.call(() => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.root.bucket, Key: key, UploadId: uploadId })), key);
  }

  /** A SigV4 query-signed URL for one object request (S3's presigned form: the payload is not signed). */
  private async presign(method: 'GET' | 'HEAD' | 'PUT', key: string, query: Record<string, string>, expiresIn: number): Promise<string> {
    const base = this.objectBaseUrl;
    const path = `${base.pathname.replace(/\/$/, '')}/${key.split('/').map(s3Escape).join('/')}`;
    const signed = await this.presigner.presign(
      {
        method,
        protocol: base.protocol,
        hostname: base.hostname,
        ...(base.port ? { port: Number(base.port) } : {}),
        path,
        query,
        // The bytes are not known when the URL is made: S3's presigned form signs no payload.
        headers: { host: base.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      { expiresIn },
    );
    const signedQuery = Object.entries(signed.query ?? {})
      .map(([name, value]) => `${s3Escape(name)}=${s3Escape(String(value))}`)
      .join('&');
    return `${base.protocol}//${base.host}${signed.path}?${signedQuery}`;
  }

  /** Runs one S3 call, turning S3's answers into the gateway's MLflow-shaped errors. */
  private async call<T>(operation: () => Promise<T>, key: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof S3ServiceException) {
        if (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.name === 'NoSuchUpload') throw new ArtifactNotFound(key);
        throw new ArtifactStoreFailed(`S3 ${error.name} (${error.$metadata.httpStatusCode ?? '?'}) for key ${key}: ${error.message}`);
      }
      throw new ArtifactStoreFailed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  }
}

interface PresignedInit {
  body?: ReadableStream<Uint8Array> | Uint8Array;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

// The AWS SDK semantic conventions (rpc.system aws-api, rpc.service, rpc.method, aws.s3.*), as the
// OpenTelemetry AWS SDK instrumentation names its spans.
function s3Attributes(operation: string, bucket: string, key: string | undefined) {
  return { 'rpc.system': 'aws-api', 'rpc.service': 'S3', 'rpc.method': operation, 'aws.s3.bucket': bucket, 'aws.s3.key': key };
}

/** Fills part buffers from a stream, carrying over what does not fit into the next part. */
class PartFiller {
  private pending: Uint8Array | undefined;
  /** The stream has ended (no more parts after the one just filled). */
  done = false;
  /** Bytes handed out so far. */
  total = 0;
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async fill(target: Uint8Array): Promise<number> {
    let filled = 0;
    while (filled < target.byteLength) {
      let chunk = this.pending;
      this.pending = undefined;
      if (!chunk) {
        const { done, value } = await this.reader.read();
        if (done) {
          this.done = true;
          break;
        }
        chunk = value;
      }
      const taken = Math.min(chunk.byteLength, target.byteLength - filled);
      target.set(chunk.subarray(0, taken), filled);
      filled += taken;
      this.total += taken;
      if (taken < chunk.byteLength) this.pending = chunk.subarray(taken);
    }
    return filled;
  }
}

/** Where the bucket's objects are addressed: path style (`endpoint/bucket/key`) or virtual-hosted. */
function objectBaseUrl(options: S3StoreOptions): URL {
  const bucket = options.root.bucket;
  if (options.endpoint) {
    const url = new URL(options.endpoint);
    if (options.forcePathStyle) return new URL(`${url.origin}${url.pathname.replace(/\/$/, '')}/${bucket}`);
    return new URL(`${url.protocol}//${bucket}.${url.host}${url.pathname}`);
  }
  return options.forcePathStyle
    ? new URL(`https://s3.${options.region}.amazonaws.com/${bucket}`)
    : new URL(`https://${bucket}.s3.${options.region}.amazonaws.com`);
}

/** RFC 3986 unreserved characters stay, everything else is %-encoded (S3's SigV4 URI encoding). */
export function s3Escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
