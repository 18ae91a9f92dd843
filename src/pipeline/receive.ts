// Stage 1, receive: give the request an id, find the client's address, start the clock, and split
// the URL exactly as the client sent it (no decoding, no normalisation: later stages must see the
// bytes that would be forwarded). Everything later stages find out goes into the same scope (scope.ts).
import { Scope, type RequestScope } from './scope.ts';

// An incoming X-Request-Id is reused when it is a sane token, so a caller's id (or the ALB's
// X-Amzn-Trace-Id, if the caller copies it) links their logs to ours; anything else gets a new id.
const MAX_USER_AGENT = 200;

const SANE_REQUEST_ID = /^[A-Za-z0-9._:=+/-]{8,128}$/;

export function receive(request: Request, peerAddress: string | undefined, trustForwardedFor: boolean, now: () => Date = newDate): RequestScope {
  const headers = request.headers;
  const incomingId = headers.get('x-request-id');
  const requestId = incomingId && SANE_REQUEST_ID.test(incomingId) ? incomingId : crypto.randomUUID();
  const { path, query } = splitUrl(request.url);
  const userAgent = headers.get('user-agent');
  const clientIp = trustForwardedFor ? clientAddress(headers.get('x-forwarded-for'), peerAddress, true) : (peerAddress ?? 'unknown');
  return new Scope(request, requestId, clientIp, userAgent ? userAgent.slice(0, MAX_USER_AGENT) : undefined, request.method, path, query, performance.now(), now());
}

const newDate = () => new Date();

/** Splits `scheme://authority/path?query#fragment` without URL parsing (which would normalise). */
export function splitUrl(url: string): { path: string; query: string } {
  const schemeEnd = url.indexOf('://');
  const pathStart = schemeEnd < 0 ? 0 : url.indexOf('/', schemeEnd + 3);
  if (pathStart < 0) return { path: '/', query: '' };
  const hash = url.indexOf('#', pathStart);
  const end = hash < 0 ? url.length : hash;
  const question = url.indexOf('?', pathStart);
  if (question < 0 || question > end) return { path: url.slice(pathStart, end), query: '' };
  return { path: url.slice(pathStart, question), query: url.slice(question + 1, end) };
}

/**
 * The ALB appends the address it saw to X-Forwarded-For, so with one trusted hop in front the
 * last entry is the client; earlier entries are whatever the client claimed and are ignored.
 */
export function clientAddress(forwardedFor: string | null, peerAddress: string | undefined, trustForwardedFor: boolean): string {
  if (trustForwardedFor && forwardedFor) {
    const last = forwardedFor.split(',').pop()?.trim();
    if (last) return last;
  }
  return peerAddress ?? 'unknown';
}
