// Artifact locations, both ways, only where MLflow carries them. The tracking server answers with
// `s3://bucket/prefix/...` locations, which the stock client would read and write with its own AWS
// credentials; a client of the gateway has none. Rewritten to `mlflow-artifacts:/<path under the
// root>`, they send the client to MLflow's artifact proxy API at its tracking URI, i.e. the gateway
// (mlflow/store/artifact/mlflow_artifacts_repo.py resolves them against the tracking URI). Requests
// that carry a location back (a model version's `source`, an experiment's `artifact_location`) get
// the reverse, so the tracking server only ever stores real S3 locations.
//
// Only the JSON of the operations listed here is parsed and re-serialised, and only up to a size
// cap; every other body streams untouched. Locations outside the root (another bucket, a local path,
// `runs:/`, `models:/`) are left as they are.
import type { S3Root } from './keys.ts';
import { relativePathSegments } from './keys.ts';
import { BadRequest } from '../errors.ts';

/** Operations whose answers carry run, experiment, logged-model or model-version locations (2.x and 3.x). */
export const LOCATION_RESPONSE_OPERATIONS: ReadonlySet<string> = new Set([
  'CreateExperiment', 'GetExperiment', 'GetExperimentByName', 'SearchExperiments',
  'CreateRun', 'GetRun', 'UpdateRun', 'SearchRuns', 'ListArtifacts',
  'CreateLoggedModel', 'GetLoggedModel', 'SearchLoggedModels', 'FinalizeLoggedModel', 'ListLoggedModelArtifacts',
  'CreateRegisteredModel', 'GetRegisteredModel', 'SearchRegisteredModels', 'RenameRegisteredModel', 'UpdateRegisteredModel', 'GetLatestVersions',
  'CreateModelVersion', 'GetModelVersion', 'UpdateModelVersion', 'SearchModelVersions', 'TransitionModelVersionStage',
  'GetModelVersionByAlias', 'GetModelVersionDownloadUri',
  'StartTrace', 'EndTrace', 'GetTraceInfo', 'SearchTraces', 'StartTraceV3', 'GetTraceInfoV3', 'GetTrace', 'BatchGetTraces', 'BatchGetTraceInfos', 'SearchTracesV3',
]);

/** Operations whose requests may carry a location back to the tracking server. */
export const LOCATION_REQUEST_OPERATIONS: ReadonlySet<string> = new Set(['CreateExperiment', 'CreateModelVersion']);

// The JSON fields that hold locations in MLflow's protos: RunInfo.artifact_uri,
// Experiment.artifact_location, LoggedModelInfo.artifact_location, ModelVersion.source and
// storage_location, ListArtifacts.root_uri, GetModelVersionDownloadUri.artifact_uri. Matching by
// field name (at any depth) covers the 2.x and 3.x shapes alike without touching user data such
// as tags and params.
const LOCATION_FIELDS = new Set(['artifact_uri', 'artifact_location', 'source', 'storage_location', 'root_uri']);
// The one tag that is a location: where a trace's data and attachments live
// (mlflow/utils/mlflow_tags.py MLFLOW_ARTIFACT_LOCATION), read by the client to upload and download
// them. 3.x sends trace tags as a map ({"mlflow.artifactLocation": "s3://..."}), 2.x as a list of
// {key, value}; both are rewritten, no other tag is.
const TRACE_LOCATION_TAG = 'mlflow.artifactLocation';

// `mlflow-artifacts:` + an optional `//authority` + the path, its leading "/" optional: MLflow
// parses these with urlparse, which lower-cases the scheme and reads `mlflow-artifacts:1/x` as the
// path `1/x` (mlflow/store/artifact/mlflow_artifacts_repo.py resolve_uri).
const MLFLOW_ARTIFACTS = /^mlflow-artifacts:(?:\/\/([^/]*))?\/?(.*)$/is;

/** `s3://root/...` → `mlflow-artifacts:/...`; undefined for a location outside the root. */
export function toClientLocation(root: S3Root, location: string): string | undefined {
  if (location === root.uri || location === `${root.uri}/`) return 'mlflow-artifacts:/';
  if (!location.startsWith(`${root.uri}/`)) return undefined;
  const path = location.slice(root.uri.length + 1);
  // A stored location with an ambiguous path is shown as it is: as mlflow-artifacts:/ it would be
  // a path the artifact API refuses, or one a reader decodes into another.
  if (!isSafeRelativePath(path.replace(/\/+$/, ''))) return undefined;
  return `mlflow-artifacts:/${path}`;
}

/**
 * An S3 location under the root sent back by a client is checked as its mlflow-artifacts:/ form
 * would be, since that is how the gateway shows it later (toClientLocation); it is sent as it is.
 * Locations elsewhere are not the gateway's to read. The scheme is compared in any case, as
 * MLflow's urlparse does.
 */
function checkedRootLocation(root: S3Root, location: string): undefined {
  const under = `${root.uri}/`;
  if (location.length <= under.length || location.slice(0, under.length).toLowerCase() !== under.toLowerCase()) return undefined;
  try {
    relativePathSegments(location.slice(under.length).replace(/\/+$/, ''));
  } catch (error) {
    throw new BadRequest(`Location "${location}" is not a safe artifact path: ${(error as Error).message}`);
  }
  return undefined;
}

