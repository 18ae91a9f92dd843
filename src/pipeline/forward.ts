// Stage 6, forward: the only stage with network I/O. One upstream per backend (never from the
// client), a timeout for the response headers that fits MLflow's own 120 s and counts from the end
// of the request body (as Envoy's route timeout does: "the time that starts when the entire
// downstream request has been processed", route.v3.RouteAction.timeout), so a slow upload is never
// cut by it; the client's abort
// passed upstream, and the response streamed back as a fresh Response: returning fetch()'s own
// Response object lets Elysia re-stream it through TextDecoder and corrupt binary bodies
// (shared reference runtime-notes.md, elysiajs/elysia#1862).
import type { OutgoingRequest } from '../http/outgoing.ts';
import type { Stage } from './chain.ts';
import { ClientClosed, UpstreamTimeout, UpstreamUnavailable } from '../errors.ts';
import { clientResponseHeaders, pinDenoFetchDefaults } from './headers.ts';
import { SMALL_BODY_BYTES } from './audit-line.ts';

const TRAILER_OR_LEFT = 'the client connection ended during or right after its chunked body (a trailer section, which the runtime answers with 400 itself, oven-sh/bun#32887; or the client leaving)';
const TRAILER_OR_LEFT_STREAMED = `${TRAILER_OR_LEFT}: the upstream got no last chunk`;

const ON_DENO = 'Deno' in globalThis;
const ON_BUN = 'Bun' in globalThis;
const nextTurn = () => new Promise<void>((done) => setImmediate(done));

// The largest response header block passed on: Envoy's default (HttpProtocolOptions
// max_response_headers_kb, 60 KiB). MLflow's answers carry a handful of headers; a block this big
// is a broken or hostile upstream, and passing it on would make the gateway the amplifier (an ALB
// in front refuses response headers over 32 KiB with 502 anyway). Bun's fetch itself refuses a
// block somewhere between 100 and 256 KiB (measured: Malformed_HTTP_Response), which bounds what it
// holds before this check runs; this check makes the limit the documented one.
export const MAX_RESPONSE_HEADER_BYTES = 60 * 1024;

export interface ForwardOptions {
  timeoutMs: number;
  /** Aborts when the client goes away. */
  clientSignal: AbortSignal;
  requestId: string;
  /** Called with the size of each piece of a streamed body as it is passed upstream. */
  onBodyBytes?: (bytes: number) => void;
  /** The client sent its (streamed) body chunked: its end is checked for a refused trailer. */
  chunked?: boolean;
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
  if (options.clientSignal.aborted) throw new ClientClosed(options.chunked ? `${TRAILER_OR_LEFT}; nothing was sent upstream` : CLOSED_BEFORE);
  const controller = new AbortController();
  let timedOut = false;
  let answered = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const startTimer = () => {
    if (answered || timer !== undefined) return;
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
  };
  const onClientAbort = () => controller.abort();
  options.clientSignal.addEventListener('abort', onClientAbort, { once: true });

