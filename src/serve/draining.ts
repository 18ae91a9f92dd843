// While the gateway drains (after SIGTERM), every answer carries `Connection: close`. The listener
// is about to stop; a client that keeps its connection (an ALB's connection to its target, any
// HTTP client's pool) would send its next request on a connection nobody answers any more, and
// behind an ALB that is a 502. Closing after each answer makes the next request open a fresh
// connection, which the load balancer, now that readiness fails, sends elsewhere. (nginx does the
// same on a graceful shutdown: keep-alive is disabled for the requests it still serves.)
import type { FetchHandler } from '../listen.ts';

export function closingWhileDraining(handle: FetchHandler, draining: () => boolean): FetchHandler {
  return (request, peerAddress) => {
    const answer = handle(request, peerAddress);
    if (!draining()) {
      // The drain may begin while this request runs: decide when the answer is ready.
      return answer instanceof Response ? answer : answer.then((response) => (draining() ? closing(response) : response));
    }
    return answer instanceof Response ? closing(answer) : answer.then(closing);
  };
}

function closing(response: Response): Response {
  try {
    response.headers.set('connection', 'close');
    return response;
  } catch {
    // Immutable headers (a Response the runtime made): copy them onto a new one around the same body.
    const headers = new Headers(response.headers);
    headers.set('connection', 'close');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
