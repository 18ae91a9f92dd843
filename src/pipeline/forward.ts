// Stage 6, forward: the only stage with network I/O. One upstream per backend (never from the
// client). backend.timeoutSeconds (docs/timeouts.md): the wait for the response headers, counted
// from the end of the request body (as Envoy's route timeout does: "the time that starts when the
// entire downstream request has been processed", route.v3.RouteAction.timeout), so a slow upload
// is never cut by it, then the same limit between two chunks of the response body; one timer
// watches every request's waits (upstream-watch.ts), and a client that leaves before the answer is
// under way ends the upstream call. The upstream's own Response is answered with as it is when its
// body streams (app.ts says why Elysia cannot corrupt it any more).
import type { Stage } from './chain.ts';
import type { RequestScope } from './scope.ts';
import { UpstreamWatch, type UpstreamExchange } from './upstream-watch.ts';
import { ClientClosed, UpstreamTimeout, UpstreamUnavailable } from '../errors.ts';
import { clientResponseHeaders, HOP_BY_HOP, pinDenoFetchDefaults } from './headers.ts';
import { SMALL_BODY_BYTES } from './audit-line.ts';
import { joinChunks } from '../http/read-body.ts';

const TRAILER_OR_LEFT = 'the client connection ended during or right after its chunked body (a trailer section, which the runtime answers with 400 itself, oven-sh/bun#32887; or the client leaving)';
const TRAILER_OR_LEFT_STREAMED = `${TRAILER_OR_LEFT}: the upstream got no last chunk`;

const ON_DENO = 'Deno' in globalThis;
const BUN = (globalThis as { Bun?: typeof Bun }).Bun;
const ON_BUN = BUN !== undefined;
const nextTurn = () => new Promise<void>((done) => setImmediate(done));

// The largest response header block passed on: Envoy's default (HttpProtocolOptions
// max_response_headers_kb, 60 KiB). MLflow's answers carry a handful of headers; a block this big
// is a broken or hostile upstream, and passing it on would make the gateway the amplifier (an ALB
// in front refuses response headers over 32 KiB with 502 anyway). Bun's fetch itself refuses a
// block somewhere between 100 and 256 KiB (measured: Malformed_HTTP_Response), which bounds what it
// holds before this check runs; this check makes the limit the documented one.
export const MAX_RESPONSE_HEADER_BYTES = 60 * 1024;

// A connection can be gone before its request is forwarded: the client left, or Bun closed it
// because the client pipelined a request behind this one (uWS denies pipelining behind an answer
// still pending, packages/bun-uws/src/HttpContext.h; oven-sh/bun#38128). Nothing is sent then, and
// the audit line says so; a connection lost while the upstream was answering may have run it.
const CLOSED_BEFORE = 'the client connection closed before the request was forwarded; nothing was sent upstream';
const CLOSED_DURING = 'the client connection closed while the upstream was answering; the upstream may have run the request';

