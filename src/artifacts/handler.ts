// MLflow's artifact proxy API (`/api/2.0/mlflow-artifacts/...`, and the same under `/ajax-api/`: mlflow/server/handlers.py
// _download_artifact, _upload_artifact, _list_artifacts_mlflow_artifacts,
// _delete_artifact_mlflow_artifacts, _create/_complete/_abort_multipart_upload_artifact), served by
// the gateway itself from the tracking server's S3 artifact root, for SageMaker backends: SageMaker
// runs its tracking servers with --no-serve-artifacts, so this API does not exist upstream.
// Answers have the same shapes as MLflow's, so the stock client cannot tell the difference.
import type { S3ArtifactStore } from './s3-store.ts';
import { artifactPathFromRequestPath, childPrefixFor, keyFor } from './keys.ts';
import { BadRequest, NotImplemented } from '../errors.ts';
import { canonicalApiPath } from '../rules/operations.ts';
import { readBodyWithCap } from '../http/read-body.ts';

export const ARTIFACT_API_PREFIX = '/api/2.0/mlflow-artifacts/';
const FILES = `${ARTIFACT_API_PREFIX}artifacts`;
const MPU = `${ARTIFACT_API_PREFIX}mpu/`;
const PRESIGNED = `${ARTIFACT_API_PREFIX}presigned/`;
// An mpu/complete body lists every part (up to 10,000, each with a URL): far below this.
const MPU_BODY_LIMIT = 16 * 1024 * 1024;

/** Whether a (rewritten) path is the artifact API, under either of MLflow's prefixes (`/api/`, `/ajax-api/`). */
export function isArtifactApiPath(path: string): boolean {
  const canonical = canonicalApiPath(path);
  return canonical.startsWith(ARTIFACT_API_PREFIX) || canonical === ARTIFACT_API_PREFIX.slice(0, -1);
}

export interface ArtifactRequest {
  method: string;
  /** Rewritten (canonical) path, still percent-encoded. */
  path: string;
  /** Raw query string without "?". */
  query: string;
  request: Request;
}

export async function serveArtifactRequest(store: S3ArtifactStore, { method, path: spelled, query, request }: ArtifactRequest): Promise<Response> {
  // The UI's /ajax-api/ spelling is the same API (MLflow registers both).
  const path = canonicalApiPath(spelled);
  if (path === FILES && method === 'GET') return list(store, listedPath(query));
  if (path.startsWith(`${FILES}/`)) {
    const artifactPath = artifactPathFromRequestPath(path, `${FILES}/`);
    if (method === 'GET') return download(store, artifactPath, request.signal);
    if (artifactPath === '') throw new BadRequest('An artifact path is required.');
    if (method === 'PUT') return upload(store, artifactPath, request);
    if (method === 'DELETE') {
      await store.deleteTree(keyFor(store.root, artifactPath));
      return json({});
    }
  }
  if (path.startsWith(MPU) && method === 'POST') {
    const [action, ...rest] = path.slice(MPU.length).split('/');
    const artifactPath = artifactPathFromRequestPath(rest.join('/'), '');
    return multipart(store, action ?? '', artifactPath, request);
  }
  // 3.x's presigned download (handlers.py _get_presigned_download_url): a client whose server-info
  // says multipart downloads are on asks for it and does not fall back (mlflow_artifacts_repo.py
  // _download_file), so it is served: a GET URL straight to S3, as mpu/create hands out PUT URLs.
  if (path.startsWith(PRESIGNED) && method === 'GET') {
    const artifactPath = artifactPathFromRequestPath(path, PRESIGNED);
    if (artifactPath === '') throw new BadRequest('An artifact path is required.');
    const presigned = await store.presignedDownload(keyFor(store.root, artifactPath));
    return json({ url: presigned.url, headers: {}, ...(presigned.size !== undefined ? { file_size: presigned.size } : {}) });
  }
  throw new NotImplemented('The gateway does not serve this artifact route.', `${method} ${path}`);
}

/** `?path=` of a list request: form-decoded (`+` is a space, as the client's requests library sends it). */
function listedPath(query: string): string {
  const value = new URLSearchParams(query).get('path') ?? '';
  // MLflow's client may send the root as "" and a directory with a trailing "/".
  return value.replace(/\/+$/, '');
}

