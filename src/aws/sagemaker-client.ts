// The SageMaker control-plane client (api.sagemaker.REGION.amazonaws.com, AWS JSON 1.1) for the
// backend's region, signing with the gateway's credentials: artifact-root discovery and the
// readiness status check both ask it about the backend. `endpoint` replaces AWS's endpoint (tests,
// VPC endpoints); without it the SDK also honours AWS_ENDPOINT_URL_SAGEMAKER from the environment.
import { DescribeMlflowAppCommand, DescribeMlflowTrackingServerCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { CredentialProvider } from './credentials.ts';

export function sageMakerControlPlaneClient(
  backend: SageMakerBackend,
  credentials: CredentialProvider,
  options: { endpoint?: string; maxAttempts?: number } = {},
): SageMakerClient {
  return new SageMakerClient({
    region: backend.region,
    credentials,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    // As in artifacts/s3-store.ts: the default user agent reads os.release(), which Deno allows only with --allow-sys.
    defaultUserAgentProvider: async () => [['sagemaker-mlflow-proxy']],
  });
}

/** What the control plane says about the backend: the fields discovery and readiness read. */
export interface BackendDescription {
  artifactStoreUri?: string;
  /** TrackingServerStatus (tracking servers) or Status (MLflow Apps). */
  status?: string;
  /** Tracking servers only: IsActive, Active | Inactive. */
  isActive?: string;
}

/** DescribeMlflowTrackingServer by name, or DescribeMlflowApp by ARN, as the backend's kind asks. */
export async function describeBackend(client: SageMakerClient, backend: SageMakerBackend, abortSignal?: AbortSignal): Promise<BackendDescription> {
  const options = abortSignal ? { abortSignal } : {};
  if (backend.mode === 'tracking-server') {
    const out = await client.send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: backend.resourceName }), options);
    return { ...defined('artifactStoreUri', out.ArtifactStoreUri), ...defined('status', out.TrackingServerStatus), ...defined('isActive', out.IsActive) };
  }
  const out = await client.send(new DescribeMlflowAppCommand({ Arn: backend.arn }), options);
  return { ...defined('artifactStoreUri', out.ArtifactStoreUri), ...defined('status', out.Status) };
}

function defined<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