async function forward(scope: RequestScope, watch: UpstreamWatch): Promise<Response> {
  const outgoing = scope.outgoing!;
  const request = scope.request;
  const streamedUpload = outgoing.body instanceof ReadableStream;
  // A streamed body (self-hosted backend) is read here: its bytes are counted as they pass, and a
  // chunked one's end is checked for a refused trailer.
  const chunked = streamedUpload && request.headers.has('transfer-encoding');
  // Bun runs the handler, and the microtasks it queues, in the middle of parsing the bytes that
  // arrived: a gateway request whose stages need no I/O reaches this point before the parser has
  // seen a request pipelined right behind it in the same read, and so before Bun closes the
  // connection for it. One turn of the event loop lets the parser finish that read first; the
  // check then decides by the order of events, not by timing.
  if (ON_BUN) await nextTurn();
  if (request.signal.aborted) throw new ClientClosed(chunked ? `${TRAILER_OR_LEFT}; nothing was sent upstream` : CLOSED_BEFORE);
  const exchange = watch.open(request);
  // A buffered body is already whole: the wait starts now. A streamed one (self-hosted uploads)
  // starts it when its last byte has been read from the client.
  const streamed = streamedUpload ? timedFromBodyEnd(outgoing.body as ReadableStream<Uint8Array>, exchange, scope, chunked) : undefined;
  const started = performance.now();
  if (!streamed) exchange.waiting(started);
  let upstream: Response;
  try {
    upstream = await fetch(outgoing.url, {
      method: outgoing.method,
      headers: ON_DENO ? pinDenoFetchDefaults(outgoing.headers) : headerObject(outgoing.headers),
      body: streamed?.body ?? outgoing.body ?? null,
      redirect: 'manual',
      signal: exchange.controller.signal,
      // Bun decompresses gzip but keeps Content-Encoding (oven-sh/bun#35546): pass bytes as they are.
      decompress: false,
      // Needed by the fetch standard when the body is a stream (self-hosted backend).
      duplex: 'half',
    } as RequestInit);
  } catch (error) {
    exchange.close();
    // The client's body broke off (it left mid-upload): its doing, not the upstream's, and the
    // upstream got no complete request. A client gone otherwise left while the upstream answered.
    if (streamed?.failed()) throw new ClientClosed(chunked ? TRAILER_OR_LEFT_STREAMED : undefined);
    if (exchange.ended === 'client' || request.signal.aborted) throw new ClientClosed(chunked ? TRAILER_OR_LEFT_STREAMED : CLOSED_DURING);
    if (exchange.ended === 'timeout') throw new UpstreamTimeout(watch.timeoutMs / 1000);
    throw new UpstreamUnavailable(describe(error));
  }
  exchange.resting();
  scope.upstreamMs = performance.now() - started;
  measureHeaderBlock(upstream);
  const headerBytes = blockBytes;
  const hopByHop = blockHasHopByHop;
  if (headerBytes > MAX_RESPONSE_HEADER_BYTES) {
    exchange.close();
    await upstream.body?.cancel().catch(() => {});
    throw new UpstreamUnavailable(`the upstream's response header block is ${headerBytes} bytes, over the ${MAX_RESPONSE_HEADER_BYTES}-byte cap (Envoy's max_response_headers_kb default)`);
  }
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  // Decided from the status and headers: touching upstream.body would build a stream object for
  // nothing on the common path.
  if (outgoing.method === 'HEAD' || NO_BODY_STATUS.has(upstream.status)) exchange.close();
  else if (Number(upstream.headers.get('content-length') ?? NaN) <= SMALL_BODY_BYTES) {
    // A small answer of known length (most MLflow JSON) is read whole before anything is sent, so
    // an upstream that breaks it off mid-body is answered 502, not passed on as a 200 that the
    // audit line would record at its announced length (issue 13 item 8); one that goes silent in
    // it for longer than the timeout, 504.
    try {
      bytes = await readWhole(upstream, exchange);
    } catch (error) {
      if (exchange.ended === 'client' || request.signal.aborted) throw new ClientClosed();
      if (exchange.ended === 'timeout') throw new UpstreamTimeout(watch.timeoutMs / 1000);
      throw new UpstreamUnavailable(`the upstream broke off its answer mid-body (${upstream.headers.get('content-length')} bytes announced): ${describe(error)}`);
    } finally {
      exchange.close();
    }
  } else {
    // Larger or chunked answers stream: the exchange stays watched while the audit stage reads the
    // body on the client's behalf, each read waiting at most the timeout (audit-line.ts), and the
    // audit line counts what was sent and records a break. A client that leaves mid-body cancels
    // the response stream, which ends the upstream read (the audit stage passes the cancel on).
    exchange.answered = true;
    scope.exchange = exchange;
  }
  const headers = clientResponseHeaders(upstream.headers, scope.requestId, hopByHop);
  // The upstream's own Response goes back as it is when its body is whole or streams (app.ts:
  // nothing re-maps the pipeline's answers), on Bun, whose fetch Response headers were edited in
  // place; a body read here chunk by chunk, or Deno's immutable headers, need a Response of their own.
  if (bytes === undefined && headers === upstream.headers) return upstream;
  return new Response(bytes ?? upstream.body, { status: upstream.status, statusText: upstream.statusText, headers });
}

