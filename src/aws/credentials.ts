// Credentials for signing: the AWS default provider chain (env, shared profile, web identity, ECS,
// EC2 instance metadata with IMDSv2), optionally an assumed role, behind a cache that refreshes in
// the background before expiry. Requests keep using the current credentials while a refresh runs,
// so a rotation never fails a request; only when the credentials are about to expire does a request
// wait for the refresh.
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentials } from './sigv4.ts';

export type CredentialProvider = () => Promise<AwsCredentials>;

export interface CredentialCache {
  get(): Promise<AwsCredentials>;
  /** The cached credentials when they need no refresh, without waiting (the hot path); else undefined. */
  cached(): AwsCredentials | undefined;
  /** Current credentials' expiry, if any (readiness reports it). */
  expiration(): Date | undefined;
  /** Count of successful refreshes (metrics, tests). */
  refreshes(): number;
}

export interface CacheOptions {
  /** Start refreshing this long before expiry. The SDK's own providers treat < 5 min as expired. */
  refreshBeforeMs?: number;
  /** Below this remaining lifetime a request waits for fresh credentials instead of using the old. */
  mustRefreshBeforeMs?: number;
  /** After a failed background refresh, wait this long before trying again. */
  retryAfterMs?: number;
  now?: () => number;
  onRefresh?: (event: { ok: boolean; expiration?: Date; error?: string }) => void;
}

export function cachedCredentials(provider: CredentialProvider, options: CacheOptions = {}): CredentialCache {
  const refreshBefore = options.refreshBeforeMs ?? 5 * 60_000;
  const mustRefreshBefore = options.mustRefreshBeforeMs ?? 15_000;
  const retryAfter = options.retryAfterMs ?? 5_000;
  const now = options.now ?? Date.now;
  let current: AwsCredentials | undefined;
  let inflight: Promise<AwsCredentials> | undefined;
  let nextAttemptAt = 0;
  let count = 0;

  const refresh = (): Promise<AwsCredentials> => {
    if (inflight) return inflight;
    inflight = provider()
      .then((fresh) => {
        current = fresh;
        count++;
        options.onRefresh?.({ ok: true, ...(fresh.expiration ? { expiration: fresh.expiration } : {}) });
        return fresh;
      })
      .catch((error: unknown) => {
        nextAttemptAt = now() + retryAfter;
        options.onRefresh?.({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        throw error;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  const remainingMs = (credentials: AwsCredentials) =>
    credentials.expiration ? credentials.expiration.getTime() - now() : Infinity;

  return {
    cached() {
      return current && remainingMs(current) > refreshBefore ? current : undefined;
    },
    async get() {
      if (!current) return refresh();
      const remaining = remainingMs(current);
      if (remaining > refreshBefore) return current;
      if (remaining > mustRefreshBefore) {
        // Still good for a while: serve from cache and refresh behind the request.
        if (!inflight && now() >= nextAttemptAt) refresh().catch(() => {});
        return current;
      }
      return refresh();
    },
    expiration: () => current?.expiration,
    refreshes: () => count,
  };
}

/** The default chain, plus AssumeRole when configured (cross-account, as the plugin's SAGEMAKER_MLFLOW_ASSUME_ROLE_ARN). */
export function defaultCredentialProvider(options: { assumeRoleArn?: string; region?: string } = {}): CredentialProvider {
  const chain = fromNodeProviderChain();
  if (!options.assumeRoleArn) return chain;
  return fromTemporaryCredentials({
    masterCredentials: chain,
    params: { RoleArn: options.assumeRoleArn, RoleSessionName: 'sagemaker-mlflow-proxy', DurationSeconds: 3600 },
    ...(options.region ? { clientConfig: { region: options.region } } : {}),
  });
}
