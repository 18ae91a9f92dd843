// Minting the single-use sign-in link to SageMaker's own MLflow UI:
//   tracking server  CreatePresignedMlflowTrackingServerUrl {TrackingServerName, ...}
//   MLflow App       CreatePresignedMlflowAppUrl {Arn, ...}
// The control plane (api.sagemaker.REGION.amazonaws.com, signing name `sagemaker`) is called with
// the same credentials that sign the person's data-plane calls: the host's role, or their client
// role. AWS_ENDPOINT_URL_SAGEMAKER (the SDK's standard override) points it at a VPC endpoint or a
// test stand-in. The link is a bearer credential: it is returned to the caller and never logged.
import { CreatePresignedMlflowAppUrlCommand, CreatePresignedMlflowTrackingServerUrlCommand, type SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { CredentialCache } from '../aws/credentials.ts';
import { sageMakerControlPlaneClient } from '../aws/sagemaker-client.ts';

export interface PresignedUrlRequest {
  backend: SageMakerBackend;
  credentials: CredentialCache;
  expiresInSeconds: number;
  sessionExpirationSeconds: number;
  /** Bounds the whole call, retries included: a person is waiting at a blank page. */
  timeoutMs: number;
}

// One SDK client per credential source (host, or a client role), so its connections are reused
// between visits. One retry (throttling, a dropped connection): more would keep the person waiting.
// Keyed by region too, so a reload that points the rules at another region gets a client there.
const clients = new WeakMap<CredentialCache, Map<string, SageMakerClient>>();

function clientFor(credentials: CredentialCache, backend: SageMakerBackend): SageMakerClient {
  let byRegion = clients.get(credentials);
  if (!byRegion) clients.set(credentials, (byRegion = new Map()));
  let client = byRegion.get(backend.region);
  if (!client) byRegion.set(backend.region, (client = sageMakerControlPlaneClient(backend, () => credentials.get(), { maxAttempts: 2 })));
  return client;
}

/** The AuthorizedUrl for one visit. SDK errors are thrown as they are (entry.ts explains them). */
export async function createPresignedUiUrl(request: PresignedUrlRequest): Promise<string> {
  const { backend } = request;
  const client = clientFor(request.credentials, backend);
  const common = { ExpiresInSeconds: request.expiresInSeconds, SessionExpirationDurationInSeconds: request.sessionExpirationSeconds };
  const options = { abortSignal: AbortSignal.timeout(request.timeoutMs) };
  const answer =
    backend.mode === 'tracking-server'
      ? await client.send(new CreatePresignedMlflowTrackingServerUrlCommand({ TrackingServerName: backend.resourceName, ...common }), options)
      : await client.send(new CreatePresignedMlflowAppUrlCommand({ Arn: backend.arn, ...common }), options);
  const url = answer.AuthorizedUrl;
  if (!url || !/^https?:\/\//.test(url)) throw new Error('SageMaker answered without an AuthorizedUrl');
  return url;
}
