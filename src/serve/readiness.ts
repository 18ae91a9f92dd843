// What the readiness endpoint checks, from the rules at start-up (../readiness.ts says what each
// check means): draining, credentials, and when configured the upstream probe and SageMaker's status.
import { cachedBackendStatus, httpProbe, readiness, type ReadinessResult } from '../readiness.ts';
import type { CredentialCache } from '../aws/credentials.ts';
import type { CompiledRules } from '../rules/compile.ts';
import type { Logger } from '../observability/log.ts';

export async function buildReadiness(
  rules: CompiledRules,
  credentials: CredentialCache | undefined,
  draining: () => boolean,
  log: Logger,
): Promise<() => Promise<ReadinessResult>> {
  const settings = rules.source.readiness;
  const backendStatus = await buildBackendStatus(rules, credentials, log);
  const options = {
    draining,
    minCredentialSeconds: settings.minCredentialSeconds,
    ...(settings.checkUpstream ? { probeUpstream: httpProbe(rules.backend.baseUrl, settings.upstreamTimeoutSeconds * 1000) } : {}),
    ...(backendStatus ? { backendStatus } : {}),
  };
  return () => readiness(credentials, options);
}

// readiness.checkBackendStatus: SageMaker's own word on whether the backend serves, asked at most
// once per backendStatusSeconds. Loaded only when configured (the SageMaker SDK, as for artifacts).
// The SDK takes AWS_ENDPOINT_URL_SAGEMAKER from the environment (VPC endpoints, tests).
async function buildBackendStatus(
  rules: CompiledRules,
  credentials: CredentialCache | undefined,
  log: Logger,
): Promise<(() => Promise<{ ready: boolean; text: string }>) | undefined> {
  const settings = rules.source.readiness;
  if (!settings.checkBackendStatus || !credentials || rules.backend.kind !== 'sagemaker') return undefined;
  const { describeBackendStatus } = await import('../aws/backend-status.ts');
  const describe = describeBackendStatus(rules.backend, () => credentials.get(), { timeoutMs: settings.upstreamTimeoutSeconds * 1000 });
  const backendStatus = cachedBackendStatus(describe, {
    cacheSeconds: settings.backendStatusSeconds,
    onError: (error) =>
      log.log('warn', 'backend status check failed; readiness keeps the last known status', {
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      }),
    onChange: (status) => log.log(status.serving ? 'info' : 'warn', 'backend status', { status: status.status, serving: status.serving }),
  });
  // Ask once now, so the log says at start-up whether the backend serves (the answer is cached).
  void backendStatus();
  return backendStatus;
}
