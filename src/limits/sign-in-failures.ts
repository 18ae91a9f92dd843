// Slows password and key guessing: failed sign-ins are counted per client address in a token
// bucket (auth.failedSignInLimit); once an address has used up its bucket, its requests get 429
// before any credential is checked, until the bucket has refilled a token. Successful sign-ins
// cost nothing. `burst: N` means N failures are checked and the next attempt is refused: the failure
// that empties the bucket starts the pause (the bucket's own refusal would only come one failure
// later, letting N + 1 credentials be tried). Opt-in, because behind a load balancer without trustForwardedFor every client
// shares the balancer's address and one guesser would lock everyone out.
import type { RateLimit } from '../auth/identity.ts';
import type { RateLimitStore } from './rate-limiter.ts';

const MAX_BLOCKED = 100_000;

export interface SignInFailureGuard {
  /** Milliseconds until this address may try again, or undefined when it may now. */
  blockedFor(address: string, nowMs: number): number | undefined;
  failed(address: string, limit: RateLimit, nowMs: number): Promise<void>;
}

export function signInFailureGuard(store: RateLimitStore): SignInFailureGuard {
  const blockedUntil = new Map<string, number>();
  return {
    blockedFor(address, nowMs) {
      const until = blockedUntil.get(address);
      if (until === undefined) return undefined;
      if (until <= nowMs) {
        blockedUntil.delete(address);
        return undefined;
      }
      return until - nowMs;
    },
    async failed(address, limit, nowMs) {
      const taken = await store.take(`sign-in-failures\n${address}`, limit, nowMs);
      // A store that does not say what is left pauses one failure late, as its refusal does.
      const pauseMs = taken.ok ? (taken.remaining !== undefined && taken.remaining < 1 ? ((1 - taken.remaining) * 1000) / limit.requestsPerSecond : undefined) : taken.retryAfterMs;
      if (pauseMs === undefined) return;
      if (blockedUntil.size >= MAX_BLOCKED) blockedUntil.delete(blockedUntil.keys().next().value!);
      blockedUntil.set(address, nowMs + pauseMs);
    },
  };
}
