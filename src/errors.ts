// Every answer the gateway itself gives (as opposed to the upstream's answers, which pass through
// untouched) is one of these, rendered in MLflow's error shape so the MLflow client understands it:
// `{"error_code": "...", "message": "..."}` (mlflow/protos/databricks.proto ErrorCode names).
// The message never carries internal detail; the request id lets an operator find the audit line.

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    /** Extra response headers, e.g. WWW-Authenticate on 401. */
    readonly headers: Record<string, string> = {},
    /** Why, for the audit log only (never sent to the client). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequest extends GatewayError {
  constructor(message: string, detail?: string) {
    super(400, 'BAD_REQUEST', message, {}, detail);
  }
}

export class Unauthenticated extends GatewayError {
  /** `challenge` is the WWW-Authenticate value for the configured methods (compile.ts). */
  constructor(challenge: string, detail?: string) {
    // One message whatever went wrong, so a caller cannot tell an unknown user or key from a wrong
    // password, an expired key or a forged token; the detail goes to the audit log only.
    super(
      401,
      'UNAUTHENTICATED',
      'Authentication required: the credentials are missing, unknown, expired or invalid. Send an API key or token as ' +
        '"Authorization: Bearer <token>" (MLFLOW_TRACKING_TOKEN) or HTTP Basic (MLFLOW_TRACKING_USERNAME/PASSWORD) where enabled.',
      { 'www-authenticate': challenge },
      detail,
    );
  }
}

/** The identity provider (JWKS, ALB key endpoint) cannot be reached, so a token cannot be checked. */
export class AuthProviderUnavailable extends GatewayError {
  constructor(detail?: string) {
    super(503, 'TEMPORARILY_UNAVAILABLE', 'The gateway cannot check the token right now: its identity provider is unreachable. Retry later.', {}, detail);
  }
}

/** MLflow's client retries 429 after the Retry-After seconds (urllib3, respect_retry_after_header). */
export class RateLimited extends GatewayError {
  /** `retryAfterMs` is rounded up to whole seconds, at least 1 (Retry-After has no fractions). */
  constructor(retryAfterMs: number, detail?: string) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(429, 'REQUEST_LIMIT_EXCEEDED', `Too many requests for this client; retry after ${seconds} s.`, {
      'retry-after': String(seconds),
    }, detail);
  }
}

export class PermissionDenied extends GatewayError {
  constructor(message: string, detail?: string) {
    super(403, 'PERMISSION_DENIED', message, {}, detail);
  }
}

export class MethodNotAllowed extends GatewayError {
  constructor(allowed: string[], message: string) {
    super(405, 'BAD_REQUEST', message, { allow: allowed.join(', ') });
  }
}

export class PayloadTooLarge extends GatewayError {
  constructor(limit: number) {
    super(413, 'RESOURCE_EXHAUSTED', `Request body is larger than the gateway's limit of ${limit} bytes.`);
  }
}

/**
 * The gateway holds as many request-body bytes as limits.maxBufferedBytes allows (limits/buffer-budget.ts).
 * 503, not 413: the body is acceptable, the moment is not; MLflow's client retries 503 after Retry-After.
 * RESOURCE_EXHAUSTED (MLflow's ErrorCode) tells it apart from the other 503s in logs and metrics.
 */
export class BufferBudgetExhausted extends GatewayError {
  constructor(detail?: string) {
    super(503, 'RESOURCE_EXHAUSTED', 'The gateway is holding as many request bodies as it may right now; retry in a moment.', { 'retry-after': '1' }, detail);
  }
}

/** The upstream could not be reached or broke the connection (caddy maps this to 502 as well). */
export class UpstreamUnavailable extends GatewayError {
  constructor(detail?: string) {
    super(502, 'TEMPORARILY_UNAVAILABLE', 'The MLflow backend could not be reached.', {}, detail);
  }
}

export class UpstreamTimeout extends GatewayError {
  constructor(seconds: number) {
    super(504, 'DEADLINE_EXCEEDED', `The MLflow backend did not answer within ${seconds} s.`);
  }
}

/** The client went away before the answer; 499 as nginx and caddy log it. Nobody reads the body. */
export class ClientClosed extends GatewayError {
  /** `detail` says how far the request got: whether the upstream may have run it. */
  constructor(detail?: string) {
    super(499, 'CANCELLED', 'The client closed the request.', {}, detail);
  }
}

export class SigningFailed extends GatewayError {
  constructor(detail?: string) {
    // 503, not 500: missing credentials are usually transient (IMDS hiccup, role being attached).
    super(503, 'TEMPORARILY_UNAVAILABLE', 'The gateway could not sign the request for the backend.', {}, detail);
  }
}

/** An artifact path with no object under the artifact root (MLflow's own proxy answers the same). */
export class ArtifactNotFound extends GatewayError {
  constructor(key: string) {
    super(404, 'RESOURCE_DOES_NOT_EXIST', 'No artifact at this path.', {}, `s3 key ${key}`);
  }
}

/** The artifact store (S3) refused or failed; the reason goes to the audit log only. */
export class ArtifactStoreFailed extends GatewayError {
  constructor(detail?: string) {
    super(502, 'TEMPORARILY_UNAVAILABLE', 'The artifact store could not complete the request.', {}, detail);
  }
}

/** A route the gateway knows but does not serve (MLflow clients fall back on 501). */
export class NotImplemented extends GatewayError {
  constructor(message: string, detail?: string) {
    super(501, 'NOT_IMPLEMENTED', message, {}, detail);
  }
}

/** A Host that is not one of the gateway's names (listen.allowedHosts, pipeline/allowed-hosts.ts). */
export class MisdirectedRequest extends GatewayError {
  constructor(host: string) {
    super(421, 'BAD_REQUEST', 'This gateway does not answer to the host name the request was sent to.', {}, `host ${host.slice(0, 256)} not in listen.allowedHosts`);
  }
}

/** A request whose framing is ambiguous (pipeline/framing.ts): refused before sign-in, like a foreign Host. */
export class BadFraming extends GatewayError {
  constructor(detail: string) {
    super(400, 'BAD_REQUEST', 'The request\'s framing is ambiguous (for example two Content-Length headers).', { connection: 'close' }, detail);
  }
}

/** A request still in flight when the shutdown's finish time ran out (shutdown.ts); audit only, nobody receives it. */
export class ShutdownCut extends GatewayError {
  constructor() {
    super(503, 'TEMPORARILY_UNAVAILABLE', 'The gateway stopped before the request finished.', {}, 'cut by the shutdown: still in flight when shutdown.finishSeconds ran out');
  }
}

export class InternalError extends GatewayError {
  constructor(detail?: string) {
    super(500, 'INTERNAL_ERROR', 'The gateway failed to handle the request.', {}, detail);
  }
}

/** Turns anything thrown into a GatewayError; unknown errors become a 500 without their text. */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new InternalError(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}

export function errorResponse(error: GatewayError, requestId: string): Response {
  const body = new TextEncoder().encode(
    JSON.stringify({ error_code: error.errorCode, message: `${error.message} (request id ${requestId})` }),
  );
  return new Response(body, {
    status: error.status,
    headers: {
      ...error.headers,
      // A known length lets the audit stage log the answer without wrapping its body.
      'content-length': String(body.byteLength),
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-request-id': requestId,
    },
  });
}
