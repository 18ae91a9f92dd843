// Client spans around the gateway's I/O that is not a pipeline stage of its own: the shared
// rate-limit store and credential refreshes (S3 calls: artifacts/s3-store.ts; identity providers:
// Tracing.fetch; the upstream: pipeline/tracing.ts). Each wraps the one function that does the I/O,
// and only when tracing is on (serve builders): untraced, the function is used as it is.
import type { RateLimitStore } from '../limits/rate-limiter.ts';
import type { CredentialProvider } from '../aws/credentials.ts';
import type { RoleProviderFactory } from '../aws/client-roles.ts';
import type { Tracing } from './tracing.ts';

/** limits.store (valkey): one span per take, a child of the request (rate limit or failed sign-ins). */
export function tracedRateLimitStore(store: RateLimitStore, tracing: Tracing): RateLimitStore {
  return {
    take: (key, limit, nowMs) =>
      tracing.around('rate-limit store take', { 'gateway.rate_limit.store': 'valkey' }, async (span) => {
        const taken = await store.take(key, limit, nowMs);
        span.set({ 'gateway.rate_limit.allowed': taken.ok });
        return taken;
      }),
  };
}

/** The host's credential source: one span per refresh (a request's child when one waited for it). */
export function tracedCredentialProvider(provider: CredentialProvider, tracing: Tracing, attributes: Record<string, string>): CredentialProvider {
  return () => tracing.around('credential refresh', attributes, () => provider());
}

/** A client's own role (AssumeRole with the host's credentials): one span per refresh, naming the role. */
export function tracedRoleProviders(factory: RoleProviderFactory, tracing: Tracing): RoleProviderFactory {
  return (roleArn, sessionName) => tracedCredentialProvider(factory(roleArn, sessionName), tracing, { 'gateway.credentials': 'client role', 'aws.role.arn': roleArn, 'aws.role.session_name': sessionName });
}
