// Inside the audit stage: whatever a later stage throws becomes the answer here, in MLflow's JSON
// error shape for API clients or a short HTML page for a browser's navigation, with the request id.
// The error is recorded in the scope, so the audit line says what ended the request.
import type { Stage } from './chain.ts';
import { asGatewayError, errorResponse } from '../errors.ts';
import { htmlErrorResponse, wantsHtml } from './browser-errors.ts';

export function errorPage(): Stage {
  return async function errorPage(scope, next) {
    try {
      return await next(scope);
    } catch (thrown) {
      const error = (scope.error = asGatewayError(thrown));
      return wantsHtml(scope.request.headers) ? htmlErrorResponse(error, scope.requestId) : errorResponse(error, scope.requestId);
    }
  };
}