// Answers that never have a body (RFC 9110 §6.4.1; a HEAD answer's is also absent).
const NO_BODY_STATUS: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * A small answer's body, whole, read under the idle limit between chunks; undefined when the
 * upstream's own Response holds it whole already and can be sent as it is. Nearly every small
 * answer has arrived with its headers: on Bun a copy of the Response (its body shared, not copied)
 * then has its bytes at once (Bun.peek sees the promise settled), which costs far less than a
 * stream reader or a Response of our own (bench/in-process.ts). An answer still arriving is read
 * chunk by chunk instead, each read a wait the watch times, so one that keeps sending is never
 * cut, however slowly it comes.
 */
async function readWhole(upstream: Response, exchange: UpstreamExchange): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (BUN) {
    const copy = upstream.clone().bytes();
    if (BUN.peek.status(copy) === 'fulfilled') return undefined;
    copy.catch(() => {}); // the copy's tee branch drains with the original; its outcome is the original's
  }
  const reader = upstream.body!.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    exchange.waiting();
    const { done, value } = await reader.read();
    exchange.resting();
    if (done) break;
    parts.push(value);
    total += value.byteLength;
  }
  // The chunks come from fetch's body stream, so the array is ArrayBuffer-backed.
  return joinChunks(parts, total) as Uint8Array<ArrayBuffer>;
}

// The response header block, measured in one pass over its fields: its size as sent on the wire
// (`name: value\r\n` per field, Set-Cookie fields each on their own, plus the status line) and
// whether it has a hop-by-hop field. forEach with a named function and two accumulators instead
// of a closure per response; forEach is synchronous, so one response's pass never interleaves with
// another's, and the caller reads both right after it.
let blockBytes = 0;
let blockHasHopByHop = false;
function measureField(value: string, name: string): void {
  blockBytes += name.length + value.length + 4;
  if (HOP_BY_HOP.has(name)) blockHasHopByHop = true;
}
function measureHeaderBlock(response: Response): void {
  blockBytes = 17 + response.statusText.length;
  blockHasHopByHop = false;
  response.headers.forEach(measureField);
}

/**
 * The outgoing headers as one object for fetch: Bun converts an object into its native headers
 * faster than a list of pairs (measured on the ladder's forward rung, GET c=32: about 1 µs of CPU
 * per request). Names are unique here: the client's come from one Headers pass, the gateway's own
 * are never among them (headers.ts GATEWAY_ONLY).
 */
function headerObject(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i++) out[pairs[i]![0]] = pairs[i]![1];
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The client's body as it is passed upstream, counted into the scope as it passes and starting the
 * exchange's wait once its last byte has been read (the upstream may answer before that; then the
 * wait never starts), and remembering whether reading it failed: a client that resets mid-upload
 * makes fetch fail with a network error that is otherwise indistinguishable from the upstream's.
 */
function timedFromBodyEnd(body: ReadableStream<Uint8Array>, exchange: UpstreamExchange, scope: RequestScope, chunked: boolean): { body: ReadableStream<Uint8Array>; failed: () => boolean } {
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
          await nextTurn();
          if (scope.request.signal.aborted) {
            failed = true;
            controller.error(new Error('the client connection ended after its body'));
            return;
          }
        }
        controller.close();
        if (!exchange.answered) exchange.waiting();
      } else {
        scope.bytesIn += chunk.value.byteLength;
        controller.enqueue(chunk.value);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { body: passed, failed: () => failed };
}

/** The last stage: sends the scope's outgoing request and answers with the upstream's response. */
export function forwarding(timeoutMs: number): Stage {
  const watch = new UpstreamWatch(timeoutMs);
  return function forwarding(scope) {
    return forward(scope, watch);
  };
}
