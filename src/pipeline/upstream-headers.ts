// The client headers that go upstream: the allowlist of what MLflow's clients send
// (headers.ts FORWARDED_REQUEST_HEADERS) plus the rules' backend.forwardHeaders, chosen once per
// allowed request, after authorization (a refused request needs none), before the artifact and
// sign stages that use them. What was dropped is logged at debug level, by name only: a value can
// be a credential (a cookie, an ALB token).
import type { Stage } from './chain.ts';
import type { Logger } from '../observability/log.ts';
import { FORWARDED_REQUEST_HEADERS, forwardableRequestHeaders } from './headers.ts';

export function upstreamHeaderSelection(forwardHeaders: ReadonlyArray<string>, log: Logger | undefined): Stage {
  const allowed: ReadonlySet<string> = forwardHeaders.length
    ? new Set([...FORWARDED_REQUEST_HEADERS, ...forwardHeaders.map((name) => name.toLowerCase())])
    : FORWARDED_REQUEST_HEADERS;
  return function upstreamHeaderSelection(scope, next) {
    // The dropped names are gathered only when their debug line would be written.
    const dropped = log && (log.enabled?.('debug') ?? true) ? [] : undefined;
    scope.upstreamHeaders = forwardableRequestHeaders(scope.request.headers, allowed, dropped);
    if (dropped && dropped.length > 0) log!.log('debug', 'client headers not forwarded', { requestId: scope.requestId, headers: dropped });
    return next(scope);
  };
}
