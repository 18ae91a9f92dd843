// How stages are put together, in the shape of hono's middleware (src/compose.ts): a stage is a
// function of the request's scope and the rest of the chain; it answers itself, or calls next and
// may look at (or replace) what comes back. The chain is composed once per rules object, so a
// request runs the stages without any per-request allocation for the chain itself.
import type { RequestScope } from './scope.ts';
import { InternalError } from '../errors.ts';

export type Next = (scope: RequestScope) => Promise<Response>;

/**
 * A stage. It may throw a GatewayError (the error page stage turns it into the answer) and may
 * return next's promise without awaiting it when it has nothing to do afterwards.
 */
export type Stage = (scope: RequestScope, next: Next) => Promise<Response>;

/** The last stage must answer; reaching past it is a bug in the list, not a client's fault. */
const END: Next = () => Promise.reject(new InternalError('the stage list ended without an answer'));

/** One function running the stages in order. */
export function chain(stages: ReadonlyArray<Stage>): Next {
  let next = END;
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i]!;
    const rest = next;
    next = (scope) => stage(scope, rest);
  }
  return next;
}
