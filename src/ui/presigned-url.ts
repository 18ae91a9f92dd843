// Minting the single-use sign-in link to SageMaker's own MLflow UI:
//   tracking server  CreatePresignedMlflowTrackingServerUrl {TrackingServerName, ...}
//   MLflow App       CreatePresignedMlflowAppUrl {Arn, ...}
// The control plane (api.sagemaker.REGION.amazonaws.com, signing name `sagemaker`) is called with
// the same credentials that sign the person's data-plane calls: the host's role, or their client
// role. AWS_ENDPOINT_URL_SAGEMAKER (the SDK's standard override) points it at a VPC endpoint or a
// test stand-in. The link is a bearer credential: it is returned to the caller and never logged.
import { CreatePresignedMlflowAppUrlCommand, CreatePresignedMlflowTrackingServerUrlCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { CredentialCache } from '../aws/credentials.ts';

export interface PresignedUrlRequest {
  backend: SageMakerBackend;
  credentials: CredentialCache;
  expiresInSeconds: number;
  sessionExpirationSeconds: number;
  /** Bounds the whole call, retries included: a person is waiting at a blank page. */
  timeoutMs: number;
}

// One SDK client per credential source, so its connections are reused between visits.
const clients = new WeakMap<CredentialCache, Map<string, SageMakerClient>>();

function clientFor(credentials: CredentialCache, region: string): SageMakerClient {
  let byRegion = clients.get(credentials);
  if (!byRegion) clients.set(credentials, (byRegion = new Map()));
  let client = byRegion.get(region);
  if (!client) {
    client = new SageMakerClient({
      region,
      credentials: () => credentials.get(),
      // One retry (throttling, a dropped connection): more would keep the person waiting.
      maxAttempts: 2,
      // The default user agent reads os.release(), which Deno allows only with --allow-sys.
      defaultUserAgentProvider: async () => [['sagemaker-mlflow-proxy']],
    });
    byRegion.set(region, client);
  }
  return client;
}

/** The AuthorizedUrl for one visit. SDK errors are thrown as they are (entry.ts explains them). */
export async function createPresignedUiUrl(request: PresignedUrlRequest): Promise<string> {
  const { backend } = request;
  const client = clientFor(request.credentials, backend.region);
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
