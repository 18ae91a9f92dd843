// The request's framing, checked before anything else reads it: a message whose length a peer could
// read differently from us is refused, not forwarded (request smuggling lives in such gaps).
//
// Two Content-Length fields (RFC 9112 §6.3 item 5): a recipient MAY take equal values as one, but a
// proxy that does so forwards a message whose framing the next hop may read otherwise; nginx and
// Envoy answer 400. Bun joins the fields into one value ("5, 5"), which the self-hosted forward then
// passed on as is (the upstream refused it: 502) and the SageMaker signer read as a length mismatch.
// Anything but one run of digits is refused here, the same way in both backend modes.
import { BadFraming } from '../errors.ts';
import type { Stage } from './chain.ts';

const ONE_LENGTH = /^\d+$/;

export function requestFraming(): Stage {
  return function requestFraming(scope, next) {
    const length = scope.request.headers.get('content-length');
    if (length !== null && !ONE_LENGTH.test(length)) throw new BadFraming(`Content-Length ${JSON.stringify(length.slice(0, 64))} is not one length`);
    return next(scope);
  };
}
