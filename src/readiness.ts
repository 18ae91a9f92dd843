// Readiness: may the load balancer send requests here? Not while shutting down (the drain), not
// without usable signing credentials, and, when asked for, not while the backend is unreachable.
// The JSON body names each check, so an operator sees which one failed. Liveness is simpler: the
// process answers (server.ts).
import type { CredentialCache } from './aws/credentials.ts';

export interface ReadinessResult {
  ready: boolean;
  checks: Record<string, string>;
}

export interface ReadinessOptions {
  /** True once SIGTERM arrived: fail at once so the ALB stops routing here. */
  draining?: () => boolean;
  /** Credentials that expire sooner than this are "expiring" (not ready). */
  minCredentialSeconds?: number;
  /** Optional backend probe: resolves to an error text when unreachable, undefined when reachable. */
  probeUpstream?: () => Promise<string | undefined>;
  now?: () => number;
}

/** Ready when not draining, rules are loaded (they are, or nothing would run), credentials resolve. */
export async function readiness(credentials: CredentialCache | undefined, options: ReadinessOptions = {}): Promise<ReadinessResult> {
  const checks: Record<string, string> = {};
  if (options.draining?.()) return { ready: false, checks: { shutdown: 'draining' } };
  checks.rules = 'ok';
  let ready = true;
  if (credentials) {
    try {
      const current = await credentials.get();
      const remainingMs = current.expiration ? current.expiration.getTime() - (options.now ?? Date.now)() : Infinity;
      if (remainingMs < (options.minCredentialSeconds ?? 0) * 1000) {
        checks.credentials = `expiring ${current.expiration!.toISOString()}`;
        ready = false;
      } else {
        checks.credentials = current.expiration ? `ok, expire ${current.expiration.toISOString()}` : 'ok';
      }
    } catch {
      checks.credentials = 'unavailable';
      ready = false;
    }
  }
  if (options.probeUpstream) {
    const failure = await options.probeUpstream();
    checks.upstream = failure ? `unreachable: ${failure}` : 'ok';
    if (failure) ready = false;
  }
  return { ready, checks };
}

/**
 * A probe that counts any HTTP answer from the backend's base URL as reachable: an unsigned
 * request to SageMaker is refused with 403, which still proves DNS, routing and TLS work.
 */
export function httpProbe(baseUrl: string, timeoutMs: number): () => Promise<string | undefined> {
  return async () => {
    try {
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await response.body?.cancel();
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.name : 'error';
    }
  };
}
