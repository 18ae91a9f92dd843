// After sign-in: a client over its `rateLimit` gets 429 with Retry-After (which MLflow's client
// honours) before the gateway does any further work for it. The buckets live in the store
// (limits/rate-limiter.ts): this process's memory, or one shared by the fleet.
import type { Next, Stage } from './chain.ts';
import type { RequestScope } from './scope.ts';
import type { RateLimit } from '../auth/identity.ts';
import type { RateLimitStore } from '../limits/rate-limiter.ts';
import { RateLimited } from '../errors.ts';

export function rateLimiting(store: RateLimitStore): Stage {
  // Synchronous for an identity without a limit: most requests pass on without a promise of ours.
  return function rateLimiting(scope, next) {
    const limit = scope.identity!.rateLimit;
    return limit ? takeThenNext(store, limit, scope, next) : next(scope);
  };
}

async function takeThenNext(store: RateLimitStore, limit: RateLimit, scope: RequestScope, next: Next): Promise<Response> {
  const identity = scope.identity!;
  // Callers without credentials share one identity: each address gets its own bucket, so one
  // busy anonymous caller cannot use up everybody's allowance.
  const bucket = identity.authMethod === 'anonymous' ? `anonymous\n${scope.clientIp}` : identity.id;
  const taken = await store.take(bucket, limit, scope.receivedAt.getTime());
  if (!taken.ok) throw new RateLimited(taken.retryAfterMs, `over ${limit.requestsPerSecond}/s, burst ${limit.burst}`);
  return next(scope);
}
