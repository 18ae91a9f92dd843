// Stage 5, sign: per backend. SageMaker: SigV4 exactly as the official plugin does it
// (sagemaker_mlflow/auth.py, see shared reference sagemaker-wire.md): signing name, region and
// routing header from the ARN, the routing header signed, X-Amz-Content-SHA256 of the exact body,
// the session token signed, Connection never signed, `+` in the query sent and signed as %20.
// Self-hosted MLflow: no signature, the configured static headers and Host.
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { PlainMlflowBackend } from '../backends/mlflow.ts';
import { amzDate, canonicalHeaderValue, canonicalQuery, canonicalUri, EMPTY_SHA256, sha256Hex, signingKey, type AwsCredentials } from '../aws/sigv4.ts';
import { hmacHex } from '../runtime/hash.ts';
import { credentialCacheFor, credentialsOf, type CredentialSources } from '../aws/identity-credentials.ts';
import { mayHaveBody, readBodyWithCap, refuseDeclaredTrailers } from '../http/read-body.ts';
import { shouldSpill, spillBody } from '../http/spill-body.ts';
import { upstreamHeadersOf } from './headers.ts';
import type { Next, Stage } from './chain.ts';
import type { RequestScope } from './scope.ts';
import type { OutgoingRequest } from '../http/outgoing.ts';
import { BadRequest } from '../errors.ts';

export interface UnsignedRequest {
  method: string;
  /** Rewritten upstream path (raw, encoded). */
  path: string;
  /** Raw query as the client sent it. */
  query: string;
  /** Forwardable client headers (headers.ts), lower-case names. */
  headers: Array<[string, string]>;
  body: Uint8Array | undefined;
}

/** A body held on disk (http/spill-body.ts): sent from the file, signed with the hash taken while it was written. */
export interface FileBody {
  file: Blob;
  sha256: string;
}

// Client headers that are signed along with the ones the gateway sets. Content-Type matters to
// MLflow (JSON bodies); signing it means it cannot be changed in transit. Nothing else from the
// client is signed, so a header an HTTP stack rewrites on the way cannot break the signature.
const SIGNED_CLIENT_HEADER = 'content-type';

/** Signs one request for a SageMaker backend (see sageMakerSigner). */
export type SageMakerSigner = (request: UnsignedRequest, credentials: AwsCredentials, now: Date, fileBody?: FileBody) => OutgoingRequest;

/**
 * A SageMaker backend's signer, with the fixed part of every signature built once: the signed
 * header names in their canonical order for each of the four header sets a request can have
 * (with or without Content-Type, with or without a session token), the canonical Host and routing
 * header lines, and the credential scope's region and service. Per request only the query, the
 * date, the payload hash, Content-Type and the token are written into the canonical request, in
 * place, instead of sorting and joining a header list each time (aws/sigv4.ts `sign`, which this
 * agrees with: test/pipeline/sign.test.ts).
 *
 * The canonical order is fixed because the names are: content-type < host < x-amz-content-sha256 <
 * x-amz-date < x-amz-security-token < either routing header (code point order, AWS's rule), and
 * the only client header signed is Content-Type; the header allowlist (headers.ts) never lets a
 * client send any of the others.
 */
