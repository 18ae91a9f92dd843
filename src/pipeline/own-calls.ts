// The gateway's own calls to its backend: reads it makes for itself, not for a client (scoped
// policies ask whose a run, trace or logged model is; scoped searches fetch further pages). Signed
// exactly as a client's request is (pipeline/sign.ts), with the credentials the caller passes: the
// host's for lookups, a client's role for the pages of that client's search. Never streamed, never
// redirected, and bounded in time and size: an answer is JSON of a few KiB.
import type { Backend } from '../backends/backend.ts';
import { prepareForPlainMlflow, signForSageMaker } from './sign.ts';
import { OwnCallFailed, ownerLookups, type OwnCalls, type OwnerLookups } from '../scopes/owners.ts';
import type { CompiledRules } from '../rules/compile.ts';
import type { CredentialCache } from '../aws/credentials.ts';
import { credentialsOf } from '../aws/identity-credentials.ts';
import type { GatewayMetrics } from '../observability/gateway-metrics.ts';
import { hasScopedGrants } from '../auth/policy.ts';
import { VERSION } from '../version.ts';


// The largest answer read: a run with its params and tags, a page of a search. A bigger one is
// refused rather than held (a scoped search asks for pages of the client's max_results).
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export const OWN_USER_AGENT = `sagemaker-mlflow-proxy/${VERSION} (own call)`;

export function ownCalls(backend: Backend, timeoutMs: number): OwnCalls {
  return async function ownCall(request) {
    const body = request.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(request.body));
    // Named, so a backend's access log tells the gateway's own reads from its clients'.
    const headers: Array<[string, string]> = [['accept', 'application/json'], ['user-agent', OWN_USER_AGENT], ...(body ? [['content-type', 'application/json'] as [string, string]] : [])];
    const unsigned = { method: request.method, path: request.path, query: request.query ?? '', headers };
    let outgoing;
    if (backend.kind === 'sagemaker') {
      if (!request.credentials) throw new OwnCallFailed('no credentials to sign the lookup with');
      outgoing = signForSageMaker({ ...unsigned, body }, backend, await request.credentials(), new Date());
    } else {
      outgoing = prepareForPlainMlflow(unsigned, body ?? null, body ? String(body.byteLength) : null, backend);
    }
    outgoing.headers.push(['x-request-id', request.requestId]);
    let answer: Response;
    try {
      answer = await fetch(outgoing.url, {
        method: outgoing.method,
        headers: outgoing.headers,
        body: (outgoing.body as BodyInit | undefined) ?? null,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new OwnCallFailed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
    const length = Number(answer.headers.get('content-length') ?? NaN);
    if (length > MAX_ANSWER_BYTES) {
      await answer.body?.cancel().catch(() => {});
      throw new OwnCallFailed(`answer of ${length} bytes, over the ${MAX_ANSWER_BYTES}-byte cap`);
    }
    let text: string;
    try {
      text = await answer.text();
    } catch (error) {
      throw new OwnCallFailed(`answer broke off: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (text.length > MAX_ANSWER_BYTES) throw new OwnCallFailed(`answer over the ${MAX_ANSWER_BYTES}-byte cap`);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: answer.status, json };
  };
}

/**
 * The gateway's own backend calls and the lookups scoped policies resolve ids with, for one rules
 * object; none when no policy has a scope. A lookup waits lookups.timeoutSeconds and is signed with
 * the host's credentials; a scoped search's pages are a client's request and wait like one.
 */
export function scopeLookupsFor(
  rules: CompiledRules,
  host: CredentialCache | undefined,
  metrics?: Pick<GatewayMetrics, 'scopeLookup' | 'watchScopeCache'>,
): { calls: OwnCalls; owners: OwnerLookups; maxPages: number } | undefined {
  if (!hasScopedGrants(rules.policies.values())) return undefined;
  const { cacheEntries, nameSeconds, timeoutSeconds, maxSearchPages } = rules.source.lookups;
  const owners = ownerLookups(ownCalls(rules.backend, timeoutSeconds * 1000), {
    cacheEntries,
    nameMs: nameSeconds * 1000,
    ...(host ? { credentials: () => credentialsOf(host) } : {}),
    ...(metrics ? { count: metrics.scopeLookup } : {}),
  });
  metrics?.watchScopeCache(owners.size);
  return { calls: ownCalls(rules.backend, rules.upstreamTimeoutMs), owners, maxPages: maxSearchPages };
}