  // A buffered body is already whole: the clock starts now. A streamed one (self-hosted uploads)
  // starts it when its last byte has been read from the client.
  const streamed = outgoing.body instanceof ReadableStream ? timedFromBodyEnd(outgoing.body, startTimer, options) : undefined;
  if (!streamed) startTimer();
  const started = performance.now();
  let upstream: Response;
  try {
    upstream = await fetch(outgoing.url, {
      method: outgoing.method,
      headers: ON_DENO ? pinDenoFetchDefaults(outgoing.headers) : outgoing.headers,
      body: streamed?.body ?? outgoing.body ?? null,
      redirect: 'manual',
      signal: controller.signal,
      // Bun decompresses gzip but keeps Content-Encoding (oven-sh/bun#35546): pass bytes as they are.
      decompress: false,
      // Needed by the fetch standard when the body is a stream (self-hosted backend).
      duplex: 'half',
    } as RequestInit);
  } catch (error) {
    clearTimeout(timer);
    // The client's body broke off (it left mid-upload): its doing, not the upstream's, and the
    // upstream got no complete request. A client gone otherwise left while the upstream answered.
    if (streamed?.failed()) throw new ClientClosed(options.chunked ? TRAILER_OR_LEFT_STREAMED : undefined);
    if (options.clientSignal.aborted) throw new ClientClosed(options.chunked ? TRAILER_OR_LEFT_STREAMED : CLOSED_DURING);
    if (timedOut) throw new UpstreamTimeout(options.timeoutMs / 1000);
    throw new UpstreamUnavailable(describe(error));
  } finally {
    answered = true;
  }
  const upstreamMs = performance.now() - started;
  const headerBytes = headerBlockBytes(upstream);
  if (headerBytes > MAX_RESPONSE_HEADER_BYTES) {
    clearTimeout(timer);
    await upstream.body?.cancel().catch(() => {});
    throw new UpstreamUnavailable(`the upstream's response header block is ${headerBytes} bytes, over the ${MAX_RESPONSE_HEADER_BYTES}-byte cap (Envoy's max_response_headers_kb default)`);
  }
  // On Bun the abort listener stays: a client that leaves mid-body still cancels the upstream read.
  // Deno aborts request.signal after every completed response too (its legacy behaviour), which
  // would cancel a body still being read; there a client leaving mid-body cancels the response
  // stream instead (audit-line.ts passes the cancel to the upstream reader).
  if (ON_DENO) options.clientSignal.removeEventListener('abort', onClientAbort);
  let body: BodyInit | null = upstream.body;
  try {
    // A small answer of known length (most MLflow JSON) is read whole before anything is sent, still
    // under the timeout, so an upstream that breaks it off mid-body is answered 502, not passed on as
    // a 200 that the audit line would record at its announced length (issue 13 item 8). Larger or
    // chunked answers stream; the audit line then counts what was sent and records a break.
    if (body && outgoing.method !== 'HEAD' && Number(upstream.headers.get('content-length') ?? NaN) <= SMALL_BODY_BYTES) {
      const announced = upstream.headers.get('content-length');
      body = new Uint8Array(await upstream.arrayBuffer().catch((error: unknown) => {
        if (options.clientSignal.aborted) throw new ClientClosed();
        if (timedOut) throw new UpstreamTimeout(options.timeoutMs / 1000);
        throw new UpstreamUnavailable(`the upstream broke off its answer mid-body (${announced} bytes announced): ${describe(error)}`);
      }));
    }
  } finally {
    // The timeout covers the wait for response headers (and a small body): a long download must not be cut.
    clearTimeout(timer);
  }
  const response = new Response(body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: clientResponseHeaders(upstream.headers, options.requestId),
  });
  return { response, upstreamMs };
}

/** The response header block's size as sent on the wire: `name: value\r\n` per field, plus the status line. */
function headerBlockBytes(response: Response): number {
  let bytes = 17 + response.statusText.length;
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') bytes += name.length + value.length + 4;
  });
  for (const cookie of response.headers.getSetCookie()) bytes += 14 + cookie.length;
  return bytes;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The client's body as it is passed upstream, calling `onEnd` once its last byte has been read
 * (the upstream may answer before that; then the timer never starts), and remembering whether
 * reading it failed: a client that resets mid-upload makes fetch fail with a network error that
 * is otherwise indistinguishable from the upstream's.
 */
function timedFromBodyEnd(
  body: ReadableStream<Uint8Array>,
  onEnd: () => void,
  { onBodyBytes: onBytes, clientSignal, chunked }: Pick<ForwardOptions, 'onBodyBytes' | 'clientSignal' | 'chunked'>,
): { body: ReadableStream<Uint8Array>; failed: () => boolean } {
  const reader = body.getReader();
  let failed = false;
  const passed = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        failed = true;
        controller.error(error);
        return;
      }
      if (chunk.done) {
        // A chunked body's end is held back one macrotask: if the runtime then aborts the request
        // (a trailer section, http/read-body.ts), the upstream gets a body without its last chunk,
        // which no server runs, instead of a complete write whose client was answered 400.
        if (chunked) {
          await new Promise<void>((resume) => setImmediate(resume));
          if (clientSignal.aborted) {
            failed = true;
            controller.error(new Error('the client connection ended after its body'));
            return;
          }
        }
        controller.close();
        onEnd();
      } else {
        onBytes?.(chunk.value.byteLength);
        controller.enqueue(chunk.value);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { body: passed, failed: () => failed };
}

/** The last stage: sends the scope's outgoing request and answers with the upstream's response. */
export function forwarding(timeoutMs: number): Stage {
  return async function forwarding(scope) {
    const outgoing = scope.outgoing!;
    // A streamed body is read here, so its bytes are counted here: what really went upstream, not
    // the Content-Length a client that then left had announced.
    const onBodyBytes = outgoing.body instanceof ReadableStream ? (bytes: number) => void (scope.bytesIn += bytes) : undefined;
    const chunked = onBodyBytes !== undefined && scope.request.headers.has('transfer-encoding');
    const { response, upstreamMs } = await forward(outgoing, { timeoutMs, clientSignal: scope.request.signal, requestId: scope.requestId, chunked, ...(onBodyBytes ? { onBodyBytes } : {}) });
    scope.upstreamMs = upstreamMs;
    return response;
  };
}
