// TEST STAND-IN for the SageMaker control plane (https://api.sagemaker.REGION.amazonaws.com) and for
// the SageMaker MLflow browser UI that its presigned URLs open. Neither can be reached here. It is
// not our code under test: it checks requests the way AWS would, with an implementation independent
// of src/ (SigV4 through the `aws4` package, test/standins/sigv4-verifier.ts), so a gateway bug in
// signing or in the protocol shows up as a refusal, as it would against AWS.
//
// Control plane (AWS JSON 1.1, as @aws-sdk/client-sagemaker speaks it):
//   POST /, Content-Type application/x-amz-json-1.1, X-Amz-Target SageMaker.<Operation>, SigV4 with
//   signing name `sagemaker`, the configured region, clock skew at most 5 minutes. Errors are
//   `{"__type": "...", "message": "..."}` plus the `x-amzn-errortype` header; the SDK names its
//   exception after `__type` (loadJsonRpcErrorCode in @smithy/core/protocols: body __type first,
//   then `code`, then the header), so `ResourceNotFound` raises the SDK's ResourceNotFound class and
//   unmodelled types (ThrottlingException, AccessDeniedException...) a SageMakerServiceException
//   with that name. The SDK retries ThrottlingException (and 5xx) on its own.
//   Operations: CreatePresignedMlflowTrackingServerUrl, CreatePresignedMlflowAppUrl,
//   DescribeMlflowTrackingServer, DescribeMlflowApp. Ranges (ExpiresInSeconds 5-300,
//   SessionExpirationDurationInSeconds 1800-43200) and response shapes follow the API reference and
//   the SDK's models (dist-types/models); HTTP statuses of the error types are AWS's usual ones
//   for JSON services, not documented per operation.
//
// SageMaker MLflow UI (a second listener): GET /auth?authToken=T accepts a presigned token once,
// before it expires, sets an HttpOnly session cookie lasting the session length and redirects to `/`
// (as the real service does; the browser keeps the URL fragment). Other paths need that cookie and
// are reverse-proxied to a real MLflow server (`uiBackend`), so a browser sees the real MLflow UI.
// Unlike the real service the cookie is not `Secure` (the stand-in speaks plain HTTP on loopback).
import { randomBytes } from 'node:crypto';
import { verifyApiSigV4, type Failure } from './sigv4-verifier.ts';

