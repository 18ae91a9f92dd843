// Credentials for signing: the AWS default provider chain (env, shared profile, web identity, ECS,
// EC2 instance metadata with IMDSv2), optionally an assumed role, behind a cache that refreshes in
// the background before expiry. Requests keep using the current credentials while a refresh runs,
// so a rotation never fails a request; only when the credentials are about to expire does a request
// wait for the refresh.
//
// When the source is down after the credentials expired (issue 13 item 16), every request used to
// wait for its own failing refresh (~3.5 s of SDK timeouts each) while the log kept saying "still
// using the current credentials". Now a failed refresh marks the source down: while it is, a request
// that needs fresh credentials fails at once (503 from the sign stage) instead of asking again, one
// background retry runs at a time with a growing delay (retryAfterMs doubling up to
// maxRetryAfterMs, as the SDKs' own retry strategies back off), and each report says whether the
// credentials in hand still sign (`expired`) and when the next try is.
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
  /** After a failed refresh, wait this long before trying again (doubling while it keeps failing). */
  retryAfterMs?: number;
  /** The longest wait between retries while the source stays down. */
  maxRetryAfterMs?: number;
  now?: () => number;
  onRefresh?: (event: RefreshEvent) => void;
}

export interface RefreshEvent {
  ok: boolean;
  expiration?: Date;
  error?: string;
  /** After a failure: whether the credentials in hand are expired (or about to), so requests fail until a refresh succeeds. */
  expired?: boolean;
  /** After a failure: when the next (background) attempt is. */
  retryInMs?: number;
}

export function cachedCredentials(provider: CredentialProvider, options: CacheOptions = {}): CredentialCache {
  const refreshBefore = options.refreshBeforeMs ?? 5 * 60_000;
  const mustRefreshBefore = options.mustRefreshBeforeMs ?? 15_000;
  const retryAfter = options.retryAfterMs ?? 5_000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;
  const now = options.now ?? Date.now;
  let current: AwsCredentials | undefined;
  let inflight: Promise<AwsCredentials> | undefined;
  let nextAttemptAt = 0;
  /** Failed attempts in a row: the source is known down while this is > 0. */
  let failures = 0;
  let lastError = '';
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let count = 0;

  const remainingMs = (credentials: AwsCredentials) =>
    credentials.expiration ? credentials.expiration.getTime() - now() : Infinity;
  const usable = () => current !== undefined && remainingMs(current) > mustRefreshBefore;

  const refresh = (): Promise<AwsCredentials> => {
    if (inflight) return inflight;
    inflight = provider()
      .then((fresh) => {
        current = fresh;
        count++;
        failures = 0;
        options.onRefresh?.({ ok: true, ...(fresh.expiration ? { expiration: fresh.expiration } : {}) });
        return fresh;
      })
      .catch((error: unknown) => {
        failures++;
        const wait = Math.min(maxRetryAfter, retryAfter * 2 ** (failures - 1));
        nextAttemptAt = now() + wait;
        lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        options.onRefresh?.({ ok: false, error: lastError, expired: !usable(), retryInMs: wait });
        // Credentials that no longer sign: keep trying behind the requests, one attempt at a time.
        if (!usable()) scheduleRetry(wait);
        throw error;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  const scheduleRetry = (waitMs: number) => {
    if (retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      refresh().catch(() => {});
    }, waitMs);
    // A retry must not keep the process alive on its own (shutdown, tests).
    (retryTimer as { unref?: () => void }).unref?.();
  };

  return {
    cached() {
      return current && remainingMs(current) > refreshBefore ? current : undefined;
    },
    async get() {
      if (!current && failures === 0) return refresh();
      if (current) {
        const remaining = remainingMs(current);
        if (remaining > refreshBefore) return current;
        if (remaining > mustRefreshBefore) {
          // Still good for a while: serve from cache and refresh behind the request.
          if (!inflight && now() >= nextAttemptAt) refresh().catch(() => {});
          return current;
        }
      }
      // Fresh credentials are needed. While the source is known down, fail at once: the background
      // retry (or the first request after its delay) finds out when it is back.
      if (failures > 0 && now() < nextAttemptAt) {
        scheduleRetry(nextAttemptAt - now());
        throw new Error(`the credential source is unavailable (${failures} failed attempt(s), next in ${Math.ceil((nextAttemptAt - now()) / 1000)} s): ${lastError}`);
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
