// Builds the artifact store at serve time from the compiled `artifacts` settings: the S3 root from
// the rules file or discovered from SageMaker, and an S3 client that signs with the given provider.
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { ArtifactSettings } from './config.ts';
import { parseS3Root } from './keys.ts';
import { S3ArtifactStore, type CredentialsProvider, type TraceS3Call } from './s3-store.ts';
import { discoverArtifactStoreUri } from './discover.ts';

export interface ArtifactService {
  /** Signs with the host's credentials. */
  store: S3ArtifactStore;
  maxJsonRewriteBytes: number;
  /**
   * The store signing as a client's own IAM role, so S3 (and CloudTrail) see the same identity as
   * SageMaker does for that client; one per role and client, made on first use.
   */
  storeFor(roleKey: string, credentials: CredentialsProvider): S3ArtifactStore;
}

const MAX_ROLE_STORES = 1000;

function withRoleStores(store: S3ArtifactStore, maxJsonRewriteBytes: number): ArtifactService {
  const roleStores = new Map<string, S3ArtifactStore>();
  return {
    store,
    maxJsonRewriteBytes,
    storeFor(roleKey, credentials) {
      let roleStore = roleStores.get(roleKey);
      if (!roleStore) {
        if (roleStores.size >= MAX_ROLE_STORES) roleStores.delete(roleStores.keys().next().value!);
        roleStores.set(roleKey, (roleStore = store.withCredentials(credentials)));
      }
      return roleStore;
    },
  };
}

export async function createArtifactService(
  settings: ArtifactSettings,
  backend: SageMakerBackend,
  credentials: CredentialsProvider,
  options: { sagemakerEndpoint?: string; trace?: TraceS3Call } = {},
): Promise<ArtifactService> {
  let root = settings.root;
  if (!root) {
    const uri = await discoverArtifactStoreUri(backend, credentials, options.sagemakerEndpoint);
    const parsed = parseS3Root(uri);
    if (!parsed.ok) throw new Error(`the discovered ArtifactStoreUri is unusable: ${parsed.problem}`);
    root = parsed.value;
  }
  const store = new S3ArtifactStore({
    root,
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    singlePutMaxBytes: settings.singlePutMaxBytes,
    partSizeBytes: settings.partSizeBytes,
    partsInFlight: settings.partsInFlight,
    presignedUrlSeconds: settings.presignedUrlSeconds,
    credentials,
    ...(options.trace ? { trace: options.trace } : {}),
  });
  return withRoleStores(store, settings.maxJsonRewriteBytes);
}