function isSafeRelativePath(path: string): boolean {
  try {
    relativePathSegments(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `mlflow-artifacts:/...` → `s3://root/...`; undefined for any other location. Throws on an
 * ambiguous path, and on an authority that is not `gatewayHost` (the Host this request came to):
 * MLflow's client takes `mlflow-artifacts://HOST/path` to mean the artifact API of the server at
 * HOST (resolve_uri: `uri_parse.netloc or track_parse.netloc`), and 3.x sends it the tracking
 * credentials (`_artifact_server_host_creds`). Turned into this gateway's root, such a location
 * would silently name other data; kept, the tracking server would store a location that sends
 * every later reader, with its token, to that host. So only this gateway's own name is taken.
 */
export function toBackendLocation(root: S3Root, location: string, gatewayHost: string): string | undefined {
  const match = MLFLOW_ARTIFACTS.exec(location);
  if (!match) return undefined;
  const authority = match[1];
  if (authority?.includes('@')) throw new BadRequest('An mlflow-artifacts location must not carry credentials; write mlflow-artifacts:/PATH.');
  if (authority && authority.toLowerCase() !== gatewayHost.toLowerCase()) {
    throw new BadRequest(`Location "${location}" names another artifact server (${authority}); this gateway serves only its own: write mlflow-artifacts:/PATH.`);
  }
  const path = match[2]!.replace(/\/+$/, '');
  // MLflow's urlparse reads these as a query or fragment and drops them; the S3 key would keep them.
  if (/[?#]/.test(path)) throw new BadRequest(`Location "${location}" has a "?" or "#", which MLflow would read as a query or fragment.`);
  try {
    relativePathSegments(path);
  } catch (error) {
    throw new BadRequest(`Location "${location}" is not a safe artifact path: ${(error as Error).message}`);
  }
  return path ? `${root.uri}/${path}` : root.uri;
}

/** Replaces the location fields of a parsed JSON value in place; returns how many changed. */
export function rewriteLocationFields(value: unknown, convert: (location: string) => string | undefined): number {
  let changed = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
    } else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if (record.key === TRACE_LOCATION_TAG && typeof record.value === 'string') {
        const converted = convert(record.value);
        if (converted !== undefined && converted !== record.value) {
          record.value = converted;
          changed++;
        }
        return;
      }
      for (const [field, child] of Object.entries(record)) {
        if (typeof child === 'string' && (LOCATION_FIELDS.has(field) || field === TRACE_LOCATION_TAG)) {
          const converted = convert(child);
          if (converted !== undefined && converted !== child) {
            record[field] = converted;
            changed++;
          }
        } else {
          visit(child);
        }
      }
    }
  };
  visit(value);
  return changed;
}

/**
 * The request body with `mlflow-artifacts:/` locations turned back into S3 ones, for the operations
 * that carry them; any other body (and a body that is not JSON) is returned as it is. `gatewayHost`:
 * the Host the request came to, the one authority a location may name (toBackendLocation).
 */
export function rewriteRequestLocations(operation: string | undefined, body: Uint8Array | undefined, root: S3Root, gatewayHost: string): Uint8Array | undefined {
  if (!body || !operation || !LOCATION_REQUEST_OPERATIONS.has(operation)) return body;
  const parsed = parseJson(body);
  if (parsed === undefined) return body;
  const changed = rewriteLocationFields(parsed, (location) => toBackendLocation(root, location, gatewayHost) ?? checkedRootLocation(root, location));
  return changed > 0 ? new TextEncoder().encode(JSON.stringify(parsed)) : body;
}

/**
 * The response with S3 locations under the root shown as `mlflow-artifacts:/`, for the operations
 * that carry them. Answers that are not plain JSON (an error page, a compressed body), or larger
 * than `maxBytes`, go back unchanged: their locations stay S3 ones (documented).
 */
export async function rewriteResponseLocations(operation: string | undefined, response: Response, root: S3Root, maxBytes: number): Promise<Response> {
  if (!operation || !LOCATION_RESPONSE_OPERATIONS.has(operation) || !response.body) return response;
  if (!(response.headers.get('content-type') ?? '').includes('json')) return response;
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding !== 'identity') return response;
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) return response;

  const read = await readUpTo(response.body, maxBytes);
  const headers = new Headers(response.headers);
  if (!read.complete) {
    // Too large to rewrite: hand on what was read followed by the rest, untouched.
    headers.delete('content-length');
    return new Response(concatStreams(read.chunks, read.rest!), { status: response.status, statusText: response.statusText, headers });
  }
  const bytes = concat(read.chunks);
  const parsed = parseJson(bytes);
  const changed = parsed === undefined ? 0 : rewriteLocationFields(parsed, (location) => toClientLocation(root, location));
  const out = changed > 0 ? new TextEncoder().encode(JSON.stringify(parsed)) : bytes;
  headers.set('content-length', String(out.byteLength));
  return new Response(out as Uint8Array<ArrayBuffer>, { status: response.status, statusText: response.statusText, headers });
}

/** For operations whose answers are rewritten: ask the upstream for an uncompressed body (headers are not signed). */
export function askForPlainJson(operation: string | undefined, headers: Array<[string, string]>): void {
  if (!operation || !LOCATION_RESPONSE_OPERATIONS.has(operation)) return;
  const at = headers.findIndex(([name]) => name === 'accept-encoding');
  if (at >= 0) headers.splice(at, 1);
  headers.push(['accept-encoding', 'identity']);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
}

async function readUpTo(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<{ chunks: Uint8Array[]; complete: boolean; rest?: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { chunks, complete: true };
    chunks.push(value);
    total += value.byteLength;
    if (total > maxBytes) return { chunks, complete: false, rest: reader };
  }
}

function concatStreams(head: Uint8Array[], rest: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < head.length) {
        controller.enqueue(head[i++]!);
        return;
      }
      const { done, value } = await rest.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => rest.cancel(reason),
  });
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
