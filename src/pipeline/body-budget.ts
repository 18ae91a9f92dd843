// The request's share of limits.maxBufferedBytes (limits/buffer-budget.ts): a lease the stages
// that read a body whole reserve through (authorize for conditions and GraphQL, artifacts, sign),
// returned when the request has its answer. By then a buffered body has been sent (fetch resolves
// with the response headers, after the request body), so the bytes are no longer needed.
import type { Next, Stage } from './chain.ts';
import type { RequestScope } from './scope.ts';
import type { BufferBudget } from '../limits/buffer-budget.ts';
import { mayHaveBody } from '../http/read-body.ts';

export function bodyBudgeting(budget: BufferBudget): Stage {
  // A request without a body (GET, HEAD, a zero length) has nothing to hold: no lease, and the
  // stage passes it on as it is, without a promise of its own.
  return function bodyBudgeting(scope, next) {
    return mayHaveBody(scope.request) ? withLease(budget, scope, next) : next(scope);
  };
}

async function withLease(budget: BufferBudget, scope: RequestScope, next: Next): Promise<Response> {
  const lease = (scope.bodyLease = budget.lease());
  try {
    return await next(scope);
  } finally {
    lease.release();
  }
}
