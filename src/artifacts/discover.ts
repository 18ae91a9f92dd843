// Finding the tracking server's artifact root at start-up, for `artifacts.discover: true`: the same
// ArtifactStoreUri the SageMaker console shows, from DescribeMlflowTrackingServer (tracking servers)
// or DescribeMlflowApp (MLflow Apps). Needs sagemaker:DescribeMlflowTrackingServer / DescribeMlflowApp.
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import { describeBackend, sageMakerControlPlaneClient } from '../aws/sagemaker-client.ts';
import type { CredentialsProvider } from './s3-store.ts';

export async function discoverArtifactStoreUri(backend: SageMakerBackend, credentials: CredentialsProvider, endpoint?: string): Promise<string> {
  const client = sageMakerControlPlaneClient(backend, credentials, endpoint ? { endpoint } : {});
  try {
    const uri = (await describeBackend(client, backend)).artifactStoreUri;
    if (!uri) throw new Error(`${backend.arn} reports no ArtifactStoreUri`);
    return uri;
  } finally {
    client.destroy();
  }
}
