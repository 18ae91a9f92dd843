// SigV4 signs the SHA-256 of the exact body, so a SageMaker-bound body is read whole before it is
// signed, up to a cap: Content-Length over the cap is refused before reading, and a chunked body
// is cut off as soon as it passes the cap. Never an unbounded buffer (aws-sigv4-proxy's mistake).
import { BadRequest, BufferBudgetExhausted, ClientClosed, PayloadTooLarge } from '../errors.ts';
import type { BodyLease } from '../limits/buffer-budget.ts';

/** GET and HEAD carry no body in MLflow's API: the gateway never reads one (explain ignores --data for them too). */
export function methodMayHaveBody(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/**
 * GET and HEAD carry no body in MLflow's API; other methods may, with a length or chunked. Decided
 * from the headers, synchronously: touching request.body would build a stream object on the hot
 * path, and a bodiless request need not wait for readBodyWithCap at all.
 */
export function mayHaveBody(request: Request): boolean {
  if (!methodMayHaveBody(request.method)) return false;
  const length = request.headers.get('content-length');
  if (length !== null) return length !== '0';
  // HTTP/1.1 frames any body with one of the two headers; a Request built in-process may have neither.
  return request.headers.has('transfer-encoding') || request.body !== null;
}

/**
 * The body, read whole up to `cap` bytes. With a `lease` (the request's share of
 * limits.maxBufferedBytes, limits/buffer-budget.ts) the bytes are reserved before they are held:
 * a declared length at once, before anything is read; a chunked body piece by piece.
 */
export async function readBodyWithCap(request: Request, cap: number, lease?: BodyLease): Promise<Uint8Array | undefined> {
  if (!mayHaveBody(request)) return undefined;
  refuseDeclaredTrailers(request);
  try {
    const body = await readCapped(request, cap, lease);
    if (request.headers.has('transfer-encoding')) await refuseUndeclaredTrailers(request);
    return body;
  } catch (error) {
    if (error instanceof PayloadTooLarge || error instanceof BadRequest || error instanceof BufferBudgetExhausted || error instanceof ClientClosed) throw error;
    // Reading the client's own body fails only when its connection does (Bun: "AbortError: The
    // connection was closed."): the client left mid-upload, 499 as nginx logs it, not a 500.
    throw new ClientClosed(`the client's connection ended while its body was read (${error instanceof Error ? error.name : 'error'})`);
  }
}

async function readCapped(request: Request, cap: number, lease: BodyLease | undefined): Promise<Uint8Array | undefined> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (!/^\d+$/.test(declared)) throw new BadRequest('Content-Length is not a number.');
    if (Number(declared) > cap) throw new PayloadTooLarge(cap);
    lease?.reserve(Number(declared));
    // Length known and within the cap: the runtime reads exactly that many bytes, natively (fast).
    const body = new Uint8Array(await request.arrayBuffer());
    return body.byteLength > 0 ? body : undefined;
  }
  // Chunked: read piece by piece and stop as soon as the cap is passed.
  if (!request.body) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLarge(cap);
    }
    try {
      lease?.reserve(value.byteLength);
    } catch (refused) {
      await reader.cancel().catch(() => {});
      throw refused;
    }
    chunks.push(value);
  }
  if (total === 0) return undefined;
  return joinChunks(chunks, total);
}

/** Chunks read from a stream as one array of `total` bytes (the chunk itself when there is one). */
export function joinChunks(chunks: ReadonlyArray<Uint8Array>, total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const whole = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

// Chunked bodies with a trailer section (RFC 9112 §7.1.2). Bun.serve delivers the body, then answers
// the trailer bytes itself with a bare 400 and closes the connection, aborting the request
// (oven-sh/bun PR #32887, open: "Bun.serve: consume chunked trailer-part instead of rejecting it").
// The gateway cannot accept them, so it refuses them before anything is sent upstream: before,
// the upstream ran a write whose client got 400 and whose audit line said 499 (issue 13 item 3).
// A client that announces its trailers (Trailer header, RFC 9110 §6.6.2) is refused with 400 before
// its body is read; an unannounced trailer in the same packet as the last chunk shows as the
// request's abort one macrotask after the body, and is then treated as the connection ending.

/** A chunked request that announces trailer fields: 400 before its body is read. */
export function refuseDeclaredTrailers(request: Request): void {
  if (request.headers.has('trailer') && request.headers.has('transfer-encoding')) {
    throw new BadRequest('Chunked trailer fields are not supported; send the request without a trailer section.', 'chunked request announced a trailer section (Trailer header)');
  }
}

/** After a chunked body: whether the runtime refused what followed it (a trailer section). */
export async function refuseUndeclaredTrailers(request: Request): Promise<void> {
  await new Promise<void>((resume) => setImmediate(resume));
  if (request.signal.aborted) throw new ClientClosed(TRAILER_OR_LEFT);
}

export const TRAILER_OR_LEFT = 'the connection ended right after a chunked body (a trailer section, which the runtime answers with 400 itself, oven-sh/bun#32887; or the client leaving): nothing sent upstream';