export const OPERATIONS = [
  'CreatePresignedMlflowTrackingServerUrl',
  'CreatePresignedMlflowAppUrl',
  'DescribeMlflowTrackingServer',
  'DescribeMlflowApp',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** SDK enum TrackingServerStatus (client-sagemaker models/enums). */
export type TrackingServerStatus =
  | 'Creating' | 'Created' | 'CreateFailed' | 'Updating' | 'Updated' | 'UpdateFailed' | 'Deleting' | 'DeleteFailed'
  | 'Stopping' | 'Stopped' | 'StopFailed' | 'Starting' | 'Started' | 'StartFailed'
  | 'MaintenanceInProgress' | 'MaintenanceComplete' | 'MaintenanceFailed';
/** SDK enum MlflowAppStatus. */
export type MlflowAppStatus = 'Creating' | 'Created' | 'CreateFailed' | 'Updating' | 'Updated' | 'UpdateFailed' | 'Deleting' | 'Deleted' | 'DeleteFailed';

export interface TrackingServerState {
  name: string;
  arn: string;
  status: TrackingServerStatus;
  isActive: 'Active' | 'Inactive';
  mlflowVersion: string;
  artifactStoreUri: string;
  /** Defaults to the UI stand-in's base URL. */
  url?: string;
}

export interface AppState {
  arn: string;
  name: string;
  status: MlflowAppStatus;
  mlflowVersion: string;
  artifactStoreUri: string;
}

/** Error types the stand-in sends, with the status AWS answers them with. */
export const ERROR_STATUS = {
  ValidationException: 400,
  ResourceNotFound: 400,
  ResourceLimitExceeded: 400,
  ThrottlingException: 400,
  AccessDeniedException: 403,
  InvalidSignatureException: 403,
  IncompleteSignatureException: 403,
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 400,
  ExpiredTokenException: 400,
  UnknownOperationException: 400,
  SerializationException: 400,
  InternalFailure: 500,
  ServiceUnavailable: 503,
} as const;
export type ErrorType = keyof typeof ERROR_STATUS;

export interface ControlPlaneCall {
  /** Undefined when the target header was missing or unknown. */
  operation?: string;
  body: unknown;
  accessKeyId?: string;
  /** 'ok' or the error type sent back. */
  verdict: 'ok' | ErrorType;
  status: number;
  /** Why a request was refused (the verifier's reason, or the injected failure). */
  reason?: string;
}

export interface UiEvent {
  path: string;
  outcome: 'signed-in' | 'token-refused' | 'no-session' | 'proxied';
  resource?: string;
}

export interface ControlPlaneOptions {
  /** The region requests must be signed for (default us-east-1). */
  region?: string;
  /** Resources that exist at start: tracking-server or MLflow App ARNs, in this region. */
  resources?: string[];
  /** A real MLflow server (http://127.0.0.1:PORT) that signed-in UI requests are proxied to. */
  uiBackend?: string;
  /** Clock for presigned tokens and UI sessions (tests move it); signatures use the real clock. */
  now?: () => number;
}

export interface ControlPlaneStandin {
  /** http://127.0.0.1:PORT: pass as `endpoint` to SageMakerClient, or as AWS_ENDPOINT_URL_SAGEMAKER. */
  endpoint: string;
  port: number;
  /** http://127.0.0.1:PORT of the UI stand-in (AuthorizedUrl and the default TrackingServerUrl point here). */
  uiUrl: string;
  uiPort: number;
  region: string;
  /** Tracking servers by name, MLflow Apps by ARN: change status here, delete for "not found". */
  servers: Map<string, TrackingServerState>;
  apps: Map<string, AppState>;
  /** Adds (or replaces) a resource from its ARN; returns its mutable state. */
  add(arn: string, overrides?: Partial<TrackingServerState & AppState>): TrackingServerState | AppState;
  /** The next `times` (default 1) calls of `operation` fail with `type` (after the signature checks pass). */
  failNext(operation: Operation, type: ErrorType, options?: { message?: string; times?: number }): void;
  /** Every call from this access key id is refused with AccessDeniedException (or only `operations`). */
  deny(accessKeyId: string, operations?: Operation[]): void;
  allow(accessKeyId: string): void;
  /** This access key id is unknown to AWS (UnrecognizedClientException). */
  revoke(accessKeyId: string): void;
  calls: ControlPlaneCall[];
  uiEvents: UiEvent[];
  /** Sessions signed in through /auth that have not expired. */
  activeSessions(): number;
  stop(): void;
}

const SESSION_COOKIE = 'sm-mlflow-standin-session';
const ARN = /^arn:(aws|aws-us-gov):sagemaker:([a-z0-9-]+):(\d{12}):(mlflow-tracking-server|mlflow-app)\/([A-Za-z0-9][A-Za-z0-9-]{0,255})$/;
// API reference: TrackingServerName pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}.
const NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$/;

class AwsError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
  ) {
    super(message);
  }
}

