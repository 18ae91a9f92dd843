// Per-identity rate limits as token buckets: `burst` requests at once, refilled at
// `requestsPerSecond`. Over the limit the request gets 429 with Retry-After, which MLflow's client
// honours (it waits and retries).
//
// The buckets live in this process: with N gateway instances behind the ALB a client can reach up
// to N times its limit (README, "Rate limits"). The store is an interface so a shared one (Redis /
// ElastiCache, one atomic script per take) can replace it without touching the rules format or the
// pipeline; that is why take() may return a promise.
import type { RateLimit } from '../auth/identity.ts';

/** `remaining`: tokens left after this take, when the store knows it (a shared store may not). */
export type TakeResult = { ok: true; remaining?: number } | { ok: false; retryAfterMs: number };

export interface RateLimitStore {
  take(key: string, limit: RateLimit, nowMs: number): TakeResult | Promise<TakeResult>;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export function localTokenBuckets(maxKeys = 100_000): RateLimitStore {
  const buckets = new Map<string, Bucket>();

  const refill = (bucket: Bucket, limit: RateLimit, nowMs: number) => {
    const elapsed = Math.max(0, nowMs - bucket.updatedMs);
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.requestsPerSecond) / 1000);
    bucket.updatedMs = nowMs;
  };

  return {
    take(key, limit, nowMs) {
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= maxKeys) forgetOldest(buckets);
        bucket = { tokens: limit.burst, updatedMs: nowMs };
        buckets.set(key, bucket);
      } else {
        refill(bucket, limit, nowMs);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true, remaining: bucket.tokens };
      }
      return { ok: false, retryAfterMs: ((1 - bucket.tokens) * 1000) / limit.requestsPerSecond };
    },
  };
}

// Map order is insertion order: the first tenth are the identities seen longest ago. A forgotten
// bucket starts full again, which errs on the side of letting a request through.
function forgetOldest(buckets: Map<string, Bucket>): void {
  let drop = Math.ceil(buckets.size / 10);
  for (const key of buckets.keys()) {
    if (drop-- <= 0) break;
    buckets.delete(key);
  }
}
