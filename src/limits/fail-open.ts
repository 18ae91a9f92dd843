// A shared rate-limit store that fails open to this host's own buckets. Limits protect the backend;
// they must never be why the gateway stops serving. So:
//   - a take waits for the shared store at most `timeoutMs` (a small, bounded addition to a request);
//   - a take that fails or times out is decided on local buckets; when takes have kept failing for
//     SWITCH_AFTER_MS (no success in between), the host switches to local buckets (each host then
//     enforces the limit on its own, so a client may reach N times it across N hosts), said once.
//     Not on the first failure, nor on a count alone: on a busy host one stall (a GC pause, the
//     store's process descheduled) can outlast the timeout for every request in flight at once
//     while the store is fine; bench/rate-limit-store.ts met that at 500 req/s on 2 shared cores
//     with a 50 ms bound, first with one failure, then with three in a row. Every request in that
//     window still waits at most timeoutMs;
//   - while switched, requests do not touch the shared store at all: a background probe (PING every
//     `probeMs`) finds out when it is back, and the next takes go to it again, said once too.
// A take that timed out may still land in the shared store later; it only spends a token early.
import type { RateLimitStore, TakeResult } from './rate-limiter.ts';

export type StoreState = 'shared' | 'local';

export interface ProbedStore extends RateLimitStore {
  /** Resolves when the store answers (PING). */
  ping(): Promise<void>;
}

export interface FailOpenOptions {
  timeoutMs: number;
  probeMs: number;
  /** Called on each transition (not per request): to 'local' with the reason, back to 'shared'. */
  onChange(state: StoreState, reason?: string): void;
}

export interface FailOpenStore extends RateLimitStore {
  state(): StoreState;
  /** Starts on local buckets (the store did not answer at start-up) and probes until it does. */
  startLocal(reason: string): void;
  /** Stops the probe. */
  close(): void;
}

/** The promise, or a rejection once `ms` have passed without an answer. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** How long takes must keep failing, with no success between, before the host switches to local buckets. */
export const SWITCH_AFTER_MS = 500;

export function failOpen(shared: ProbedStore, local: RateLimitStore, options: FailOpenOptions): FailOpenStore {
  let state: StoreState = 'shared';
  let probe: ReturnType<typeof setInterval> | undefined;
  let probing = false;
  /** When the current run of failures began (undefined: the last take succeeded). */
  let failingSince: number | undefined;

  const stopProbe = () => {
    if (probe) clearInterval(probe);
    probe = undefined;
  };
  const toLocal = (reason: string) => {
    if (state === 'local') return;
    state = 'local';
    failingSince = undefined;
    options.onChange('local', reason);
    probe = setInterval(async () => {
      if (probing) return;
      probing = true;
      try {
        // The same bound as a take: a store that answers a PING that fast serves takes too.
        await within(shared.ping(), options.timeoutMs);
        if (state === 'local') {
          stopProbe();
          state = 'shared';
          options.onChange('shared');
        }
      } catch {
        // Still away; the next tick tries again.
      } finally {
        probing = false;
      }
    }, options.probeMs);
    // The probe must not keep a stopping process alive.
    (probe as { unref?: () => void }).unref?.();
  };

  return {
    state: () => state,
    startLocal: toLocal,
    close: stopProbe,
    async take(key, limit, nowMs): Promise<TakeResult> {
      if (state === 'local') return local.take(key, limit, nowMs);
      try {
        const taken = await within(Promise.resolve(shared.take(key, limit, nowMs)), options.timeoutMs);
        failingSince = undefined;
        return taken;
      } catch (error) {
        const now = Date.now();
        failingSince ??= now;
        if (now - failingSince >= SWITCH_AFTER_MS) toLocal(error instanceof Error ? error.message : String(error));
        return local.take(key, limit, nowMs);
      }
    },
  };
}
