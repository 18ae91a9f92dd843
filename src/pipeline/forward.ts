// Stage 6, forward: the only stage with network I/O. One upstream per backend (never from the
// client), a timeout for the response headers that fits MLflow's own 120 s, the client's abort
// passed upstream, and the response streamed back as a fresh Response: returning fetch()'s own
// Response object lets Elysia re-stream it through TextDecoder and corrupt binary bodies
// (shared reference runtime-notes.md, elysiajs/elysia#1862).
import type { OutgoingRequest } from '../http/outgoing.ts';
import type { Stage } from './chain.ts';
import { ClientClosed, UpstreamTimeout, UpstreamUnavailable } from '../errors.ts';
import { clientResponseHeaders, pinDenoFetchDefaults } from './headers.ts';

const ON_DENO = 'Deno' in globalThis;
const ON_BUN = 'Bun' in globalThis;
const nextTurn = () => new Promise<void>((done) => setImmediate(done));

export interface ForwardOptions {
  timeoutMs: number;
  /** Aborts when the client goes away. */
  clientSignal: AbortSignal;
  requestId: string;
}

export interface Forwarded {
  response: Response;
  /** Milliseconds until the upstream's response headers arrived. */
  upstreamMs: number;
}

// A connection can be gone before its request is forwarded: the client left, or Bun closed it
// because the client pipelined a request behind this one (uWS denies pipelining behind an answer
// still pending, packages/bun-uws/src/HttpContext.h; oven-sh/bun#38128). Nothing is sent then, and
// the audit line says so; a connection lost while the upstream was answering may have run it.
const CLOSED_BEFORE = 'the client connection closed before the request was forwarded; nothing was sent upstream';
const CLOSED_DURING = 'the client connection closed while the upstream was answering; the upstream may have run the request';

export async function forward(outgoing: OutgoingRequest, options: ForwardOptions): Promise<Forwarded> {
  // Bun runs the handler, and the microtasks it queues, in the middle of parsing the bytes that
  // arrived: a gateway request whose stages need no I/O reaches this point before the parser has
  // seen a request pipelined right behind it in the same read, and so before Bun closes the
  // connection for it. One turn of the event loop lets the parser finish that read first; the
  // check then decides by the order of events, not by timing.
  if (ON_BUN) await nextTurn();
  if (options.clientSignal.aborted) throw new ClientClosed(CLOSED_BEFORE);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onClientAbort = () => controller.abort();
  options.clientSignal.addEventListener('abort', onClientAbort, { once: true });

  const started = performance.now();
  let upstream: Response;
  try {
    upstream = await fetch(outgoing.url, {
      method: outgoing.method,
      headers: ON_DENO ? pinDenoFetchDefaults(outgoing.headers) : outgoing.headers,
      body: outgoing.body ?? null,
      redirect: 'manual',
      signal: controller.signal,
      // Bun decompresses gzip but keeps Content-Encoding (oven-sh/bun#35546): pass bytes as they are.
      decompress: false,
      // Needed by the fetch standard when the body is a stream (self-hosted backend).
      duplex: 'half',
    } as RequestInit);
  } catch (error) {
    if (options.clientSignal.aborted) throw new ClientClosed(CLOSED_DURING);
    if (timedOut) throw new UpstreamTimeout(options.timeoutMs / 1000);
    throw new UpstreamUnavailable(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  } finally {
    // The timeout covers the wait for response headers only: a long download must not be cut.
    clearTimeout(timer);
  }
  const upstreamMs = performance.now() - started;
  // On Bun the abort listener stays: a client that leaves mid-body still cancels the upstream read.
  // Deno aborts request.signal after every completed response too (its legacy behaviour), which
  // would cancel a body still being read; there a client leaving mid-body cancels the response
  // stream instead (audit-line.ts passes the cancel to the upstream reader).
  if (ON_DENO) options.clientSignal.removeEventListener('abort', onClientAbort);
  const response = new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: clientResponseHeaders(upstream.headers, options.requestId),
  });
  return { response, upstreamMs };
}

/** The last stage: sends the scope's outgoing request and answers with the upstream's response. */
export function forwarding(timeoutMs: number): Stage {
  return async function forwarding(scope) {
    const { response, upstreamMs } = await forward(scope.outgoing!, { timeoutMs, clientSignal: scope.request.signal, requestId: scope.requestId });
    scope.upstreamMs = upstreamMs;
    return response;
  };
}
