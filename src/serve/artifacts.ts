// The S3 store behind MLflow's artifact API, for SageMaker backends with `artifacts` configured.
// Built once from the rules at start-up: a reload that changes `artifacts` needs a restart.
import type { CredentialCache } from '../aws/credentials.ts';
import type { ArtifactService } from '../artifacts/service.ts';
import type { CompiledRules } from '../rules/compile.ts';
import type { Logger } from '../observability/log.ts';
import type { Tracing } from '../observability/tracing.ts';

export async function buildArtifacts(rules: CompiledRules, credentials: CredentialCache | undefined, log: Logger, tracing?: Tracing): Promise<ArtifactService | undefined> {
  if (!rules.artifacts || !credentials || rules.backend.kind !== 'sagemaker') return undefined;
  // Loaded only when configured: the S3 and SageMaker SDKs add ~15 MB to every process's RSS.
  const { createArtifactService } = await import('../artifacts/service.ts');
  const artifacts = await createArtifactService(rules.artifacts, rules.backend, () => credentials.get(), tracing ? { trace: tracing.around } : {});
  log.log('info', 'serving artifacts', { root: artifacts.store.root.uri });
  return artifacts;
}
