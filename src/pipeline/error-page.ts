// Inside the audit stage: whatever a later stage throws becomes the answer here, in MLflow's JSON
// error shape for API clients or a short HTML page for a browser's navigation, with the request id.
// The error is recorded in the scope, so the audit line says what ended the request.
//
// A refusal of a request whose body was not read closes the connection. Both runtimes answer
// `Expect: 100-continue` with 100 themselves before the pipeline runs, so a refused uploader is
// already sending; keeping the connection would make the runtime read and discard the whole
// announced body (300 MiB seen) just to reuse it. RFC 9110 §10.1.1 leaves the server the choice
// between closing and discarding; with Connection: close, Bun and Deno stop reading at once.
import type { Stage } from './chain.ts';
import { asGatewayError, errorResponse } from '../errors.ts';
import { mayHaveBody } from '../http/read-body.ts';
import { htmlErrorResponse, wantsHtml } from './browser-errors.ts';

export function errorPage(): Stage {
  return async function errorPage(scope, next) {
    try {
      return await next(scope);
    } catch (thrown) {
      const error = (scope.error = asGatewayError(thrown));
      const response = wantsHtml(scope.request.headers) ? htmlErrorResponse(error, scope.requestId) : errorResponse(error, scope.requestId);
      if (scope.body === undefined && mayHaveBody(scope.request)) response.headers.set('connection', 'close');
      return response;
    }
  };
}
