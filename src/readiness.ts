// Readiness: may the load balancer send requests here? Not while shutting down (the drain), not
// without usable signing credentials, and, when asked for, not while the backend is unreachable or
// SageMaker says it is not serving (stopped, updating, deleted). The JSON body names each check, so
// an operator sees which one failed. Liveness is simpler: the process answers (server.ts).
import type { CredentialCache } from './aws/credentials.ts';
import type { BackendStatus } from './aws/backend-status.ts';

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
  /** Optional SageMaker status check (cachedBackendStatus): whether the control plane says the backend serves. */
  backendStatus?: () => Promise<{ ready: boolean; text: string }>;
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
  if (options.backendStatus) {
    const backend = await options.backendStatus();
    checks.backend = backend.text;
    if (!backend.ready) ready = false;
  }
  return { ready, checks };
}

export interface BackendStatusCacheOptions {
  /** A status answer (or a failure) is reused this long: health checks share one control-plane call. */
  cacheSeconds: number;
  now?: () => number;
  /** Each failed call, with the full error (for the log; the check itself shows only the error's name). */
  onError?: (error: unknown) => void;
  /** The answer changed (and the first answer). */
  onChange?: (status: BackendStatus) => void;
}

/**
 * The backend check, asking `describe` at most once per `cacheSeconds` (concurrent health checks share
 * the call in flight). Only an answer from SageMaker makes the host not ready. A failed call
 * (throttled, denied, unreachable, timed out) keeps the last known answer and says so: every host asks
 * the same control plane, so counting its failures as "not serving" would take the whole fleet out
 * of the load balancer at once for a problem that does not stop MLflow calls. Before any answer has
 * come, a failure leaves the check "unknown", which does not fail readiness either.
 */
export function cachedBackendStatus(describe: () => Promise<BackendStatus>, options: BackendStatusCacheOptions): () => Promise<{ ready: boolean; text: string }> {
  const now = options.now ?? Date.now;
  let known: { status: BackendStatus; at: number } | undefined;
  let failed: string | undefined;
  let nextAt = 0;
  let inflight: Promise<void> | undefined;
  const refresh = (): Promise<void> =>
    (inflight ??= describe()
      .then(
        (status) => {
          if (!known || known.status.serving !== status.serving || known.status.status !== status.status) options.onChange?.(status);
          known = { status, at: now() };
          failed = undefined;
        },
        (error: unknown) => {
          failed = errorLabel(error);
          options.onError?.(error);
        },
      )
      .finally(() => {
        nextAt = now() + options.cacheSeconds * 1000;
        inflight = undefined;
      }));
  return async () => {
    if (now() >= nextAt) await refresh();
    if (!known) return { ready: true, text: `unknown (status check failed: ${failed ?? 'no answer yet'})` };
    const text = known.status.serving ? `ok, ${known.status.status}` : `not serving: ${known.status.status}`;
    if (failed === undefined) return { ready: known.status.serving, text };
    const age = Math.round((now() - known.at) / 1000);
    return { ready: known.status.serving, text: `${text} (last known, ${age}s ago; status check failed: ${failed})` };
  };
}

/**
 * An error's name only (ThrottlingException, AccessDeniedException, ECONNREFUSED, TimeoutError): the
 * readiness body may be seen by anyone who reaches the ALB, and AWS messages name the caller's role.
 */
function errorLabel(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown };
  const name = typeof e?.name === 'string' && e.name !== 'Error' ? e.name : typeof e?.code === 'string' ? e.code : 'error';
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : 'error';
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
