// The request's share of limits.maxBufferedBytes (limits/buffer-budget.ts): a lease the stages
// that read a body whole reserve through (authorize for conditions and GraphQL, artifacts, sign),
// returned when the request has its answer. By then a buffered body has been sent (fetch resolves
// with the response headers, after the request body), so the bytes are no longer needed.
import type { Stage } from './chain.ts';
import type { BufferBudget } from '../limits/buffer-budget.ts';

export function bodyBudgeting(budget: BufferBudget): Stage {
  return async function bodyBudgeting(scope, next) {
    const lease = (scope.bodyLease = budget.lease());
    try {
      return await next(scope);
    } finally {
      lease.release();
    }
  };
}
