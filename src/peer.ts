// The TCP peer address of each request, recorded by the listener (the only place that sees the
// socket) and read by the pipeline's receive stage. Weak, so it lives exactly as long as the request.
export const peerAddresses = new WeakMap<Request, string>();
