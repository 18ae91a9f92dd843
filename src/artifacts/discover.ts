// Finding the tracking server's artifact root at start-up, for `artifacts.discover: true`: the same
// ArtifactStoreUri the SageMaker console shows, from DescribeMlflowTrackingServer (tracking servers)
// or DescribeMlflowApp (MLflow Apps). Needs sagemaker:DescribeMlflowTrackingServer / DescribeMlflowApp.
import { DescribeMlflowAppCommand, DescribeMlflowTrackingServerCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { CredentialsProvider } from './s3-store.ts';

export async function discoverArtifactStoreUri(backend: SageMakerBackend, credentials: CredentialsProvider, endpoint?: string): Promise<string> {
  const client = new SageMakerClient({
    region: backend.region,
    credentials,
    ...(endpoint ? { endpoint } : {}),
    // As in s3-store.ts: the default user agent reads os.release(), which Deno allows only with --allow-sys.
    defaultUserAgentProvider: async () => [['sagemaker-mlflow-proxy']],
  });
  try {
    const uri =
      backend.mode === 'tracking-server'
        ? (await client.send(new DescribeMlflowTrackingServerCommand({ TrackingServerName: backend.resourceName }))).ArtifactStoreUri
        : (await client.send(new DescribeMlflowAppCommand({ Arn: backend.arn }))).ArtifactStoreUri;
    if (!uri) throw new Error(`${backend.arn} reports no ArtifactStoreUri`);
    return uri;
  } finally {
    client.destroy();
  }
}
