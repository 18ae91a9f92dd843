// The UI entry for SageMaker backends (`ui.path`, e.g. /ui): the person has been signed in and
// allowed `AccessUI` by the pipeline; here the gateway mints a fresh single-use link to SageMaker's
// MLflow UI and redirects the browser to it. The link opens a UI session of `sessionExpiresSeconds`.
//
// The link is a bearer credential for that session, so the answer is never stored or passed on
// (Cache-Control: no-store, Referrer-Policy: no-referrer) and the link is never logged: the audit
// line has the entry path and the outcome only. Every visit gets a new link: they work once.
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { CredentialCache } from '../aws/credentials.ts';
import { GatewayError } from '../errors.ts';
import { uiFragment } from './deep-link.ts';

// The SageMaker SDK client is loaded with the first visit: it is several MB of heap that a gateway
// serving API clients alone would otherwise carry (and every garbage collection would walk).
let presignedUrls: Promise<typeof import('./presigned-url.ts')> | undefined;
const loadPresignedUrls = () => (presignedUrls ??= import('./presigned-url.ts'));

export interface UiSettings {
  path: string;
  presignedUrlExpiresSeconds: number;
  sessionExpiresSeconds: number;
}

export interface UiVisit {
  backend: SageMakerBackend;
  settings: UiSettings;
  credentials: CredentialCache;
  query: string;
  requestId: string;
  timeoutMs: number;
}

/** True for the entry path, with or without a trailing slash. */
export function isUiEntry(settings: UiSettings | undefined, path: string): settings is UiSettings {
  return settings !== undefined && (path === settings.path || path === `${settings.path}/`);
}

/** The 302 to a fresh presigned URL (plus the deep link's fragment). Throws a GatewayError on failure. */
export async function redirectToSageMakerUi(visit: UiVisit): Promise<Response> {
  const fragment = uiFragment(new URLSearchParams(visit.query));
  let url: string;
  try {
    const { createPresignedUiUrl } = await loadPresignedUrls();
    url = await createPresignedUiUrl({
      backend: visit.backend,
      credentials: visit.credentials,
      expiresInSeconds: visit.settings.presignedUrlExpiresSeconds,
      sessionExpirationSeconds: visit.settings.sessionExpiresSeconds,
      timeoutMs: visit.timeoutMs,
    });
  } catch (error) {
    throw controlPlaneFailure(error, visit.backend);
  }
  return new Response(null, {
    status: 302,
    headers: {
      location: `${url}${fragment}`,
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'referrer-policy': 'no-referrer',
      'x-request-id': visit.requestId,
    },
  });
}

/**
 * What a control-plane failure means for the person at the browser. The body says what to do; AWS's
 * own message (it can name roles and accounts) goes to the audit line only.
 */
export function controlPlaneFailure(error: unknown, backend: SageMakerBackend): GatewayError {
  if (error instanceof GatewayError) return error;
  const name = error instanceof Error ? error.name : 'Error';
  const detail = `sagemaker ${name}${error instanceof Error && error.message ? `: ${error.message}` : ''}`.slice(0, 500);
  const what = backend.mode === 'tracking-server' ? `the tracking server "${backend.resourceName}"` : 'the MLflow App';
  switch (name) {
    case 'ThrottlingException':
    case 'ServiceUnavailable':
    case 'InternalFailure':
    case 'InternalServerError':
      return new GatewayError(503, 'TEMPORARILY_UNAVAILABLE', 'SageMaker is busy and did not open the MLflow UI; try again in a few seconds.', { 'retry-after': '5' }, detail);
    case 'AccessDeniedException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return new GatewayError(502, 'PERMISSION_DENIED',
        `SageMaker refused to open the MLflow UI for this gateway: its AWS role lacks ${backend.mode === 'tracking-server' ? 'sagemaker:CreatePresignedMlflowTrackingServerUrl' : 'sagemaker:CreatePresignedMlflowAppUrl'} ` +
        'or its credentials are not valid. Ask the gateway\'s operators (`iam-policy` prints what the role needs).', {}, detail);
    case 'ResourceNotFound':
      return new GatewayError(502, 'RESOURCE_DOES_NOT_EXIST', `SageMaker does not know ${what}; the gateway's backend ARN may be out of date.`, {}, detail);
    case 'ValidationException':
    case 'ConflictException':
    case 'ResourceInUse':
      // What SageMaker answers for a stopped or changing server: not the person's fault, not lasting.
      return new GatewayError(503, 'TEMPORARILY_UNAVAILABLE', `The MLflow UI of ${what} cannot be opened right now (it may be stopped or updating); try again later.`, { 'retry-after': '30' }, detail);
    case 'TimeoutError':
    case 'AbortError':
      return new GatewayError(504, 'DEADLINE_EXCEEDED', 'SageMaker did not answer in time; try again.', {}, detail);
    default:
      return new GatewayError(502, 'TEMPORARILY_UNAVAILABLE', 'SageMaker could not be reached to open the MLflow UI; try again.', {}, detail);
  }
}