export function startSageMakerControlPlane(options: ControlPlaneOptions = {}): ControlPlaneStandin {
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? Date.now;
  const servers = new Map<string, TrackingServerState>();
  const apps = new Map<string, AppState>();
  const calls: ControlPlaneCall[] = [];
  const uiEvents: UiEvent[] = [];
  const injected = new Map<Operation, Array<{ type: ErrorType; message: string }>>();
  const denied = new Map<string, Set<Operation> | 'all'>();
  const revoked = new Set<string>();
  const tokens = new Map<string, { expiresAt: number; sessionSeconds: number; resource: string }>();
  const sessions = new Map<string, { expiresAt: number; resource: string }>();

  const ui = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (request) => uiFetch(request) });
  const uiUrl = `http://127.0.0.1:${ui.port}`;

  const api = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const raw = new Uint8Array(await request.arrayBuffer());
      const target = request.headers.get('x-amz-target') ?? '';
      const operation = target.startsWith('SageMaker.') ? target.slice('SageMaker.'.length) : undefined;
      const call: ControlPlaneCall = { body: undefined, verdict: 'ok', status: 200, ...(operation ? { operation } : {}) };
      calls.push(call);
      try {
        if (request.method !== 'POST' || new URL(request.url).pathname !== '/') throw new AwsError('UnknownOperationException', 'Only POST / is served');
        const verdict = authenticate(request, raw);
        if (!verdict.ok) throw new AwsError(...signatureError(verdict));
        call.accessKeyId = verdict.accessKeyId;
        if (!operation || !(OPERATIONS as readonly string[]).includes(operation)) throw new AwsError('UnknownOperationException', `Unknown operation ${target}`);
        if (!(request.headers.get('content-type') ?? '').startsWith('application/x-amz-json-1.1')) {
          throw new AwsError('SerializationException', 'Content-Type must be application/x-amz-json-1.1');
        }
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(new TextDecoder().decode(raw) || '{}');
        } catch {
          throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
        }
        call.body = body;
        const denial = denied.get(verdict.accessKeyId);
        if (denial === 'all' || denial?.has(operation as Operation)) {
          throw new AwsError(
            'AccessDeniedException',
            `User: arn:aws:sts::123456789012:assumed-role/standin/${verdict.accessKeyId} is not authorized to perform: sagemaker:${operation} because no identity-based policy allows the sagemaker:${operation} action`,
          );
        }
        const queue = injected.get(operation as Operation);
        const failure = queue?.shift();
        if (failure) throw new AwsError(failure.type, failure.message);
        const result = handle(operation as Operation, body);
        return new Response(JSON.stringify(result), { headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() } });
      } catch (error) {
        if (!(error instanceof AwsError)) throw error;
        call.verdict = error.type;
        call.status = ERROR_STATUS[error.type];
        call.reason = error.message;
        return new Response(JSON.stringify({ __type: error.type, message: error.message }), {
          status: call.status,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': `${error.type}:`, 'x-amzn-requestid': crypto.randomUUID() },
        });
      }
    },
  });

  function authenticate(request: Request, raw: Uint8Array): ReturnType<typeof verifyApiSigV4> | (Failure & { missing?: boolean }) {
    if (!request.headers.has('authorization')) return { ok: false, reason: 'no Authorization header', missing: true } as Failure & { missing: boolean };
    const verdict = verifyApiSigV4(request, request.url, raw, { region, service: 'sagemaker', maxSkewSeconds: 300 });
    if (!verdict.ok) return verdict;
    const key = verdict.accessKeyId;
    // Temporary keys (test/support/credentials.ts) carry their expiry epoch: AWS refuses expired tokens.
    if (key.startsWith('ASIA') && Number(key.slice(4, 14)) * 1000 < Date.now()) return { ok: false, reason: 'expired token', code: 'token' };
    if (revoked.has(key) || !/^A[SK]IA/.test(key)) return { ok: false, reason: `unknown access key ${key}`, code: 'token' };
    return verdict;
  }

  function signatureError(verdict: Failure & { missing?: boolean }): [ErrorType, string] {
    if (verdict.missing) return ['MissingAuthenticationTokenException', 'Missing Authentication Token'];
    if (verdict.reason === 'expired token') return ['ExpiredTokenException', 'The security token included in the request is expired'];
    switch (verdict.code) {
      case 'malformed':
        return ['IncompleteSignatureException', `Authorization header is malformed (${verdict.reason})`];
      case 'token':
        return ['UnrecognizedClientException', 'The security token included in the request is invalid.'];
      case 'skew':
        return ['InvalidSignatureException', 'Signature expired: the request time is more than 5 min from the current time.'];
      case 'scope':
        return [
          'InvalidSignatureException',
          verdict.reason.startsWith('wrong region')
            ? `Credential should be scoped to a valid region. (${verdict.reason})`
            : verdict.reason.startsWith('wrong signing name')
              ? "Credential should be scoped to correct service: 'sagemaker'."
              : verdict.reason,
        ];
      default:
        return ['InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.'];
    }
  }

  function handle(operation: Operation, body: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'DescribeMlflowTrackingServer': {
        const server = trackingServer(body);
        return {
          TrackingServerArn: server.arn,
          TrackingServerName: server.name,
          ArtifactStoreUri: server.artifactStoreUri,
          TrackingServerSize: 'Small',
          MlflowVersion: server.mlflowVersion,
          RoleArn: `arn:aws:iam::${server.arn.split(':')[4]}:role/standin-mlflow-artifacts`,
          TrackingServerStatus: server.status,
          IsActive: server.isActive,
          TrackingServerUrl: server.url ?? uiUrl,
          WeeklyMaintenanceWindowStart: 'Sun:02:00',
          AutomaticModelRegistration: false,
          CreationTime: 1767225600,
          LastModifiedTime: 1767225600,
        };
      }
      case 'DescribeMlflowApp': {
        const app = mlflowApp(body);
        return {
          Arn: app.arn,
          Name: app.name,
          ArtifactStoreUri: app.artifactStoreUri,
          MlflowVersion: app.mlflowVersion,
          RoleArn: `arn:aws:iam::${app.arn.split(':')[4]}:role/standin-mlflow-artifacts`,
          Status: app.status,
          ModelRegistrationMode: 'AutoModelRegistrationDisabled',
          AccountDefaultStatus: 'DISABLED',
          WeeklyMaintenanceWindowStart: 'Sun:02:00',
          CreationTime: 1767225600,
          LastModifiedTime: 1767225600,
        };
      }
      case 'CreatePresignedMlflowTrackingServerUrl':
        return { AuthorizedUrl: presign(trackingServer(body).arn, body) };
      case 'CreatePresignedMlflowAppUrl':
        return { AuthorizedUrl: presign(mlflowApp(body).arn, body) };
    }
  }

  function trackingServer(body: Record<string, unknown>): TrackingServerState {
    const name = body.TrackingServerName;
    if (typeof name !== 'string') throw validation("Value null at 'trackingServerName' failed to satisfy constraint: Member must not be null");
    if (!NAME.test(name)) throw validation(`Value '${name}' at 'trackingServerName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}`);
    const server = servers.get(name);
    if (!server) throw new AwsError('ResourceNotFound', `Tracking server ${name} does not exist.`);
    return server;
  }

  function mlflowApp(body: Record<string, unknown>): AppState {
    const arn = body.Arn;
    if (typeof arn !== 'string') throw validation("Value null at 'arn' failed to satisfy constraint: Member must not be null");
    if (!ARN.test(arn)) throw validation(`Value '${arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:mlflow-app/.*`);
    const app = apps.get(arn);
    if (!app) throw new AwsError('ResourceNotFound', `MLflow App ${arn} does not exist.`);
    return app;
  }

  function presign(resource: string, body: Record<string, unknown>): string {
    const expires = integerIn(body, 'ExpiresInSeconds', 5, 300, 300);
    const session = integerIn(body, 'SessionExpirationDurationInSeconds', 1800, 43200, 43200);
    const token = randomBytes(32).toString('base64url');
    tokens.set(token, { expiresAt: now() + expires * 1000, sessionSeconds: session, resource });
    return `${uiUrl}/auth?authToken=${token}`;
  }

  function integerIn(body: Record<string, unknown>, key: string, min: number, max: number, fallback: number): number {
    const value = body[key];
    if (value === undefined || value === null) return fallback;
    const member = key[0]!.toLowerCase() + key.slice(1);
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new AwsError('SerializationException', `${key} must be an integer`);
    if (value < min) throw validation(`Value '${value}' at '${member}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
    if (value > max) throw validation(`Value '${value}' at '${member}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
    return value;
  }

  async function uiFetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/auth') {
      const token = url.searchParams.get('authToken') ?? '';
      const grant = tokens.get(token);
      // Single use: a token is gone once presented, valid or not.
      tokens.delete(token);
      if (!grant || grant.expiresAt < now()) {
        uiEvents.push({ path: url.pathname, outcome: 'token-refused' });
        return page(403, 'Invalid or expired authorization token', 'Ask for a new presigned URL.');
      }
      const id = randomBytes(24).toString('base64url');
      sessions.set(id, { expiresAt: now() + grant.sessionSeconds * 1000, resource: grant.resource });
      uiEvents.push({ path: url.pathname, outcome: 'signed-in', resource: grant.resource });
      return new Response(null, {
        status: 302,
        headers: { location: '/', 'set-cookie': `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${grant.sessionSeconds}` },
      });
    }
    const id = cookie(request, SESSION_COOKIE);
    const session = id ? sessions.get(id) : undefined;
    if (!session || session.expiresAt < now()) {
      if (id) sessions.delete(id);
      uiEvents.push({ path: url.pathname, outcome: 'no-session' });
      return page(403, 'Not signed in', 'Open the MLflow UI through a presigned URL.');
    }
    if (!options.uiBackend) return page(502, 'No MLflow server', 'The stand-in was started without uiBackend.');
    uiEvents.push({ path: url.pathname, outcome: 'proxied', resource: session.resource });
    const headers = new Headers(request.headers);
    for (const name of ['host', 'cookie', 'connection', 'accept-encoding']) headers.delete(name);
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const upstream = await fetch(`${options.uiBackend}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      redirect: 'manual',
      ...(hasBody ? { body: request.body, duplex: 'half' } : {}),
    } as RequestInit);
    const responseHeaders = new Headers(upstream.headers);
    for (const name of ['content-length', 'content-encoding', 'transfer-encoding', 'connection']) responseHeaders.delete(name);
    return new Response(upstream.body, { status: upstream.status, headers: responseHeaders });
  }

  const handleObject: ControlPlaneStandin = {
    endpoint: `http://127.0.0.1:${api.port}`,
    port: api.port!,
    uiUrl,
    uiPort: ui.port!,
    region,
    servers,
    apps,
    add(arn, overrides = {}) {
      const match = ARN.exec(arn);
      if (!match) throw new Error(`stand-in: not an MLflow ARN: ${arn}`);
      const [, , arnRegion, , type, name] = match as unknown as string[];
      if (arnRegion !== region) throw new Error(`stand-in: ${arn} is not in ${region}`);
      const common = { mlflowVersion: '3.0', artifactStoreUri: `s3://standin-artifacts/${name}` };
      if (type === 'mlflow-tracking-server') {
        const state: TrackingServerState = { name: name!, arn, status: 'Created', isActive: 'Active', ...common, ...pick(overrides, ['status', 'isActive', 'mlflowVersion', 'artifactStoreUri', 'url']) };
        servers.set(state.name, state);
        return state;
      }
      const state: AppState = { arn, name: name!, status: 'Created', ...common, ...pick(overrides, ['status', 'name', 'mlflowVersion', 'artifactStoreUri']) };
      apps.set(arn, state);
      return state;
    },
    failNext(operation, type, failure = {}) {
      const queue = injected.get(operation) ?? [];
      for (let i = 0; i < (failure.times ?? 1); i++) queue.push({ type, message: failure.message ?? `${type} (injected by the stand-in)` });
      injected.set(operation, queue);
    },
    deny(accessKeyId, operations) {
      denied.set(accessKeyId, operations ? new Set(operations) : 'all');
    },
    allow(accessKeyId) {
      denied.delete(accessKeyId);
    },
    revoke(accessKeyId) {
      revoked.add(accessKeyId);
    },
    calls,
    uiEvents,
    activeSessions: () => [...sessions.values()].filter((s) => s.expiresAt >= now()).length,
    stop() {
      api.stop(true);
      ui.stop(true);
    },
  };
  for (const arn of options.resources ?? []) handleObject.add(arn);
  return handleObject;
}

function validation(detail: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${detail}`);
}

function pick<T extends object>(source: T, keys: Array<keyof T>): Partial<T> {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]])) as Partial<T>;
}

function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function page(status: number, title: string, text: string): Response {
  return new Response(`<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p><p>(SageMaker MLflow UI stand-in)</p></body></html>`, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
  });
}