export function sageMakerSigner(backend: SageMakerBackend): SageMakerSigner {
  const scope = { region: backend.region, service: backend.signingName };
  const scopeSuffix = `/${backend.region}/${backend.signingName}/aws4_request`;
  const hostLine = `host:${canonicalHeaderValue(backend.host)}\n`;
  const routingLine = `${backend.routingHeader}:${canonicalHeaderValue(backend.arn)}\n`;
  const names = (contentType: boolean, token: boolean) =>
    [...(contentType ? ['content-type'] : []), 'host', 'x-amz-content-sha256', 'x-amz-date', ...(token ? ['x-amz-security-token'] : []), backend.routingHeader];
  const all = names(true, true);
  if (all.some((name, i) => i > 0 && all[i - 1]! >= name)) throw new Error(`signed header names out of canonical order: ${all.join(';')}`);
  // Indexed by (Content-Type sent ? 2 : 0) + (session token ? 1 : 0).
  const signedHeaders = [names(false, false), names(false, true), names(true, false), names(true, true)].map((set) => set.join(';'));

  return function signForSageMaker(request, credentials, now, fileBody) {
    const query = canonicalQuery(request.query);
    if (query === undefined) throw new BadRequest('Query string contains malformed percent-encoding.');
    const date = amzDate(now);
    const day = date.slice(0, 8);
    const payloadHash = fileBody ? fileBody.sha256 : request.body ? sha256Hex(request.body) : EMPTY_SHA256;
    const token = credentials.sessionToken;
    const headers: Array<[string, string]> = [];
    let contentType: string | undefined;
    for (const header of request.headers) {
      if (header[0] === SIGNED_CLIENT_HEADER) contentType = header[1];
      headers.push(header);
    }
    const signed = signedHeaders[(contentType === undefined ? 0 : 2) + (token ? 1 : 0)]!;
    const canonicalRequest =
      `${request.method}\n${canonicalUri(request.path)}\n${query}\n` +
      (contentType === undefined ? '' : `content-type:${canonicalHeaderValue(contentType)}\n`) +
      `${hostLine}x-amz-content-sha256:${payloadHash}\nx-amz-date:${date}\n` +
      (token ? `x-amz-security-token:${canonicalHeaderValue(token)}\n` : '') +
      `${routingLine}\n${signed}\n${payloadHash}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${date}\n${day}${scopeSuffix}\n${sha256Hex(canonicalRequest)}`;
    const signature = hmacHex(signingKey(credentials.secretAccessKey, day, scope), stringToSign);
    headers.push(['host', backend.host], ['x-amz-date', date], ['x-amz-content-sha256', payloadHash], [backend.routingHeader, backend.arn]);
    if (token) headers.push(['x-amz-security-token', token]);
    headers.push(['authorization', `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${day}${scopeSuffix}, SignedHeaders=${signed}, Signature=${signature}`]);
    return {
      url: `${backend.baseUrl}${request.path}${query ? `?${query}` : ''}`,
      method: request.method,
      headers,
      body: fileBody ? fileBody.file : request.body,
      signedHeaders: signed,
    };
  };
}

/** One signature for a backend (explain, benches); the signing stage keeps its backend's signer. */
export function signForSageMaker(request: UnsignedRequest, backend: SageMakerBackend, credentials: AwsCredentials, now: Date, fileBody?: FileBody): OutgoingRequest {
  return sageMakerSigner(backend)(request, credentials, now, fileBody);
}

/**
 * A self-hosted MLflow needs no body hash, so the client's body streams straight through (artifact
 * uploads can be large), unless a policy condition already had to read it (then the buffer is sent);
 * its Content-Length is kept so the upload is not re-chunked.
 */
export function prepareForPlainMlflow(
  request: Omit<UnsignedRequest, 'body'>,
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  contentLength: string | null,
  backend: PlainMlflowBackend,
): OutgoingRequest {
  // The rules' headers replace a client's header of the same name (issue 13 item 7): appended
  // beside it, a client sending `x-remote-user: admin` made the upstream see `admin, gateway`, and an
  // ingress that trusts the header would take the client's word. Names are lower case on both sides.
  const configured = backend.staticHeaders;
  const fromClient = request.headers.filter(([name]) => !Object.hasOwn(configured, name));
  const headers: Array<[string, string]> = [...fromClient, ...Object.entries(configured), ['host', backend.host]];
  if (body && contentLength !== null) headers.push(['content-length', contentLength]);
  return {
    url: `${backend.baseUrl}${request.path}${request.query ? `?${request.query}` : ''}`,
    method: request.method,
    headers,
    body: body ?? undefined,
  };
}

/**
 * The stage for SageMaker backends: the body read whole (capped) and hashed, signed with the
 * identity's credentials (the client's role, or the host's), as the outgoing request in the scope.
 */
