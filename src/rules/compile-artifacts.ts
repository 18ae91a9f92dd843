// The rules file's `artifacts` section, checked against the backend: served only for SageMaker
// backends (a self-hosted MLflow serves its own artifact API with --serve-artifacts), with exactly
// one source for the S3 root. Problems are reported with their key paths, like the rest of the rules.
import type { ArtifactsSpec } from './schema.ts';
import type { ProblemList } from './problems.ts';
import type { Backend } from '../backends/backend.ts';
import type { ArtifactSettings } from '../artifacts/config.ts';
import { parseS3Root, type S3Root } from '../artifacts/keys.ts';

export function compileArtifacts(spec: ArtifactsSpec | undefined, backend: Backend | undefined, problems: ProblemList): ArtifactSettings | undefined {
  if (!spec || !backend) return undefined;
  if (backend.kind !== 'sagemaker') {
    problems.error(['artifacts'], 'only for a SageMaker backend (backend.arn); a self-hosted MLflow serves its own artifact API (mlflow server --serve-artifacts)');
    return undefined;
  }
  let root: S3Root | undefined;
  if (spec.s3Root !== undefined) {
    if (spec.discover) problems.error(['artifacts', 'discover'], 'set either artifacts.s3Root or artifacts.discover: true, not both');
    const parsed = parseS3Root(spec.s3Root);
    if (!parsed.ok) problems.error(['artifacts', 's3Root'], parsed.problem);
    else root = parsed.value;
  } else if (!spec.discover) {
    problems.error(['artifacts'], 'needs artifacts.s3Root (s3://bucket/prefix, the tracking server\'s ArtifactStoreUri) or artifacts.discover: true');
  }
  if (spec.endpoint !== undefined && !/^https?:\/\/[^/]+/.test(spec.endpoint)) {
    problems.error(['artifacts', 'endpoint'], `"${spec.endpoint}" is not an http(s) URL`);
  }
  return {
    ...(root ? { root } : {}),
    discover: spec.discover,
    region: spec.region ?? backend.region,
    ...(spec.endpoint ? { endpoint: spec.endpoint.replace(/\/+$/, '') } : {}),
    forcePathStyle: spec.forcePathStyle,
    maxJsonRewriteBytes: spec.maxJsonRewriteBytes,
    singlePutMaxBytes: spec.singlePutMaxBytes,
    partSizeBytes: spec.partSizeBytes,
    partsInFlight: spec.partsInFlight,
    presignedUrlSeconds: spec.presignedUrlSeconds,
  };
}