async function list(store: S3ArtifactStore, artifactPath: string): Promise<Response> {
  // S3 has no directories: a path that is a file lists as empty, as MLflow's S3 repository does.
  const entries = await store.list(childPrefixFor(store.root, artifactPath));
  const files = entries.map((e) => ({ path: e.name, is_dir: e.isDir, ...(e.size !== undefined && !e.isDir ? { file_size: e.size } : {}) }));
  return json(files.length ? { files } : {});
}

async function download(store: S3ArtifactStore, artifactPath: string, signal: AbortSignal): Promise<Response> {
  if (artifactPath === '') throw new BadRequest('An artifact path is required.');
  const object = await store.get(keyFor(store.root, artifactPath), signal);
  const headers: Record<string, string> = {
    'content-type': safeContentType(object.contentType),
    // Served from the gateway's origin (where the UI may live): never rendered by a browser.
    'content-disposition': 'attachment',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
  if (object.length !== undefined) headers['content-length'] = String(object.length);
  if (object.etag) headers.etag = object.etag;
  return new Response(object.body, { status: 200, headers });
}

async function upload(store: S3ArtifactStore, artifactPath: string, request: Request): Promise<Response> {
  const declared = request.headers.get('content-length');
  if (declared !== null && !/^\d+$/.test(declared)) throw new BadRequest('Content-Length is not a number.');
  const length = declared === null ? undefined : Number(declared);
  const body = request.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  await store.put(keyFor(store.root, artifactPath), body, length ?? (request.body ? undefined : 0), request.headers.get('content-type') ?? undefined, request.signal);
  return json({});
}

async function multipart(store: S3ArtifactStore, action: string, artifactPath: string, request: Request): Promise<Response> {
  const body = await readJsonObject(request);
  const fileName = typeof body.path === 'string' ? localBasename(body.path) : '';
  if (!fileName) throw new BadRequest('"path" (the local file name) is required.');
  const key = keyFor(store.root, artifactPath ? `${artifactPath}/${fileName}` : fileName);
  const uploadId = typeof body.upload_id === 'string' ? body.upload_id : '';
  switch (action) {
    case 'create':
      return json(await store.createMultipart(key, Number(body.num_parts ?? 1)));
    case 'complete': {
      if (!uploadId) throw new BadRequest('"upload_id" is required.');
      const parts = Array.isArray(body.parts) ? body.parts : [];
      const checked = parts.map((part: unknown) => {
        const p = part as { part_number?: unknown; etag?: unknown };
        if (typeof p?.etag !== 'string' || !Number.isInteger(Number(p.part_number))) throw new BadRequest('Each part needs part_number and etag.');
        return { part_number: Number(p.part_number), etag: p.etag };
      });
      if (checked.length === 0) throw new BadRequest('"parts" is required.');
      await store.completeMultipart(key, uploadId, checked);
      return json({});
    }
    case 'abort':
      if (!uploadId) throw new BadRequest('"upload_id" is required.');
      await store.abortMultipart(key, uploadId);
      return json({});
    default:
      throw new NotImplemented('Unknown multipart upload action.', action);
  }
}

/** MLflow's server keys a multipart upload by the local file's base name (os.path.basename). */
function localBasename(localPath: string): string {
  return localPath.split(/[/\\]/).pop() ?? '';
}

async function readJsonObject(request: Request): Promise<Record<string, unknown>> {
  const bytes = await readBodyWithCap(request, MPU_BODY_LIMIT);
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes ?? new Uint8Array()));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {}
  throw new BadRequest('The request body must be a JSON object.');
}

// Types a browser may display without running anything; everything else is sent as bytes.
const SAFE_CONTENT_TYPE = /^(text\/plain|application\/json|application\/octet-stream|image\/(png|jpeg|gif|webp)|application\/x-yaml|text\/csv)\b/i;
function safeContentType(stored: string | undefined): string {
  return stored && SAFE_CONTENT_TYPE.test(stored) ? stored : 'application/octet-stream';
}

function json(value: unknown): Response {
  const body = new TextEncoder().encode(JSON.stringify(value));
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(body.byteLength) } });
}