export function sageMakerSigning(backend: SageMakerBackend, credentials: CredentialSources, maxBodyBytes: number): Stage {
  const signFor = sageMakerSigner(backend);
  const signInto = (scope: RequestScope, signWith: AwsCredentials, body: Uint8Array | undefined, fileBody?: FileBody) => {
    const unsigned = { method: scope.method, path: scope.upstreamPath!, query: scope.query, headers: upstreamHeadersOf(scope), body };
    const outgoing = (scope.outgoing = signFor(unsigned, signWith, scope.receivedAt, fileBody));
    outgoing.headers.push(['x-request-id', scope.requestId]);
  };
  return function sageMakerSigning(scope, next) {
    // Nothing to read (no body, or one a stage already read) and credentials in hand: signed at
    // once, without a promise of its own. Otherwise the body is read or spilled first.
    const body = scope.body;
    if (body !== undefined || !mayHaveBody(scope.request)) {
      const signWith = credentialCacheFor(scope.identity!, credentials)?.cached();
      if (signWith) {
        if (scope.bytesIn === 0) scope.bytesIn = body?.byteLength ?? 0;
        signInto(scope, signWith, body);
        return next(scope);
      }
    }
    return readThenSign(scope, next);
  };

  async function readThenSign(scope: RequestScope, next: Next): Promise<Response> {
    const request = scope.request;
    let body = scope.body;
    // A large body nobody has read yet goes to a private temp file while it is hashed, and is sent
    // from there: one copy in flight instead of two (http/spill-body.ts).
    const spilled = !body && shouldSpill(request) ? await spillBody(request, maxBodyBytes, scope.bodyLease) : undefined;
    try {
      if (!body && !spilled && mayHaveBody(request)) body = scope.body = await readBodyWithCap(request, maxBodyBytes, scope.bodyLease);
      // The artifact stage may have counted the client's bytes already, before it changed the body.
      if (scope.bytesIn === 0) scope.bytesIn = spilled?.bytes ?? body?.byteLength ?? 0;
      const cache = credentialCacheFor(scope.identity!, credentials);
      const signWith = cache?.cached() ?? (await credentialsOf(cache));
      signInto(scope, signWith, body, spilled ? { file: spilled.file, sha256: spilled.sha256 } : undefined);
      return await next(scope);
    } finally {
      // The upstream has answered (or the request failed): the file is no longer needed.
      await spilled?.dispose();
    }
  }
}

/** The stage for a self-hosted MLflow: no signature; the body streams through unless already read. */
/**
 * Whether fetch sends a stream body with the Content-Length it is given. Bun does; Deno drops it
 * and sends the stream chunked (shared reference runtime-notes.md), which MLflow 3.x's server
 * (uvicorn, then Flask through its WSGI bridge) reads as an empty body: a POST of the Python
 * client's then fails with "Missing value for required parameter".
 */
const STREAMS_KEEP_THEIR_LENGTH = !('Deno' in globalThis);

export function plainMlflowPassing(backend: PlainMlflowBackend, maxBodyBytes: number, streamsKeepLength = STREAMS_KEEP_THEIR_LENGTH): Stage {
  const passOn = (scope: RequestScope, next: Next, body: ReadableStream<Uint8Array> | Uint8Array | null, length: string | null) => {
    scope.outgoing = prepareForPlainMlflow(unsignedOf(scope), body, length, backend);
    scope.outgoing.headers.push(['x-request-id', scope.requestId]);
    return next(scope);
  };
  const passRead = (scope: RequestScope, next: Next, body: Uint8Array) => {
    scope.bytesIn = body.byteLength;
    return passOn(scope, next, body, String(body.byteLength));
  };
  return function plainMlflowPassing(scope, next) {
    if (scope.body) return passRead(scope, next, scope.body);
    const request = scope.request;
    const length = request.headers.get('content-length');
    if (!streamsKeepLength && length !== null && Number(length) <= maxBodyBytes && request.body) {
      // Where a stream would go chunked, a body of known length within the cap is read whole and
      // sent with its length (a body over the cap still streams: MLflow's artifact upload reads a chunked one).
      return readBodyWithCap(request, maxBodyBytes, scope.bodyLease).then((body) => passRead(scope, next, body ?? new Uint8Array(0)));
    }
    if (request.body) refuseDeclaredTrailers(request);
    // Streamed: forward counts the bytes as they pass (scope.bytesIn stays 0 until then).
    return passOn(scope, next, request.body, length);
  };
}

function unsignedOf(scope: RequestScope): Omit<UnsignedRequest, 'body'> {
  return { method: scope.method, path: scope.upstreamPath!, query: scope.query, headers: upstreamHeadersOf(scope) };
}
